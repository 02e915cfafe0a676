-- A batch may end without reaching the treasury (DESIGN §6): finance cancels a prepared batch
-- (a refund or a late correction made it stale), or the treasury rejects a pulled one. Either
-- way the day can be prepared again, so a day has at most one *live* batch (not cancelled or
-- rejected) instead of at most one batch. Who ended it, when and why is kept.
--
-- SQLite cannot drop an inline UNIQUE or change a CHECK in place: the table is rebuilt with
-- every column it had, in order, and the new ones after them; its triggers are made again
-- (they now allow the two new endings). remittance_subjects refers to it by name, so foreign
-- keys are off for the swap (only possible outside a transaction: this migration runs without
-- diesel's, see metadata.toml) and checked before the commit.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE remittances_new (
    id                 TEXT PRIMARY KEY NOT NULL,
    business_date      DATE NOT NULL REFERENCES business_days (business_date),
    message_id         TEXT NOT NULL UNIQUE,
    currency           TEXT NOT NULL,
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    status             TEXT NOT NULL CHECK (status IN ('prepared', 'approved', 'acknowledged', 'cancelled', 'rejected')),
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
    withdrawn_at       TIMESTAMP,
    withdrawn_by       TEXT,
    withdrawn_reason   TEXT,
    CHECK ((status IN ('prepared', 'cancelled')) = (approved_at IS NULL)),
    CHECK (status IN ('prepared', 'cancelled') OR (approved_by IS NOT NULL AND pull_seq IS NOT NULL
        AND file_bytes IS NOT NULL AND length(file_sha256) = 32 AND length(signature) = 64)),
    CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL)),
    CHECK (status <> 'acknowledged' OR (acknowledged_by IS NOT NULL
        AND treasury_reference IS NOT NULL AND ack_entry_seq IS NOT NULL)),
    CHECK ((status IN ('cancelled', 'rejected')) = (withdrawn_at IS NOT NULL)),
    CHECK (withdrawn_at IS NULL OR (withdrawn_by IS NOT NULL AND withdrawn_reason IS NOT NULL))
);
INSERT INTO remittances_new (id, business_date, message_id, currency, amount_minor, status,
    prepared_at, prepared_by, approved_at, approved_by, pull_seq, file_bytes, file_sha256,
    signature, acknowledged_at, acknowledged_by, treasury_reference, ack_entry_seq)
SELECT id, business_date, message_id, currency, amount_minor, status, prepared_at, prepared_by,
    approved_at, approved_by, pull_seq, file_bytes, file_sha256, signature, acknowledged_at,
    acknowledged_by, treasury_reference, ack_entry_seq
FROM remittances;
DROP TABLE remittances;
ALTER TABLE remittances_new RENAME TO remittances;

-- At most one live batch per day.
CREATE UNIQUE INDEX remittances_one_live_per_day ON remittances (business_date)
    WHERE status NOT IN ('cancelled', 'rejected');

-- What a batch is may only move forward: prepared → approved (the file is fixed) →
-- acknowledged (the entry is posted); prepared → cancelled; approved → rejected. Nothing it was
-- prepared or approved with changes, and an ended batch (acknowledged, cancelled, rejected)
-- never changes again.
CREATE TRIGGER remittances_move_forward_only BEFORE UPDATE ON remittances
WHEN NEW.id IS NOT OLD.id OR NEW.business_date IS NOT OLD.business_date
  OR NEW.message_id IS NOT OLD.message_id OR NEW.currency IS NOT OLD.currency
  OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.prepared_at IS NOT OLD.prepared_at
  OR NEW.prepared_by IS NOT OLD.prepared_by
  OR OLD.status IN ('acknowledged', 'cancelled', 'rejected')
  OR (OLD.status = 'prepared' AND NEW.status NOT IN ('prepared', 'approved', 'cancelled'))
  OR (OLD.status = 'approved' AND (NEW.status NOT IN ('approved', 'acknowledged', 'rejected')
      OR NEW.approved_at IS NOT OLD.approved_at OR NEW.approved_by IS NOT OLD.approved_by
      OR NEW.pull_seq IS NOT OLD.pull_seq OR NEW.file_bytes IS NOT OLD.file_bytes
      OR NEW.file_sha256 IS NOT OLD.file_sha256 OR NEW.signature IS NOT OLD.signature))
BEGIN SELECT RAISE(ABORT, 'a remittance only moves forward; an approved one never changes'); END;
CREATE TRIGGER remittances_no_delete BEFORE DELETE ON remittances
BEGIN SELECT RAISE(ABORT, 'remittances are never removed'); END;

-- Nothing may point nowhere after the swap (a row here fails the migration on purpose).
CREATE TEMP TABLE remittance_swap_check (n INTEGER CHECK (n = 0));
INSERT INTO remittance_swap_check
SELECT count(*) FROM remittance_subjects s
WHERE NOT EXISTS (SELECT 1 FROM remittances r WHERE r.id = s.remittance_id);
DROP TABLE remittance_swap_check;
COMMIT;
PRAGMA foreign_keys = ON;
