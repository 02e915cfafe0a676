//! Pricing a checked payment request against the catalogue: every line at the version in
//! effect on the business date, at the statutory amount or at the amount of the concession
//! (优惠政策) it names, and the total checked — "charge exactly the standard". Pure: the request
//! and catalogue versions in, priced lines or a typed error out.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::intake::{invalid, IntakeError, LineRequest, PaymentRequest};
use crate::catalogue::{version_on, CatalogueError, Concession, FeeItem};
use crate::money::format_minor;

/// A line priced against the catalogue version in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// The catalogue version charged.
    pub fee: FeeItem,
    /// Quantity.
    pub quantity: i64,
    /// The amount charged: the statutory amount, or the concession's (0 for an exemption).
    pub amount_minor: i64,
    /// The concession the line is charged under, if any.
    pub concession: Option<Concession>,
    /// The standard amount the concession forgoes (0 without one).
    pub forgone_minor: i64,
}

/// One line at the version `fee`: its amount, and the concession with what it forgoes.
fn price_line(
    i: usize,
    line: &LineRequest,
    fee: &FeeItem,
    date: NaiveDate,
) -> Result<PricedLine, IntakeError> {
    let priced = match &line.concession {
        None => fee
            .price_line(line.quantity, line.amount_minor)
            .map(|amount| (amount, None, 0)),
        Some(code) => fee
            .price_concession_line(code, line.quantity, line.amount_minor)
            .map(|charge| {
                (
                    charge.amount_minor,
                    fee.concession(code).cloned(),
                    charge.forgone_minor,
                )
            }),
    };
    let (amount_minor, concession, forgone_minor) = priced.map_err(|e| match e {
        CatalogueError::AmountMismatch(message) => IntakeError::AmountMismatch {
            field: format!("lines[{i}].amount"),
            message,
        },
        CatalogueError::Invalid { field, message } => {
            invalid(&format!("lines[{i}].{field}"), message)
        }
        CatalogueError::NotInEffect { .. } => IntakeError::UnknownFeeItem {
            line: i,
            code: line.fee_code.clone(),
            date,
        },
        CatalogueError::UnknownConcession {
            fee_code,
            version,
            concession,
        } => IntakeError::UnknownConcession {
            line: i,
            fee_code,
            version,
            code: concession,
        },
    })?;
    Ok(PricedLine {
        fee: fee.clone(),
        quantity: line.quantity,
        amount_minor,
        concession,
        forgone_minor,
    })
}

