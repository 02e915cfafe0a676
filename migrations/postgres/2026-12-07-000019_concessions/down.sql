DELETE FROM payment_lines WHERE concession_code IS NOT NULL;
ALTER TABLE payment_lines DROP CONSTRAINT payment_lines_concession_fkey;
ALTER TABLE payment_lines DROP CONSTRAINT payment_lines_concession_check;
ALTER TABLE payment_lines DROP CONSTRAINT payment_lines_amount_minor_check;
ALTER TABLE payment_lines DROP COLUMN forgone_minor;
ALTER TABLE payment_lines DROP COLUMN concession_code;
ALTER TABLE payment_lines ADD CONSTRAINT payment_lines_amount_minor_check
    CHECK (amount_minor > 0);
DROP TABLE fee_item_concessions;
