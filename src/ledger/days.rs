//! The state of a business day, the one place every module asks it: the ledger rules (a closed
//! day takes no entry), remittance (only a closed day is remitted, once), refunds (a day whose
//! revenue a remittance batch covers is the treasury's) and the day close.
//!
//! A day moves one way: open → closed (closing signs the seal in the same step) → remittance
//! locked once a batch exists for it. The close itself lives in `recon::days`, the batch in
//! `treasury`; this module only reads the rows they write.
//!
//! May depend on: `db`.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{business_days, remittances};
use crate::db::{DbConn, DbError};

/// Where a business day stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayState {
    /// Takes entries.
    Open,
    /// Closed, without a seal on record.
    Closed,
    /// Closed and sealed: the seal signs the chain hash of its last entry.
    Sealed,
    /// Closed, and a remittance batch covers its payable: what it collected is the treasury's.
    RemittanceLocked {
        /// The batch (`rem_YYYYMMDD`).
        remittance: String,
        /// The batch's status.
        status: String,
    },
}

impl DayState {
    /// Is the day closed (whether or not remitted)? A closed day accepts no entry dated in it.
    pub fn is_closed(&self) -> bool {
        !matches!(self, DayState::Open)
    }
}

/// The day's state: the remittance batch first (a batch exists only for a closed day), then
/// the business-day row.
pub fn state(conn: &mut DbConn, date: NaiveDate) -> Result<DayState, DbError> {
    if let Some((remittance, status)) = remittance_of(conn, date)? {
        return Ok(DayState::RemittanceLocked { remittance, status });
    }
    let row: Option<(String, Option<String>)> = business_days::table
        .find(date)
        .select((business_days::status, business_days::seal))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((status, seal)) if status == "closed" => match seal {
            Some(_) => DayState::Sealed,
            None => DayState::Closed,
        },
        _ => DayState::Open,
    })
}

/// Is the business day closed? One lookup: what the ledger writer asks before every entry.
pub fn is_closed(conn: &mut DbConn, date: NaiveDate) -> Result<bool, DbError> {
    let status: Option<String> = business_days::table
        .find(date)
        .select(business_days::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref() == Some("closed"))
}

/// The remittance batch of `date`, if it has one (whatever its status): id and status. Its
/// payments can then no longer be refunded against the payable; a refund is a treasury refund
/// request (退库).
pub fn remittance_of(
    conn: &mut DbConn,
    date: NaiveDate,
) -> Result<Option<(String, String)>, DbError> {
    Ok(remittances::table
        .filter(remittances::business_date.eq(date))
        .select((remittances::id, remittances::status))
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::DayState;

    #[test]
    fn only_an_open_day_takes_entries() {
        let locked = DayState::RemittanceLocked {
            remittance: "rem_20261124".into(),
            status: "prepared".into(),
        };
        let cases = [
            (DayState::Open, false),
            (DayState::Closed, true),
            (DayState::Sealed, true),
            (locked, true),
        ];
        for (state, closed) in cases {
            assert_eq!(state.is_closed(), closed, "{state:?}");
        }
    }
}
