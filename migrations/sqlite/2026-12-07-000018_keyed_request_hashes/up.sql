-- Request hashes are keyed (DESIGN §7): HMAC(service key, SHA-256(canonical body)). Rows written
-- before hold the plain SHA-256 and are marked 1 here; the service converts them in place on
-- start (it needs the key file, which SQL has not) and marks them 2, so it happens once.
ALTER TABLE idempotency_keys ADD COLUMN hash_version BIGINT NOT NULL DEFAULT 1;
