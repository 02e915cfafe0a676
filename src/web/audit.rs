//! 审计日志: the audit trail newest first, paged back from an id, filtered by subject and/or
//! action; each record with its actor, time and a compact account of what changed.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::params::{self, with_param};
use super::table::{link_csv, Cell, Table};
use super::{download, Chrome, Export, OrPage, Staff, WebError, BASE};
use crate::audit::{self, Search};
use crate::auth::may;
use crate::http::blocking::with_conn;
use crate::http::paging::{page_limit, Paged};
use crate::words;

/// Records per page unless `?limit=` says otherwise.
const PAGE_SIZE: i64 = 100;
/// Characters of one value shown in a change summary.
const VALUE_CHARS: usize = 40;
/// Characters of a whole change summary.
const SUMMARY_CHARS: usize = 300;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

words! {
    /// Labels of the audit log page.
    pub struct AuditWords {
        title: "审计日志" / "Audit log",
        records: "审计记录（最新在前）" / "Audit records (newest first)",
        no_records: "没有符合条件的记录。" / "No records match.",
        subject: "对象" / "Subject",
        subject_hint: "如 payment:pay_…" / "e.g. payment:pay_…",
        action: "操作" / "Action",
        action_hint: "如 payment.void" / "e.g. payment.void",
        filter: "筛选" / "Filter",
        id: "序号" / "No.",
        at: "时间（北京时间）" / "Time (Beijing)",
        actor: "操作人" / "Actor",
        change: "变更内容" / "Change",
        created: "新建" / "new",
        removed: "删除" / "removed",
        unchanged: "无字段变化" / "no field changed",
        older: "更早的记录" / "Older records",
    }
}

/// `?subject=&action=&before=&limit=&csv=`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    subject: Option<String>,
    action: Option<String>,
    before: Option<String>,
    limit: Option<String>,
    csv: Option<String>,
    xlsx: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/web/askama.toml")]
struct AuditPage {
    c: Chrome,
    t: &'static AuditWords,
    subject: String,
    action: String,
    table: Table,
    next_href: Option<String>,
}

fn shortened(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    } else {
        s.to_string()
    }
}

/// A JSON value in a few characters: strings without quotes, nested values abridged.
fn brief(v: &Value) -> String {
    match v {
        Value::Null => "—".to_string(),
        Value::String(s) => shortened(s, VALUE_CHARS),
        other => shortened(&other.to_string(), VALUE_CHARS),
    }
}

/// An object's fields with nested objects flattened to dotted names (`receipt.status`), so
/// a change deep inside shows as the one field that changed.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// What a record changed, in one line: `status: captured → voided` for each field that
/// differs (nested fields by dotted name); the fields of a new (or removed) object; the raw
/// text of anything else.
pub fn change_summary(before: Option<&str>, after: Option<&str>, w: &AuditWords) -> String {
    let parse = |s: Option<&str>| {
        s.map(|t| serde_json::from_str::<Value>(t).unwrap_or(Value::String(t.to_string())))
    };
    let fields = |v: &Value| -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        flatten("", v, &mut out);
        out
    };
    let listed = |v: &Value| -> String {
        match v {
            Value::Object(_) => fields(v)
                .iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| format!("{k}={}", brief(x)))
                .collect::<Vec<_>>()
                .join(", "),
            other => brief(other),
        }
    };
    let text = match (parse(before), parse(after)) {
        (Some(b @ Value::Object(_)), Some(a @ Value::Object(_))) => {
            let (b, a) = (fields(&b), fields(&a));
            let changes: Vec<String> = a
                .keys()
                .chain(b.keys().filter(|k| !a.contains_key(*k)))
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    let shown = |m: &BTreeMap<String, Value>| m.get(k).map_or("—".into(), brief);
                    format!("{k}: {} → {}", shown(&b), shown(&a))
                })
                .collect();
            if changes.is_empty() {
                w.unchanged.to_string()
            } else {
                changes.join("; ")
            }
        }
        (None, Some(a)) => format!("{}: {}", w.created, listed(&a)),
        (Some(b), None) => format!("{}: {}", w.removed, listed(&b)),
        (Some(b), Some(a)) => format!("{} → {}", brief(&b), brief(&a)),
        (None, None) => String::new(),
    };
    shortened(&text, SUMMARY_CHARS)
}

