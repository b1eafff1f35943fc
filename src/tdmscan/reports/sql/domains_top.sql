-- domains_top: the Template 2.3(vii) list: registrable domains in the top 10 % (or the SME
-- cut) by size of content retained for training, with each domain's share of the total.
SELECT
    rank,
    domain,
    size,
    metric,
    bytes,
    urls,
    urls_with_size,
    round(100.0 * size / nullif(sum(size) OVER (), 0), 3) AS share_pct
FROM domain_ranking
QUALIFY rank <= cutoff
ORDER BY rank;
