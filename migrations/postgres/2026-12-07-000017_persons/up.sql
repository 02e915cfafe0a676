-- Persons (DESIGN §7): one identity behind a human's API tokens and staff sign-in, so every
-- four-eyes rule compares persons, never names or tokens. Each token and user names its person.
CREATE TABLE persons (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);

-- The tokens and users there are get one person per distinct name: the old four-eyes rules
-- took one name for one person, so grouping by name never lets through what they refused.
INSERT INTO persons (id, name, created_at, created_by)
SELECT 'per_' || substr(md5(random()::text || clock_timestamp()::text || name), 1, 16),
    name, MIN(created_at), 'migration'
FROM (SELECT name, created_at FROM api_tokens
      UNION ALL SELECT name, created_at FROM staff_users) AS named
GROUP BY name;

ALTER TABLE api_tokens ADD COLUMN person_id TEXT REFERENCES persons (id);
UPDATE api_tokens SET person_id = (SELECT p.id FROM persons p WHERE p.name = api_tokens.name);
ALTER TABLE api_tokens ALTER COLUMN person_id SET NOT NULL;
ALTER TABLE staff_users ADD COLUMN person_id TEXT REFERENCES persons (id);
UPDATE staff_users SET person_id = (SELECT p.id FROM persons p WHERE p.name = staff_users.name);
ALTER TABLE staff_users ALTER COLUMN person_id SET NOT NULL;
CREATE INDEX api_tokens_by_person ON api_tokens (person_id);
CREATE INDEX staff_users_by_person ON staff_users (person_id);

-- Who asked first, as a person, where a second person must approve: the requester of a
-- refund, the proposer of an exception's resolution, the preparer of a remittance batch.
-- Filled from the token or staff user that did it (their ids share one column).
ALTER TABLE refunds ADD COLUMN requested_by_person TEXT REFERENCES persons (id);
UPDATE refunds SET requested_by_person = COALESCE(
    (SELECT t.person_id FROM api_tokens t WHERE t.id = refunds.requested_by_token),
    (SELECT u.person_id FROM staff_users u WHERE u.id = refunds.requested_by_token));
ALTER TABLE recon_exceptions ADD COLUMN resolved_by_person TEXT REFERENCES persons (id);
UPDATE recon_exceptions SET resolved_by_person = COALESCE(
    (SELECT t.person_id FROM api_tokens t WHERE t.id = recon_exceptions.resolved_by_token),
    (SELECT u.person_id FROM staff_users u WHERE u.id = recon_exceptions.resolved_by_token))
WHERE resolved_by_token IS NOT NULL;
-- A batch records its preparer as `role:name`; only a batch still waiting needs the person.
ALTER TABLE remittances ADD COLUMN prepared_by_person TEXT REFERENCES persons (id);
UPDATE remittances SET prepared_by_person = (SELECT p.id FROM persons p
    WHERE p.name = substr(remittances.prepared_by, position(':' in remittances.prepared_by) + 1))
WHERE status = 'prepared' AND position(':' in prepared_by) > 0;
CREATE TRIGGER remittances_preparer_kept BEFORE UPDATE OF prepared_by_person ON remittances
FOR EACH ROW WHEN (NEW.prepared_by_person IS DISTINCT FROM OLD.prepared_by_person
    AND OLD.prepared_by_person IS NOT NULL)
EXECUTE FUNCTION onecard_append_only('who prepared a remittance never changes');

-- The person who posted an entry by hand (adjustment, appropriation, fee top-up): its
-- reversal needs someone else. Earlier manual entries are matched by their `role:name` actor.
CREATE TABLE entry_posters (
    entry_seq BIGINT PRIMARY KEY NOT NULL REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    person_id TEXT NOT NULL REFERENCES persons (id)
);
INSERT INTO entry_posters (entry_seq, person_id)
SELECT e.seq, p.id
FROM ledger_entries e
JOIN persons p ON position(':' in e.actor) > 0
    AND p.name = substr(e.actor, position(':' in e.actor) + 1)
WHERE e.kind IN ('adjustment', 'appropriation', 'fee_top_up');
CREATE TRIGGER entry_posters_no_update BEFORE UPDATE ON entry_posters
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('who posted an entry never changes');
CREATE TRIGGER entry_posters_no_delete BEFORE DELETE ON entry_posters
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('who posted an entry never changes');
