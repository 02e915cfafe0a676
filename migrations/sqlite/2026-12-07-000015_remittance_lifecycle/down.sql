-- Back to one batch per day, as before: only possible while no batch was cancelled or
-- rejected (the copy then fails on the status CHECK and nothing changes).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE remittances_old (
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
INSERT INTO remittances_old (id, business_date, message_id, currency, amount_minor, status,
    prepared_at, prepared_by, approved_at, approved_by, pull_seq, file_bytes, file_sha256,
    signature, acknowledged_at, acknowledged_by, treasury_reference, ack_entry_seq)
SELECT id, business_date, message_id, currency, amount_minor, status, prepared_at, prepared_by,
    approved_at, approved_by, pull_seq, file_bytes, file_sha256, signature, acknowledged_at,
    acknowledged_by, treasury_reference, ack_entry_seq
FROM remittances;
DROP TABLE remittances;
ALTER TABLE remittances_old RENAME TO remittances;
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
COMMIT;
PRAGMA foreign_keys = ON;
