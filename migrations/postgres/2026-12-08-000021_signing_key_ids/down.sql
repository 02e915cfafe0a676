DROP TABLE treasury_secrets;
DROP TRIGGER refund_requests_signature_kid_fixed ON refund_requests;
DROP TRIGGER remittances_signature_kid_fixed ON remittances;
ALTER TABLE refund_requests DROP COLUMN signature_kid;
ALTER TABLE remittances DROP COLUMN signature_kid;
ALTER TABLE business_days DROP COLUMN seal_kid;
DROP TABLE signing_keys;
