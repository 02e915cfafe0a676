DELETE FROM payment_lines WHERE concession_code IS NOT NULL;
CREATE TABLE payment_lines_old (
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    line_no         BIGINT NOT NULL,
    fee_code        TEXT NOT NULL,
    fee_version     BIGINT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    revenue_subject TEXT NOT NULL,
    PRIMARY KEY (payment_id, line_no),
    FOREIGN KEY (fee_code, fee_version) REFERENCES fee_items (code, version)
);
INSERT INTO payment_lines_old SELECT payment_id, line_no, fee_code, fee_version, quantity,
    amount_minor, revenue_subject
FROM payment_lines;
DROP TABLE payment_lines;
ALTER TABLE payment_lines_old RENAME TO payment_lines;
DROP TRIGGER fee_item_concessions_no_update;
DROP TRIGGER fee_item_concessions_no_delete;
DROP TABLE fee_item_concessions;
