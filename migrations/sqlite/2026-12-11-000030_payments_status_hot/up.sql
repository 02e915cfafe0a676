-- A reconciliation run moves the status of up to every payment of its day. With `status` in
-- the key of payments_by_date every moved row also deleted and re-inserted its entry in that
-- index; SQLite leaves an index alone when none of its columns change, so without `status` in
-- the key a move rewrites the row only. The date's payments are found by (business_date, id)
-- and a status filter reads the date's rows, which this index still orders. Mirrors the
-- PostgreSQL migration, which also keeps half of each page free so its moves are heap-only
-- (SQLite has no such setting).
DROP INDEX payments_by_date;
CREATE INDEX payments_by_date ON payments (business_date, id);
