-- Payments, receipts and refunds are protected in the database like ledger entries (DESIGN §2
-- rule 4, §7): nothing is removed, what was charged and to whom never changes, and a status
-- moves only along the transitions the service makes (src/payments/states.rs). Each guard
-- names the columns it fixes, so a column added later is not caught by it (say so there).
-- Mirrored in migrations/postgres with the same names and messages.
-- SQLite has no TRUNCATE (a DELETE without WHERE meets the row triggers).

-- A payment: its identity and money are fixed; its status moves captured → settled →
-- reconciled (a run may skip settled), or captured → voided.
CREATE TRIGGER payments_fixed BEFORE UPDATE ON payments
WHEN NEW.id IS NOT OLD.id OR NEW.reference IS NOT OLD.reference
  OR NEW.channel IS NOT OLD.channel OR NEW.department IS NOT OLD.department
  OR NEW.window_code IS NOT OLD.window_code OR NEW.payer_name IS NOT OLD.payer_name
  OR NEW.payer_id_hmac IS NOT OLD.payer_id_hmac
  OR NEW.payer_id_masked IS NOT OLD.payer_id_masked
  OR NEW.amount_minor IS NOT OLD.amount_minor
  OR NEW.business_date IS NOT OLD.business_date
  OR NEW.entry_seq IS NOT OLD.entry_seq OR NEW.created_at IS NOT OLD.created_at
  OR NEW.created_by IS NOT OLD.created_by
BEGIN SELECT RAISE(ABORT, 'a payment never changes; only its status moves'); END;
CREATE TRIGGER payments_status_moves BEFORE UPDATE ON payments
WHEN NEW.status IS NOT OLD.status AND OLD.status || '>' || NEW.status NOT IN
  ('captured>settled', 'captured>reconciled', 'settled>reconciled', 'captured>voided')
BEGIN SELECT RAISE(ABORT, 'a payment''s status moves only captured → settled → reconciled, or captured → voided'); END;
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
BEGIN SELECT RAISE(ABORT, 'payments are never removed'); END;

CREATE TRIGGER payment_lines_fixed BEFORE UPDATE ON payment_lines
WHEN NEW.payment_id IS NOT OLD.payment_id OR NEW.line_no IS NOT OLD.line_no
  OR NEW.fee_code IS NOT OLD.fee_code OR NEW.fee_version IS NOT OLD.fee_version
  OR NEW.quantity IS NOT OLD.quantity OR NEW.amount_minor IS NOT OLD.amount_minor
  OR NEW.revenue_subject IS NOT OLD.revenue_subject
  OR NEW.concession_code IS NOT OLD.concession_code
  OR NEW.forgone_minor IS NOT OLD.forgone_minor
BEGIN SELECT RAISE(ABORT, 'a payment''s lines never change'); END;
CREATE TRIGGER payment_lines_no_delete BEFORE DELETE ON payment_lines
BEGIN SELECT RAISE(ABORT, 'a payment''s lines are never removed'); END;

CREATE TRIGGER payment_cards_fixed BEFORE UPDATE ON payment_cards
WHEN NEW.payment_id IS NOT OLD.payment_id
  OR NEW.merchant_id IS NOT OLD.merchant_id OR NEW.terminal_id IS NOT OLD.terminal_id
  OR NEW.batch_no IS NOT OLD.batch_no OR NEW.trace_no IS NOT OLD.trace_no
  OR NEW.rrn IS NOT OLD.rrn OR NEW.auth_code IS NOT OLD.auth_code
  OR NEW.serial IS NOT OLD.serial OR NEW.masked_card IS NOT OLD.masked_card
  OR NEW.txn_time IS NOT OLD.txn_time
BEGIN SELECT RAISE(ABORT, 'a payment''s card data never changes'); END;
CREATE TRIGGER payment_cards_no_delete BEFORE DELETE ON payment_cards
BEGIN SELECT RAISE(ABORT, 'a payment''s card data is never removed'); END;

-- A receipt: issued with its payment, red-reversed (冲红) with its void, nothing else.
CREATE TRIGGER receipts_fixed BEFORE UPDATE ON receipts
WHEN NEW.series_code IS NOT OLD.series_code OR NEW.number IS NOT OLD.number
  OR NEW.payment_id IS NOT OLD.payment_id OR NEW.issued_at IS NOT OLD.issued_at
  OR (NEW.status IS NOT OLD.status AND OLD.status || '>' || NEW.status <> 'issued>red_reversed')
