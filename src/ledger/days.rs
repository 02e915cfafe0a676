//! The state of a business day, the one place every module asks it: the ledger rules (a closed
//! day takes no entry), remittance (only a closed day is remitted, once), refunds (a day whose
//! revenue a remittance batch covers is the treasury's) and the day close.
//!
//! A day moves one way: open → closed (closing signs the seal in the same step) → remittance
//! locked once a batch exists for it. The close itself lives in `recon::days`, the batch in
//! `treasury`; this module only reads the rows they write. It also holds the two statuses
//! those rows store as text — [`DayStatus`] and [`RemittanceStatus`], each with its allowed
//! transitions — so that the writers and this reader parse them through one impl.
//!
//! May depend on: `db`, `text`.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{business_days, remittances};
use crate::db::{DbConn, DbError};

crate::text_enum! {
    /// `business_days.status`: the stored half of [`DayState`]. A day moves open → closed only.
    pub enum DayStatus as "business day status" {
        /// Takes entries (also a day without a row).
        Open,
        /// Closed and sealed: takes no entry, its row no longer changes.
        Closed,
    }
}

impl DayStatus {
    /// The allowed transitions: open → closed.
    pub fn can_become(self, next: DayStatus) -> bool {
        matches!((self, next), (DayStatus::Open, DayStatus::Closed))
    }
}

crate::text_enum! {
    /// `remittances.status`: where a remittance batch stands. A batch is prepared (finance), then
    /// approved (a supervisor: the file is fixed and signed, the treasury may pull it), then
    /// acknowledged (the treasury: the remittance entry is posted), and never goes back. A
    /// prepared batch may be cancelled (stale), an approved one rejected by the treasury; both
    /// end it without an entry, and the day can be prepared again.
    pub enum RemittanceStatus as "remittance status" {
        /// Prepared, awaiting approval; the treasury does not see it.
        Prepared,
        /// Approved: its file is fixed and signed, offered to the treasury.
        Approved,
        /// Acknowledged by the treasury; the remittance entry is posted.
        Acknowledged,
        /// Cancelled while prepared (finance, or a refund that made it stale); never offered.
        Cancelled,
        /// Rejected by the treasury after it was offered; nothing posted.
        Rejected,
    }
}

impl RemittanceStatus {
    /// The allowed transitions, the only ones the service makes (and the database's trigger
    /// allows): prepared → approved → acknowledged; prepared → cancelled; approved → rejected.
    pub fn can_become(self, next: RemittanceStatus) -> bool {
        use RemittanceStatus::{Acknowledged, Approved, Cancelled, Prepared, Rejected};
        matches!(
            (self, next),
            (Prepared, Approved | Cancelled) | (Approved, Acknowledged | Rejected)
        )
    }

    /// Is the batch offered to the treasury (its file approved)? A rejected batch was.
    pub fn offered_to_treasury(self) -> bool {
        use RemittanceStatus::{Acknowledged, Approved, Rejected};
        matches!(self, Approved | Acknowledged | Rejected)
    }

    /// Does the batch still stand for its day? A cancelled or rejected one is as if absent: the
    /// day can be prepared again, and its payments are refunded as if it never existed.
    pub fn is_live(self) -> bool {
        !matches!(
            self,
            RemittanceStatus::Cancelled | RemittanceStatus::Rejected
        )
    }
}

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
        status: RemittanceStatus,
    },
}

impl DayState {
    /// Is the day closed (whether or not remitted)? A closed day accepts no entry dated in it.
    pub fn is_closed(&self) -> bool {
        !matches!(self, DayState::Open)
    }

    /// The state of a day without a remittance batch, from its stored status and seal.
    pub fn of_row(status: DayStatus, seal: Option<&str>) -> DayState {
        match (status, seal) {
            (DayStatus::Open, _) => DayState::Open,
            (DayStatus::Closed, Some(_)) => DayState::Sealed,
            (DayStatus::Closed, None) => DayState::Closed,
        }
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
        Some((status, seal)) => DayState::of_row(DayStatus::try_from(status)?, seal.as_deref()),
        // A day without a row has not been closed.
        None => DayState::Open,
    })
}

