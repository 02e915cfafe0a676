-- Foundation: chart of accounts, the append-only hash-chained ledger, maintained balances,
-- business days, API tokens, audit log. Mirrored in migrations/sqlite.

CREATE TABLE accounts (
    code        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    fund        TEXT NOT NULL CHECK (fund IN ('collection', 'budget')),
    kind        TEXT NOT NULL CHECK (kind IN ('asset', 'liability', 'net_assets', 'revenue', 'expense')),
    role        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    parent      TEXT REFERENCES accounts (code),
    postable    BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE account_balances (
    account_code   TEXT PRIMARY KEY NOT NULL REFERENCES accounts (code),
    debit_minor    BIGINT NOT NULL DEFAULT 0,
    credit_minor   BIGINT NOT NULL DEFAULT 0,
    last_entry_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE account_day_totals (
    account_code  TEXT NOT NULL REFERENCES accounts (code),
    business_date DATE NOT NULL,
    debit_minor   BIGINT NOT NULL,
    credit_minor  BIGINT NOT NULL,
    PRIMARY KEY (account_code, business_date)
);

CREATE TABLE ledger_head (
    id   BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE ledger_entries (
    seq           BIGINT PRIMARY KEY NOT NULL CHECK (seq > 0),
    business_date DATE NOT NULL,
    kind          TEXT NOT NULL,
    memo          TEXT NOT NULL,
    reference     TEXT,
    reverses_seq  BIGINT REFERENCES ledger_entries (seq),
    actor         TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    prev_hash     BYTEA NOT NULL,
    hash          BYTEA NOT NULL
);
CREATE INDEX ledger_entries_by_date ON ledger_entries (business_date, seq);
-- An entry is reversed at most once; most entries reverse nothing, so index only those that do.
CREATE UNIQUE INDEX ledger_entries_reversed_once ON ledger_entries (reverses_seq) WHERE reverses_seq IS NOT NULL;

CREATE TABLE ledger_postings (
    entry_seq    BIGINT NOT NULL REFERENCES ledger_entries (seq),
    line_no      BIGINT NOT NULL,
    account_code TEXT NOT NULL REFERENCES accounts (code),
    side         TEXT NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    PRIMARY KEY (entry_seq, line_no)
);
CREATE INDEX ledger_postings_by_account ON ledger_postings (account_code, entry_seq);

CREATE FUNCTION onecard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$;

-- Append-only: the database itself refuses to change or remove an entry, a posting or an
-- audit record. Corrections are reversing entries.
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('ledger entries are append-only');
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('ledger postings are append-only');

CREATE TABLE business_days (
    business_date   DATE PRIMARY KEY NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    entries         BIGINT,
    last_entry_hash BYTEA,
    seal            TEXT,
    closed_at       TIMESTAMP,
    closed_by       TEXT
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('clerk', 'finance', 'supervisor', 'auditor', 'treasury', 'admin')),
    token_hash BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('the audit log is append-only');
