DROP TRIGGER settlement_records_no_delete;
CREATE TRIGGER settlement_records_no_delete BEFORE DELETE ON settlement_records
BEGIN SELECT RAISE(ABORT, 'imported records are append-only'); END;
DROP TABLE settlement_file_stages;
