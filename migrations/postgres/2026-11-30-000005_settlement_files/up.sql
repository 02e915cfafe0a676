-- Settlement files and bank statements, imported whole or not at all. The file's SHA-256
-- identifies it: the same bytes again are recognised, never stored twice. What a bank sent
-- is evidence: rows are never changed or removed.
CREATE TABLE settlement_files (
    id              TEXT PRIMARY KEY NOT NULL,
    spec            TEXT NOT NULL,
    sha256          TEXT NOT NULL UNIQUE,
    produces        TEXT NOT NULL CHECK (produces IN ('settlement', 'statement')),
    file_name       TEXT,
    size_bytes      BIGINT NOT NULL,
    records         BIGINT NOT NULL,
    -- JSON: counts and sums as decimal strings, as the API shows them.
    totals          TEXT NOT NULL,
    -- JSON: what the file said about itself (merchant, settlement date, account, version).
    facts           TEXT NOT NULL,
    merchant        TEXT,
    settlement_date DATE,
    imported_at     TIMESTAMP NOT NULL,
    imported_by     TEXT NOT NULL
);
CREATE INDEX settlement_files_by_date ON settlement_files (settlement_date);

CREATE TABLE settlement_records (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Rows are written before their file row, in the same transaction.
    file_id         TEXT NOT NULL REFERENCES settlement_files (id) DEFERRABLE INITIALLY DEFERRED,
    line_no         BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('purchase', 'void', 'refund', 'adjustment')),
    merchant        TEXT NOT NULL,
    terminal        TEXT NOT NULL,
    batch           TEXT,
    trace           TEXT,
    rrn             TEXT,
    auth_code       TEXT,
    masked_card     TEXT,
    gross_minor     BIGINT NOT NULL,
    fee_minor       BIGINT NOT NULL,
    net_minor       BIGINT NOT NULL CHECK (net_minor = gross_minor - fee_minor),
    currency        TEXT NOT NULL,
    txn_time        TIMESTAMP NOT NULL,
    settlement_date DATE NOT NULL,
    original_ref    TEXT,
    own_ref         TEXT
);
-- The import is the only writer and reads each line once; a (file_id, line_no) index would
-- cost a third of a large import for a guarantee the import already gives.
CREATE INDEX settlement_records_by_date ON settlement_records (settlement_date, file_id);

CREATE TABLE bank_statements (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id       TEXT NOT NULL REFERENCES settlement_files (id) DEFERRABLE INITIALLY DEFERRED,
    line_no       BIGINT NOT NULL,
    statement_id  TEXT NOT NULL,
    account       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    from_date     DATE,
    to_date       DATE,
    opening_minor BIGINT,
    closing_minor BIGINT,
    credit_count  BIGINT NOT NULL,
    credit_minor  BIGINT NOT NULL,
    debit_count   BIGINT NOT NULL,
    debit_minor   BIGINT NOT NULL
);
CREATE INDEX bank_statements_by_account ON bank_statements (account, to_date);

CREATE TABLE statement_bookings (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id              TEXT NOT NULL REFERENCES settlement_files (id) DEFERRABLE INITIALLY DEFERRED,
    line_no              BIGINT NOT NULL,
    account              TEXT NOT NULL,
    currency             TEXT NOT NULL,
    booking_date         DATE NOT NULL,
    value_date           DATE,
    direction            TEXT NOT NULL CHECK (direction IN ('credit', 'debit')),
    amount_minor         BIGINT NOT NULL CHECK (amount_minor > 0),
    reversal             BOOLEAN NOT NULL,
    bank_ref             TEXT,
    narrative            TEXT NOT NULL,
    counterparty_account TEXT,
    counterparty_name    TEXT,
    balance_after_minor  BIGINT
);
CREATE INDEX statement_bookings_by_date ON statement_bookings (account, booking_date);
CREATE INDEX statement_bookings_by_file ON statement_bookings (file_id);

CREATE TRIGGER settlement_files_append_only BEFORE UPDATE OR DELETE ON settlement_files
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('imported files are append-only');
CREATE TRIGGER settlement_records_append_only BEFORE UPDATE OR DELETE ON settlement_records
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('imported records are append-only');
CREATE TRIGGER bank_statements_append_only BEFORE UPDATE OR DELETE ON bank_statements
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('imported statements are append-only');
CREATE TRIGGER statement_bookings_append_only BEFORE UPDATE OR DELETE ON statement_bookings
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('imported bookings are append-only');
