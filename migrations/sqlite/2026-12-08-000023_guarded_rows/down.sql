-- Undoes up.sql: the guards on payments, receipts and refunds.
DROP TRIGGER payments_fixed;
DROP TRIGGER payments_status_moves;
DROP TRIGGER payments_no_delete;
DROP TRIGGER payment_lines_fixed;
DROP TRIGGER payment_lines_no_delete;
DROP TRIGGER payment_cards_fixed;
DROP TRIGGER payment_cards_no_delete;
DROP TRIGGER receipts_fixed;
DROP TRIGGER receipts_no_delete;
DROP TRIGGER receipt_series_counts_up;
DROP TRIGGER receipt_series_no_delete;
DROP TRIGGER refunds_fixed;
DROP TRIGGER refunds_status_moves;
DROP TRIGGER refunds_decided_once;
DROP TRIGGER refunds_no_delete;
DROP TRIGGER refund_requests_moves;
