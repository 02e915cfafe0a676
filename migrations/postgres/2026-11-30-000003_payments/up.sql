-- Counter payments: the payment, its lines (with the catalogue version charged), the masked card
-- data, its fiscal receipt, and the idempotency record that makes a retry harmless.

CREATE TABLE receipt_series (
    series_code TEXT PRIMARY KEY NOT NULL CHECK (length(series_code) = 8),
    next_number BIGINT NOT NULL CHECK (next_number BETWEEN 1 AND 10000000000)
);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY NOT NULL,
    reference       TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL CHECK (channel IN ('bank_card', 'one_card')),
    department      TEXT NOT NULL,
    window_code     TEXT NOT NULL,
    payer_name      TEXT,
    payer_id_hmac   BYTEA,
    payer_id_masked TEXT,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    business_date   DATE NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('captured', 'settled', 'reconciled', 'voided')),
    -- The ledger writer inserts the batch's entries after its jobs, so this is checked at commit.
    entry_seq       BIGINT NOT NULL REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at      TIMESTAMP NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX payments_by_date ON payments (business_date, status, id);

CREATE TABLE payment_lines (
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    line_no         BIGINT NOT NULL,
    fee_code        TEXT NOT NULL,
    fee_version     BIGINT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    revenue_subject TEXT NOT NULL,
    PRIMARY KEY (payment_id, line_no),
    FOREIGN KEY (fee_code, fee_version) REFERENCES fee_items (code, version)
);

CREATE TABLE payment_cards (
    payment_id  TEXT PRIMARY KEY NOT NULL REFERENCES payments (id),
    merchant_id TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    batch_no    TEXT,
    trace_no    TEXT,
    rrn         TEXT,
    auth_code   TEXT,
    serial      TEXT,
    masked_card TEXT NOT NULL,
    txn_time    TEXT NOT NULL
);
CREATE INDEX payment_cards_by_trace ON payment_cards (merchant_id, terminal_id, batch_no, trace_no);
CREATE INDEX payment_cards_by_rrn ON payment_cards (terminal_id, rrn);
CREATE INDEX payment_cards_by_serial ON payment_cards (serial);

CREATE TABLE receipts (
    series_code TEXT NOT NULL REFERENCES receipt_series (series_code),
    number      BIGINT NOT NULL,
    payment_id  TEXT NOT NULL UNIQUE REFERENCES payments (id),
    status      TEXT NOT NULL CHECK (status IN ('issued', 'red_reversed')),
    issued_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (series_code, number)
);

CREATE TABLE idempotency_keys (
    idem_key      TEXT PRIMARY KEY NOT NULL,
    request_hash  BYTEA NOT NULL,
    status_code   BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    payment_id    TEXT REFERENCES payments (id),
    created_at    TIMESTAMP NOT NULL
);