/// Is the business day closed? One lookup: what the ledger writer asks before every entry.
pub fn is_closed(conn: &mut DbConn, date: NaiveDate) -> Result<bool, DbError> {
    let status: Option<String> = business_days::table
        .find(date)
        .select(business_days::status)
        .first(conn)
        .optional()?;
    Ok(match status {
        Some(text) => DayStatus::try_from(text)? == DayStatus::Closed,
        None => false,
    })
}

/// The live remittance batch of `date`, if it has one: id and status. Cancelled and rejected
/// batches count as absent (at most one batch of a day is live; the database holds to it).
/// Once the batch is approved its payments can no longer be refunded against the payable; a
/// refund is a treasury refund request (退库).
pub fn remittance_of(
    conn: &mut DbConn,
    date: NaiveDate,
) -> Result<Option<(String, RemittanceStatus)>, DbError> {
    let ended = [
        <&str>::from(RemittanceStatus::Cancelled),
        <&str>::from(RemittanceStatus::Rejected),
    ];
    let row: Option<(String, String)> = remittances::table
        .filter(remittances::business_date.eq(date))
        .filter(remittances::status.ne_all(ended))
        .select((remittances::id, remittances::status))
        .first(conn)
        .optional()?;
    row.map(|(id, status)| Ok((id, RemittanceStatus::try_from(status)?)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::{DayState, DayStatus, RemittanceStatus};

    #[test]
    fn only_an_open_day_takes_entries() {
        let locked = DayState::RemittanceLocked {
            remittance: "rem_20261124".into(),
            status: RemittanceStatus::Prepared,
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

    #[test]
    fn statuses_are_stored_as_their_snake_case_names() {
        use RemittanceStatus::{Acknowledged, Approved, Prepared};
        let days = [(DayStatus::Open, "open"), (DayStatus::Closed, "closed")];
        for (status, text) in days {
            assert_eq!(status.as_ref(), text, "{status:?}");
            assert_eq!(DayStatus::try_from(text.to_string()), Ok(status), "{text}");
            assert_eq!(serde_json::json!(status), text, "{status:?}");
        }
        let batches = [
            (Prepared, "prepared"),
            (Approved, "approved"),
            (Acknowledged, "acknowledged"),
            (RemittanceStatus::Cancelled, "cancelled"),
            (RemittanceStatus::Rejected, "rejected"),
        ];
        for (status, text) in batches {
            assert_eq!(status.as_ref(), text, "{status:?}");
            assert_eq!(
                RemittanceStatus::try_from(text.to_string()),
                Ok(status),
                "{text}"
            );
            assert_eq!(serde_json::json!(status), text, "{status:?}");
        }
        assert!(RemittanceStatus::try_from("pulled".to_string()).is_err());
        assert!(DayStatus::try_from("Closed".to_string()).is_err());
    }

    #[test]
    fn transitions_only_go_forward_one_step() {
        use RemittanceStatus::{Acknowledged, Approved, Cancelled, Prepared, Rejected};
        let all = [Prepared, Approved, Acknowledged, Cancelled, Rejected];
        let forward = [
            (Prepared, Approved),
            (Approved, Acknowledged),
            (Prepared, Cancelled),
            (Approved, Rejected),
        ];
        for from in all {
            for to in all {
                let allowed = forward.contains(&(from, to));
                assert_eq!(from.can_become(to), allowed, "{from} → {to}");
            }
            // Only a batch that was offered can have been pulled; only an ended one is absent.
            assert_eq!(
                from.offered_to_treasury(),
                matches!(from, Approved | Acknowledged | Rejected),
                "{from}"
            );
            assert_eq!(
                from.is_live(),
                !matches!(from, Cancelled | Rejected),
                "{from}"
            );
        }
        let days = [
            (DayStatus::Open, DayStatus::Closed, true),
            (DayStatus::Closed, DayStatus::Open, false),
            (DayStatus::Open, DayStatus::Open, false),
            (DayStatus::Closed, DayStatus::Closed, false),
        ];
        for (from, to, allowed) in days {
            assert_eq!(from.can_become(to), allowed, "{from} → {to}");
        }
    }

    #[test]
    fn the_day_state_follows_the_stored_status_and_seal() {
        let cases = [
            (DayStatus::Open, None, DayState::Open),
            (DayStatus::Closed, None, DayState::Closed),
            (DayStatus::Closed, Some("c2ln"), DayState::Sealed),
        ];
        for (status, seal, state) in cases {
            assert_eq!(DayState::of_row(status, seal), state, "{status} {seal:?}");
        }
    }
}
