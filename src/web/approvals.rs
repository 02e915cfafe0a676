//! 待审批: the supervisor's queue — every refund, reconciliation write-off (or claim
//! settlement) and remittance batch that one person proposed and a second must approve, oldest
//! first, one compact row each with its approve form where the viewer may approve it. The
//! proposer sees their own rows without the button (the use cases refuse them anyway); the
//! thing's own page has its reject and cancel forms.
//!
//! Reads: one query per kind (`payments::refunds::list`, `recon::exceptions::queue`,
//! `treasury::service::read`) and one for the payments' departments and windows, whatever the
//! queue holds. Each approve form posts to the thing's own approve route with `back` set here.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::departments::{department_cell, directory, window_cell};
use super::i18n::Lang;
use super::reconciliation::ReconWords;
use super::table::{link_csv, Cell, Table};
use super::{download, local_time, Chrome, Export, OrPage, Staff, WebError, BASE};
use crate::auth::{may, Principal, Role};
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_conn;
use crate::payments::query::{places, Place};
use crate::payments::refunds::{list as refund_list, Refund};
use crate::payments::RefundRoute;
use crate::recon::exceptions::{self, Action};
use crate::treasury::service as treasury;
use crate::words;

/// Most items of each kind listed (the oldest): a queue this long is a backlog to clear, not
/// to page through.
pub const PER_KIND: i64 = 500;

/// Where the approve forms send the browser back to.
pub const HERE: &str = "/web/approvals";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/approvals", web::get().to(queue));
}

words! {
    /// Labels of the supervisor's queue.
    pub struct ApprovalWords {
        title: "待审批" / "Awaiting approval",
        intro: "由一人提出、等待第二人审批的退款、对账核销和缴库批次，按提出时间从早到晚排列。提出人不能审批自己提出的事项；退回或作废请到事项自己的页面。" / "Refunds, reconciliation write-offs and remittance batches that one person proposed and a second must approve, oldest first. Nobody approves what they proposed; to reject or cancel, open the item's own page.",
        caption: "等待审批的事项" / "Waiting for approval",
        empty: "没有等待审批的事项。" / "Nothing is waiting for approval.",
        what: "事项" / "Item",
        business_date: "业务日期" / "Business date",
        amount: "金额（元）" / "Amount (CNY)",
        department: "部门" / "Department",
        window: "窗口" / "Window",
        proposed_by: "提出人" / "Proposed by",
        proposed_at: "提出时间（北京时间）" / "Proposed at (Beijing time)",
        waited: "已等待" / "Waiting for",
        note: "原因与说明" / "Reason or note",
        reference: "编号" / "Reference",
        refund: "退款" / "Refund",
        refund_treasury: "退款（退库）" / "Refund (from the treasury)",
        write_off: "对账核销：" / "Write-off: ",
        claim_paid: "索赔到账确认：" / "Claim paid: ",
        remittance: "缴库批次" / "Remittance batch",
        approve: "批准" / "Approve",
        own: "由您提出，须由他人审批" / "You proposed this: someone else must approve it",
        supervisor_only: "须由主管审批" / "A supervisor approves this",
        finance_or_supervisor: "须由财务人员或主管审批" / "Finance or a supervisor approves this",
        minutes: " 分钟" / " min",
        hours: " 小时" / " h",
        days: " 天" / " days",
        truncated: "每类只列出最早提出的 500 项。" / "Only the oldest 500 of each kind are listed.",
    }
}

impl ApprovalWords {
    /// How long something has waited: minutes under an hour, hours under two days, then days.
    pub fn waited_for(&self, minutes: i64) -> String {
        let minutes = minutes.max(0);
        match minutes {
            m if m < 60 => format!("{m}{}", self.minutes),
            m if m < 48 * 60 => format!("{}{}", m / 60, self.hours),
            m => format!("{}{}", m / (24 * 60), self.days),
        }
    }
}

