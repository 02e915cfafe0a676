DROP TABLE settlement_file_withdrawals;
DROP TABLE statement_lines;
ALTER TABLE statement_bookings DROP COLUMN identity;
ALTER TABLE settlement_files DROP COLUMN lines_already_imported;
DROP INDEX settlement_files_by_sha;
ALTER TABLE settlement_files ADD CONSTRAINT settlement_files_sha256_key UNIQUE (sha256);