/// The subject, linked to its payment page for a role that may read payments (an
/// administrator reads the audit log but not payments: no link that would only refuse).
fn subject_cell(subject: &str, payments_readable: bool) -> Cell {
    match subject.strip_prefix("payment:") {
        Some(id) if payments_readable => Cell::link(subject, format!("{BASE}/payments/{id}")),
        _ => Cell::text(subject),
    }
}

async fn list(staff: Staff, query: web::Query<AuditQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::READ_AUDIT_LOG)?;
    let lang = staff.lang;
    let t = AuditWords::of(lang);
    let limit = page_limit(Some(
        params::int("limit", &query.limit)
            .or_page(lang)?
            .unwrap_or(PAGE_SIZE),
    ))
    .or_page(lang)?;
    let search = Search {
        subject: params::text(&query.subject).map(str::to_string),
        action: params::text(&query.action).map(str::to_string),
        before_id: params::int("before", &query.before).or_page(lang)?,
        limit: limit + 1,
    };
    let records = with_conn(&staff.ctx, move |conn, _| Ok(audit::search(conn, &search)?))
        .await
        .or_page(lang)?;
    let page = Paged::cut(records, limit, |r| r.id.to_string());
    let mut table = Table::new("audit", t.records, t.no_records)
        .num(t.id)
        .col(t.at)
        .col(t.actor)
        .col(t.action)
        .col(t.subject)
        .record(t.change);
    for r in &page.items {
        table.push(vec![
            Cell::Int(r.id),
            Cell::Text(super::local_time(&r.at)),
            Cell::text(&r.actor),
            Cell::text(&r.action),
            subject_cell(&r.subject, staff.may(may::READ_PAYMENTS)),
            Cell::Text(change_summary(
                r.before_json.as_deref(),
                r.after_json.as_deref(),
                t,
            )),
        ]);
    }
    if let Some(id) = Export::asked(&query.csv, &query.xlsx) {
        return download(&[&table], id, "audit-log", lang);
    }
    let req = staff.request();
    let (path, qs) = (req.path().to_string(), req.query_string().to_string());
    link_csv(&mut [&mut table], &path, &qs);
    let view = AuditPage {
        c: staff.chrome(t.title, "audit"),
        t,
        subject: params::text(&query.subject).unwrap_or_default().to_string(),
        action: params::text(&query.action).unwrap_or_default().to_string(),
        table,
        next_href: page
            .next
            .as_deref()
            .map(|n| with_param(&path, &qs, "before", n)),
    };
    staff.page(&view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_shows_only_what_differs() {
        let w = &AuditWords::EN;
        let before = r#"{"id":"pay_1","status":"captured","receipt":{"status":"issued"}}"#;
        let after = r#"{"id":"pay_1","status":"voided","receipt":{"status":"red_reversed"}}"#;
        assert_eq!(
            change_summary(Some(before), Some(after), w),
            "receipt.status: issued → red_reversed; status: captured → voided"
        );
        assert_eq!(
            change_summary(
                None,
                Some(r#"{"id":"ref_1","amount":"1.00","by":null,"x":[1]}"#),
                w
            ),
            "new: amount=1.00, id=ref_1, x=[1]"
        );
        assert_eq!(
            change_summary(Some("{}"), Some("{}"), w),
            "no field changed"
        );
        assert_eq!(change_summary(None, Some("not json"), w), "new: not json");
        let long = format!("{{\"memo\":\"{}\"}}", "长".repeat(500));
        assert!(change_summary(None, Some(&long), w).chars().count() <= SUMMARY_CHARS);
    }
}