/// The row's approve form (where it posts), or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowAction {
    /// The approve route, when the viewer may approve this item.
    pub approve: Option<String>,
    /// Why the viewer may not (their own proposal, or another role's approval).
    pub why_not: Option<&'static str>,
}

/// Whether `viewer` may approve an item proposed by person `proposer` with one of `roles`:
/// never their own (four eyes), else by role. The use cases check the same again.
fn row_action(
    viewer: &Principal,
    roles: &[Role],
    proposer: Option<&str>,
    action: String,
    not_role: &'static str,
    t: &ApprovalWords,
) -> RowAction {
    if viewer.is_same_person(proposer) {
        RowAction {
            approve: None,
            why_not: Some(t.own),
        }
    } else if !roles.contains(&viewer.role) {
        RowAction {
            approve: None,
            why_not: Some(not_role),
        }
    } else {
        RowAction {
            approve: Some(action),
            why_not: None,
        }
    }
}

/// One item of the queue: its cells (as the table and its exports show them) and its form.
pub struct Row {
    /// The item's id (the row's anchor; ties in `at`).
    pub id: String,
    /// The kind and amount in words, for the button's accessible name.
    pub label: String,
    /// Cells, as many as the table's columns.
    pub cells: Vec<Cell>,
    /// The approve form or why there is none.
    pub action: RowAction,
}

/// What the queue read: each kind's waiting items and the places of the payments they name.
struct Waiting {
    refunds: Vec<Refund>,
    exceptions: Vec<exceptions::AwaitingApproval>,
    batches: Vec<treasury::AwaitingApproval>,
    places: std::collections::HashMap<String, Place>,
    /// Whether a kind had more than [`PER_KIND`] waiting.
    truncated: bool,
}

/// Keeps the first [`PER_KIND`] of `items` (read with one more); whether any were left out.
fn keep_first<T>(items: &mut Vec<T>) -> bool {
    let keep = usize::try_from(PER_KIND).unwrap_or(usize::MAX);
    let more = items.len() > keep;
    items.truncate(keep);
    more
}

/// The page's facts about one item before it becomes cells.
struct Item<'a> {
    at: NaiveDateTime,
    id: &'a str,
    what: Cell,
    label: String,
    business_date: NaiveDate,
    amount_minor: Option<i64>,
    place: Option<&'a Place>,
    proposed_by: &'a str,
    note: Option<&'a str>,
    action: RowAction,
}

