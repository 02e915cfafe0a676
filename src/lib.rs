//! # onecard
//!
//! Card fee collection for a municipal administrative service centre (行政服务中心): counter
//! payments by bank card and city one-card post to a double-entry ledger that keeps the revenue
//! fund and the budget fund apart (收支两条线); nightly reconciliation; day close and seal;
//! signed treasury remittances. See `DESIGN.md` in the shared folder for the rules.
//!
//! # Layout
//!
//! Read from the bottom up: small leaves, the domain modules (each a pure core with its storage
//! beside it), the opened service, its two faces, and the server that assembles them. Arrows
//! only point down the table; `tests/api/layout.rs` reads every module's `crate::` imports and
//! fails when one is not in its "may depend on" column, or when the columns make a cycle.
//!
//! | module | what it is for | may depend on |
//! |---|---|---|
//! | [`money`] | `i64` minor units inside, decimal strings at the edges | — |
//! | [`clock`] | Asia/Shanghai business dates and the cut-off | — |
//! | [`keys`] | the service's Ed25519 signing key and HMAC master key, in files | — |
//! | [`metrics`] | Prometheus counters and histograms | — |
//! | [`text`] | closed sets stored and sent as text: one declaration, one parse error | — |
//! | [`words`] | the message catalogue: the two languages (zh-CN default, English), problem titles and details by code, suggested actions by code; the `words!` label structs | — |
//! | [`spreadsheet`] | CSV cells a spreadsheet would run as formulas, defused; typed XLSX sheets (text as text, amounts as numbers) | — |
//! | [`db`] | the multi-backend connection (SQLite / PostgreSQL), pool, migrations, schema; what instances share (rate-limit leases, exclusive job locks) | `text` |
//! | [`audit`] | the append-only audit trail | `db` |
//! | [`ledger`] | funds, accounts, entries, the §2 rules and entry templates (pure), hash chain, balances, business days, the group-commit writer | `money`, `db`, `audit`, `metrics`, `text` |
//! | [`bankfiles`] | bank-file readers: canonical records, declarative specs and the generic reader, camt.05x and MT940 (pure); all-or-nothing import | `money`, `db`, `audit`, `text` |
//! | [`config`] | settings from the environment; defaults serve the embedded case | `db`, `ledger`, `bankfiles`, `words` |
//! | [`auth`] | roles and who may do what ([`auth::may`]), persons (one identity across a human's tokens and sign-in; the four-eyes rules compare them), API tokens (stored as SHA-256), staff users and sessions, treasury secrets and signed requests | `db`, `audit`, `keys`, `text` |
//! | [`catalogue`] | fee items, versions, the exact-amount check (pure) and their storage; the departments and their windows (master data a payment must name) | `money`, `db`, `audit`, `ledger`, `text` |
//! | [`payments`] | counter payments: taking one (idempotent), receipts, voids, refunds (routed direct or to the treasury, 退库), queries; card-data rules (full card numbers refused, ids masked) | `money`, `db`, `audit`, `keys`, `auth`, `ledger`, `catalogue`, `text` |
//! | [`recon`] | reconciliation: the three-tier matcher (pure), runs, exceptions, day close and seal | `money`, `clock`, `db`, `audit`, `keys`, `auth`, `ledger`, `bankfiles`, `payments` (the states it reads), `text`, `spreadsheet`, `words` |
//! | [`treasury`] | remittance: remt.001 and pain.001 writers and batch and 退库 rules (pure), prepare / approve / cancel / reject / pull / acknowledge, 退库 requests, supervision, the month by revenue subject and department beside the ledger | `money`, `clock`, `db`, `audit`, `keys`, `auth`, `ledger`, `payments` (the refunds it routes and returns), `text` |
//! | [`app`] | the opened service ([`app::AppContext`]: settings, pool, chart, keys, writer), the nightly job (once across instances), demo data, the pages' stored long tasks — shared by the CLI and both faces | `money`, `clock`, `config`, `db`, `keys`, `auth`, `ledger`, `bankfiles`, `catalogue`, `payments`, `recon`, `treasury`, `words` |
//! | [`http`] | the API: one module per resource, problem+json errors, and the pieces the pages share (extractors, paging, read queries, upload spooling, the signed-file answer) | `app`, `money`, `clock`, `config`, `db`, `keys`, `metrics`, `auth`, `ledger`, `bankfiles`, `catalogue`, `payments`, `recon`, `treasury`, `words` |
//! | [`web`] | the finance staff pages: sign-in, server-rendered HTML (zh-CN / English), CSV, SVG charts, progress of long work; the same use cases and role sets as [`http`] | `app`, `http`, `money`, `clock`, `keys`, `audit`, `auth`, `ledger`, `bankfiles`, `catalogue`, `payments`, `recon`, `treasury`, `spreadsheet`, `words` |
//! | [`server`] | the actix app: API and pages under one request log and one error shape | `app`, `http`, `web`, `metrics`, `words` |
//!
//! Domain cores — [`ledger::rules`], [`ledger::chain`], [`ledger::chart`], [`money`],
//! [`bankfiles::generic`], [`bankfiles::camt`], [`bankfiles::mt940`], [`recon::matcher`], [`recon::candidates`],
//! [`ledger::templates`], [`treasury::remt`], [`treasury::pain001`], [`treasury::batch`], [`spreadsheet`], [`auth::request_signing`], [`ledger::seals`] — import
//! neither actix nor diesel and carry most of the tests. Handlers parse the request into domain
//! types, call one use case, and map the result; only [`http`] knows status codes (the pages
//! render the same problems as HTML).
//!
//! Walking a payment downward: `http::payments::create` → `payments::take` (idempotency, the
//! catalogue check, the capture draft from `ledger::templates`) → `ledger::writer` (group
//! commit: rules, chain, balances in one transaction per batch).

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
pub mod http;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod money;
pub mod payments;
pub mod recon;
pub mod server;
pub mod spreadsheet;
pub mod text;
pub mod treasury;
pub mod web;
pub mod words;
