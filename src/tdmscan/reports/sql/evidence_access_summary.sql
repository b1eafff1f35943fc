-- evidence_access_summary: how many pages were fetched in scope and how many met a barrier.
-- Zero pages fetched means no run in scope used --deep: barriers were not observed at all.
SELECT
    count(*) AS page_fetches,
    count(DISTINCT url) AS pages,
    count(DISTINCT url) FILTER (WHERE barrier IS NOT NULL) AS pages_with_barrier
FROM access_pages;