/// Builds the rows, oldest proposal first.
fn rows(staff: &Staff, waiting: &Waiting, names: (&Directory, Lang)) -> Vec<Row> {
    let lang = staff.lang;
    let t = ApprovalWords::of(lang);
    let r = ReconWords::of(lang);
    let money = |m: Option<i64>| m.map(|m| Cell::Money(m).shown()).unwrap_or_default();
    let mut items: Vec<Item<'_>> = Vec::new();
    for refund in &waiting.refunds {
        let kind = match refund.route {
            RefundRoute::Direct => t.refund,
            RefundRoute::Treasury => t.refund_treasury,
        };
        items.push(Item {
            at: refund.created_at,
            id: &refund.id,
            what: Cell::link(kind, format!("{BASE}/payments/{}", refund.payment_id)),
            label: format!("{kind} {}", money(Some(refund.amount_minor))),
            business_date: refund.business_date,
            amount_minor: Some(refund.amount_minor),
            place: waiting.places.get(&refund.payment_id),
            proposed_by: &refund.requested_by,
            note: Some(&refund.reason),
            action: row_action(
                &staff.principal,
                may::APPROVE_REFUND,
                refund.requested_by_person.as_deref(),
                format!("{BASE}/refunds/{}/approve", refund.id),
                t.supervisor_only,
                t,
            ),
        });
    }
    for e in &waiting.exceptions {
        let prefix = match e.resolution {
            Some(Action::WriteOff) => t.write_off,
            _ => t.claim_paid,
        };
        let kind = format!("{prefix}{}", r.category(e.kind));
        // What approving moves; a finding's own amount where nothing is stated.
        let amount = e.amount_minor.or(e.ledger_minor).or(e.settlement_minor);
        items.push(Item {
            at: e
                .proposed_at
                .unwrap_or_else(|| e.business_date.and_time(chrono::NaiveTime::MIN)),
            id: &e.id,
            label: format!("{kind} {}", money(amount)),
            what: Cell::link(
                kind,
                format!("{BASE}/reconciliation?date={}", e.business_date),
            ),
            business_date: e.business_date,
            amount_minor: amount,
            place: e.payment_id.as_ref().and_then(|p| waiting.places.get(p)),
            proposed_by: e.proposed_by.as_deref().unwrap_or_default(),
            note: e.note.as_deref(),
            action: row_action(
                &staff.principal,
                may::RESOLVE_EXCEPTION,
                e.proposed_by_person.as_deref(),
                format!("{BASE}/exceptions/{}/approve", e.id),
                t.finance_or_supervisor,
                t,
            ),
        });
    }
    for b in &waiting.batches {
        items.push(Item {
            at: b.prepared_at,
            id: &b.id,
            what: Cell::link(t.remittance, format!("{BASE}/remittances/{}", b.id)),
            label: format!("{} {}", t.remittance, money(Some(b.amount_minor))),
            business_date: b.business_date,
            amount_minor: Some(b.amount_minor),
            place: None,
            proposed_by: &b.prepared_by,
            note: None,
            action: row_action(
                &staff.principal,
                may::APPROVE_REMITTANCE,
                b.prepared_by_person.as_deref(),
                format!("{BASE}/remittances/{}/approve", b.id),
                t.supervisor_only,
                t,
            ),
        });
    }
    items.sort_by(|a, b| (a.at, a.id).cmp(&(b.at, b.id)));
    let now = chrono::Utc::now().naive_utc();
    let (directory, lang) = names;
    items
        .into_iter()
        .map(|i| {
            let (department, window) = match i.place {
                Some(p) => (
                    department_cell(directory, &p.department, lang),
                    window_cell(directory, &p.department, &p.window, lang),
                ),
                None => (Cell::Empty, Cell::Empty),
            };
            Row {
                id: i.id.to_string(),
                label: i.label,
                cells: vec![
                    i.what,
                    Cell::Date(i.business_date),
                    i.amount_minor.map_or(Cell::Empty, Cell::Money),
                    department,
                    window,
                    Cell::text(i.proposed_by),
                    Cell::Text(local_time(&i.at)),
                    Cell::Text(t.waited_for((now - i.at).num_minutes())),
                    i.note
                        .filter(|n| !n.is_empty())
                        .map_or(Cell::Empty, |n| Cell::Prose(n.to_string())),
                    Cell::text(i.id),
                ],
                action: i.action,
            }
        })
        .collect()
}

/// The queue as a table (the page draws its rows with their forms; the exports are this).
fn table(t: &ApprovalWords, rows: &[Row]) -> Table {
    let mut table = Table::new("approvals", t.caption, t.empty)
        .col(t.what)
        .col(t.business_date)
        .num(t.amount)
        .col(t.department)
        .col(t.window)
        .col(t.proposed_by)
        .col(t.proposed_at)
        .col(t.waited)
        // Reasons and notes are stored as their writers wrote them.
        .record(t.note)
        .col(t.reference);
    for row in rows {
        table.push(row.cells.clone());
    }
    table
}

#[derive(Template)]
#[template(path = "approvals.html", config = "src/web/askama.toml")]
struct QueuePage {
    c: Chrome,
    t: &'static ApprovalWords,
    table: Table,
    rows: Vec<Row>,
    truncated: bool,
    back: &'static str,
}

/// `?csv=` or `?xlsx=`.
#[derive(Debug, Deserialize)]
struct ExportQuery {
    csv: Option<String>,
    xlsx: Option<String>,
}

