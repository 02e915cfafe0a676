ALTER TABLE recon_exceptions DROP COLUMN entry_seq;
ALTER TABLE recon_exceptions DROP COLUMN amount_minor;
ALTER TABLE recon_exceptions DROP COLUMN matched_booking_id;
UPDATE recon_exceptions SET status = 'open' WHERE status = 'claimed';
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_status_check;
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_status_check
    CHECK (status IN ('open', 'awaiting_approval', 'resolved'));
