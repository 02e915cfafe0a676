//! `/v1/ledger/*`: accounts, account statements, trial balance, verify, entries, and a
//! supervisor's manual entries and reversals.

use crate::auth::may;
use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::blocking::{with_conn, with_read_conn};
use super::extract::{ApiJson, ApiQuery, Caller};
use super::paging::{page_limit, Page, Paged};
use super::problem::ApiError;
use super::queries::{statement_lines, EntriesQuery};
use crate::app::AppContext;
use crate::ledger::repo::{self, AccountBalance};
use crate::ledger::{service, EntryKind, NewEntry, PostedEntry, Posting, Side};
use crate::money::{format_minor, parse_amount};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/ledger/accounts", web::get().to(list_accounts))
        .route(
            "/v1/ledger/accounts",
            web::post().to(super::accounts::open_account),
        )
        .route(
            "/v1/ledger/accounts/{code}/entries",
            web::get().to(account_entries),
        )
        .route("/v1/ledger/trial-balance", web::get().to(trial_balance))
        .route("/v1/ledger/verify", web::get().to(verify))
        .route("/v1/ledger/entries", web::post().to(post_entry))
        .route("/v1/ledger/entries/{seq}", web::get().to(get_entry))
        .route(
            "/v1/ledger/entries/{seq}/reversal",
            web::post().to(reverse_entry),
        );
}

/// An account with its balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    code: String,
    name: String,
    name_en: String,
    /// `collection` or `budget`.
    fund: String,
    /// asset, liability, net_assets, revenue, expense.
    kind: String,
    /// `debit` or `credit`.
    normal_side: String,
    parent: Option<String>,
    postable: bool,
    /// Signed in the account's normal direction.
    balance: String,
    debit_total: String,
    credit_total: String,
}

impl From<&AccountBalance> for AccountView {
    fn from(b: &AccountBalance) -> Self {
        let a = &b.account;
        AccountView {
            code: a.code.clone(),
            name: a.name.clone(),
            name_en: a.name_en.clone(),
            fund: a.fund.as_str().to_string(),
            kind: a.kind.to_string(),
            normal_side: a.normal_side().as_str().to_string(),
            parent: a.parent.clone(),
            postable: a.postable,
            balance: format_minor(b.balance_minor()),
            debit_total: format_minor(b.debit_minor),
            credit_total: format_minor(b.credit_minor),
        }
    }
}

/// Every account with its balance (grouping accounts carry their sub-accounts' sum).
#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", params(Page), responses((status = 200, body = inline(Paged<AccountView>)), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn list_accounts(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_LEDGER)?;
    let limit = page_limit(page.limit)?;
    let balances = with_conn(&ctx, |conn, ctx| {
        Ok(repo::account_balances(conn, &ctx.chart.current())?)
    })
    .await?;
    // No cursor: from the first account.
    let after = page.after.unwrap_or_default();
    let items: Vec<AccountView> = balances
        .iter()
        .filter(|b| b.account.code > after)
        .take(limit as usize + 1)
        .map(AccountView::from)
        .collect();
    Ok(HttpResponse::Ok().json(Paged::cut(items, limit, |a| a.code.clone())))
}

/// One line of an account statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountLineView {
    seq: i64,
    business_date: NaiveDate,
    kind: String,
    memo: String,
    reference: Option<String>,
    side: String,
    amount: String,
}

/// The postings of one account, in chain order.
#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/entries", tag = "ledger", params(("code" = String, Path), EntriesQuery), responses((status = 200, body = inline(Paged<AccountLineView>)), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn account_entries(
    ctx: web::Data<AppContext>,
    caller: Caller,
    code: web::Path<String>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_LEDGER)?;
    let code = code.into_inner();
    let page = with_conn(&ctx, move |conn, ctx| {
        statement_lines(conn, &ctx.chart.current(), &code, &q)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page.map(|l| AccountLineView {
        seq: l.seq,
        business_date: l.business_date,
        kind: l.kind.to_string(),
        memo: l.memo,
        reference: l.reference,
        side: l.side.as_str().to_string(),
        amount: format_minor(l.amount_minor),
    })))
}

