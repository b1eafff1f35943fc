-- diff_summary: how many (url, agent) pairs changed, by kind of change.
WITH k(ord, change) AS (
    VALUES (1, 'became_reserved'), (2, 'became_allowed'), (3, 'became_unknown'),
           (4, 'became_invalid'), (5, 'reason_changed'), (6, 'unchanged'),
           (7, 'only_in_a'), (8, 'only_in_b')
)
SELECT
    k.change,
    count(p.url) AS pairs,
    count(DISTINCT p.url) AS urls,
    count(DISTINCT p.domain) AS domains
FROM k
LEFT JOIN diff_pairs p ON coalesce(p.change, 'unchanged') = k.change
GROUP BY k.ord, k.change
ORDER BY k.ord;
