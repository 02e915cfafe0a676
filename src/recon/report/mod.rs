//! The reconciliation report of a stored run: payments per channel and per department, each
//! settlement file's netting (gross, fee, net, and the settlement entry once posted), the
//! settlement files still awaiting their credit (with their age in business days), the day's
//! refunds (requested, approved, rejected, cancelled), every exception, and the concessions
//! (优惠政策) granted on the date — as JSON for the API and the pages, and as CSV for the
//! nightly outbox.
//!
//! Depends on: [`super::runs`] (the stored run and its exceptions), `payments` (the day's
//! refunds, the concessions granted), `db`, `money`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::runs::{file_sums, get, settlement_file_rows, ExceptionRow, Run, StoredExceptionRow};
use crate::db::schema::{
    departments, ledger_entries, payments, recon_exceptions, recon_outcomes, settlement_files,
};
use crate::db::{DbConn, DbError};
use crate::ledger::templates::settlement_reference;
use crate::money::format_minor;
use crate::payments::concessions::{granted, GrantedSummary};
use crate::payments::refunds::list::{RefundDay, RefundTally};
use crate::payments::refunds::{self, RefundView};
use crate::recon::matcher::{business_days_between, is_supervision_finding, Category, Subject};

/// One line of a per-channel or per-department table.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// The channel (`bank_card`, `one_card`) or department code.
    pub key: String,
    /// A department's name (Chinese), as its master data holds it; none for a channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Payments of the date.
    pub payments: u64,
    /// Their amount.
    pub amount: String,
    /// Of them matched.
    pub matched: u64,
    /// Of them with an exception.
    pub exceptions: u64,
}

/// One settlement file's netting: what the acquirer kept.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Netting {
    /// The file.
    pub file_id: String,
    /// Its spec.
    pub spec: String,
    /// Merchant.
    pub merchant: Option<String>,
    /// Settlement date.
    #[schema(value_type = Option<String>)]
    pub settlement_date: Option<NaiveDate>,
    /// Detail lines.
    pub lines: i64,
    /// Σ gross (2103 stays gross in the ledger).
    pub gross: String,
    /// Σ acquirer fee (budget-fund expense, never netted from revenue).
    pub fee: String,
    /// Σ net: what reaches the collection account.
    pub net: String,
    /// The settlement entry posted for the file, once its cash arrived.
    pub entry_seq: Option<i64>,
}

/// A settlement file whose credit has not arrived, within the credit horizon: carried forward
/// to the next runs (DESIGN §5); its gross is still in transit (1218.01).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Awaiting {
    /// The file.
    pub file_id: String,
    /// Its spec.
    pub spec: String,
    /// Merchant.
    pub merchant: Option<String>,
    /// Settlement date.
    #[schema(value_type = Option<String>)]
    pub settlement_date: Option<NaiveDate>,
    /// Business days (Monday to Friday; holidays not modelled) from the settlement date to the
    /// run's date.
    pub age_business_days: u32,
    /// The credit awaited: the file's net.
    pub net: String,
    /// Its gross, still in transit on 1218.01.
    pub gross: String,
}

/// How many refunds and how much.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefundSum {
    /// Refunds.
    pub count: u64,
    /// Their amount.
    pub amount: String,
}

impl From<RefundTally> for RefundSum {
    fn from(t: RefundTally) -> Self {
        RefundSum {
            count: t.count,
            amount: format_minor(t.amount_minor),
        }
    }
}

/// What the business day did with refunds: requested on the day, approved (entry dated the
/// day), rejected or cancelled on the day — one refund may be in two of them — and each refund
/// concerned.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefundsOfDay {
    /// Requested on the day.
    pub requested: RefundSum,
    /// Approved on the day.
    pub approved: RefundSum,
    /// Rejected on the day.
    pub rejected: RefundSum,
    /// Cancelled on the day.
    pub cancelled: RefundSum,
    /// The refunds concerned, oldest request first, as they stand now.
    pub items: Vec<RefundView>,
}

impl From<RefundDay> for RefundsOfDay {
    fn from(d: RefundDay) -> Self {
        RefundsOfDay {
            requested: d.requested.into(),
            approved: d.approved.into(),
            rejected: d.rejected.into(),
            cancelled: d.cancelled.into(),
            items: d.refunds.iter().map(RefundView::from).collect(),
        }
    }
}

/// The day's reconciliation report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The run.
    pub run: Run,
    /// Per channel.
    pub by_channel: Vec<Group>,
    /// Per department.
    pub by_department: Vec<Group>,
    /// Per settlement file of the date.
    pub netting: Vec<Netting>,
    /// Settlement files awaiting their credit as of the run (this date's and carried ones),
    /// oldest first.
    pub awaiting_credit: Vec<Awaiting>,
    /// The day's refunds.
    pub refunds: RefundsOfDay,
    /// Every exception with its suggested action and state.
    pub exceptions: Vec<ExceptionRow>,
    /// Supervision findings: debits from the collection account nothing explains (possible
    /// 坐支), from `exceptions`.
    pub supervision_findings: Vec<ExceptionRow>,
    /// The concessions (优惠政策) granted on the date, by fee item, concession, window and
    /// clerk, with the standard amount forgone.
    pub concessions: GrantedSummary,
}

impl Report {
    /// The report with its exceptions' suggested actions said in `lang`.
    pub fn in_lang(mut self, lang: crate::words::Lang) -> Self {
        for list in [&mut self.exceptions, &mut self.supervision_findings] {
            *list = std::mem::take(list)
                .into_iter()
                .map(|e| e.in_lang(lang))
                .collect();
        }
        self
    }
}