BEGIN SELECT RAISE(ABORT, 'a receipt never changes; it is only red-reversed with its payment''s void'); END;
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
BEGIN SELECT RAISE(ABORT, 'receipts are never removed'); END;
-- A series only counts up: no receipt number is ever given twice.
CREATE TRIGGER receipt_series_counts_up BEFORE UPDATE ON receipt_series
WHEN NEW.series_code IS NOT OLD.series_code OR NEW.next_number < OLD.next_number
BEGIN SELECT RAISE(ABORT, 'a receipt series only counts up'); END;
CREATE TRIGGER receipt_series_no_delete BEFORE DELETE ON receipt_series
BEGIN SELECT RAISE(ABORT, 'a receipt series only counts up'); END;

-- A refund: what, for which payment, why and by whom are fixed; its status moves requested →
-- approved / awaiting_treasury / rejected / cancelled, awaiting_treasury → refunded / rejected;
-- the decision (approver, route, who closed it) is written once, while it is requested; its
-- entry once (at approval, or when the treasury's return is paid out).
CREATE TRIGGER refunds_fixed BEFORE UPDATE ON refunds
WHEN NEW.id IS NOT OLD.id OR NEW.payment_id IS NOT OLD.payment_id
  OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.reason IS NOT OLD.reason
  OR NEW.requested_by_token IS NOT OLD.requested_by_token
  OR NEW.requested_by IS NOT OLD.requested_by
  OR NEW.requested_by_person IS NOT OLD.requested_by_person
  OR NEW.created_at IS NOT OLD.created_at
  OR NEW.business_date IS NOT OLD.business_date
BEGIN SELECT RAISE(ABORT, 'a refund''s amount, payment, reason and requester never change'); END;
CREATE TRIGGER refunds_status_moves BEFORE UPDATE ON refunds
WHEN NEW.status IS NOT OLD.status AND OLD.status || '>' || NEW.status NOT IN
  ('requested>approved', 'requested>awaiting_treasury', 'requested>rejected', 'requested>cancelled',
   'awaiting_treasury>refunded', 'awaiting_treasury>rejected')
BEGIN SELECT RAISE(ABORT, 'a refund''s status moves only from requested, or from awaiting_treasury to refunded or rejected'); END;
CREATE TRIGGER refunds_decided_once BEFORE UPDATE ON refunds
WHEN (OLD.status <> 'requested' AND (NEW.approved_by IS NOT OLD.approved_by
    OR NEW.approved_at IS NOT OLD.approved_at OR NEW.route IS NOT OLD.route
    OR NEW.closed_by IS NOT OLD.closed_by OR NEW.closed_at IS NOT OLD.closed_at
    OR NEW.closed_on IS NOT OLD.closed_on OR NEW.closed_note IS NOT OLD.closed_note))
  OR (NEW.entry_seq IS NOT OLD.entry_seq
    AND NOT (OLD.entry_seq IS NULL AND OLD.status IN ('requested', 'awaiting_treasury')))
BEGIN SELECT RAISE(ABORT, 'a refund''s decision and entry are written once'); END;
CREATE TRIGGER refunds_no_delete BEFORE DELETE ON refunds
BEGIN SELECT RAISE(ABORT, 'refunds are never removed'); END;

-- A 退库 request (its money and file are fixed since migration 000016): what it was made from
-- is fixed too, and its status moves waiting → offered → acknowledged, or to rejected.
CREATE TRIGGER refund_requests_moves BEFORE UPDATE ON refund_requests
WHEN NEW.payment_id IS NOT OLD.payment_id
  OR NEW.business_date IS NOT OLD.business_date
  OR NEW.revenue_subject IS NOT OLD.revenue_subject
  OR NEW.created_at IS NOT OLD.created_at OR NEW.created_by IS NOT OLD.created_by
  OR (NEW.status IS NOT OLD.status AND OLD.status || '>' || NEW.status NOT IN
    ('waiting>offered', 'offered>acknowledged', 'waiting>rejected', 'offered>rejected'))
BEGIN SELECT RAISE(ABORT, 'a refund request only moves forward; its file never changes'); END;