/// Prices every line with the catalogue version in effect on `date` and checks the total:
/// the supervision rule "charge exactly the standard". A request whose lines are all exempt
/// comes to 0.00 and is [`IntakeError::NothingToCharge`]: a card payment of nothing.
pub fn price(
    request: &PaymentRequest,
    versions: &HashMap<String, Vec<FeeItem>>,
    date: NaiveDate,
) -> Result<Vec<PricedLine>, IntakeError> {
    let mut priced = Vec::with_capacity(request.lines.len());
    let mut total: i64 = 0;
    for (i, line) in request.lines.iter().enumerate() {
        let fee = versions
            .get(&line.fee_code)
            .and_then(|v| version_on(v, date))
            .ok_or_else(|| IntakeError::UnknownFeeItem {
                line: i,
                code: line.fee_code.clone(),
                date,
            })?;
        let p = price_line(i, line, fee, date)?;
        total = total
            .checked_add(p.amount_minor)
            .ok_or_else(|| invalid("amount", "the total is too large"))?;
        priced.push(p);
    }
    if total == 0 {
        return Err(IntakeError::NothingToCharge);
    }
    if total != request.amount_minor {
        return Err(IntakeError::AmountMismatch {
            field: "amount".into(),
            message: format!(
                "the lines add up to {}, not {}",
                format_minor(total),
                format_minor(request.amount_minor)
            ),
        });
    }
    Ok(priced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{ConcessionKind, Pricing};
    use crate::payments::intake::{CardData, Channel};

    fn item(code: &str, amount_minor: i64) -> FeeItem {
        FeeItem {
            code: code.into(),
            version: 1,
            name: "不动产登记费（住宅）".into(),
            department: "D03".into(),
            revenue_subject: "1030414".into(),
            legal_document: "发改价格规〔2016〕2559号".into(),
            legal_article: None,
            pricing: Pricing::Fixed { amount_minor },
            effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            effective_to: None,
            concessions: vec![
                Concession {
                    code: "DB".into(),
                    name: "低保户免收".into(),
                    legal_basis: "民发〔2021〕11号".into(),
                    kind: ConcessionKind::Exempt,
                    amount_minor: 0,
                },
                Concession {
                    code: "CJ".into(),
                    name: "残疾人减半".into(),
                    legal_basis: "残联发〔2020〕3号".into(),
                    kind: ConcessionKind::Reduced,
                    amount_minor: amount_minor / 2,
                },
            ],
        }
    }

    fn line(fee: &str, concession: Option<&str>, amount: Option<i64>) -> LineRequest {
        LineRequest {
            fee_code: fee.into(),
            quantity: 1,
            amount_minor: amount,
            concession: concession.map(str::to_string),
        }
    }

    fn request(lines: Vec<LineRequest>, amount_minor: i64) -> PaymentRequest {
        PaymentRequest {
            channel: Channel::BankCard,
            department: "D03".into(),
            window: "W03".into(),
            payer: None,
            lines,
            amount_minor,
            card: CardData {
                merchant_id: "898440379930001".into(),
                terminal_id: "11002001".into(),
                batch_no: None,
                trace_no: None,
                rrn: None,
                auth_code: None,
                serial: None,
                masked_card: "622848******0123".into(),
                txn_time: "2026-11-24T09:30:15+08:00".into(),
            },
        }
    }

    fn catalogue() -> HashMap<String, Vec<FeeItem>> {
        let mut plain = item("GA-HZ-01", 12000);
        plain.concessions.clear();
        HashMap::from([
            ("ZR-BDC-01".to_string(), vec![item("ZR-BDC-01", 8000)]),
            ("GA-HZ-01".to_string(), vec![plain]),
        ])
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
    }

    #[test]
    fn exempt_and_reduced_lines_charge_the_concession_and_record_what_is_forgone() {
        let r = request(
            vec![
                line("ZR-BDC-01", Some("DB"), Some(0)),
                line("ZR-BDC-01", Some("CJ"), None),
                line("ZR-BDC-01", None, None),
            ],
            12000,
        );
        let priced = price(&r, &catalogue(), day()).expect("priced");
        let got: Vec<(i64, i64, Option<&str>)> = priced
            .iter()
            .map(|p| {
                (
                    p.amount_minor,
                    p.forgone_minor,
                    p.concession.as_ref().map(|c| c.code.as_str()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 8000, Some("DB")),
                (4000, 4000, Some("CJ")),
                (8000, 0, None)
            ]
        );
    }

    #[test]
    fn wrong_amounts_unknown_concessions_and_nothing_to_charge_are_refused() {
        let wrong = request(vec![line("ZR-BDC-01", Some("CJ"), Some(8000))], 8000);
        assert!(matches!(
            price(&wrong, &catalogue(), day()),
            Err(IntakeError::AmountMismatch { field, .. }) if field == "lines[0].amount"
        ));
        let total = request(vec![line("ZR-BDC-01", Some("CJ"), None)], 8000);
        assert!(matches!(
            price(&total, &catalogue(), day()),
            Err(IntakeError::AmountMismatch { field, .. }) if field == "amount"
        ));
        let unknown = request(vec![line("ZR-BDC-01", Some("XX"), None)], 0);
        assert!(matches!(
            price(&unknown, &catalogue(), day()),
            Err(IntakeError::UnknownConcession { line: 0, code, .. }) if code == "XX"
        ));
        // GA-HZ-01 has no concessions at all: a concession of another item is not its own.
        let elsewhere = request(
            vec![
                line("ZR-BDC-01", None, None),
                line("GA-HZ-01", Some("DB"), None),
            ],
            8000,
        );
        assert!(matches!(
            price(&elsewhere, &catalogue(), day()),
            Err(IntakeError::UnknownConcession { line: 1, fee_code, .. }) if fee_code == "GA-HZ-01"
        ));
        let all_exempt = request(
            vec![
                line("ZR-BDC-01", Some("DB"), None),
                line("ZR-BDC-01", Some("DB"), Some(0)),
            ],
            0,
        );
        assert_eq!(
            price(&all_exempt, &catalogue(), day()),
            Err(IntakeError::NothingToCharge)
        );
    }
}
