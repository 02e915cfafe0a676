//! Money: integer minor units inside, decimal strings at the edges.
//!
//! Every amount in onecard is an `i64` count of fen (分). `rust_decimal` is used only here, to
//! parse the decimal strings clients and banks send (`"1280.00"`) and to format amounts back.
//! No floating point touches money anywhere in the crate.
//!
//! Depends on: nothing inside the crate.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Minor units per major unit for the currencies onecard handles (CNY: 100 fen to the yuan).
pub const MINOR_PER_MAJOR: i64 = 100;

/// The only currency a municipal fee can be paid in.
pub const CNY: &str = "CNY";

/// Largest amount accepted for a single value, in minor units: 10^13 fen = 100 billion yuan.
/// Far above any statutory fee, far below `i64::MAX`, so sums of millions of them cannot overflow.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// Why a decimal string is not an acceptable amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal number (`"12.50"`); exponents, spaces, commas are refused.
    #[error("'{0}' is not a decimal amount like \"200.00\"")]
    NotDecimal(String),
    /// More than two digits after the point.
    #[error("'{0}' has more than two decimal places")]
    TooManyDecimals(String),
    /// A minus sign where only non-negative amounts are allowed.
    #[error("'{0}' is negative")]
    Negative(String),
    /// Above [`MAX_AMOUNT_MINOR`] or the caller's ceiling.
    #[error("'{0}' is above the ceiling of {1}")]
    OverCeiling(String, String),
}

/// An amount with its currency. Arithmetic is checked; there is no float conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (fen).
    pub minor: i64,
    /// ISO 4217 code; always [`CNY`] today.
    pub currency: &'static str,
}

impl Money {
    /// An amount in fen of Chinese yuan.
    pub fn cny(minor: i64) -> Self {
        Money {
            minor,
            currency: CNY,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_minor(self.minor), self.currency)
    }
}

/// Parses a non-negative decimal string with at most two places into minor units.
///
/// `"200"`, `"200.0"` and `"200.00"` are all 20000. Refused: `""`, `"-1.00"`, `"1.005"`,
/// `"1e3"`, `" 1.00"`, `"1,000.00"`, anything above [`MAX_AMOUNT_MINOR`].
pub fn parse_amount(text: &str) -> Result<i64, MoneyError> {
    parse_signed_amount(text).and_then(|minor| {
        if minor < 0 {
            Err(MoneyError::Negative(text.to_string()))
        } else {
            Ok(minor)
        }
    })
}

/// Like [`parse_amount`] but a leading `-` is allowed (adjustments, signed report values).
pub fn parse_signed_amount(text: &str) -> Result<i64, MoneyError> {
    let not_decimal = || MoneyError::NotDecimal(text.to_string());
    // Decimal::from_str accepts things we do not want at an API edge (underscores, a leading
    // '+'); check the shape first: optional '-', digits, optional '.' and digits.
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || frac_part.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(not_decimal());
    }
    if frac_part.is_some_and(|f| f.len() > 2) {
        return Err(MoneyError::TooManyDecimals(text.to_string()));
    }
    if int_part.len() > 15 {
        return Err(over_ceiling(text, MAX_AMOUNT_MINOR));
    }
    let value = Decimal::from_str(text).map_err(|_| not_decimal())?;
    // At most two places were allowed above, so the scaled value is a whole number.
    let minor = (value * Decimal::from(MINOR_PER_MAJOR))
        .to_i64()
        .ok_or_else(|| over_ceiling(text, MAX_AMOUNT_MINOR))?;
    if minor.abs() > MAX_AMOUNT_MINOR {
        return Err(over_ceiling(text, MAX_AMOUNT_MINOR));
    }
    Ok(minor)
}

/// Parses like [`parse_amount`] and refuses amounts above `ceiling_minor`.
pub fn parse_amount_with_ceiling(text: &str, ceiling_minor: i64) -> Result<i64, MoneyError> {
    let minor = parse_amount(text)?;
    if minor > ceiling_minor {
        return Err(over_ceiling(text, ceiling_minor));
    }
    Ok(minor)
}

fn over_ceiling(text: &str, ceiling_minor: i64) -> MoneyError {
    MoneyError::OverCeiling(text.to_string(), format_minor(ceiling_minor))
}

/// Formats minor units as a decimal string with exactly two places: 20000 → `"200.00"`,
/// -5 → `"-0.05"`.
pub fn format_minor(minor: i64) -> String {
    format_scaled(minor, 2, '.')
}

/// Formats minor units of a currency with `exponent` decimal places and `separator` between
/// the whole and the fraction — what bank files write: `(123456, 2, '.')` → `"1234.56"`,
/// `(-1205, 2, ',')` → `"-12,05"` (MT940), `(7, 0, '.')` → `"7"`.
pub fn format_scaled(minor: i64, exponent: u32, separator: char) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let Some(unit) = 10u64.checked_pow(exponent) else {
        // No currency has such an exponent; the plain number loses nothing.
        return format!("{minor}");
    };
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let width = exponent as usize;
    format!("{sign}{}{separator}{:0width$}", abs / unit, abs % unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_any_scale_and_separator() {
        let cases = [
            (123_456, 2, '.', "1234.56"),
            (-1_205, 2, ',', "-12,05"),
            (5, 2, '.', "0.05"),
            (-5, 2, '.', "-0.05"),
            (7, 0, '.', "7"),
            (-7, 0, ',', "-7"),
            (1_234_567, 3, '.', "1234.567"),
            (i64::MIN, 2, '.', "-92233720368547758.08"),
        ];
        for (minor, exp, sep, want) in cases {
            assert_eq!(
                format_scaled(minor, exp, sep),
                want,
                "{minor} at {exp} with {sep:?}"
            );
        }
        assert_eq!(format_minor(20_000), "200.00");
    }

    #[test]
    fn parses_the_usual_shapes() {
        assert_eq!(parse_amount("200.00"), Ok(20000));
        assert_eq!(parse_amount("200"), Ok(20000));
        assert_eq!(parse_amount("200.5"), Ok(20050));
        assert_eq!(parse_amount("0.01"), Ok(1));
        assert_eq!(parse_amount("0"), Ok(0));
        assert_eq!(parse_signed_amount("-3.07"), Ok(-307));
    }

    #[test]
    fn refuses_what_is_not_a_plain_two_place_decimal() {
        for bad in [
            "", ".", "1.", ".5", "1e3", " 1.00", "1,000.00", "+1", "1_000", "abc", "--1", "0x10",
            "１２",
        ] {
            assert!(
                matches!(parse_amount(bad), Err(MoneyError::NotDecimal(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(matches!(
            parse_amount("1.005"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(
            parse_amount("-1.00"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            parse_amount("100000000001.00"),
            Err(MoneyError::OverCeiling(..))
        ));
        assert!(matches!(
            parse_amount("99999999999999999999999999.00"),
            Err(MoneyError::OverCeiling(..))
        ));
        assert!(matches!(
            parse_amount_with_ceiling("500.01", 50000),
            Err(MoneyError::OverCeiling(..))
        ));
        assert_eq!(parse_amount_with_ceiling("500.00", 50000), Ok(50000));
    }

    #[test]
    fn formats_with_two_places() {
        assert_eq!(format_minor(20000), "200.00");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-5), "-0.05");
        assert_eq!(format_minor(0), "0.00");
        assert_eq!(format_minor(i64::MIN), "-92233720368547758.08");
        assert_eq!(Money::cny(128000).to_string(), "1280.00 CNY");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in -MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR) {
            prop_assert_eq!(parse_signed_amount(&format_minor(minor)), Ok(minor));
        }
    }
}
