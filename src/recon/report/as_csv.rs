//! The report as CSV, one section after another (each with its own header row), every cell
//! through the spreadsheet defuser.

use super::*;
use crate::payments::concessions::GrantedSummary;
use crate::words::Lang;

crate::words! {
    /// The CSV's heading rows: Chinese words, or in English the columns' snake_case names
    /// (what the JSON report calls them).
    pub struct CsvHeads {
        section: "分节" / "section",
        business_date: "业务日期" / "business_date",
        run: "对账批次" / "run",
        item: "项目" / "item",
        count: "笔数" / "count",
        key: "分组" / "key",
        payments: "缴费笔数" / "payments",
        amount: "金额" / "amount",
        matched: "已匹配" / "matched",
        exceptions: "差异" / "exceptions",
        name: "名称" / "name",
        file_id: "文件编号" / "file_id",
        spec: "文件格式" / "spec",
        merchant: "商户号" / "merchant",
        settlement_date: "清算日期" / "settlement_date",
        lines: "明细行数" / "lines",
        gross: "总额" / "gross",
        fee: "手续费" / "fee",
        net: "净额" / "net",
        age_business_days: "已等待工作日" / "age_business_days",
        event: "事项" / "event",
        refund_id: "退款编号" / "refund_id",
        payment_id: "缴费编号" / "payment_id",
        status: "状态" / "status",
        requested_on: "申请日期" / "requested_on",
        requested_by: "申请人" / "requested_by",
        approved_by: "审批人" / "approved_by",
        closed_by: "办结人" / "closed_by",
        exception_id: "差异编号" / "exception_id",
        kind: "差异类型" / "kind",
        settlement_record_id: "清算明细编号" / "settlement_record_id",
        ledger_amount: "账簿金额" / "ledger_amount",
        settlement_amount: "清算金额" / "settlement_amount",
        suggested_action: "建议操作" / "suggested_action",
        booking_id: "银行流水编号" / "booking_id",
        fee_code: "收费项目代码" / "fee_code",
        concession: "优惠政策" / "concession",
        window: "窗口" / "window",
        clerk: "收费员" / "clerk",
        charged: "实收" / "charged",
        forgone: "减免" / "forgone",
        legal_basis: "政策依据" / "legal_basis",
    }
}

/// The report as CSV: one section after another, each with its own heading row; the first
/// column names the section, so a spreadsheet filter shows one table at a time. Headings and
/// suggested actions are in `lang`; sections, kinds and states are the API's codes.
pub fn report_csv(report: &Report, lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let h = CsvHeads::of(lang);
    let report = &report.clone().in_lang(lang);
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    csv_summary(&mut w, report, h)?;
    csv_groups(&mut w, report, h)?;
    csv_netting(&mut w, &report.netting, h)?;
    csv_awaiting(&mut w, &report.awaiting_credit, h)?;
    csv_refunds(&mut w, &report.refunds, h)?;
    csv_exceptions(&mut w, &report.exceptions, h)?;
    csv_findings(&mut w, &report.supervision_findings, h)?;
    csv_concessions(&mut w, &report.concessions, h)?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

type CsvOut = csv::Writer<Vec<u8>>;

fn csv_summary(w: &mut CsvOut, report: &Report, h: &CsvHeads) -> Result<(), csv::Error> {
    let date = report.run.business_date.to_string();
    crate::spreadsheet::write_record(w, [h.section, h.business_date, h.run, h.item, h.count])?;
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

fn csv_groups(w: &mut CsvOut, report: &Report, h: &CsvHeads) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.key,
            h.payments,
            h.amount,
            h.matched,
            h.exceptions,
            h.name,
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

fn csv_netting(w: &mut CsvOut, netting: &[Netting], h: &CsvHeads) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.file_id,
            h.spec,
            h.merchant,
            h.settlement_date,
            h.lines,
            h.gross,
            h.fee,
            h.net,
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

fn csv_awaiting(w: &mut CsvOut, awaiting: &[Awaiting], h: &CsvHeads) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.file_id,
            h.spec,
            h.merchant,
            h.settlement_date,
            h.age_business_days,
            h.net,
            h.gross,
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

fn csv_refunds(w: &mut CsvOut, refunds: &RefundsOfDay, h: &CsvHeads) -> Result<(), csv::Error> {
    w.write_record([h.section, h.event, h.count, h.amount])?;
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
        h.section,
        h.refund_id,
        h.payment_id,
        h.amount,
        h.status,
        h.requested_on,
        h.requested_by,
        h.approved_by,
        h.closed_by,
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

fn csv_exceptions(
    w: &mut CsvOut,
    exceptions: &[ExceptionRow],
    h: &CsvHeads,
) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.exception_id,
            h.kind,
            h.payment_id,
            h.settlement_record_id,
            h.ledger_amount,
            h.settlement_amount,
            h.status,
            h.suggested_action,
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

fn csv_findings(w: &mut CsvOut, findings: &[ExceptionRow], h: &CsvHeads) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.exception_id,
            h.booking_id,
            h.amount,
            h.status,
            h.suggested_action,
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

fn csv_concessions(
    w: &mut CsvOut,
    granted: &GrantedSummary,
    h: &CsvHeads,
) -> Result<(), csv::Error> {
    crate::spreadsheet::write_record(
        w,
        [
            h.section,
            h.fee_code,
            h.concession,
            h.kind,
            h.window,
            h.clerk,
            h.count,
            h.charged,
            h.forgone,
            h.legal_basis,
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
