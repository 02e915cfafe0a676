//! Fee items and their pricing, as plain values; the check that a charged amount is exactly
//! the statutory one ("charge exactly the standard", 收费标准).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::concession::{check_concessions, Concession};
use crate::money::{format_minor, MAX_AMOUNT_MINOR};

/// Largest quantity on one payment line.
pub const MAX_QUANTITY: i64 = 100_000;

/// How an item is priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pricing {
    /// The same amount per item: amount × quantity.
    Fixed {
        /// Amount per item.
        amount_minor: i64,
    },
    /// An amount per unit (per square metre, per page): unit amount × quantity.
    PerUnit {
        /// Amount per unit.
        unit_amount_minor: i64,
        /// What the unit is (`m²`, `页`).
        unit: String,
    },
    /// Any amount within a statutory range, decided case by case; quantity must be 1.
    Range {
        /// Least amount.
        min_minor: i64,
        /// Greatest amount.
        max_minor: i64,
    },
}

crate::text_enum! {
    /// The stored name of a [`Pricing`] variant (`fee_items.pricing_kind`); the same text as the
    /// JSON `kind` tag.
    pub enum PricingKind as "pricing kind" {
        /// [`Pricing::Fixed`].
        Fixed,
        /// [`Pricing::PerUnit`].
        PerUnit,
        /// [`Pricing::Range`].
        Range,
    }
}

impl Pricing {
    /// Which kind of pricing this is.
    pub fn kind(&self) -> PricingKind {
        match self {
            Pricing::Fixed { .. } => PricingKind::Fixed,
            Pricing::PerUnit { .. } => PricingKind::PerUnit,
            Pricing::Range { .. } => PricingKind::Range,
        }
    }
}

/// One version of a fee item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeItem {
    /// Item code, e.g. `ZR-BDC-01`.
    pub code: String,
    /// Version, from 1; each change makes a new one.
    pub version: i64,
    /// Name as in the approved catalogue.
    pub name: String,
    /// Collecting department code.
    pub department: String,
    /// Revenue subject (收入科目), e.g. `1030414`; the fee posts to `2103.<subject>`.
    pub revenue_subject: String,
    /// Document that sets the fee (文号).
    pub legal_document: String,
    /// Article of that document, if cited.
    pub legal_article: Option<String>,
    /// Pricing.
    pub pricing: Pricing,
    /// First business date this version applies to.
    pub effective_from: NaiveDate,
    /// Last business date, if the fee ends.
    pub effective_to: Option<NaiveDate>,
    /// Its concessions (优惠政策), in the order given ([`super::concession`]).
    #[serde(default)]
    pub concessions: Vec<Concession>,
}

/// Why a proposed item or a charged line is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// A field does not meet the catalogue's rules.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No version of the item is in effect on the date.
    #[error("fee item '{code}' is not in effect on {date}")]
    NotInEffect {
        /// Item code.
        code: String,
        /// The business date.
        date: NaiveDate,
    },
    /// The charged amount is not the statutory amount.
    #[error("{0}")]
    AmountMismatch(String),
    /// The version charged has no concession of that code.
    #[error("fee item '{fee_code}' (version {version}) has no concession '{concession}'")]
    UnknownConcession {
        /// Item code.
        fee_code: String,
        /// The version in effect.
        version: i64,
        /// The concession code sent.
        concession: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> CatalogueError {
    CatalogueError::Invalid {
        field,
        message: message.into(),
    }
}

/// Checks a code: 1–32 of `[A-Za-z0-9_-]`.
pub fn check_code(code: &str) -> Result<(), CatalogueError> {
    if code.is_empty()
        || code.len() > 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "code",
            "must be 1–32 of A–Z, a–z, 0–9, '-' and '_'",
        ));
    }
    Ok(())
}

