DROP TABLE settlement_file_withdrawals;
DROP TABLE statement_lines;
ALTER TABLE statement_bookings DROP COLUMN identity;
CREATE TABLE settlement_files_after_11 AS SELECT * FROM settlement_files;
DROP TABLE settlement_files;
CREATE TABLE settlement_files (
    id              TEXT PRIMARY KEY NOT NULL,
    spec            TEXT NOT NULL,
    sha256          TEXT NOT NULL UNIQUE,
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
SELECT id, spec, sha256, produces, file_name, size_bytes, records, totals, facts, merchant,
       settlement_date, imported_at, imported_by
FROM settlement_files_after_11;
DROP TABLE settlement_files_after_11;
CREATE INDEX settlement_files_by_date ON settlement_files (settlement_date);
CREATE TRIGGER settlement_files_no_update BEFORE UPDATE ON settlement_files
BEGIN SELECT RAISE(ABORT, 'imported files are append-only'); END;
CREATE TRIGGER settlement_files_no_delete BEFORE DELETE ON settlement_files
BEGIN SELECT RAISE(ABORT, 'imported files are append-only'); END;
