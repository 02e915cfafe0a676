-- Imports staged in short transactions (issue 19 part 5). SQLite stages a large settlement
-- file's records in short transactions (see the SQLite migration); PostgreSQL's writers do not
-- wait for one another, so an import there stays one transaction (rows by COPY) and never
-- writes this table. It exists on both backends so that the schema is one.
CREATE TABLE settlement_file_stages (
    file_id    TEXT PRIMARY KEY NOT NULL,
    sha256     TEXT NOT NULL,
    first_row  BIGINT,
    started_at TIMESTAMP NOT NULL,
    touched_at TIMESTAMP NOT NULL
);