impl FeeItem {
    /// Checks everything about an item that needs no other data.
    pub fn check(&self) -> Result<(), CatalogueError> {
        check_code(&self.code)?;
        let text = |field: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max {
                Err(invalid(field, format!("must be 1–{max} characters")))
            } else {
                Ok(())
            }
        };
        text("name", &self.name, 200)?;
        text("department", &self.department, 32)?;
        text("legal_basis", &self.legal_document, 200)?;
        if self
            .legal_article
            .as_deref()
            .is_some_and(|a| a.chars().count() > 200)
        {
            return Err(invalid(
                "legal_basis",
                "the article is longer than 200 characters",
            ));
        }
        if self.revenue_subject.is_empty()
            || self.revenue_subject.len() > 16
            || !self.revenue_subject.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                "revenue_subject",
                "must be the digits of a revenue subject code, e.g. 1030414",
            ));
        }
        let positive = |field: &'static str, v: i64| {
            if v <= 0 || v > MAX_AMOUNT_MINOR {
                Err(invalid(field, "must be a positive amount"))
            } else {
                Ok(())
            }
        };
        match &self.pricing {
            Pricing::Fixed { amount_minor } => positive("pricing.amount", *amount_minor)?,
            Pricing::PerUnit {
                unit_amount_minor,
                unit,
            } => {
                positive("pricing.unit_amount", *unit_amount_minor)?;
                text("pricing.unit", unit, 16)?;
            }
            Pricing::Range {
                min_minor,
                max_minor,
            } => {
                positive("pricing.min", *min_minor)?;
                positive("pricing.max", *max_minor)?;
                if min_minor > max_minor {
                    return Err(invalid("pricing.max", "must not be below min"));
                }
            }
        }
        if self.effective_to.is_some_and(|to| to < self.effective_from) {
            return Err(invalid("effective_to", "must not be before effective_from"));
        }
        check_concessions(self)
    }

    /// Is this version in effect on `date` (ignoring later versions)?
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && self.effective_to.is_none_or(|to| date <= to)
    }

    /// The statutory amount of a line of `quantity`, checked against the `charged` amount the
    /// counter sent (required for range items, optional otherwise).
    pub fn price_line(
        &self,
        quantity: i64,
        charged_minor: Option<i64>,
    ) -> Result<i64, CatalogueError> {
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(invalid("quantity", format!("must be 1–{MAX_QUANTITY}")));
        }
        let expected = match &self.pricing {
            Pricing::Fixed { amount_minor } => amount_minor.checked_mul(quantity),
            Pricing::PerUnit {
                unit_amount_minor, ..
            } => unit_amount_minor.checked_mul(quantity),
            Pricing::Range {
                min_minor,
                max_minor,
            } => {
                if quantity != 1 {
                    return Err(invalid(
                        "quantity",
                        "a range-priced fee is charged once per line",
                    ));
                }
                let charged = charged_minor.ok_or_else(|| {
                    invalid("amount", "a range-priced fee needs the amount decided")
                })?;
                if charged < *min_minor || charged > *max_minor {
                    return Err(CatalogueError::AmountMismatch(format!(
                        "{} ({}) is charged between {} and {}, not {}",
                        self.code,
                        self.name,
                        format_minor(*min_minor),
                        format_minor(*max_minor),
                        format_minor(charged)
                    )));
                }
                return Ok(charged);
            }
        }
        .filter(|v| *v <= MAX_AMOUNT_MINOR)
        .ok_or_else(|| invalid("quantity", "the line amount is too large"))?;
        match charged_minor {
            Some(charged) if charged != expected => Err(CatalogueError::AmountMismatch(format!(
                "{} ({}) × {quantity} is {}, not {}",
                self.code,
                self.name,
                format_minor(expected),
                format_minor(charged)
            ))),
            _ => Ok(expected),
        }
    }
}

