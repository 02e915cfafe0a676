DROP TABLE statement_bookings;
DROP TABLE bank_statements;
DROP TABLE settlement_records;
DROP TABLE settlement_files;
