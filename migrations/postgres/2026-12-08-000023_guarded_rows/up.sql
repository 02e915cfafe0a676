-- Payments, receipts and refunds are protected in the database like ledger entries (DESIGN §2
-- rule 4, §7): nothing is removed, what was charged and to whom never changes, and a status
-- moves only along the transitions the service makes (src/payments/states.rs). Each guard
-- names the columns it fixes, so a column added later is not caught by it (say so there).
-- Mirrored in migrations/sqlite with the same names and messages.

-- A payment: its identity and money are fixed; its status moves captured → settled →
-- reconciled (a run may skip settled), or captured → voided.
CREATE TRIGGER payments_fixed BEFORE UPDATE ON payments
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.reference IS DISTINCT FROM OLD.reference
  OR NEW.channel IS DISTINCT FROM OLD.channel OR NEW.department IS DISTINCT FROM OLD.department
  OR NEW.window_code IS DISTINCT FROM OLD.window_code OR NEW.payer_name IS DISTINCT FROM OLD.payer_name
  OR NEW.payer_id_hmac IS DISTINCT FROM OLD.payer_id_hmac
  OR NEW.payer_id_masked IS DISTINCT FROM OLD.payer_id_masked
  OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor
  OR NEW.business_date IS DISTINCT FROM OLD.business_date
  OR NEW.entry_seq IS DISTINCT FROM OLD.entry_seq OR NEW.created_at IS DISTINCT FROM OLD.created_at
  OR NEW.created_by IS DISTINCT FROM OLD.created_by)
EXECUTE FUNCTION onecard_append_only('a payment never changes; only its status moves');
CREATE TRIGGER payments_status_moves BEFORE UPDATE ON payments
FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND OLD.status || '>' || NEW.status NOT IN
  ('captured>settled', 'captured>reconciled', 'settled>reconciled', 'captured>voided'))
EXECUTE FUNCTION onecard_append_only('a payment''s status moves only captured → settled → reconciled, or captured → voided');
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('payments are never removed');

CREATE TRIGGER payment_lines_fixed BEFORE UPDATE ON payment_lines
FOR EACH ROW WHEN (NEW.payment_id IS DISTINCT FROM OLD.payment_id OR NEW.line_no IS DISTINCT FROM OLD.line_no
  OR NEW.fee_code IS DISTINCT FROM OLD.fee_code OR NEW.fee_version IS DISTINCT FROM OLD.fee_version
  OR NEW.quantity IS DISTINCT FROM OLD.quantity OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor
  OR NEW.revenue_subject IS DISTINCT FROM OLD.revenue_subject
  OR NEW.concession_code IS DISTINCT FROM OLD.concession_code
  OR NEW.forgone_minor IS DISTINCT FROM OLD.forgone_minor)
EXECUTE FUNCTION onecard_append_only('a payment''s lines never change');
CREATE TRIGGER payment_lines_no_delete BEFORE DELETE ON payment_lines
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('a payment''s lines are never removed');

CREATE TRIGGER payment_cards_fixed BEFORE UPDATE ON payment_cards
FOR EACH ROW WHEN (NEW.payment_id IS DISTINCT FROM OLD.payment_id
  OR NEW.merchant_id IS DISTINCT FROM OLD.merchant_id OR NEW.terminal_id IS DISTINCT FROM OLD.terminal_id
  OR NEW.batch_no IS DISTINCT FROM OLD.batch_no OR NEW.trace_no IS DISTINCT FROM OLD.trace_no
  OR NEW.rrn IS DISTINCT FROM OLD.rrn OR NEW.auth_code IS DISTINCT FROM OLD.auth_code
  OR NEW.serial IS DISTINCT FROM OLD.serial OR NEW.masked_card IS DISTINCT FROM OLD.masked_card
  OR NEW.txn_time IS DISTINCT FROM OLD.txn_time)
EXECUTE FUNCTION onecard_append_only('a payment''s card data never changes');
CREATE TRIGGER payment_cards_no_delete BEFORE DELETE ON payment_cards
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('a payment''s card data is never removed');

-- A receipt: issued with its payment, red-reversed (冲红) with its void, nothing else.
CREATE TRIGGER receipts_fixed BEFORE UPDATE ON receipts
FOR EACH ROW WHEN (NEW.series_code IS DISTINCT FROM OLD.series_code OR NEW.number IS DISTINCT FROM OLD.number
  OR NEW.payment_id IS DISTINCT FROM OLD.payment_id OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
  OR (NEW.status IS DISTINCT FROM OLD.status AND OLD.status || '>' || NEW.status <> 'issued>red_reversed'))
