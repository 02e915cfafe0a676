//! The reconciliation workspace (issue 20, item 3): each of the run's exceptions as one compact
//! row — its status, what it is (kind, amount, the payment's receipt, department and terminal,
//! the line's terminal and reference, the file's merchant and date, the credit's bank
//! reference), the suggested action — with its candidate counterparts beneath
//! (`recon::workspace`) and one form: a note, one button per action the rules allow
//! (`recon::exceptions::rules::allowed`), one match button per matchable candidate, and the
//! approve button for a proposal the viewer did not make. The match route resolves the item
//! and the candidate's own exception in one transaction (`recon::exceptions::match_pair`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ReconWords;
use crate::auth::{may, Principal};
use crate::catalogue::departments::Directory;
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::recon::candidates::{Candidate, Record};
use crate::recon::exceptions::{self, rules, ExceptionState, ExceptionStatus};
use crate::recon::runs::{self, Report};
use crate::recon::workspace::Workspace;
use crate::web::departments::department_cell;
use crate::web::i18n::Lang;
use crate::web::table::Cell;
use crate::web::{OrPage, PostForm, Staff, WebError};

/// A piece of a row's label: words of the page, or data shown as written.
pub(super) struct Bit {
    pub text: String,
    /// The data's language when it is not the page's (a Chinese name on an English page).
    pub lang: Option<&'static str>,
    /// Shown as written (a bank's narrative, a file name): `translate="no"`.
    pub data: bool,
}

impl Bit {
    fn words(text: impl Into<String>) -> Bit {
        Bit {
            text: text.into(),
            lang: None,
            data: false,
        }
    }

    fn data(text: impl Into<String>) -> Bit {
        Bit {
            text: text.into(),
            lang: None,
            data: true,
        }
    }
}

/// One button of a row.
pub(super) struct Button {
    pub code: &'static str,
    pub label: &'static str,
}

/// A candidate beneath a row.
pub(super) struct Offered {
    /// The `with` value its match button posts (`line:12`).
    pub value: String,
    pub bits: Vec<Bit>,
    pub reasons: String,
    pub matchable: bool,
    pub button: &'static str,
}

/// One row of the workspace.
pub(super) struct Row {
    pub id: String,
    pub tone: &'static str,
    pub status_label: &'static str,
    pub kind: &'static str,
    pub amount: String,
    pub bits: Vec<Bit>,
    /// Both sides' amounts, where the item has two.
    pub amounts: Option<String>,
    pub suggestion: String,
    pub candidates: Vec<Offered>,
    pub actions: Vec<Button>,
    /// An approve button (awaiting approval, and the viewer did not propose it).
    pub approve: bool,
    /// Awaiting approval: who proposed it (the viewer sees that a second person approves).
    pub proposed_by: Option<String>,
    /// Awaiting approval and proposed by the viewer: no approve button, a second person's.
    pub mine: bool,
    /// Worked: how and by whom.
    pub worked: Option<String>,
    /// The form is shown (open or claimed, and the viewer may resolve).
    pub form: bool,
}

/// What the rows are built from.
pub(super) struct Sources<'a> {
    pub report: &'a Report,
    pub states: &'a [ExceptionState],
    pub ws: &'a Workspace,
    pub directory: &'a Directory,
    pub viewer: &'a Principal,
    pub may_resolve: bool,
}

/// The rows `keep` lets through, in the run's order.
pub(super) fn rows(
    s: &Sources<'_>,
    keep: impl Fn(&runs::ExceptionRow) -> bool,
    t: &'static ReconWords,
    lang: Lang,
) -> Vec<Row> {
    s.report
        .exceptions
        .iter()
        .filter(|e| keep(e))
        .map(|e| row(s, e, t, lang))
        .collect()
}