/// The version of an item in effect on `date`: the newest version whose period covers it.
/// `versions` may be in any order.
pub fn version_on(versions: &[FeeItem], date: NaiveDate) -> Option<&FeeItem> {
    versions
        .iter()
        .filter(|v| v.effective_from <= date)
        .max_by_key(|v| (v.effective_from, v.version))
        .filter(|v| v.covers(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_pricing_kind_is_the_json_tag() {
        for pricing in [
            Pricing::Fixed { amount_minor: 1 },
            Pricing::PerUnit {
                unit_amount_minor: 1,
                unit: "页".into(),
            },
            Pricing::Range {
                min_minor: 1,
                max_minor: 2,
            },
        ] {
            let json = serde_json::to_value(&pricing).unwrap_or_default();
            assert_eq!(
                json["kind"].as_str(),
                Some(pricing.kind().as_ref()),
                "{pricing:?}"
            );
            assert_eq!(
                pricing.kind().as_ref().parse::<PricingKind>().ok(),
                Some(pricing.kind())
            );
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn item(version: i64, pricing: Pricing, from: &str, to: Option<&str>) -> FeeItem {
        FeeItem {
            code: "ZR-BDC-01".into(),
            version,
            name: "不动产登记费（住宅）".into(),
            department: "D03".into(),
            revenue_subject: "1030414".into(),
            legal_document: "发改价格规〔2016〕2559号".into(),
            legal_article: Some("第一条".into()),
            pricing,
            effective_from: date(from),
            effective_to: to.map(date),
            concessions: Vec::new(),
        }
    }

    #[test]
    fn fixed_and_per_unit_lines_must_be_exact() {
        let fixed = item(1, Pricing::Fixed { amount_minor: 8000 }, "2026-01-01", None);
        assert_eq!(fixed.price_line(2, None), Ok(16000));
        assert_eq!(fixed.price_line(2, Some(16000)), Ok(16000));
        assert!(matches!(
            fixed.price_line(2, Some(15999)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        assert!(matches!(
            fixed.price_line(0, None),
            Err(CatalogueError::Invalid {
                field: "quantity",
                ..
            })
        ));
        let per_unit = item(
            1,
            Pricing::PerUnit {
                unit_amount_minor: 350,
                unit: "m²".into(),
            },
            "2026-01-01",
            None,
        );
        assert_eq!(per_unit.price_line(12, Some(4200)), Ok(4200));
        assert!(matches!(
            per_unit.price_line(12, Some(4201)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        let huge = item(
            1,
            Pricing::Fixed {
                amount_minor: MAX_AMOUNT_MINOR,
            },
            "2026-01-01",
            None,
        );
        assert!(
            huge.price_line(MAX_QUANTITY, None).is_err(),
            "no overflow, no absurd line"
        );
    }

    #[test]
    fn range_lines_need_an_amount_within_the_range() {
        let range = item(
            1,
            Pricing::Range {
                min_minor: 5000,
                max_minor: 50000,
            },
            "2026-01-01",
            None,
        );
        assert_eq!(range.price_line(1, Some(5000)), Ok(5000));
        assert_eq!(range.price_line(1, Some(50000)), Ok(50000));
        assert!(matches!(
            range.price_line(1, Some(4999)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        assert!(matches!(
            range.price_line(1, Some(50001)),
            Err(CatalogueError::AmountMismatch(_))
        ));
        assert!(matches!(
            range.price_line(1, None),
            Err(CatalogueError::Invalid {
                field: "amount",
                ..
            })
        ));
        assert!(matches!(
            range.price_line(2, Some(6000)),
            Err(CatalogueError::Invalid {
                field: "quantity",
                ..
            })
        ));
    }

    #[test]
    fn the_version_in_effect_is_the_newest_that_covers_the_date() {
        let v1 = item(1, Pricing::Fixed { amount_minor: 8000 }, "2026-01-01", None);
        let v2 = item(
            2,
            Pricing::Fixed { amount_minor: 9000 },
            "2026-07-01",
            Some("2026-12-31"),
        );
        let versions = vec![v2.clone(), v1.clone()];
        assert_eq!(version_on(&versions, date("2025-12-31")), None);
        assert_eq!(version_on(&versions, date("2026-06-30")), Some(&v1));
        assert_eq!(version_on(&versions, date("2026-07-01")), Some(&v2));
        assert_eq!(
            version_on(&versions, date("2027-01-01")),
            None,
            "v2 ended the fee"
        );
    }

    #[test]
    fn items_check_their_fields() {
        let ok = item(1, Pricing::Fixed { amount_minor: 8000 }, "2026-01-01", None);
        assert_eq!(ok.check(), Ok(()));
        let mut bad = ok.clone();
        bad.code = "has space".into();
        assert!(bad.check().is_err());
        let mut bad = ok.clone();
        bad.revenue_subject = "10304x".into();
        assert!(bad.check().is_err());
        let mut bad = ok.clone();
        bad.effective_to = Some(date("2025-01-01"));
        assert!(bad.check().is_err());
        let mut bad = ok.clone();
        bad.pricing = Pricing::Range {
            min_minor: 10,
            max_minor: 5,
        };
        assert!(bad.check().is_err());
        let mut bad = ok;
        bad.pricing = Pricing::Fixed { amount_minor: 0 };
        assert!(bad.check().is_err());
    }
}
