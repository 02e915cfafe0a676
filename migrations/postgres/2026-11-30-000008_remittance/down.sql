DROP TABLE treasury_request_nonces;
DROP TABLE remittance_documents;
DROP TABLE remittance_subjects;
DROP TABLE remittances;
DROP INDEX ledger_entries_by_reference;
