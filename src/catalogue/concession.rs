//! Concessions (优惠政策): the city's preferential policies that waive or reduce a fee for listed
//! cases (低保户, 残疾人, …), each with its legal basis, carried by a fee item version. Pure.
//!
//! What a concession's `amount` means depends on the item's pricing:
//! - fixed: the reduced amount per item (the line is amount × quantity);
//! - per unit: the reduced amount per unit (the line is amount × quantity);
//! - range: the reduced amount of the one charge (quantity 1), below the range's least amount.
//!
//! An exemption's amount is 0.00. The standard amount a concession forgoes is the statutory
//! amount of the line less what is charged; for a range item the standard is taken as the
//! range's least amount, so the amount recorded as forgone is never overstated.

use serde::{Deserialize, Serialize};

use super::model::{check_code, CatalogueError, FeeItem, Pricing, MAX_QUANTITY};
use crate::money::{format_minor, MAX_AMOUNT_MINOR};

/// Most concessions one fee item version may carry.
pub const MAX_CONCESSIONS: usize = 20;

crate::text_enum! {
    /// Whether a concession waives the fee or lowers it (`fee_item_concessions.kind`, the JSON
    /// `kind`).
    #[derive(::serde::Deserialize, utoipa::ToSchema)]
    pub enum ConcessionKind as "concession kind" {
        /// 免收: nothing is charged.
        Exempt,
        /// 减收: a lower amount is charged.
        Reduced,
    }
}

/// One concession of a fee item version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concession {
    /// Code, unique within the version (`DB-01`).
    pub code: String,
    /// Name (`低保户免收`).
    pub name: String,
    /// Its legal basis: the document and article that grant it.
    pub legal_basis: String,
    /// Exempt or reduced.
    pub kind: ConcessionKind,
    /// What is charged instead: per item, per unit or once (see the module doc); 0 when exempt.
    pub amount_minor: i64,
}

/// A line charged under a concession: what is charged and the standard amount forgone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcessionCharge {
    /// The line's amount.
    pub amount_minor: i64,
    /// The statutory amount less the line's amount (more than 0).
    pub forgone_minor: i64,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CatalogueError {
    CatalogueError::Invalid {
        field,
        message: message.into(),
    }
}

/// The amount a reduced concession must stay below: the fixed amount, the unit amount, or the
/// range's least amount.
fn ceiling(pricing: &Pricing) -> i64 {
    match pricing {
        Pricing::Fixed { amount_minor } => *amount_minor,
        Pricing::PerUnit {
            unit_amount_minor, ..
        } => *unit_amount_minor,
        Pricing::Range { min_minor, .. } => *min_minor,
    }
}