fn row(s: &Sources<'_>, e: &runs::ExceptionRow, t: &'static ReconWords, lang: Lang) -> Row {
    let state = s.states.iter().find(|x| x.id == e.id);
    let tone = match e.status {
        ExceptionStatus::Resolved => "ok",
        ExceptionStatus::AwaitingApproval | ExceptionStatus::Claimed => "warn",
        ExceptionStatus::Open => "bad",
    };
    let mut bits = Vec::new();
    if let Some(p) = &e.payment_id {
        bits.extend(payment_bits(s, p, t, lang));
    }
    if let Some(l) = e.settlement_record_id {
        bits.extend(line_bits(s, l, t));
    }
    if let Some(f) = &e.file_id {
        bits.extend(file_bits(s, f, t));
    }
    if let Some(b) = e.booking_id {
        bits.extend(booking_bits(s, b, t));
    }
    let money = |m: i64| Cell::Money(m).shown();
    let amounts = match (e.ledger_minor, e.settlement_minor) {
        (Some(l), Some(o)) => Some(format!(
            "{}{}{} · {}{}{}",
            t.ledger_amount,
            t.colon,
            money(l),
            t.settlement_amount,
            t.colon,
            money(o)
        )),
        _ => None,
    };
    let workable = matches!(e.status, ExceptionStatus::Open | ExceptionStatus::Claimed);
    let candidates = if workable {
        s.ws.candidates
            .get(&e.id)
            .map(|c| c.iter().map(|c| offered(s, c, t, lang)).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let proposer = state.and_then(|x| x.resolved_by_person.as_deref());
    let awaiting = e.status == ExceptionStatus::AwaitingApproval;
    Row {
        id: e.id.clone(),
        tone,
        status_label: t.status(e.status),
        kind: t.category(e.kind),
        amount: e
            .ledger_minor
            .or(e.settlement_minor)
            .map(|m| format!("¥{}", money(m)))
            .unwrap_or_default(),
        bits,
        amounts,
        suggestion: e.suggestion(lang).to_string(),
        candidates,
        actions: rules::allowed(e.kind, e.status, e.ledger_minor, e.settlement_minor)
            .into_iter()
            .map(|a| Button {
                code: a.into(),
                label: t.action(a),
            })
            .collect(),
        approve: awaiting && s.may_resolve && !s.viewer.is_same_person(proposer),
        mine: awaiting && s.viewer.is_same_person(proposer),
        proposed_by: awaiting
            .then(|| state.and_then(|x| x.resolved_by.clone()))
            .flatten(),
        worked: (!awaiting && e.status != ExceptionStatus::Open)
            .then(|| {
                state.and_then(|x| {
                    let how = t.action(x.resolution?);
                    Some(format!(
                        "{how}{}{}",
                        t.colon,
                        x.resolved_by.clone().unwrap_or_default()
                    ))
                })
            })
            .flatten(),
        form: s.may_resolve && workable,
    }
}

/// The payment's receipt, department (by name) and terminal.
fn payment_bits(s: &Sources<'_>, id: &str, t: &ReconWords, lang: Lang) -> Vec<Bit> {
    let Some(p) = s.ws.payments.get(id) else {
        return vec![Bit::data(id)];
    };
    let mut bits = vec![match &p.receipt_no {
        Some(r) => Bit::words(format!("{}{r}", t.ws_receipt)),
        None => Bit::data(id),
    }];
    let place = department_cell(s.directory, &p.department, lang);
    let lang = match &place {
        Cell::Foreign { lang, .. } => Some(*lang),
        _ => None,
    };
    bits.push(Bit {
        text: place.shown(),
        lang,
        data: false,
    });
    if let Some(terminal) = &p.terminal {
        bits.push(Bit::words(format!("{}{terminal}", t.ws_terminal)));
    }
    bits.push(Bit::words(p.date.to_string()));
    bits
}

/// The line's id, terminal, reference and settlement date.
fn line_bits(s: &Sources<'_>, id: i64, t: &ReconWords) -> Vec<Bit> {
    let mut bits = vec![Bit::words(format!("{} #{id}", t.ws_line))];
    if let Some(l) = s.ws.lines.get(&id) {
        bits.push(Bit::words(format!("{}{}", t.ws_terminal, l.terminal)));
        if let Some(r) = l.rrn.as_ref().or(l.trace.as_ref()) {
            bits.push(Bit::words(format!("{}{r}", t.ws_reference)));
        }
        bits.push(Bit::words(l.date.to_string()));
    }
    bits
}

/// The file's merchant and settlement date (its name as written).
fn file_bits(s: &Sources<'_>, id: &str, t: &ReconWords) -> Vec<Bit> {
    let Some(f) = s.ws.files.get(id) else {
        return vec![Bit::data(id)];
    };
    let mut bits = Vec::new();
    if let Some(m) = &f.merchant {
        bits.push(Bit::words(format!("{}{m}", t.ws_merchant)));
    }
    if let Some(d) = f.date {
        bits.push(Bit::words(d.to_string()));
    }
    bits.push(Bit::data(f.name.clone().unwrap_or_else(|| id.to_string())));
    bits
}

/// The booking's date, bank reference and counterparty (as the bank wrote it).
fn booking_bits(s: &Sources<'_>, id: i64, t: &ReconWords) -> Vec<Bit> {
    let Some(b) = s.ws.bookings.get(&id) else {
        return vec![Bit::words(format!("{} #{id}", t.booking))];
    };
    let mut bits = vec![Bit::words(format!(
        "{} {}",
        if b.amount_minor >= 0 {
            t.ws_credit
        } else {
            t.ws_debit
        },
        b.date
    ))];
    if let Some(r) = &b.bank_ref {
        bits.push(Bit::words(format!("{}{r}", t.ws_reference)));
    }
    if let Some(c) = &b.counterparty {
        bits.push(Bit::data(c.clone()));
    }
    bits
}

fn offered(s: &Sources<'_>, c: &Candidate, t: &'static ReconWords, lang: Lang) -> Offered {
    let money = format!("¥{}", Cell::Money(c.amount_minor).shown());
    let (value, mut bits, button) = match &c.record {
        Record::Payment(p) => (
            format!("payment:{p}"),
            payment_bits(s, p, t, lang),
            t.ws_match,
        ),
        Record::Line(l) => (format!("line:{l}"), line_bits(s, *l, t), t.ws_match),
        Record::Booking(b) => (format!("booking:{b}"), booking_bits(s, *b, t), t.ws_settle),
        Record::File(f) => (format!("file:{f}"), file_bits(s, f, t), t.ws_settle),
    };
    let what = match &c.record {
        Record::Payment(_) => t.payment,
        Record::Line(_) => t.ws_line,
        Record::Booking(_) => t.ws_credit,
        Record::File(_) => t.produces_settlement,
    };
    bits.insert(0, Bit::words(format!("{what} {money}")));
    let mut reasons = vec![if c.same_amount {
        t.ws_same_amount.to_string()
    } else {
        t.ws_other_amount.to_string()
    }];
    reasons.push(if c.days_apart == 0 {
        t.ws_same_day.to_string()
    } else {
        format!("{}{}{}", t.ws_days_before, c.days_apart, t.ws_days_after)
    });
    if c.same_terminal {
        reasons.push(t.ws_same_terminal.to_string());
    }
    if let Some(r) = &c.same_reference {
        reasons.push(format!("{}{r}", t.ws_same_reference));
    }
    Offered {
        value,
        bits,
        reasons: reasons.join(t.comma),
        matchable: c.matchable,
        button,
    }
}

/// The match form: the candidate (`line:12`, `payment:pay_…`, `booking:5`, `file:sf_…`), an
/// optional note, where to go back.
#[derive(Debug, Deserialize)]
pub(super) struct MatchForm {
    with: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// `line:12` and the like as a record, or a 422 naming `with`.
fn record_of(with: &str) -> Result<Record, ApiError> {
    let bad = || {
        ApiError::invalid(
            Some("with".into()),
            format!("with: '{with}' names no payment, line, booking or file"),
        )
    };
    let (what, id) = with.trim().split_once(':').ok_or_else(bad)?;
    let id = id.trim();
    let number = || id.parse::<i64>().map_err(|_| bad());
    match what {
        "payment" if !id.is_empty() => Ok(Record::Payment(id.to_string())),
        "line" => Ok(Record::Line(number()?)),
        "booking" => Ok(Record::Booking(number()?)),
        "file" if !id.is_empty() => Ok(Record::File(id.to_string())),
        _ => Err(bad()),
    }
}

/// The record in the page's words (`清算明细 #12`).
fn record_words(r: &Record, t: &ReconWords) -> String {
    match r {
        Record::Payment(p) => format!("{} {p}", t.payment),
        Record::Line(l) => format!("{} #{l}", t.ws_line),
        Record::Booking(b) => format!("{} #{b}", t.ws_credit),
        Record::File(f) => format!("{} {f}", t.produces_settlement),
    }
}

/// `POST /web/exceptions/{id}/match`: the item and the candidate in one action. Without a note
/// the note is a sentence in the page's language naming the pair: the candidate was listed
/// for its stated reasons and the person who matched is recorded, so a match from the list
/// needs no typing (a write-off, a claim or a timing difference still needs a why).
pub(super) async fn match_pair(
    staff: Staff,
    id: web::Path<String>,
    form: PostForm<MatchForm>,
) -> Result<HttpResponse, WebError> {
    let by = staff.require(may::RESOLVE_EXCEPTION)?.clone();
    let lang = staff.lang;
    let f = staff.form(form)?;
    let with = record_of(&f.with).or_page(lang)?;
    let t = ReconWords::of(lang);
    let id = id.into_inner();
    let pair = format!("{id} ↔ {}", record_words(&with, t));
    let note = match f.note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("{}{pair}", t.ws_matched_note),
    };
    let paired = with_conn(&staff.ctx, move |conn, _| {
        Ok(exceptions::match_pair(conn, &id, &with, &note, &by)?)
    })
    .await
    .or_page(lang)?;
    let proposed = paired.item.status == ExceptionStatus::AwaitingApproval
        || paired
            .other
            .as_ref()
            .is_some_and(|o| o.status == ExceptionStatus::AwaitingApproval);
    let message = if proposed {
        format!("{}{pair}", t.proposed_message)
    } else {
        format!("{}{pair}", t.ws_matched_message)
    };
    Ok(staff.done(&super::exceptions::back_to(f.back.as_deref()), &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_names_its_record() {
        assert_eq!(record_of("line:12").ok(), Some(Record::Line(12)));
        assert_eq!(
            record_of(" payment:pay_1 ").ok(),
            Some(Record::Payment("pay_1".into()))
        );
        assert_eq!(record_of("booking:7").ok(), Some(Record::Booking(7)));
        assert_eq!(
            record_of("file:sf_a").ok(),
            Some(Record::File("sf_a".into()))
        );
        for bad in ["", "line", "line:x", "payment:", "ledger:1", "booking:-"] {
            assert!(record_of(bad).is_err(), "{bad}");
        }
    }
}
