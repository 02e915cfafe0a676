//! # onecard
//!
//! Card fee collection for a municipal administrative service centre (行政服务中心): counter
//! payments by bank card and city one-card post to a double-entry ledger that keeps the revenue
//! fund and the budget fund apart (收支两条线); nightly reconciliation; day close and seal;
//! signed treasury remittances. See `DESIGN.md` in the shared folder for the rules.
//!
//! # Layout
//!
//! | module | what it is for | may depend on |
//! |---|---|---|
//! | [`money`] | `i64` minor units inside, decimal strings at the edges | — |
//! | [`ledger`] | funds, accounts, entries, the §2 rules (pure), hash chain, balances, the group-commit writer | `money`, `db`, `audit`, `metrics` |
//! | [`catalogue`] | fee items, versions, the exact-amount check (pure) and their storage | `db`, `audit`, `ledger`, `clock` |
//! | [`payments`] | counter payments: intake, receipts, voids, refunds; card-data rules (full card numbers refused, ids masked) | `catalogue`, `ledger`, `db`, `audit`, `keys` |
//! | [`bankfiles`] | bank-file readers: canonical records, declarative specs and the generic reader, camt.05x and MT940 (pure); all-or-nothing import | `money`; `db`, `audit` (import only) |
//! | [`recon`] | reconciliation: the three-tier matcher (pure), runs, exceptions, day close and seal, the nightly job | `bankfiles`, `ledger`, `db`, `audit`, `keys` |
//! | [`treasury`] | remittance: remt.001 writer and batch rules (pure), prepare / approve / pull / acknowledge, supervision | `ledger`, `keys`, `audit`, `db` |
//! | [`auth`] | roles and who may do what ([`auth::may`]), API tokens (stored as SHA-256), staff users and sessions, treasury secrets and signed requests | `db`, `audit`, `keys` |
//! | [`audit`] | the append-only audit trail | `db` |
//! | [`keys`] | the service's Ed25519 signing key and HMAC master key, in files | — |
//! | [`db`] | the multi-backend connection (SQLite / PostgreSQL), pool, migrations, schema | — |
//! | [`clock`] | Asia/Shanghai business dates and the cut-off | — |
//! | [`config`] | settings from the environment; defaults serve the embedded case | `db` |
//! | [`app`] | the opened service: pool, chart, keys, writer — shared by CLI and HTTP | all of the above |
//! | [`http`] | actix app, one module per resource, problem+json errors | everything |
//! | [`web`] | the finance staff pages: sign-in, server-rendered HTML (zh-CN / English), CSV, SVG charts, progress of long work; the same use cases and role sets as [`http`] | everything |
//! | [`metrics`] | Prometheus counters and histograms | — |
//!
//! Domain cores — [`ledger::rules`], [`ledger::chain`], [`ledger::chart`], [`money`],
//! [`bankfiles::generic`], [`bankfiles::camt`], [`bankfiles::mt940`], [`recon::matcher`],
//! [`treasury::remt`], [`treasury::batch`], [`auth::request_signing`] — import
//! neither actix nor diesel and carry most of the tests. Handlers parse the request into domain
//! types, call one use case, and map the result; only [`http`] knows status codes.
//!

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod bankfiles;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod money;
pub mod payments;
pub mod recon;
pub mod treasury;
pub mod web;
