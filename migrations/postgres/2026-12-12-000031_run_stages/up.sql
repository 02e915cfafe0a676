-- A reconciliation run is stored in short transactions and published by one short commit
-- (issue 19 part 5), so the counter's payments are not held behind a million outcome rows:
-- - `state`: `staging` while its outcomes and exceptions are written; no reader of runs sees
--   it, its exceptions are inactive; `published` once the final commit made it its date's run
--   (every run before this migration was published);
-- - `touched_at`: renewed with every chunk, so the stage of a process that died is recognised
--   (stale) and removed by the next run or the next start;
-- - `first_outcome`: its outcome rows begin at this id (their removal goes by id);
-- - `finished_at`: the settlement entries and payment status moves that follow publication
--   are done; a published run left unfinished by a process that died is finished by the next.
ALTER TABLE recon_runs ADD COLUMN state TEXT NOT NULL DEFAULT 'published'
    CHECK (state IN ('staging', 'published'));
ALTER TABLE recon_runs ADD COLUMN touched_at TIMESTAMP;
ALTER TABLE recon_runs ADD COLUMN first_outcome BIGINT;
ALTER TABLE recon_runs ADD COLUMN finished_at TIMESTAMP;
UPDATE recon_runs SET finished_at = created_at;
CREATE INDEX recon_runs_unfinished ON recon_runs (state) WHERE finished_at IS NULL;

-- Only a stage is ever removed (a failed or abandoned run's rows); a published run, its
-- outcomes and its exceptions stay. A run's row never changes but to be published, touched and
-- finished once. Mirrored in migrations/sqlite with the same names and messages.
CREATE FUNCTION onecard_staged_run_rows_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM recon_runs r WHERE r.id = OLD.run_id AND r.state = 'staging') THEN
        RAISE EXCEPTION '%', TG_ARGV[0];
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER recon_runs_no_delete BEFORE DELETE ON recon_runs
FOR EACH ROW WHEN (OLD.state <> 'staging')
EXECUTE FUNCTION onecard_append_only('a published reconciliation run is never removed');
CREATE TRIGGER recon_runs_fixed BEFORE UPDATE ON recon_runs
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.business_date IS DISTINCT FROM OLD.business_date
  OR NEW.summary IS DISTINCT FROM OLD.summary OR NEW.balance IS DISTINCT FROM OLD.balance
  OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by
  OR (NEW.state IS DISTINCT FROM OLD.state AND NEW.state <> 'published')
  OR (OLD.first_outcome IS NOT NULL AND NEW.first_outcome IS DISTINCT FROM OLD.first_outcome)
  OR (OLD.finished_at IS NOT NULL AND NEW.finished_at IS DISTINCT FROM OLD.finished_at))
EXECUTE FUNCTION onecard_append_only('a reconciliation run never changes; it is only published and finished');
CREATE TRIGGER recon_outcomes_no_delete BEFORE DELETE ON recon_outcomes
FOR EACH ROW EXECUTE FUNCTION onecard_staged_run_rows_only('a published run''s outcomes are never removed');
CREATE TRIGGER recon_exceptions_no_delete BEFORE DELETE ON recon_exceptions
FOR EACH ROW EXECUTE FUNCTION onecard_staged_run_rows_only('a published run''s exceptions are never removed');