/// The report of a stored run.
pub fn report(conn: &mut DbConn, run_id: &str) -> Result<Option<Report>, DbError> {
    let Some(run) = get(conn, run_id)? else {
        return Ok(None);
    };
    let (by_channel, by_department) = payment_groups(conn, run_id)?;
    let netting = netting(conn, run.business_date)?;
    let awaiting_credit = awaiting(conn, run_id, run.business_date)?;
    let refunds = refunds::list::of_day(conn, run.business_date)?.into();
    let exceptions = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .select(StoredExceptionRow::as_select())
        .order(recon_exceptions::id)
        .load(conn)?
        .into_iter()
        .map(StoredExceptionRow::typed)
        .collect::<Result<Vec<_>, _>>()?;
    let supervision_findings = supervision_findings(&exceptions);
    let concessions = granted(conn, run.business_date, run.business_date)?;
    Ok(Some(Report {
        run,
        by_channel,
        by_department,
        netting,
        awaiting_credit,
        refunds,
        exceptions,
        supervision_findings,
        concessions,
    }))
}

/// The files run `run_id` (of `date`) found awaiting their credit, oldest first.
pub fn awaiting(
    conn: &mut DbConn,
    run_id: &str,
    date: NaiveDate,
) -> Result<Vec<Awaiting>, DbError> {
    let rows: Vec<(String, String, Option<String>, Option<NaiveDate>)> = recon_outcomes::table
        .inner_join(
            settlement_files::table.on(recon_outcomes::file_id.eq(settlement_files::id.nullable())),
        )
        .filter(recon_outcomes::run_id.eq(run_id))
        .filter(recon_outcomes::subject.eq(Subject::File.as_ref()))
        .filter(recon_outcomes::category.eq(Category::AwaitingCredit.as_ref()))
        .select((
            settlement_files::id,
            settlement_files::spec,
            settlement_files::merchant,
            settlement_files::settlement_date,
        ))
        .order((settlement_files::settlement_date, settlement_files::id))
        .load(conn)?;
    let mut items = Vec::with_capacity(rows.len());
    for (file_id, spec, merchant, settlement_date) in rows {
        let (_, gross, _, net) = file_sums(conn, &file_id)?;
        items.push(Awaiting {
            // a file that states no date is the run's own
            age_business_days: business_days_between(settlement_date.unwrap_or(date), date),
            file_id,
            spec,
            merchant,
            settlement_date,
            net: format_minor(net),
            gross: format_minor(gross),
        });
    }
    Ok(items)
}

/// The run's payment outcomes per channel and per department, each by key.
fn payment_groups(conn: &mut DbConn, run_id: &str) -> Result<(Vec<Group>, Vec<Group>), DbError> {
    let rows: Vec<(String, String, String, i64)> = recon_outcomes::table
        .inner_join(payments::table.on(recon_outcomes::payment_id.eq(payments::id.nullable())))
        .filter(recon_outcomes::run_id.eq(run_id))
        .filter(recon_outcomes::subject.eq("payment"))
        .select((
            recon_outcomes::category,
            payments::channel,
            payments::department,
            payments::amount_minor,
        ))
        .load(conn)?;
    let names: BTreeMap<String, String> = departments::table
        .select((departments::code, departments::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut channels: BTreeMap<String, (Group, i64)> = BTreeMap::new();
    let mut departments: BTreeMap<String, (Group, i64)> = BTreeMap::new();
    for (category, channel, department, amount) in rows {
        for (map, key) in [
            (&mut channels, channel.clone()),
            (&mut departments, department.clone()),
        ] {
            let (g, sum) = map.entry(key.clone()).or_insert_with(|| {
                (
                    Group {
                        key,
                        ..Group::default()
                    },
                    0,
                )
            });
            g.payments += 1;
            *sum += amount;
            if category == "matched" {
                g.matched += 1;
            } else {
                g.exceptions += 1;
            }
        }
    }
    let finish = |m: BTreeMap<String, (Group, i64)>| -> Vec<Group> {
        m.into_values()
            .map(|(mut g, sum)| {
                g.amount = format_minor(sum);
                g
            })
            .collect()
    };
    let mut by_department = finish(departments);
    for g in &mut by_department {
        g.name = names.get(&g.key).cloned();
    }
    Ok((finish(channels), by_department))
}

/// The netting of each settlement file dated `date`, in id order.
fn netting(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<Netting>, DbError> {
    let files = settlement_file_rows(conn, date, date)?;
    let mut netting = Vec::with_capacity(files.len());
    for f in files {
        let (file_id, spec, merchant, settlement_date) =
            (f.id, f.spec, f.merchant, f.settlement_date);
        let (lines, gross, fee, net) = file_sums(conn, &file_id)?;
        let entry_seq: Option<i64> = ledger_entries::table
            .filter(ledger_entries::reference.eq(settlement_reference(&file_id)))
            .select(ledger_entries::seq)
            .first(conn)
            .optional()?;
        netting.push(Netting {
            entry_seq,
            file_id,
            spec,
            merchant,
            settlement_date,
            lines,
            gross: format_minor(gross),
            fee: format_minor(fee),
            net: format_minor(net),
        });
    }
    Ok(netting)
}

/// The exceptions that are supervision findings ([`is_supervision_finding`]).
pub fn supervision_findings(exceptions: &[ExceptionRow]) -> Vec<ExceptionRow> {
    exceptions
        .iter()
        .filter(|e| is_supervision_finding(e.kind, e.settlement_minor))
        .cloned()
        .collect()
}

mod as_csv;
pub use as_csv::report_csv;
