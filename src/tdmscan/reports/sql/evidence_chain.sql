-- evidence_chain: the ledger's hash chain (chain.jsonl): entries, segments per table, and the
-- head, the last entry_hash, which commits to every segment ever written. Publish or timestamp
-- the head; `tdmscan ledger verify --ledger DIR --head HEAD` proves the ledger still extends it.
SELECT
    count(*) AS chain_entries,
    count(*) FILTER (WHERE op = 'add') AS segments_added,
    count(*) FILTER (WHERE op = 'compact') AS compactions,
    max(written_at) AS last_written_at,
    max_by(entry_hash, seq) AS chain_head
FROM read_json('{ledger}/chain.jsonl', format = 'newline_delimited',
               columns = {seq: 'BIGINT', op: 'VARCHAR', entry_hash: 'VARCHAR',
                          written_at: 'VARCHAR'});
