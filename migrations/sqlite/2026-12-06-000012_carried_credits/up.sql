-- Carried-forward settlements (DESIGN §5 "No credit is ever lost"): a settlement file's cash is
-- spent at most once among active outcomes. A file is `cash_matched` or `cash_mismatch` (its
-- booking found) in one active run only, so a carried file cannot be paid — and its settlement
-- entry posted — by two runs; together with the matcher being given the files a booking
-- already paid elsewhere, a booking is never paid to a second file by another run.
CREATE UNIQUE INDEX recon_outcomes_file_cash_once ON recon_outcomes (file_id)
    WHERE active AND subject = 'file' AND category IN ('cash_matched', 'cash_mismatch');
-- Runs look up the other runs' findings about a booking.
CREATE INDEX recon_outcomes_by_booking ON recon_outcomes (booking_id)
    WHERE active AND booking_id IS NOT NULL;
