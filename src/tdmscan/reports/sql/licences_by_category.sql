-- licences_by_category: declared datasets by Template category (2.1 public, 2.2.1 licensed
-- from rightsholders, 2.2.2 other third parties, 2.5 synthetic, 2.6 other).
WITH c(ord, template_category, description) AS (
    VALUES
        (1, '2.1', 'publicly available datasets'),
        (2, '2.2.1', 'licensed commercially from rightsholders'),
        (3, '2.2.2', 'private datasets from other third parties'),
        (4, '2.5', 'synthetic data'),
        (5, '2.6', 'other sources')
)
SELECT
    c.template_category,
    c.description,
    count(i.dataset_id) AS datasets,
    count(i.dataset_id) FILTER (WHERE i.used) AS datasets_used,
    sum(i.size_bytes) AS size_bytes
FROM c
LEFT JOIN licence_inventory i ON i.template_category = c.template_category
GROUP BY c.ord, c.template_category, c.description
ORDER BY c.ord;
