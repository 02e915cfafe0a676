-- A batch may end without reaching the treasury (DESIGN §6): finance cancels a prepared batch
-- (a refund or a late correction made it stale), or the treasury rejects a pulled one. Either
-- way the day can be prepared again, so a day has at most one *live* batch (not cancelled or
-- rejected) instead of at most one batch. Who ended it, when and why is kept.
ALTER TABLE remittances ADD COLUMN withdrawn_at TIMESTAMP;
ALTER TABLE remittances ADD COLUMN withdrawn_by TEXT;
ALTER TABLE remittances ADD COLUMN withdrawn_reason TEXT;

-- The unnamed constraints of 000008 (the day's UNIQUE and the status CHECKs) go, whatever
-- PostgreSQL named them; the amount CHECK and the keys stay.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'remittances'::regclass
               AND ((contype = 'c' AND pg_get_constraintdef(oid) NOT LIKE '%amount_minor%')
                 OR (contype = 'u' AND pg_get_constraintdef(oid) = 'UNIQUE (business_date)'))
    LOOP
        EXECUTE format('ALTER TABLE remittances DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;

ALTER TABLE remittances
    ADD CONSTRAINT remittances_status CHECK
        (status IN ('prepared', 'approved', 'acknowledged', 'cancelled', 'rejected')),
    ADD CONSTRAINT remittances_approved CHECK
        ((status IN ('prepared', 'cancelled')) = (approved_at IS NULL)),
    ADD CONSTRAINT remittances_file CHECK (status IN ('prepared', 'cancelled')
        OR (approved_by IS NOT NULL AND pull_seq IS NOT NULL AND file_bytes IS NOT NULL
            AND octet_length(file_sha256) = 32 AND octet_length(signature) = 64)),
    ADD CONSTRAINT remittances_acknowledged CHECK
        ((status = 'acknowledged') = (acknowledged_at IS NOT NULL)),
    ADD CONSTRAINT remittances_acknowledgement CHECK (status <> 'acknowledged'
        OR (acknowledged_by IS NOT NULL AND treasury_reference IS NOT NULL
            AND ack_entry_seq IS NOT NULL)),
    ADD CONSTRAINT remittances_withdrawn CHECK
        ((status IN ('cancelled', 'rejected')) = (withdrawn_at IS NOT NULL)),
    ADD CONSTRAINT remittances_withdrawal CHECK
        (withdrawn_at IS NULL OR (withdrawn_by IS NOT NULL AND withdrawn_reason IS NOT NULL));

-- At most one live batch per day.
CREATE UNIQUE INDEX remittances_one_live_per_day ON remittances (business_date)
    WHERE status NOT IN ('cancelled', 'rejected');

-- What a batch is may only move forward: prepared → approved (the file is fixed) →
-- acknowledged (the entry is posted); prepared → cancelled; approved → rejected. Nothing it was
-- prepared or approved with changes, and an ended batch (acknowledged, cancelled, rejected)
-- never changes again.
DROP TRIGGER remittances_move_forward_only ON remittances;
CREATE TRIGGER remittances_move_forward_only BEFORE UPDATE ON remittances
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.business_date IS DISTINCT FROM OLD.business_date
  OR NEW.message_id IS DISTINCT FROM OLD.message_id OR NEW.currency IS DISTINCT FROM OLD.currency
  OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor OR NEW.prepared_at IS DISTINCT FROM OLD.prepared_at
  OR NEW.prepared_by IS DISTINCT FROM OLD.prepared_by
  OR OLD.status IN ('acknowledged', 'cancelled', 'rejected')
  OR (OLD.status = 'prepared' AND NEW.status NOT IN ('prepared', 'approved', 'cancelled'))
  OR (OLD.status = 'approved' AND (NEW.status NOT IN ('approved', 'acknowledged', 'rejected')
      OR NEW.approved_at IS DISTINCT FROM OLD.approved_at OR NEW.approved_by IS DISTINCT FROM OLD.approved_by
      OR NEW.pull_seq IS DISTINCT FROM OLD.pull_seq OR NEW.file_bytes IS DISTINCT FROM OLD.file_bytes
      OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256 OR NEW.signature IS DISTINCT FROM OLD.signature)))
EXECUTE FUNCTION onecard_append_only('a remittance only moves forward; an approved one never changes');
