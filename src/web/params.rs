//! Reading a page's query string: every value arrives as text (so nothing a browser sends can
//! fail before the page sees it), and each is checked here into a problem naming its field.
//! Also the page links that keep the query but change one parameter ("next page").

use chrono::NaiveDate;

use super::session::encode_component;
use crate::http::problem::ApiError;

/// The value of an optional text field, trimmed; empty counts as absent.
pub fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An optional `YYYY-MM-DD` field; a malformed one is a 422 naming `field`.
pub fn date(field: &str, value: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    text(value)
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid(
                    Some(field.to_string()),
                    format!("{field}: '{d}' is not a date like 2026-11-24"),
                )
            })
        })
        .transpose()
}

/// An optional whole-number field (a page size, a cursor id); otherwise a 422 naming `field`.
pub fn int(field: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    text(value)
        .map(|n| {
            n.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    Some(field.to_string()),
                    format!("{field}: '{n}' is not a whole number"),
                )
            })
        })
        .transpose()
}

/// `path?query` with `key` set to `value` (replacing it if present) and any `csv` or `xlsx`
/// dropped.
pub fn with_param(path: &str, query: &str, key: &str, value: &str) -> String {
    let mut kept: Vec<String> = query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default();
            !p.is_empty() && name != key && name != "csv" && name != "xlsx"
        })
        .map(str::to_string)
        .collect();
    kept.push(format!("{key}={}", encode_component(value)));
    format!("{path}?{}", kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_named() {
        assert_eq!(text(&Some("  ".into())), None);
        assert_eq!(text(&Some(" a ".into())), Some("a"));
        assert_eq!(
            date("from", &Some("2026-11-24".into())).ok().flatten(),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
        assert_eq!(date("from", &None).ok(), Some(None));
        let bad = date("from", &Some("24.11.2026".into())).err();
        assert_eq!(
            bad.and_then(|e| e.extra.get("field").cloned()),
            Some("from".into())
        );
        assert!(int("limit", &Some("ten".into())).is_err());
        assert_eq!(int("limit", &Some("10".into())).ok(), Some(Some(10)));
    }

    #[test]
    fn a_parameter_is_replaced_and_csv_dropped() {
        assert_eq!(
            with_param(
                "/web/payments",
                "business_date=2026-11-24&after=pay_1&csv=payments",
                "after",
                "pay_2"
            ),
            "/web/payments?business_date=2026-11-24&after=pay_2"
        );
        assert_eq!(
            with_param("/web/audit", "", "before", "9"),
            "/web/audit?before=9"
        );
        assert_eq!(
            with_param("/web/audit", "subject=a%20b", "before", "x&y"),
            "/web/audit?subject=a%20b&before=x%26y"
        );
    }
}
