ALTER TABLE recon_exceptions DROP COLUMN action_code;
