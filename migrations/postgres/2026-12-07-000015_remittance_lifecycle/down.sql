-- Back to one batch per day: only possible while no batch was cancelled or rejected.
DROP TRIGGER remittances_move_forward_only ON remittances;
DROP INDEX remittances_one_live_per_day;
ALTER TABLE remittances
    DROP CONSTRAINT remittances_status,
    DROP CONSTRAINT remittances_approved,
    DROP CONSTRAINT remittances_file,
    DROP CONSTRAINT remittances_acknowledged,
    DROP CONSTRAINT remittances_acknowledgement,
    DROP CONSTRAINT remittances_withdrawn,
    DROP CONSTRAINT remittances_withdrawal;
ALTER TABLE remittances DROP COLUMN withdrawn_at, DROP COLUMN withdrawn_by, DROP COLUMN withdrawn_reason;
ALTER TABLE remittances
    ADD CONSTRAINT remittances_business_date_key UNIQUE (business_date),
    ADD CHECK (status IN ('prepared', 'approved', 'acknowledged')),
    ADD CHECK ((status = 'prepared') = (approved_at IS NULL)),
    ADD CHECK (status = 'prepared' OR (approved_by IS NOT NULL AND pull_seq IS NOT NULL
        AND file_bytes IS NOT NULL AND octet_length(file_sha256) = 32 AND octet_length(signature) = 64)),
    ADD CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL)),
    ADD CHECK (status <> 'acknowledged' OR (acknowledged_by IS NOT NULL
        AND treasury_reference IS NOT NULL AND ack_entry_seq IS NOT NULL));
CREATE TRIGGER remittances_move_forward_only BEFORE UPDATE ON remittances
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.business_date IS DISTINCT FROM OLD.business_date
  OR NEW.message_id IS DISTINCT FROM OLD.message_id OR NEW.currency IS DISTINCT FROM OLD.currency
  OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor OR NEW.prepared_at IS DISTINCT FROM OLD.prepared_at
  OR NEW.prepared_by IS DISTINCT FROM OLD.prepared_by
  OR OLD.status = 'acknowledged'
  OR (OLD.status = 'prepared' AND NEW.status NOT IN ('prepared', 'approved'))
  OR (OLD.status = 'approved' AND (NEW.status NOT IN ('approved', 'acknowledged')
      OR NEW.approved_at IS DISTINCT FROM OLD.approved_at OR NEW.approved_by IS DISTINCT FROM OLD.approved_by
      OR NEW.pull_seq IS DISTINCT FROM OLD.pull_seq OR NEW.file_bytes IS DISTINCT FROM OLD.file_bytes
      OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256 OR NEW.signature IS DISTINCT FROM OLD.signature)))
EXECUTE FUNCTION onecard_append_only('a remittance only moves forward; an approved one never changes');
