-- Statement lines get an identity of their own, so an overlapping or re-sent statement stores
-- only the lines not seen before; an import not yet used by a run can be withdrawn, and the
-- same bytes imported again afterwards.
--
-- settlement_files.sha256 was UNIQUE: now several imports of one file may exist, at most one
-- of them not withdrawn (the import checks; the id, derived from the hash and the number of
-- earlier withdrawn imports, is the primary key, so two concurrent re-imports still meet).
ALTER TABLE settlement_files DROP CONSTRAINT settlement_files_sha256_key;
CREATE INDEX settlement_files_by_sha ON settlement_files (sha256);

-- Statement lines an import found already imported by another file (not stored again).
-- (The append-only trigger fires on UPDATE and DELETE only.)
ALTER TABLE settlement_files ADD COLUMN lines_already_imported BIGINT NOT NULL DEFAULT 0;

-- A booking's identity (see bankfiles::store::identity): account, booking date, direction,
-- amount, its occurrence among identical lines of its file, and the bank reference (or, without
-- one, the narrative). Rows imported before this migration have none (their identities are in
-- statement_lines below).
ALTER TABLE statement_bookings ADD COLUMN identity TEXT;

-- The identities held by files not withdrawn: the register an import meets (INSERT … ON
-- CONFLICT DO NOTHING). A withdrawal removes its file's rows, so the lines can come again.
CREATE TABLE statement_lines (
    identity TEXT PRIMARY KEY NOT NULL,
    file_id  TEXT NOT NULL REFERENCES settlement_files (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX statement_lines_by_file ON statement_lines (file_id);
INSERT INTO statement_lines (identity, file_id)
SELECT identity, file_id FROM (
    SELECT b.file_id,
           b.account || '|' || CAST(b.booking_date AS TEXT) || '|' || b.direction || '|'
             || CAST(b.amount_minor AS TEXT) || '|'
             || CAST(ROW_NUMBER() OVER (
                    PARTITION BY b.file_id, b.account, b.booking_date, b.direction,
                                 b.amount_minor,
                                 CASE WHEN b.bank_ref IS NOT NULL AND b.bank_ref <> ''
                                      THEN 'ref:' || b.bank_ref ELSE 'txt:' || b.narrative END
                    ORDER BY b.id) AS TEXT) || '|'
             || CASE WHEN b.bank_ref IS NOT NULL AND b.bank_ref <> ''
                     THEN 'ref:' || b.bank_ref ELSE 'txt:' || b.narrative END AS identity,
           b.id
    FROM statement_bookings b
) AS lines ORDER BY id
ON CONFLICT DO NOTHING;

-- A withdrawn import: who, when, why. Its records and bookings stay (evidence) but no run or
-- report reads them again.
CREATE TABLE settlement_file_withdrawals (
    file_id      TEXT PRIMARY KEY NOT NULL REFERENCES settlement_files (id),
    withdrawn_at TIMESTAMP NOT NULL,
    withdrawn_by TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE TRIGGER settlement_file_withdrawals_append_only BEFORE UPDATE OR DELETE ON settlement_file_withdrawals
FOR EACH ROW EXECUTE FUNCTION onecard_append_only('withdrawals are append-only');