/// Checks the concessions of an item version: at most [`MAX_CONCESSIONS`], codes unique, names
/// and legal bases given, an exemption 0.00, a reduction more than 0.00 and below the standard
/// ([`ceiling`]).
pub fn check_concessions(item: &FeeItem) -> Result<(), CatalogueError> {
    if item.concessions.len() > MAX_CONCESSIONS {
        return Err(invalid(
            "concessions",
            format!("at most {MAX_CONCESSIONS} per version"),
        ));
    }
    let standard = ceiling(&item.pricing);
    for (i, c) in item.concessions.iter().enumerate() {
        check_code(&c.code).map_err(|_| {
            invalid(
                "concessions.code",
                format!("concession {i}: must be 1–32 of A–Z, a–z, 0–9, '-' and '_'"),
            )
        })?;
        if item.concessions[..i].iter().any(|o| o.code == c.code) {
            return Err(invalid(
                "concessions.code",
                format!("concession '{}' is listed twice", c.code),
            ));
        }
        let text = |field: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                Err(invalid(
                    field,
                    format!("concession '{}': must be 1–{max} characters", c.code),
                ))
            } else {
                Ok(())
            }
        };
        text("concessions.name", &c.name, 100)?;
        text("concessions.legal_basis", &c.legal_basis, 200)?;
        match c.kind {
            ConcessionKind::Exempt if c.amount_minor != 0 => {
                return Err(invalid(
                    "concessions.amount",
                    format!("concession '{}': an exemption charges 0.00", c.code),
                ));
            }
            ConcessionKind::Reduced if c.amount_minor <= 0 || c.amount_minor >= standard => {
                return Err(invalid(
                    "concessions.amount",
                    format!(
                        "concession '{}': a reduction charges more than 0.00 and less than {}",
                        c.code,
                        format_minor(standard)
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl FeeItem {
    /// The concession `code` of this version, if it has one.
    pub fn concession(&self, code: &str) -> Option<&Concession> {
        self.concessions.iter().find(|c| c.code == code)
    }

    /// A line of `quantity` charged under concession `code`, checked against the `charged`
    /// amount the counter sent (optional, also for range items: the concession decides it).
    pub fn price_concession_line(
        &self,
        code: &str,
        quantity: i64,
        charged_minor: Option<i64>,
    ) -> Result<ConcessionCharge, CatalogueError> {
        let concession =
            self.concession(code)
                .ok_or_else(|| CatalogueError::UnknownConcession {
                    fee_code: self.code.clone(),
                    version: self.version,
                    concession: code.to_string(),
                })?;
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(invalid("quantity", format!("must be 1–{MAX_QUANTITY}")));
        }
        if matches!(self.pricing, Pricing::Range { .. }) && quantity != 1 {
            return Err(invalid(
                "quantity",
                "a range-priced fee is charged once per line",
            ));
        }
        let per = match self.pricing {
            Pricing::Range { min_minor, .. } => min_minor,
            ref other => ceiling(other),
        };
        let too_large = || invalid("quantity", "the line amount is too large");
        let standard = per
            .checked_mul(quantity)
            .filter(|v| *v <= MAX_AMOUNT_MINOR)
            .ok_or_else(too_large)?;
        let amount = concession
            .amount_minor
            .checked_mul(quantity)
            .ok_or_else(too_large)?;
        if let Some(charged) = charged_minor.filter(|c| *c != amount) {
            return Err(CatalogueError::AmountMismatch(format!(
                "{} ({}) × {quantity} under {} ({}) is {}, not {}",
                self.code,
                self.name,
                concession.code,
                concession.name,
                format_minor(amount),
                format_minor(charged)
            )));
        }
        Ok(ConcessionCharge {
            amount_minor: amount,
            forgone_minor: standard - amount,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn concession(code: &str, kind: ConcessionKind, amount_minor: i64) -> Concession {
        Concession {
            code: code.into(),
            name: "低保户免收".into(),
            legal_basis: "财税〔2018〕37号 第二条".into(),
            kind,
            amount_minor,
        }
    }

    fn item(pricing: Pricing, concessions: Vec<Concession>) -> FeeItem {
        FeeItem {
            code: "ZR-BDC-01".into(),
            version: 1,
            name: "不动产登记费（住宅）".into(),
            department: "D03".into(),
            revenue_subject: "1030414".into(),
            legal_document: "发改价格规〔2016〕2559号".into(),
            legal_article: None,
            pricing,
            effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            effective_to: None,
            concessions,
        }
    }

    fn fixed(concessions: Vec<Concession>) -> FeeItem {
        item(Pricing::Fixed { amount_minor: 8000 }, concessions)
    }

    fn field_of(r: Result<(), CatalogueError>) -> &'static str {
        match r {
            Err(CatalogueError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_stored_kind_is_the_json_kind() {
        for kind in [ConcessionKind::Exempt, ConcessionKind::Reduced] {
            let json = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(json.as_str(), Some(kind.as_ref()));
        }
    }

    #[test]
    fn valid_concessions_pass() {
        let ok = fixed(vec![
            concession("DB", ConcessionKind::Exempt, 0),
            concession("CJ", ConcessionKind::Reduced, 4000),
        ]);
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(fixed(vec![]).check(), Ok(()));
    }

    #[test]
    fn concessions_that_break_the_rules_are_refused() {
        let dup = fixed(vec![
            concession("DB", ConcessionKind::Exempt, 0),
            concession("DB", ConcessionKind::Reduced, 100),
        ]);
        assert_eq!(field_of(dup.check()), "concessions.code");
        let exempt_charging = fixed(vec![concession("DB", ConcessionKind::Exempt, 1)]);
        assert_eq!(field_of(exempt_charging.check()), "concessions.amount");
        for amount in [0, -1, 8000, 8001] {
            let bad = fixed(vec![concession("CJ", ConcessionKind::Reduced, amount)]);
            assert_eq!(field_of(bad.check()), "concessions.amount", "{amount}");
        }
        let just_below = fixed(vec![concession("CJ", ConcessionKind::Reduced, 7999)]);
        assert_eq!(just_below.check(), Ok(()));
        let bad_code = fixed(vec![concession("has space", ConcessionKind::Exempt, 0)]);
        assert_eq!(field_of(bad_code.check()), "concessions.code");
        let mut no_basis = concession("DB", ConcessionKind::Exempt, 0);
        no_basis.legal_basis = "  ".into();
        assert_eq!(
            field_of(fixed(vec![no_basis]).check()),
            "concessions.legal_basis"
        );
        let mut no_name = concession("DB", ConcessionKind::Exempt, 0);
        no_name.name = String::new();
        assert_eq!(field_of(fixed(vec![no_name]).check()), "concessions.name");
        let many = (0..=MAX_CONCESSIONS)
            .map(|i| concession(&format!("C{i}"), ConcessionKind::Exempt, 0))
            .collect();
        assert_eq!(field_of(fixed(many).check()), "concessions");
    }

    #[test]
    fn a_per_unit_reduction_is_per_unit_and_a_range_reduction_below_the_least() {
        let per_unit = |amount| {
            item(
                Pricing::PerUnit {
                    unit_amount_minor: 350,
                    unit: "m²".into(),
                },
                vec![concession("CJ", ConcessionKind::Reduced, amount)],
            )
        };
        assert_eq!(per_unit(349).check(), Ok(()));
        assert_eq!(field_of(per_unit(350).check()), "concessions.amount");
        let charge = per_unit(100)
            .price_concession_line("CJ", 12, Some(1200))
            .expect("per unit");
        assert_eq!(
            charge,
            ConcessionCharge {
                amount_minor: 1200,
                forgone_minor: 3000
            }
        );
        let range = |amount| {
            item(
                Pricing::Range {
                    min_minor: 5000,
                    max_minor: 50000,
                },
                vec![concession("CJ", ConcessionKind::Reduced, amount)],
            )
        };
        assert_eq!(range(4999).check(), Ok(()));
        assert_eq!(field_of(range(5000).check()), "concessions.amount");
        let charge = range(2000).price_concession_line("CJ", 1, None);
        assert_eq!(
            charge,
            Ok(ConcessionCharge {
                amount_minor: 2000,
                forgone_minor: 3000
            })
        );
        assert!(matches!(
            range(2000).price_concession_line("CJ", 2, None),
            Err(CatalogueError::Invalid {
                field: "quantity",
                ..
            })
        ));
    }

    #[test]
    fn concession_lines_charge_exactly_the_concession() {
        let i = fixed(vec![
            concession("DB", ConcessionKind::Exempt, 0),
            concession("CJ", ConcessionKind::Reduced, 4000),
        ]);
        assert_eq!(
            i.price_concession_line("DB", 2, Some(0)),
            Ok(ConcessionCharge {
                amount_minor: 0,
                forgone_minor: 16000
            })
        );
        assert_eq!(
            i.price_concession_line("CJ", 1, None),
            Ok(ConcessionCharge {
                amount_minor: 4000,
                forgone_minor: 4000
            })
        );
        assert!(matches!(
            i.price_concession_line("CJ", 1, Some(8000)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        assert!(matches!(
            i.price_concession_line("DB", 1, Some(1)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        assert!(matches!(
            i.price_concession_line("NOPE", 1, None),
            Err(CatalogueError::UnknownConcession { .. })
        ));
        assert!(matches!(
            i.price_concession_line("CJ", 0, None),
            Err(CatalogueError::Invalid {
                field: "quantity",
                ..
            })
        ));
    }
}
