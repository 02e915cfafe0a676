DROP TABLE settlement_file_stages;