/// `as_of` date.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// Include entries of business dates up to and including this one; omitted: everything.
    pub as_of: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TrialAccount {
    code: String,
    name: String,
    debit: String,
    credit: String,
    /// Signed in the account's normal direction.
    balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct TrialFund {
    fund: String,
    debit_total: String,
    credit_total: String,
    accounts: Vec<TrialAccount>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TrialBalanceView {
    as_of: Option<NaiveDate>,
    funds: Vec<TrialFund>,
}

/// Trial balance per fund; each fund's debit and credit totals are equal.
#[utoipa::path(get, path = "/v1/ledger/trial-balance", tag = "ledger", params(AsOf), responses((status = 200, body = inline(TrialBalanceView)), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn trial_balance(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AsOf>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_LEDGER)?;
    let as_of = q.as_of;
    let funds = with_read_conn(&ctx, move |conn, ctx| {
        Ok(repo::trial_balance(conn, &ctx.chart.current(), as_of)?)
    })
    .await?;
    let funds = funds
        .into_iter()
        .map(|f| TrialFund {
            fund: f.fund.as_str().to_string(),
            debit_total: format_minor(f.debit_total_minor),
            credit_total: format_minor(f.credit_total_minor),
            accounts: f
                .accounts
                .iter()
                .map(|b| TrialAccount {
                    code: b.account.code.clone(),
                    name: b.account.name.clone(),
                    debit: format_minor(b.debit_minor),
                    credit: format_minor(b.credit_minor),
                    balance: format_minor(b.balance_minor()),
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(TrialBalanceView { as_of, funds }))
}

/// The verifier's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    ok: bool,
    entries: i64,
    head: String,
    first_bad_entry: Option<i64>,
    /// Closed days whose seal was checked (entry count, last hash, signature).
    seals_checked: i64,
    /// The earliest sealed day that disagrees.
    #[schema(value_type = Option<String>)]
    first_bad_day: Option<chrono::NaiveDate>,
    problems: Vec<String>,
}

/// Recomputes the hash chain and every balance from the postings, and checks every closed
/// day's seal against the chain and its key.
#[utoipa::path(get, path = "/v1/ledger/verify", tag = "ledger", responses((status = 200, body = inline(VerifyView)), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn verify(ctx: web::Data<AppContext>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_LEDGER)?;
    let r = with_read_conn(&ctx, |conn, ctx| {
        Ok(crate::db::read_snapshot(conn, |conn| {
            repo::verify(conn, &ctx.chart.current(), |_, _| {})
        })?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(VerifyView {
        ok: r.ok,
        entries: r.entries,
        head: r.head,
        first_bad_entry: r.first_bad_entry,
        seals_checked: r.seals_checked,
        first_bad_day: r.first_bad_day,
        problems: r.problems,
    }))
}

/// One posting of a manual entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingInput {
    /// Account code.
    account: String,
    /// `debit` or `credit`.
    side: Side,
    /// Decimal string, two places.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: String,
}

/// A manual entry (supervisor): adjustment, appropriation or fee_top_up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualEntryInput {
    business_date: NaiveDate,
    kind: EntryKind,
    memo: String,
    reference: Option<String>,
    postings: Vec<PostingInput>,
}

/// An entry as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    seq: i64,
    business_date: NaiveDate,
    kind: String,
    memo: String,
    reference: Option<String>,
    reverses: Option<i64>,
    actor: String,
    created_at: String,
    postings: Vec<PostingView>,
    /// Chain hash, lowercase hex.
    hash: String,
    prev_hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct PostingView {
    account: String,
    side: String,
    amount: String,
    currency: String,
}

impl From<&PostedEntry> for EntryView {
    fn from(e: &PostedEntry) -> Self {
        EntryView {
            seq: e.seq,
            business_date: e.entry.business_date,
            kind: e.entry.kind.as_str().to_string(),
            memo: e.entry.memo.clone(),
            reference: e.entry.reference.clone(),
            reverses: e.entry.reverses,
            actor: e.entry.actor.clone(),
            created_at: format!("{}Z", e.created_at.format("%Y-%m-%dT%H:%M:%S%.6f")),
            postings: e
                .entry
                .postings
                .iter()
                .map(|p| PostingView {
                    account: p.account.clone(),
                    side: p.side.as_str().to_string(),
                    amount: format_minor(p.amount_minor),
                    currency: p.currency.clone(),
                })
                .collect(),
            hash: hex::encode(e.hash),
            prev_hash: hex::encode(e.prev_hash),
        }
    }
}

/// Posts a manual entry (supervisor only); every ledger rule applies.
#[utoipa::path(post, path = "/v1/ledger/entries", tag = "ledger", request_body = ManualEntryInput, responses((status = 201, body = EntryView), (status = 422, description = "unbalanced, fund_crossing, day_closed, revenue_netting, …"), (status = 403, description = "forbidden: only supervisor may do this")), security(("bearer" = [])))]
pub async fn post_entry(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<ManualEntryInput>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::POST_MANUAL_ENTRY)?;
    let input = body.into_inner()?;
    let mut postings = Vec::with_capacity(input.postings.len());
    for (i, p) in input.postings.iter().enumerate() {
        let amount_minor = parse_amount(&p.amount)
            .map_err(|e| ApiError::invalid(Some(format!("postings[{i}].amount")), e.to_string()))?;
        postings.push(Posting {
            account: p.account.clone(),
            side: p.side,
            amount_minor,
            currency: crate::money::CNY.to_string(),
        });
    }
    let entry = NewEntry {
        business_date: input.business_date,
        kind: input.kind,
        memo: input.memo,
        reference: input.reference,
        reverses: None,
        actor: principal.actor(),
        postings,
    };
    let posted = service::post_manual(&ctx.writer, entry, principal.person_id.clone()).await?;
    Ok(HttpResponse::Created().json(EntryView::from(&posted)))
}

/// One entry with its postings.
#[utoipa::path(get, path = "/v1/ledger/entries/{seq}", tag = "ledger", params(("seq" = i64, Path)), responses((status = 200, body = EntryView), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get_entry(
    ctx: web::Data<AppContext>,
    caller: Caller,
    seq: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_LEDGER)?;
    let seq = seq.into_inner();
    let entry = with_conn(&ctx, move |conn, _| Ok(repo::load_entry(conn, seq)?)).await?;
    entry
        .map(|e| HttpResponse::Ok().json(EntryView::from(&e)))
        .ok_or_else(|| ApiError::not_found(format!("no entry {seq}")))
}