async fn queue(staff: Staff, query: web::Query<ExportQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_APPROVALS)?;
    let lang = staff.lang;
    let waiting = with_conn(&staff.ctx, |conn, _| {
        // One more than shown of each, to know whether any is left out.
        let mut refunds = refund_list::awaiting_approval(conn, PER_KIND + 1)?;
        let mut exceptions = exceptions::awaiting_approval(conn, PER_KIND + 1)?;
        let mut batches = treasury::awaiting_approval(conn, PER_KIND + 1)?;
        let truncated = [
            keep_first(&mut refunds),
            keep_first(&mut exceptions),
            keep_first(&mut batches),
        ]
        .contains(&true);
        let ids: Vec<&str> = refunds
            .iter()
            .map(|r| r.payment_id.as_str())
            .chain(exceptions.iter().filter_map(|e| e.payment_id.as_deref()))
            .collect();
        let places = places(conn, &ids)?;
        Ok(Waiting {
            refunds,
            exceptions,
            batches,
            places,
            truncated,
        })
    })
    .await
    .or_page(lang)?;
    let names = directory(&staff).await?;
    let t = ApprovalWords::of(lang);
    let rows = rows(&staff, &waiting, (&names, lang));
    let mut table = table(t, &rows);
    if let Some(export) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], export, "approvals", lang);
    }
    link_csv(
        &mut [&mut table],
        staff.request().path(),
        staff.request().query_string(),
    );
    let title = if rows.is_empty() {
        t.title.to_string()
    } else {
        format!(
            "{}{}{}{}",
            t.title,
            staff.w.open_paren,
            rows.len(),
            staff.w.close_paren
        )
    };
    let page = QueuePage {
        c: staff.chrome(title, "approvals"),
        t,
        truncated: waiting.truncated,
        table,
        rows,
        back: HERE,
    };
    staff.page(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_reads_in_minutes_hours_then_days() {
        let (zh, en) = (&ApprovalWords::ZH, &ApprovalWords::EN);
        assert_eq!(zh.waited_for(-3), "0 分钟");
        assert_eq!(zh.waited_for(59), "59 分钟");
        assert_eq!(zh.waited_for(60), "1 小时");
        assert_eq!(en.waited_for(47 * 60 + 59), "47 h");
        assert_eq!(en.waited_for(48 * 60), "2 days");
        assert_eq!(zh.waited_for(10 * 24 * 60 + 5), "10 天");
        for t in [zh, en] {
            assert!(
                t.truncated.contains(&PER_KIND.to_string()),
                "{}",
                t.truncated
            );
        }
    }

    fn person(role: Role, person: &str) -> Principal {
        Principal {
            token_id: "t".into(),
            name: person.into(),
            role,
            person_id: person.into(),
        }
    }

    #[test]
    fn the_proposer_never_gets_the_button_and_others_only_by_role() {
        let t = &ApprovalWords::ZH;
        let act = |viewer: &Principal, proposer: Option<&str>| {
            row_action(
                viewer,
                may::APPROVE_REFUND,
                proposer,
                "/web/refunds/ref_1/approve".into(),
                t.supervisor_only,
                t,
            )
        };
        let wang = person(Role::Supervisor, "per_wang");
        let own = act(&wang, Some("per_wang"));
        assert_eq!((own.approve, own.why_not), (None, Some(t.own)));
        let other = act(&wang, Some("per_li"));
        assert_eq!(other.approve.as_deref(), Some("/web/refunds/ref_1/approve"));
        assert_eq!(other.why_not, None);
        // Nothing stored (a step by the system) is no one's: a supervisor may approve it.
        assert!(act(&wang, None).approve.is_some());
        let li = person(Role::Finance, "per_li");
        let not_role = act(&li, Some("per_wang"));
        assert_eq!(
            (not_role.approve, not_role.why_not),
            (None, Some(t.supervisor_only))
        );
        // Their own, whatever their role: told someone else approves it.
        assert_eq!(act(&li, Some("per_li")).why_not, Some(t.own));
    }
}
