-- Concessions (优惠政策, API.md §Fee catalogue, §Payments): a fee item version carries the
-- concessions that waive or reduce it, each with its legal basis; like the version, never
-- altered. A payment line may be charged under one: it records the concession's code and the
-- standard amount forgone, and an exemption's line is 0.00. SQLite cannot change a CHECK
-- constraint in place: payment_lines is rebuilt with every column it had, in order, and the
-- new ones after them (nothing references payment_lines).
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
CREATE TRIGGER fee_item_concessions_no_update BEFORE UPDATE ON fee_item_concessions
BEGIN SELECT RAISE(ABORT, 'fee item versions are never changed; add a version'); END;
CREATE TRIGGER fee_item_concessions_no_delete BEFORE DELETE ON fee_item_concessions
BEGIN SELECT RAISE(ABORT, 'fee item versions are never changed; add a version'); END;

CREATE TABLE payment_lines_new (
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    line_no         BIGINT NOT NULL,
    fee_code        TEXT NOT NULL,
    fee_version     BIGINT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor >= 0),
    revenue_subject TEXT NOT NULL,
    concession_code TEXT,
    forgone_minor   BIGINT,
    CHECK ((concession_code IS NULL AND forgone_minor IS NULL AND amount_minor > 0)
           OR (concession_code IS NOT NULL AND forgone_minor > 0)),
    PRIMARY KEY (payment_id, line_no),
    FOREIGN KEY (fee_code, fee_version) REFERENCES fee_items (code, version),
    FOREIGN KEY (fee_code, fee_version, concession_code)
        REFERENCES fee_item_concessions (fee_code, fee_version, code)
);
INSERT INTO payment_lines_new (payment_id, line_no, fee_code, fee_version, quantity,
    amount_minor, revenue_subject)
SELECT payment_id, line_no, fee_code, fee_version, quantity, amount_minor, revenue_subject
FROM payment_lines;
DROP TABLE payment_lines;
ALTER TABLE payment_lines_new RENAME TO payment_lines;
