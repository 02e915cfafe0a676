//! What the counters collected: payments of a date range, summed by department, window and
//! channel (for the staff pages' 今日 view and the daily report). The sums are a pure function
//! of the loaded facts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::states::{Channel, PaymentStatus};
use crate::db::schema::payments;
use crate::db::{DbConn, DbError};

/// One payment, as much as the sums need.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct Fact {
    /// Its business date.
    pub business_date: NaiveDate,
    /// Collecting department.
    pub department: String,
    /// Counter window.
    #[diesel(column_name = window_code)]
    pub window: String,
    /// Channel.
    #[diesel(deserialize_as = String)]
    pub channel: Channel,
    /// Status.
    #[diesel(deserialize_as = String)]
    pub status: PaymentStatus,
    /// Amount, fen.
    pub amount_minor: i64,
}

/// Payments whose business date is in `from..=to`.
pub fn load(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> Result<Vec<Fact>, DbError> {
    Ok(payments::table
        .filter(payments::business_date.ge(from))
        .filter(payments::business_date.le(to))
        .select(Fact::as_select())
        .load(conn)?)
}

/// A count and a sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many.
    pub count: i64,
    /// How much, fen.
    pub amount_minor: i64,
}

impl Tally {
    fn add(&mut self, amount: i64) {
        self.count += 1;
        self.amount_minor += amount;
    }
}

/// One day's collections. A voided payment is not collected: it is counted apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Day {
    /// Collected (captured, not voided).
    pub collected: Tally,
    /// Voided the same day.
    pub voided: Tally,
    /// Collected by department.
    pub by_department: BTreeMap<String, Tally>,
    /// Collected by window: (department, window), a window being one department's.
    pub by_window: BTreeMap<(String, String), Tally>,
    /// Collected by channel.
    pub by_channel: BTreeMap<Channel, Tally>,
}

/// Sums the facts of each day.
pub fn by_day(facts: &[Fact]) -> BTreeMap<NaiveDate, Day> {
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for f in facts {
        let day = days.entry(f.business_date).or_default();
        if f.status == PaymentStatus::Voided {
            day.voided.add(f.amount_minor);
            continue;
        }
        day.collected.add(f.amount_minor);
        day.by_department
            .entry(f.department.clone())
            .or_default()
            .add(f.amount_minor);
        day.by_window
            .entry((f.department.clone(), f.window.clone()))
            .or_default()
            .add(f.amount_minor);
        day.by_channel
            .entry(f.channel)
            .or_default()
            .add(f.amount_minor);
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fact(day: u32, dept: &str, window: &str, channel: &str, status: &str, amount: i64) -> Fact {
        Fact {
            business_date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            department: dept.into(),
            window: window.into(),
            channel: channel.parse().unwrap(),
            status: status.parse().unwrap(),
            amount_minor: amount,
        }
    }

    #[test]
    fn voids_are_apart_and_each_breakdown_adds_up_to_the_day() {
        let facts = vec![
            fact(24, "D01", "W01", "bank_card", "captured", 12_000),
            fact(24, "D01", "W02", "one_card", "captured", 1_500),
            fact(24, "D04", "W01", "bank_card", "voided", 9_900),
            fact(25, "D04", "W03", "bank_card", "captured", 100),
        ];
        let days = by_day(&facts);
        let d = &days[&NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()];
        assert_eq!(
            d.collected,
            Tally {
                count: 2,
                amount_minor: 13_500
            }
        );
        assert_eq!(
            d.voided,
            Tally {
                count: 1,
                amount_minor: 9_900
            }
        );
        assert_eq!(d.by_department["D01"].amount_minor, 13_500);
        assert!(!d.by_department.contains_key("D04"));
        assert_eq!(
            d.by_channel[&Channel::OneCard],
            Tally {
                count: 1,
                amount_minor: 1_500
            }
        );
        assert_eq!(days.len(), 2);
    }

    proptest! {
        #[test]
        fn every_breakdown_sums_to_the_collected_total(
            raw in proptest::collection::vec((1u32..4, 0usize..3, 0usize..3, any::<bool>(), any::<bool>(), 1i64..1_000_000), 0..60)
        ) {
            let facts: Vec<Fact> = raw.iter().map(|(d, dep, win, card, void, amt)| fact(
                *d, ["D01", "D02", "D03"][*dep], ["W01", "W02", "W03"][*win],
                if *card { "bank_card" } else { "one_card" },
                if *void { "voided" } else { "captured" }, *amt)).collect();
            let days = by_day(&facts);
            let mut all = Tally::default();
            for day in days.values() {
                let breakdowns: [Vec<&Tally>; 3] = [
                    day.by_department.values().collect(),
                    day.by_window.values().collect(),
                    day.by_channel.values().collect(),
                ];
                for breakdown in breakdowns {
                    let s: i64 = breakdown.iter().map(|t| t.amount_minor).sum();
                    let c: i64 = breakdown.iter().map(|t| t.count).sum();
                    prop_assert_eq!(s, day.collected.amount_minor);
                    prop_assert_eq!(c, day.collected.count);
                }
                all.count += day.collected.count + day.voided.count;
                all.amount_minor += day.collected.amount_minor + day.voided.amount_minor;
            }
            prop_assert_eq!(all.count, facts.len() as i64);
            prop_assert_eq!(all.amount_minor, facts.iter().map(|f| f.amount_minor).sum::<i64>());
        }
    }
}
