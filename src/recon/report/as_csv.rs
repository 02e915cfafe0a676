//! The report as CSV, one section after another (each with its own header row), every cell
//! through the spreadsheet defuser.

use super::*;
use crate::payments::concessions::GrantedSummary;

/// The report as CSV: one section after another, each with its own heading row; the first
/// column names the section, so a spreadsheet filter shows one table at a time.
pub fn report_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    csv_summary(&mut w, report)?;
    csv_groups(&mut w, report)?;
    csv_netting(&mut w, &report.netting)?;
    csv_awaiting(&mut w, &report.awaiting_credit)?;
    csv_refunds(&mut w, &report.refunds)?;
    csv_exceptions(&mut w, &report.exceptions)?;
    csv_findings(&mut w, &report.supervision_findings)?;
    csv_concessions(&mut w, &report.concessions)?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

type CsvOut = csv::Writer<Vec<u8>>;

fn csv_summary(w: &mut CsvOut, report: &Report) -> Result<(), csv::Error> {
    let date = report.run.business_date.to_string();
    crate::spreadsheet::write_record(w, ["section", "business_date", "run", "item", "count"])?;
    if let Some(summary) = report.run.summary.as_object() {
        for (k, v) in summary {
            crate::spreadsheet::write_record(
                w,
                [
                    "summary",
                    date.as_str(),
                    report.run.id.as_str(),
                    k.as_str(),
                    &v.to_string(),
                ],
            )?;
        }
    }
    crate::spreadsheet::write_record(
        w,
        [
            "balance",
            date.as_str(),
            report.run.id.as_str(),
            &report.run.balance.to_string(),
            "",
        ],
    )
}

fn csv_groups(w: &mut CsvOut, report: &Report) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "key",
            "payments",
            "amount",
            "matched",
            "exceptions",
            "name",
        ],
    )?;
    for (section, groups) in [
        ("by_channel", &report.by_channel),
        ("by_department", &report.by_department),
    ] {
        for g in groups {
            crate::spreadsheet::write_record(
                w,
                [
                    section,
                    g.key.as_str(),
                    &g.payments.to_string(),
                    g.amount.as_str(),
                    &g.matched.to_string(),
                    &g.exceptions.to_string(),
                    g.name.as_deref().unwrap_or(""),
                ],
            )?;
        }
    }
    Ok(())
}

fn csv_netting(w: &mut CsvOut, netting: &[Netting]) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "file_id",
            "spec",
            "merchant",
            "settlement_date",
            "lines",
            "gross",
            "fee",
            "net",
        ],
    )?;
    for n in netting {
        // a file that states no settlement date: an empty cell
        crate::spreadsheet::write_record(
            w,
            [
                "netting",
                n.file_id.as_str(),
                n.spec.as_str(),
                n.merchant.as_deref().unwrap_or(""),
                &n.settlement_date.map(|d| d.to_string()).unwrap_or_default(),
                &n.lines.to_string(),
                n.gross.as_str(),
                n.fee.as_str(),
                n.net.as_str(),
            ],
        )?;
    }
    Ok(())
}

fn csv_awaiting(w: &mut CsvOut, awaiting: &[Awaiting]) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "file_id",
            "spec",
            "merchant",
            "settlement_date",
            "age_business_days",
            "net",
            "gross",
        ],
    )?;
    for a in awaiting {
        // a file that states no settlement date: an empty cell
        crate::spreadsheet::write_record(
            w,
            [
                "awaiting_credit",
                a.file_id.as_str(),
                a.spec.as_str(),
                a.merchant.as_deref().unwrap_or(""),
                &a.settlement_date.map(|d| d.to_string()).unwrap_or_default(),
                &a.age_business_days.to_string(),
                a.net.as_str(),
                a.gross.as_str(),
            ],
        )?;
    }
    Ok(())
}

fn csv_refunds(w: &mut CsvOut, refunds: &RefundsOfDay) -> Result<(), csv::Error> {
    w.write_record(["section", "event", "count", "amount"])?;
    for (event, sum) in [
        ("requested", &refunds.requested),
        ("approved", &refunds.approved),
        ("rejected", &refunds.rejected),
        ("cancelled", &refunds.cancelled),
    ] {
        w.write_record([
            "refunds",
            event,
            &sum.count.to_string(),
            sum.amount.as_str(),
        ])?;
    }
    w.write_record([
        "section",
        "refund_id",
        "payment_id",
        "amount",
        "status",
        "requested_on",
        "requested_by",
        "approved_by",
        "closed_by",
    ])?;
    for r in &refunds.items {
        // who approved or closed it: an empty cell until someone has
        w.write_record([
            "refund",
            r.id.as_str(),
            r.payment_id.as_str(),
            r.amount.as_str(),
            r.status.as_str(),
            &r.business_date.to_string(),
            r.requested_by.as_str(),
            r.approved_by.as_deref().unwrap_or(""),
            r.closed_by.as_deref().unwrap_or(""),
        ])?;
    }
    Ok(())
}

fn csv_exceptions(w: &mut CsvOut, exceptions: &[ExceptionRow]) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "exception_id",
            "kind",
            "payment_id",
            "settlement_record_id",
            "ledger_amount",
            "settlement_amount",
            "status",
            "suggested_action",
        ],
    )?;
    for e in exceptions {
        // an amount or record an exception does not have is an empty cell
        crate::spreadsheet::write_record(
            w,
            [
                "exception",
                e.id.as_str(),
                e.kind.as_ref(),
                e.payment_id.as_deref().unwrap_or(""),
                &e.settlement_record_id
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                &e.ledger_minor.map(format_minor).unwrap_or_default(),
                &e.settlement_minor.map(format_minor).unwrap_or_default(),
                e.status.as_ref(),
                e.suggested_action.as_str(),
            ],
        )?;
    }
    Ok(())
}

fn csv_findings(w: &mut CsvOut, findings: &[ExceptionRow]) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "exception_id",
            "booking_id",
            "amount",
            "status",
            "suggested_action",
        ],
    )?;
    for e in findings {
        crate::spreadsheet::write_record(
            w,
            [
                "supervision_finding",
                e.id.as_str(),
                &e.booking_id.map(|i| i.to_string()).unwrap_or_default(),
                &e.settlement_minor.map(format_minor).unwrap_or_default(),
                e.status.as_ref(),
                e.suggested_action.as_str(),
            ],
        )?;
    }
    Ok(())
}

fn csv_concessions(w: &mut CsvOut, granted: &GrantedSummary) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            "section",
            "fee_code",
            "concession",
            "kind",
            "window",
            "clerk",
            "count",
            "charged",
            "forgone",
            "legal_basis",
        ],
    )?;
    for g in &granted.items {
        crate::spreadsheet::write_record(
            w,
            [
                "concession",
                g.fee_code.as_str(),
                g.concession.as_str(),
                g.kind.as_str(),
                g.window.as_str(),
                g.clerk.as_str(),
                &g.count.to_string(),
                g.charged.as_str(),
                g.forgone.as_str(),
                g.legal_basis.as_str(),
            ],
        )?;
    }
    crate::spreadsheet::write_record(
        w,
        [
            "concession_total",
            "",
            "",
            "",
            "",
            "",
            &granted.count.to_string(),
            granted.charged.as_str(),
            granted.forgone.as_str(),
            "",
        ],
    )
}
