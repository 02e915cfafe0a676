-- Keys that rotate (DESIGN §7, API.md §Remittance): every signing key the service has used, by
-- key id (the first 16 hex digits of the SHA-256 of its raw public key), with the time it
-- signed from and, once retired, until; at most one current key. A key is never removed and
-- nothing about it changes but the end of its validity, once. Every signature records the id
-- of the key that made it (rows signed before this migration have none: they were made by the
-- first key the service registers, see src/auth/signing_keys.rs).
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL CHECK (length(kid) = 16),
    alg         TEXT NOT NULL CHECK (alg = 'ed25519'),
    public_key  BYTEA NOT NULL UNIQUE CHECK (length(public_key) = 32),
    valid_from  TIMESTAMP NOT NULL,
    valid_until TIMESTAMP,
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (alg) WHERE valid_until IS NULL;
CREATE TRIGGER signing_keys_retire_only BEFORE UPDATE ON signing_keys
FOR EACH ROW WHEN (NEW.kid IS DISTINCT FROM OLD.kid OR NEW.alg IS DISTINCT FROM OLD.alg
  OR NEW.public_key IS DISTINCT FROM OLD.public_key OR NEW.valid_from IS DISTINCT FROM OLD.valid_from
  OR OLD.valid_until IS NOT NULL)
EXECUTE FUNCTION onecard_append_only('a signing key only ever gets the end of its validity, once');
CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('signing keys are never removed: old seals and files verify with them');

ALTER TABLE business_days ADD COLUMN seal_kid TEXT;
ALTER TABLE remittances ADD COLUMN signature_kid TEXT;
ALTER TABLE refund_requests ADD COLUMN signature_kid TEXT;
-- A signed file's key id is fixed with its signature (a closed day already never changes).
CREATE TRIGGER remittances_signature_kid_fixed BEFORE UPDATE OF signature_kid ON remittances
FOR EACH ROW WHEN (OLD.signature IS NOT NULL AND NEW.signature_kid IS DISTINCT FROM OLD.signature_kid)
EXECUTE FUNCTION onecard_append_only('the key id of a signed file never changes');
CREATE TRIGGER refund_requests_signature_kid_fixed BEFORE UPDATE OF signature_kid ON refund_requests
FOR EACH ROW WHEN (OLD.signature IS NOT NULL AND NEW.signature_kid IS DISTINCT FROM OLD.signature_kid)
EXECUTE FUNCTION onecard_append_only('the key id of a signed file never changes');

-- Treasury request-signing secrets rotate with an overlap: generation 0 is the secret derived
-- as before (no row); each rotation adds the next generation, and the one before it stays
-- accepted until previous_valid_until. Secrets are derived, never stored.
CREATE TABLE treasury_secrets (
    token_id             TEXT NOT NULL REFERENCES api_tokens (id),
    generation           BIGINT NOT NULL CHECK (generation > 0),
    created_at           TIMESTAMP NOT NULL,
    created_by           TEXT NOT NULL,
    previous_valid_until TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, generation)
);
CREATE TRIGGER treasury_secrets_append_only BEFORE UPDATE OR DELETE ON treasury_secrets
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('treasury secret generations are append-only');
