-- Concessions (优惠政策, API.md §Fee catalogue, §Payments): a fee item version carries the
-- concessions that waive or reduce it, each with its legal basis; like the version, never
-- altered. A payment line may be charged under one: it records the concession's code and the
-- standard amount forgone, and an exemption's line is 0.00.
CREATE TABLE fee_item_concessions (
    fee_code     TEXT NOT NULL,
    fee_version  BIGINT NOT NULL,
    code         TEXT NOT NULL,
    position     BIGINT NOT NULL,
    name         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('exempt', 'reduced')),
    amount_minor BIGINT NOT NULL CHECK ((kind = 'exempt' AND amount_minor = 0)
                                        OR (kind = 'reduced' AND amount_minor > 0)),
    PRIMARY KEY (fee_code, fee_version, code),
    UNIQUE (fee_code, fee_version, position),
    FOREIGN KEY (fee_code, fee_version) REFERENCES fee_items (code, version)
);
CREATE TRIGGER fee_item_concessions_append_only BEFORE UPDATE OR DELETE ON fee_item_concessions
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('fee item versions are never changed; add a version');

ALTER TABLE payment_lines DROP CONSTRAINT payment_lines_amount_minor_check;
ALTER TABLE payment_lines ADD COLUMN concession_code TEXT;
ALTER TABLE payment_lines ADD COLUMN forgone_minor BIGINT;
ALTER TABLE payment_lines ADD CONSTRAINT payment_lines_amount_minor_check
    CHECK (amount_minor >= 0);
ALTER TABLE payment_lines ADD CONSTRAINT payment_lines_concession_check
    CHECK ((concession_code IS NULL AND forgone_minor IS NULL AND amount_minor > 0)
           OR (concession_code IS NOT NULL AND forgone_minor > 0));
ALTER TABLE payment_lines ADD CONSTRAINT payment_lines_concession_fkey
    FOREIGN KEY (fee_code, fee_version, concession_code)
    REFERENCES fee_item_concessions (fee_code, fee_version, code);
