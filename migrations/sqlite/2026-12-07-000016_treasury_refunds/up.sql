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

-- SQLite cannot change a CHECK in place: refunds is rebuilt with every column it had, in
-- order, the route after them, and the statuses of the treasury route (and of a refund the
-- treasury or a supervisor refused, or its requester withdrew). Only idempotency_keys refers
-- to it (000014), by name, so the renamed table is referred to again; no key names a refund
-- yet when 000014 and this migration run together, as they ship.
CREATE TABLE refunds_new (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected',
                           'cancelled', 'awaiting_treasury', 'refunded')),
    requested_by_token TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    approved_by        TEXT,
    entry_seq          BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at         TIMESTAMP NOT NULL,
    approved_at        TIMESTAMP,
    business_date      DATE NOT NULL,
    closed_by          TEXT,
    closed_at          TIMESTAMP,
    closed_on          DATE,
    closed_note        TEXT,
    route              TEXT NOT NULL DEFAULT 'direct' CHECK (route IN ('direct', 'treasury'))
);
INSERT INTO refunds_new (id, payment_id, amount_minor, reason, status, requested_by_token,
    requested_by, approved_by, entry_seq, created_at, approved_at, business_date, closed_by,
    closed_at, closed_on, closed_note)
SELECT id, payment_id, amount_minor, reason, status, requested_by_token, requested_by,
    approved_by, entry_seq, created_at, approved_at, business_date, closed_by, closed_at,
    closed_on, closed_note
FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_payment ON refunds (payment_id);
CREATE INDEX refunds_by_status ON refunds (status, created_at, id);
CREATE INDEX refunds_by_date ON refunds (business_date, created_at, id);
CREATE INDEX refunds_by_closed_on ON refunds (closed_on);

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
    file_bytes         BLOB,
    file_sha256        BLOB,
    signature          BLOB,
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
    CHECK (file_bytes IS NULL OR (length(file_sha256) = 32 AND length(signature) = 64)),
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
WHEN NEW.id IS NOT OLD.id OR NEW.refund_id IS NOT OLD.refund_id
  OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.message_id IS NOT OLD.message_id
  OR NEW.account_code IS NOT OLD.account_code OR NEW.currency IS NOT OLD.currency
  OR (OLD.file_bytes IS NOT NULL AND (NEW.file_bytes IS NOT OLD.file_bytes
      OR NEW.file_sha256 IS NOT OLD.file_sha256 OR NEW.signature IS NOT OLD.signature))
  OR (OLD.pull_seq IS NOT NULL AND NEW.pull_seq IS NOT OLD.pull_seq)
  OR OLD.status IN ('acknowledged', 'rejected')
BEGIN SELECT RAISE(ABORT, 'a refund request only moves forward; its file never changes'); END;
CREATE TRIGGER refund_requests_no_delete BEFORE DELETE ON refund_requests
BEGIN SELECT RAISE(ABORT, 'refund requests are never removed'); END;