/// Reversal request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalInput {
    /// Why.
    memo: String,
}

/// Reverses a manual entry (supervisor, not the person who posted it): the same postings with
/// sides swapped, referencing it. Any other entry is 409 `not_manual`: its own use case undoes
/// it (void, refund, …), and the detail names it.
#[utoipa::path(post, path = "/v1/ledger/entries/{seq}/reversal", tag = "ledger", params(("seq" = i64, Path)), request_body = ReversalInput, responses((status = 201, body = EntryView), (status = 404), (status = 409, description = "already_reversed, not_manual"), (status = 403, description = "forbidden: only supervisor may do this; same_person")), security(("bearer" = [])))]
pub async fn reverse_entry(
    ctx: web::Data<AppContext>,
    caller: Caller,
    seq: web::Path<i64>,
    body: ApiJson<ReversalInput>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::POST_MANUAL_ENTRY)?;
    let input = body.into_inner()?;
    let actor = principal.actor();
    let by = principal.clone();
    let posted = service::reverse(
        &ctx.writer,
        seq.into_inner(),
        input.memo,
        actor,
        move |poster| by.is_same_person(poster),
    )
    .await?;
    Ok(HttpResponse::Created().json(EntryView::from(&posted)))
}

/// Balances keyed by account, for tests and reports.
pub fn balances_by_code(balances: &[AccountBalance]) -> BTreeMap<String, i64> {
    balances
        .iter()
        .map(|b| (b.account.code.clone(), b.balance_minor()))
        .collect()
}
