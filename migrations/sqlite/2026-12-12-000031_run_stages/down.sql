DROP TRIGGER recon_exceptions_no_delete;
DROP TRIGGER recon_outcomes_no_delete;
DROP TRIGGER recon_runs_fixed;
DROP TRIGGER recon_runs_no_delete;
DROP INDEX recon_runs_unfinished;
ALTER TABLE recon_runs DROP COLUMN finished_at;
ALTER TABLE recon_runs DROP COLUMN first_outcome;
ALTER TABLE recon_runs DROP COLUMN touched_at;
ALTER TABLE recon_runs DROP COLUMN state;
