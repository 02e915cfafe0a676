-- Statement lines get an identity of their own, so an overlapping or re-sent statement stores
-- only the lines not seen before; an import not yet used by a run can be withdrawn, and the
-- same bytes imported again afterwards.
--
-- settlement_files.sha256 was UNIQUE: now several imports of one file may exist, at most one
-- of them not withdrawn (the import checks; the id, derived from the hash and the number of
-- earlier withdrawn imports, is the primary key, so two concurrent re-imports still meet).
-- SQLite cannot drop a column constraint: the table is rebuilt. The child tables' deferred
-- foreign keys see their parents again before the migration commits.
CREATE TABLE settlement_files_before_11 AS SELECT * FROM settlement_files;
DROP TABLE settlement_files;
CREATE TABLE settlement_files (
    id              TEXT PRIMARY KEY NOT NULL,
    spec            TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    produces        TEXT NOT NULL CHECK (produces IN ('settlement', 'statement')),
    file_name       TEXT,
    size_bytes      BIGINT NOT NULL,
    records         BIGINT NOT NULL,
    totals          TEXT NOT NULL,
    facts           TEXT NOT NULL,
    merchant        TEXT,
    settlement_date DATE,
    imported_at     TIMESTAMP NOT NULL,
    imported_by     TEXT NOT NULL
);
INSERT INTO settlement_files
    (id, spec, sha256, produces, file_name, size_bytes, records, totals, facts, merchant,
     settlement_date, imported_at, imported_by)
SELECT id, spec, sha256, produces, file_name, size_bytes, records, totals, facts, merchant,
       settlement_date, imported_at, imported_by
FROM settlement_files_before_11;
DROP TABLE settlement_files_before_11;
CREATE INDEX settlement_files_by_date ON settlement_files (settlement_date);
CREATE INDEX settlement_files_by_sha ON settlement_files (sha256);
CREATE TRIGGER settlement_files_no_update BEFORE UPDATE ON settlement_files
BEGIN SELECT RAISE(ABORT, 'imported files are append-only'); END;
CREATE TRIGGER settlement_files_no_delete BEFORE DELETE ON settlement_files
BEGIN SELECT RAISE(ABORT, 'imported files are append-only'); END;

-- Statement lines an import found already imported by another file (not stored again).
ALTER TABLE settlement_files ADD COLUMN lines_already_imported BIGINT NOT NULL DEFAULT 0;

-- A booking's identity (see bankfiles::store::identity): account, booking date, direction,
-- amount, its occurrence among identical lines of its file, and the bank reference (or, without
-- one, the narrative). Rows imported before this migration have none (their identities are in
-- statement_lines below).
ALTER TABLE statement_bookings ADD COLUMN identity TEXT;

-- The identities held by files not withdrawn: the register an import meets (INSERT … ON
-- CONFLICT DO NOTHING). A withdrawal removes its file's rows, so the lines can come again.
CREATE TABLE statement_lines (
    identity TEXT PRIMARY KEY NOT NULL,
    file_id  TEXT NOT NULL REFERENCES settlement_files (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX statement_lines_by_file ON statement_lines (file_id);
INSERT INTO statement_lines (identity, file_id)
SELECT identity, file_id FROM (
    SELECT b.file_id,
           b.account || '|' || b.booking_date || '|' || b.direction || '|'
             || CAST(b.amount_minor AS TEXT) || '|'
             || CAST(ROW_NUMBER() OVER (
                    PARTITION BY b.file_id, b.account, b.booking_date, b.direction,
                                 b.amount_minor,
                                 CASE WHEN b.bank_ref IS NOT NULL AND b.bank_ref <> ''
                                      THEN 'ref:' || b.bank_ref ELSE 'txt:' || b.narrative END
                    ORDER BY b.id) AS TEXT) || '|'
             || CASE WHEN b.bank_ref IS NOT NULL AND b.bank_ref <> ''
                     THEN 'ref:' || b.bank_ref ELSE 'txt:' || b.narrative END AS identity,
           b.id
    FROM statement_bookings b
) ORDER BY id
ON CONFLICT DO NOTHING;

-- A withdrawn import: who, when, why. Its records and bookings stay (evidence) but no run or
-- report reads them again.
CREATE TABLE settlement_file_withdrawals (
    file_id      TEXT PRIMARY KEY NOT NULL REFERENCES settlement_files (id),
    withdrawn_at TIMESTAMP NOT NULL,
    withdrawn_by TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE TRIGGER settlement_file_withdrawals_no_update BEFORE UPDATE ON settlement_file_withdrawals
BEGIN SELECT RAISE(ABORT, 'withdrawals are append-only'); END;
CREATE TRIGGER settlement_file_withdrawals_no_delete BEFORE DELETE ON settlement_file_withdrawals
BEGIN SELECT RAISE(ABORT, 'withdrawals are append-only'); END;
