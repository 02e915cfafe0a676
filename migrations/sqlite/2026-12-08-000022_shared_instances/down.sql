DROP TABLE nightly_runs;
DROP TABLE job_leases;
DROP TABLE web_tasks;
DROP TABLE rate_windows;
