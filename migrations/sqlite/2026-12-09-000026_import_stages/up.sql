-- Imports staged in short transactions (issue 19 part 5): a large settlement file on SQLite
-- writes its records in short transactions, so payments at the counter are not kept waiting
-- for the write lock, and publishes them with one short final commit (its settlement_files row).
-- Until then no reader sees them: settlement records are only ever read through their file's
-- row, which does not exist yet. One row per import under way; `touched_at` moves with every
-- chunk, so an import whose process died is recognised (stale) and its rows removed.
CREATE TABLE settlement_file_stages (
    file_id    TEXT PRIMARY KEY NOT NULL,
    sha256     TEXT NOT NULL,
    -- Every record the import wrote has an id at least this (set with its first chunk).
    first_row  BIGINT,
    started_at TIMESTAMP NOT NULL,
    touched_at TIMESTAMP NOT NULL
);

-- Records stay append-only, except those of an import still staged (it has a stage row and no
-- file row): a failed or abandoned import's records are removed, never a published one's.
DROP TRIGGER settlement_records_no_delete;
CREATE TRIGGER settlement_records_no_delete BEFORE DELETE ON settlement_records
WHEN NOT EXISTS (SELECT 1 FROM settlement_file_stages s WHERE s.file_id = OLD.file_id)
  OR EXISTS (SELECT 1 FROM settlement_files f WHERE f.id = OLD.file_id)
BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
