-- evidence_access: the page fetches in scope (runs made with --deep read each page's head)
-- with the access barrier each one met (Code of Practice, copyright chapter, Measure 1.2(1)):
--   http-401 / http-403  authentication or authorisation refused
--   http-402             payment required (a paywall that says so)
--   http-451             unavailable for legal reasons
--   login-redirect       redirected to a page whose path names a login or sign-in
-- NULL: no barrier seen in the response status or redirect. schema.org paywall markup is read
-- by the policy (access:paywalled on the decision), not here; CAPTCHAs are not detected.
CREATE OR REPLACE TEMP VIEW access_pages AS
SELECT
    f.run_id,
    f.url,
    f.final_url,
    f.status,
    f.fetched_at,
    CASE
        WHEN f.status IN (401, 402, 403, 451) THEN 'http-' || CAST(f.status AS VARCHAR)
        WHEN len(f.redirects) > 0
             AND regexp_matches(
                 lower(coalesce(f.final_url, '')),
                 '^[a-z]+://[^/]+/(.*/)?(log-?in|sign-?in|signon|sso|auth|account/login)([/?#.]|$)'
             ) THEN 'login-redirect'
    END AS barrier
FROM fetches f
WHERE f.kind = 'page' AND f.run_id IN (SELECT run_id FROM scope_runs);
