-- scope_page_coverage: how far page-level signals were read for the URLs counted
-- (scope_urls). urls_allowed_site_level_only: allowed URLs whose page was never fetched, so
-- only site-level signals (robots.txt, tdmrep.json, ai.txt) were read for them; a meta robots
-- noai tag or an X-Robots-Tag / tdm-reservation header on the page was not seen.
SELECT * FROM page_coverage;
