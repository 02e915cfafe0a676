-- Refunds after remittance (退库, DESIGN §2, §6). A refund has a route: `direct` while its
-- revenue is still with the centre (approval posts Dr 2103 / Cr in transit or bank), `treasury`
-- once a batch covering it is approved (approval posts nothing; the refund waits as
-- `awaiting_treasury` for the treasury to return the money, then is `refunded`, or `rejected`
-- when the treasury refuses).
--
-- A refund request is what the treasury is asked to return, one per revenue subject of the
-- refund: `waiting` until the batch that carries the revenue is acknowledged (money that has not
-- reached the treasury cannot be returned), then `offered` with a pull position, then
-- `acknowledged` (the return and the payer's refund are posted) or `rejected`. Its signed
-- pain.001 file is fixed the first time it is pulled and never changes.
CREATE TABLE refund_requests (
    id                 TEXT PRIMARY KEY NOT NULL,
    refund_id          TEXT NOT NULL REFERENCES refunds (id),
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    business_date      DATE NOT NULL,
    revenue_subject    TEXT NOT NULL,
    account_code       TEXT NOT NULL REFERENCES accounts (code),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    currency           TEXT NOT NULL,
    message_id         TEXT NOT NULL UNIQUE,
    status             TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'acknowledged', 'rejected')),
    created_at         TIMESTAMP NOT NULL,
    created_by         TEXT NOT NULL,
    pull_seq           BIGINT UNIQUE,
    offered_at         TIMESTAMP,
    file_bytes         BYTEA,
    file_sha256        BYTEA,
    signature          BYTEA,
    acknowledged_at    TIMESTAMP,
    acknowledged_by    TEXT,
    treasury_reference TEXT,
    return_entry_seq   BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    payout_entry_seq   BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    rejected_at        TIMESTAMP,
    rejected_by        TEXT,
    reject_reason      TEXT,
    UNIQUE (refund_id, revenue_subject),
    CHECK ((status = 'waiting') = (pull_seq IS NULL)),
    CHECK ((pull_seq IS NULL) = (offered_at IS NULL)),
    CHECK ((file_bytes IS NULL) = (file_sha256 IS NULL) AND (file_bytes IS NULL) = (signature IS NULL)),
    CHECK (file_bytes IS NULL OR (octet_length(file_sha256) = 32 AND octet_length(signature) = 64)),
    CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL)),
    CHECK (status <> 'acknowledged' OR (acknowledged_by IS NOT NULL
        AND treasury_reference IS NOT NULL AND return_entry_seq IS NOT NULL
        AND payout_entry_seq IS NOT NULL)),
    CHECK ((status = 'rejected') = (rejected_at IS NOT NULL)),
    CHECK (status <> 'rejected' OR (rejected_by IS NOT NULL AND reject_reason IS NOT NULL))
);
CREATE INDEX refund_requests_by_date ON refund_requests (business_date, status);

-- Once fixed, a request's file and what it was made from never change; nothing is removed.
CREATE TRIGGER refund_requests_fixed BEFORE UPDATE ON refund_requests
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.refund_id IS DISTINCT FROM OLD.refund_id
  OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor OR NEW.message_id IS DISTINCT FROM OLD.message_id
  OR NEW.account_code IS DISTINCT FROM OLD.account_code OR NEW.currency IS DISTINCT FROM OLD.currency
  OR (OLD.file_bytes IS NOT NULL AND (NEW.file_bytes IS DISTINCT FROM OLD.file_bytes
      OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256 OR NEW.signature IS DISTINCT FROM OLD.signature))
  OR (OLD.pull_seq IS NOT NULL AND NEW.pull_seq IS DISTINCT FROM OLD.pull_seq)
  OR OLD.status IN ('acknowledged', 'rejected'))
EXECUTE FUNCTION onecard_append_only('a refund request only moves forward; its file never changes');
CREATE TRIGGER refund_requests_no_delete BEFORE DELETE ON refund_requests
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('refund requests are never removed');

-- The route, and the statuses of the treasury route (and of a refund the treasury or a
-- supervisor refused, or its requester withdrew).
ALTER TABLE refunds ADD COLUMN route TEXT NOT NULL DEFAULT 'direct' CHECK (route IN ('direct', 'treasury'));
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('requested', 'approved',
    'rejected', 'cancelled', 'awaiting_treasury', 'refunded'));
