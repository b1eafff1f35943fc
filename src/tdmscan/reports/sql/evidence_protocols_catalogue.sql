-- evidence_protocols_catalogue: the protocols this tdmscan build honours, their spec versions,
-- legal tier and where each is read (from the protocol_catalogue setup statement).
SELECT protocol, name, spec_version, tier, level AS checked_in
FROM protocol_catalogue
ORDER BY ord;
