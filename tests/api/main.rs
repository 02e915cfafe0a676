//! Integration tests: the real app and real databases. One binary for all areas keeps link
//! time down. Runs on SQLite by default and on PostgreSQL when `ONECARD_TEST_DATABASE_URL` is
//! set (see `.ci/run`).

mod support;

mod api_fuzz;
mod append_only;
mod backup_drill;
mod browser;
mod browser_workspace;
mod catalogue;
mod cli;
mod concessions;
mod concurrency;
mod crash;
mod days;
mod departments;
mod e2e;
mod http_api;
mod key_rotation;
mod keyed_hashes;
mod languages;
mod layout;
mod ledger_accounts;
mod ledger_store;
mod limits;
mod list_queries;
mod migrations;
mod month;
mod nightly;
mod onecard_e2e;
mod payments;
mod persons;
mod pg_roles;
mod posted_once;
mod proxies;
mod reconciliation;
mod refunds;
mod remittance;
mod resolutions;
mod roles;
mod secrets;
mod settlement;
mod staff;
mod staged_import;
mod statement_lines;
mod tokens;
mod treasury_return;
mod two_instances;
mod web;
mod web_crawl;
mod web_pages_a;
mod web_pages_b;
mod web_support;
mod web_tasks;
mod webdriver;
mod workspace;
