//! Business time: the Asia/Shanghai calendar (UTC+8 all year; China has kept no daylight
//! saving since 1991) and the business date of a moment given the configured cut-off.
//!
//! May depend on: nothing inside the crate.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};

/// UTC+8.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    None => panic!("UTC+8 is a valid offset"),
};

/// The business date of `at`: its Asia/Shanghai date, or the next day from `cutoff` on
/// (a 23:30 payment with a 23:00 cut-off belongs to tomorrow). `None` means midnight.
pub fn business_date(at: DateTime<Utc>, cutoff: Option<NaiveTime>) -> NaiveDate {
    let local = at.with_timezone(&SHANGHAI);
    let date = local.date_naive();
    match cutoff {
        Some(c) if local.time() >= c => date.succ_opt().unwrap_or(date),
        _ => date,
    }
}

/// Today's Asia/Shanghai date.
pub fn today() -> NaiveDate {
    business_date(Utc::now(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn business_date_follows_shanghai_and_the_cutoff() {
        // 2026-11-24 15:59 UTC is 23:59 in Shanghai.
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 15, 59, 0)
            .single()
            .unwrap_or_default();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        assert_eq!(business_date(at, None), d(2026, 11, 24));
        let cutoff = NaiveTime::from_hms_opt(23, 0, 0);
        assert_eq!(business_date(at, cutoff), d(2026, 11, 25));
        // 16:00 UTC is already the next Shanghai day.
        let after_midnight = Utc
            .with_ymd_and_hms(2026, 11, 24, 16, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(business_date(after_midnight, None), d(2026, 11, 25));
    }
}
