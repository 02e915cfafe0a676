DROP TABLE idempotency_keys;
DROP TABLE receipts;
DROP TABLE payment_cards;
DROP TABLE payment_lines;
DROP TABLE payments;
DROP TABLE receipt_series;
