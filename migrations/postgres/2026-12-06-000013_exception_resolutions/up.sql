-- Resolutions that move value (DESIGN §2, §5): a bank claim stays `claimed` until the bank's
-- money arrives; a write-off or a claim settled by hand posts an entry on approval. The
-- exception records the booking that paid a claim, the amount the resolution moved and the
-- ledger entry it posted.
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_status_check;
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_status_check
    CHECK (status IN ('open', 'awaiting_approval', 'claimed', 'resolved'));
ALTER TABLE recon_exceptions ADD COLUMN matched_booking_id BIGINT;
ALTER TABLE recon_exceptions ADD COLUMN amount_minor BIGINT;
ALTER TABLE recon_exceptions ADD COLUMN entry_seq BIGINT;
