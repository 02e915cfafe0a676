-- Treasury remittance (DESIGN §6): one batch per closed day, the revenue subjects and the
-- documents (receipts) behind them, the signed remt.001 file once approved, and the treasury's
-- acknowledgement. An approved batch never changes; nothing here is ever removed.

-- Entries are found by the payment or batch they belong to (refunds, remittances).
CREATE INDEX ledger_entries_by_reference ON ledger_entries (reference, seq);

CREATE TABLE remittances (
    id                 TEXT PRIMARY KEY NOT NULL,
    business_date      DATE NOT NULL UNIQUE REFERENCES business_days (business_date),
    message_id         TEXT NOT NULL UNIQUE,
    currency           TEXT NOT NULL,
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    status             TEXT NOT NULL CHECK (status IN ('prepared', 'approved', 'acknowledged')),
    prepared_at        TIMESTAMP NOT NULL,
    prepared_by        TEXT NOT NULL,
    approved_at        TIMESTAMP,
    approved_by        TEXT,
    pull_seq           BIGINT UNIQUE,
    file_bytes         BLOB,
    file_sha256        BLOB,
    signature          BLOB,
    acknowledged_at    TIMESTAMP,
    acknowledged_by    TEXT,
    treasury_reference TEXT,
    ack_entry_seq      BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    CHECK ((status = 'prepared') = (approved_at IS NULL)),
    CHECK (status = 'prepared' OR (approved_by IS NOT NULL AND pull_seq IS NOT NULL
        AND file_bytes IS NOT NULL AND length(file_sha256) = 32 AND length(signature) = 64)),
    CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL)),
    CHECK (status <> 'acknowledged' OR (acknowledged_by IS NOT NULL
        AND treasury_reference IS NOT NULL AND ack_entry_seq IS NOT NULL))
);

-- What a batch is may only move forward: prepared → approved (the file is fixed) →
-- acknowledged (the entry is posted). Nothing it was prepared or approved with changes.
CREATE TRIGGER remittances_move_forward_only BEFORE UPDATE ON remittances
WHEN NEW.id IS NOT OLD.id OR NEW.business_date IS NOT OLD.business_date
  OR NEW.message_id IS NOT OLD.message_id OR NEW.currency IS NOT OLD.currency
  OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.prepared_at IS NOT OLD.prepared_at
  OR NEW.prepared_by IS NOT OLD.prepared_by
  OR OLD.status = 'acknowledged'
  OR (OLD.status = 'prepared' AND NEW.status NOT IN ('prepared', 'approved'))
  OR (OLD.status = 'approved' AND (NEW.status NOT IN ('approved', 'acknowledged')
      OR NEW.approved_at IS NOT OLD.approved_at OR NEW.approved_by IS NOT OLD.approved_by
      OR NEW.pull_seq IS NOT OLD.pull_seq OR NEW.file_bytes IS NOT OLD.file_bytes
      OR NEW.file_sha256 IS NOT OLD.file_sha256 OR NEW.signature IS NOT OLD.signature))
BEGIN SELECT RAISE(ABORT, 'a remittance only moves forward; an approved one never changes'); END;
CREATE TRIGGER remittances_no_delete BEFORE DELETE ON remittances
BEGIN SELECT RAISE(ABORT, 'remittances are never removed'); END;

CREATE TABLE remittance_subjects (
    remittance_id   TEXT NOT NULL REFERENCES remittances (id),
    revenue_subject TEXT NOT NULL,
    account_code    TEXT NOT NULL REFERENCES accounts (code),
    name            TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (remittance_id, revenue_subject)
);
CREATE TRIGGER remittance_subjects_no_update BEFORE UPDATE ON remittance_subjects
BEGIN SELECT RAISE(ABORT, 'remittance subjects never change'); END;
CREATE TRIGGER remittance_subjects_no_delete BEFORE DELETE ON remittance_subjects
BEGIN SELECT RAISE(ABORT, 'remittance subjects never change'); END;

-- The documents behind a subject's amount: a receipt (the payment's net amount in that subject
-- after voids and refunds) or a ledger entry posted by hand.
CREATE TABLE remittance_documents (
    remittance_id   TEXT NOT NULL,
    revenue_subject TEXT NOT NULL,
    document        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'entry')),
    payment_id      TEXT REFERENCES payments (id),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (remittance_id, revenue_subject, document),
    FOREIGN KEY (remittance_id, revenue_subject)
        REFERENCES remittance_subjects (remittance_id, revenue_subject)
);
CREATE TRIGGER remittance_documents_no_update BEFORE UPDATE ON remittance_documents
BEGIN SELECT RAISE(ABORT, 'remittance documents never change'); END;
CREATE TRIGGER remittance_documents_no_delete BEFORE DELETE ON remittance_documents
BEGIN SELECT RAISE(ABORT, 'remittance documents never change'); END;

-- Signed treasury requests seen in the last minutes: the same signature twice is a replay.
CREATE TABLE treasury_request_nonces (
    token_id  TEXT NOT NULL,
    signature BLOB NOT NULL,
    seen_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, signature)
);
CREATE INDEX treasury_request_nonces_by_time ON treasury_request_nonces (seen_at);