EXECUTE FUNCTION onecard_append_only('a receipt never changes; it is only red-reversed with its payment''s void');
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('receipts are never removed');
-- A series only counts up: no receipt number is ever given twice.
CREATE TRIGGER receipt_series_counts_up BEFORE UPDATE ON receipt_series
FOR EACH ROW WHEN (NEW.series_code IS DISTINCT FROM OLD.series_code OR NEW.next_number < OLD.next_number)
EXECUTE FUNCTION onecard_append_only('a receipt series only counts up');
CREATE TRIGGER receipt_series_no_delete BEFORE DELETE ON receipt_series
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('a receipt series only counts up');

-- A refund: what, for which payment, why and by whom are fixed; its status moves requested →
-- approved / awaiting_treasury / rejected / cancelled, awaiting_treasury → refunded / rejected;
-- the decision (approver, route, who closed it) is written once, while it is requested; its
-- entry once (at approval, or when the treasury's return is paid out).
CREATE TRIGGER refunds_fixed BEFORE UPDATE ON refunds
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.payment_id IS DISTINCT FROM OLD.payment_id
  OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor OR NEW.reason IS DISTINCT FROM OLD.reason
  OR NEW.requested_by_token IS DISTINCT FROM OLD.requested_by_token
  OR NEW.requested_by IS DISTINCT FROM OLD.requested_by
  OR NEW.requested_by_person IS DISTINCT FROM OLD.requested_by_person
  OR NEW.created_at IS DISTINCT FROM OLD.created_at
  OR NEW.business_date IS DISTINCT FROM OLD.business_date)
EXECUTE FUNCTION onecard_append_only('a refund''s amount, payment, reason and requester never change');
CREATE TRIGGER refunds_status_moves BEFORE UPDATE ON refunds
FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND OLD.status || '>' || NEW.status NOT IN
  ('requested>approved', 'requested>awaiting_treasury', 'requested>rejected', 'requested>cancelled',
   'awaiting_treasury>refunded', 'awaiting_treasury>rejected'))
EXECUTE FUNCTION onecard_append_only('a refund''s status moves only from requested, or from awaiting_treasury to refunded or rejected');
CREATE TRIGGER refunds_decided_once BEFORE UPDATE ON refunds
FOR EACH ROW WHEN ((OLD.status <> 'requested' AND (NEW.approved_by IS DISTINCT FROM OLD.approved_by
    OR NEW.approved_at IS DISTINCT FROM OLD.approved_at OR NEW.route IS DISTINCT FROM OLD.route
    OR NEW.closed_by IS DISTINCT FROM OLD.closed_by OR NEW.closed_at IS DISTINCT FROM OLD.closed_at
    OR NEW.closed_on IS DISTINCT FROM OLD.closed_on OR NEW.closed_note IS DISTINCT FROM OLD.closed_note))
  OR (NEW.entry_seq IS DISTINCT FROM OLD.entry_seq
    AND NOT (OLD.entry_seq IS NULL AND OLD.status IN ('requested', 'awaiting_treasury'))))
EXECUTE FUNCTION onecard_append_only('a refund''s decision and entry are written once');
CREATE TRIGGER refunds_no_delete BEFORE DELETE ON refunds
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('refunds are never removed');

-- A 退库 request (its money and file are fixed since migration 000016): what it was made from
-- is fixed too, and its status moves waiting → offered → acknowledged, or to rejected.
CREATE TRIGGER refund_requests_moves BEFORE UPDATE ON refund_requests
FOR EACH ROW WHEN (NEW.payment_id IS DISTINCT FROM OLD.payment_id
  OR NEW.business_date IS DISTINCT FROM OLD.business_date
  OR NEW.revenue_subject IS DISTINCT FROM OLD.revenue_subject
  OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by
  OR (NEW.status IS DISTINCT FROM OLD.status AND OLD.status || '>' || NEW.status NOT IN
    ('waiting>offered', 'offered>acknowledged', 'waiting>rejected', 'offered>rejected')))
EXECUTE FUNCTION onecard_append_only('a refund request only moves forward; its file never changes');

-- Row triggers do not see TRUNCATE: refuse it on every table whose rows are never removed.
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('ledger entries are append-only');
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('ledger postings are append-only');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('the audit log is append-only');
CREATE TRIGGER payments_no_truncate BEFORE TRUNCATE ON payments
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('payments are never removed');
CREATE TRIGGER payment_lines_no_truncate BEFORE TRUNCATE ON payment_lines
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('a payment''s lines are never removed');
CREATE TRIGGER payment_cards_no_truncate BEFORE TRUNCATE ON payment_cards
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('a payment''s card data is never removed');
CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('receipts are never removed');
CREATE TRIGGER refunds_no_truncate BEFORE TRUNCATE ON refunds
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('refunds are never removed');
CREATE TRIGGER refund_requests_no_truncate BEFORE TRUNCATE ON refund_requests
FOR EACH STATEMENT EXECUTE FUNCTION onecard_append_only('refund requests are never removed');
