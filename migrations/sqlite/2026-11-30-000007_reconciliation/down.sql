DROP TABLE recon_exceptions;
DROP TABLE recon_outcomes;
DROP TABLE recon_runs;
