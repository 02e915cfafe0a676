ALTER TABLE idempotency_keys DROP COLUMN hash_version;
