//! The closed sets the payment tables store as text — the channel, the payment's status, its
//! receipt's status, a refund's status — one enum each, whose `text_enum!` declaration is the
//! only place its stored (and JSON) text is spelt, with the moves the use cases make beside it.
//! A stored value that is none of these is [`UnknownText`](crate::text::UnknownText), never a
//! default. Pure: no actix, no diesel (the row structs read these through `TryFrom<String>`).

use serde::Deserialize;
use strum::VariantArray;

crate::text_enum! {
    // Stored in `payments.channel` and read from the request; its doc line is the published
    // schema's description.
    /// How the applicant paid.
    #[derive(Hash, PartialOrd, Ord, Deserialize, utoipa::ToSchema, VariantArray)]
    pub enum Channel as "channel" {
        /// A bank card through the acquirer's POS.
        BankCard,
        /// The city one-card.
        OneCard,
    }

    /// A payment's status (`payments.status`; DESIGN §3: captured → settled → reconciled, or
    /// voided). The moves are [`PaymentStatus::after`]'s: the same-day void at the counter,
    /// and the two a reconciliation run makes ([`PaymentEvent`]).
    #[derive(Hash, VariantArray)]
    pub enum PaymentStatus as "payment status" {
        /// Taken at the counter (`captured`).
        Captured,
        /// Matched by a reconciliation run to its line in an acquirer's settlement file
        /// (`settled`).
        Settled,
        /// Its settlement file's credit found on the collection account and the settlement
        /// entry posted (`reconciled`).
        Reconciled,
        /// Voided on the day of capture (`voided`).
        Voided,
    }

    /// A fiscal receipt's status (`receipts.status`): issued with the capture, red-reversed
    /// (冲红) with the void.
    #[derive(Hash, VariantArray)]
    pub enum ReceiptStatus as "receipt status" {
        /// Issued (`issued`).
        Issued,
        /// Red-reversed, 冲红 (`red_reversed`).
        RedReversed,
    }

    /// A refund's status (`refunds.status`): requested by one person, then approved (and
    /// posted) by another, rejected by a supervisor, or cancelled by its requester or finance.
    #[derive(Hash, VariantArray)]
    pub enum RefundStatus as "refund status" {
        /// Waiting for a supervisor (`requested`).
        Requested,
        /// Approved and posted (`approved`).
        Approved,
        /// Approved, revenue already remitted: waiting for the treasury to return the money
        /// (退库, `awaiting_treasury`); nothing posted yet.
        AwaitingTreasury,
        /// The treasury returned the money and the payer was refunded (`refunded`).
        Refunded,
        /// Refused (`rejected`): by a supervisor with a note, or by the treasury for a 退库; the
        /// payment may be refunded again.
        Rejected,
        /// Withdrawn by its requester or by finance (`cancelled`).
        Cancelled,
    }

    /// How a refund reaches the payer (`refunds.route`): `direct` while the revenue is still
    /// with the centre, `treasury` once a batch that covers it is approved (退库).
    #[derive(Hash, VariantArray)]
    pub enum RefundRoute as "refund route" {
        /// Dr 2103 / Cr in transit or bank at approval.
        Direct,
        /// The treasury returns the money first, then the payer is refunded.
        Treasury,
    }
}

/// What happens to a payment that may move its status (DESIGN §3, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, VariantArray)]
pub enum PaymentEvent {
    /// Voided at the counter (same day, before settlement).
    Void,
    /// A reconciliation run matched it to its acquirer line (transaction tier `matched`).
    LineMatched,
    /// The settlement entry of the file that carries its matched line posted: the file's
    /// credit was found on the collection account (cash tier `cash_matched`).
    SettlementPosted,
}

impl PaymentStatus {
    /// The status after `event`, or `None` when the event is refused in this status.
    ///
    /// - `Void`: captured → voided; refused in every other status (a settled payment is
    ///   refunded, not voided).
    /// - `LineMatched`: captured → settled; a settled or reconciled payment stays as it is
    ///   (a re-run matches it again), and so does a voided one (its void settled with it).
    /// - `SettlementPosted`: captured or settled → reconciled (posting implies the match);
    ///   reconciled and voided stay.
    ///
    /// So no event moves a payment backwards along captured → settled → reconciled, and
    /// nothing moves a payment out of voided.
    pub fn after(self, event: PaymentEvent) -> Option<Self> {
        use PaymentEvent::*;
        use PaymentStatus::*;
        match (self, event) {
            (Captured, Void) => Some(Voided),
            (_, Void) => None,
            (Captured, LineMatched) => Some(Settled),
            (Captured | Settled, SettlementPosted) => Some(Reconciled),
            (status, LineMatched | SettlementPosted) => Some(status),
        }
    }

    /// The statuses `event` moves to `to` (not counting a payment already in `to`): what a
    /// bulk update for `event` may find in the row it changes.
    pub fn moved_by(event: PaymentEvent, to: Self) -> Vec<Self> {
        Self::VARIANTS
            .iter()
            .copied()
            .filter(|s| *s != to && s.after(event) == Some(to))
            .collect()
    }

    /// Whether a payment in this status may be moved to `next` by some event.
    pub fn can_become(self, next: Self) -> bool {
        self != next
            && PaymentEvent::VARIANTS
                .iter()
                .any(|e| self.after(*e) == Some(next))
    }

    /// Whether a refund may be requested or approved: every status but voided.
    pub fn refundable(self) -> bool {
        self != Self::Voided
    }

    /// Whether the settlement entry that moves the payment's money from in transit (1218.01)
    /// to the collection bank (1002.01) has posted, so a refund is paid from the bank:
    /// reconciled only (a settled payment's file is still awaiting its credit).
    pub fn settlement_posted(self) -> bool {
        self == Self::Reconciled
    }
}

impl ReceiptStatus {
    /// Whether a receipt in this status may be moved to `next`: only issued → red-reversed.
    pub fn can_become(self, next: Self) -> bool {
        matches!((self, next), (Self::Issued, Self::RedReversed))
    }
}

impl RefundStatus {
    /// Whether a refund in this status may be moved to `next`: a requested refund is approved
    /// (direct), sent to the treasury (退库: awaiting it), rejected or cancelled; one awaiting
    /// the treasury ends refunded or rejected; nothing moves it after that.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (
                Self::Requested,
                Self::Approved | Self::AwaitingTreasury | Self::Rejected | Self::Cancelled
            ) | (Self::AwaitingTreasury, Self::Refunded | Self::Rejected)
        )
    }

    /// Whether the refund still claims part of its payment: every status but rejected and
    /// cancelled. The refunds that do never add up to more than the payment, and a payment
    /// with one is no longer voided; a rejected or cancelled refund frees its amount.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Rejected | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::UnknownText;
    use proptest::prelude::*;
    use serde::Serialize;

    /// The stored texts are the ones in the schema's CHECK constraints and API.md, both ways,
    /// and serde writes the same.
    #[test]
    fn stored_texts_are_exactly_todays() {
        fn both_ways<T>(cases: &[(T, &str)])
        where
            T: Copy + std::fmt::Debug + PartialEq + AsRef<str> + Serialize + TryFrom<String>,
        {
            for (value, text) in cases {
                assert_eq!(value.as_ref(), *text, "{value:?}");
                assert_eq!(
                    serde_json::to_value(value).unwrap(),
                    serde_json::json!(text),
                    "{value:?} as JSON"
                );
                assert!(
                    T::try_from(text.to_string()).ok() == Some(*value),
                    "'{text}' read back"
                );
            }
        }
        both_ways(&[
            (Channel::BankCard, "bank_card"),
            (Channel::OneCard, "one_card"),
        ]);
        both_ways(&[
            (PaymentStatus::Captured, "captured"),
            (PaymentStatus::Settled, "settled"),
            (PaymentStatus::Reconciled, "reconciled"),
            (PaymentStatus::Voided, "voided"),
        ]);
        both_ways(&[
            (ReceiptStatus::Issued, "issued"),
            (ReceiptStatus::RedReversed, "red_reversed"),
        ]);
        both_ways(&[
            (RefundStatus::Requested, "requested"),
            (RefundStatus::Approved, "approved"),
            (RefundStatus::AwaitingTreasury, "awaiting_treasury"),
            (RefundStatus::Refunded, "refunded"),
            (RefundStatus::Rejected, "rejected"),
            (RefundStatus::Cancelled, "cancelled"),
        ]);
        both_ways(&[
            (RefundRoute::Direct, "direct"),
            (RefundRoute::Treasury, "treasury"),
        ]);
        assert_eq!(PaymentStatus::VARIANTS.len(), 4);
    }

    #[test]
    fn an_unknown_stored_text_is_an_error_naming_it() {
        for text in ["", "Captured", "refunded", "captured "] {
            assert_eq!(
                PaymentStatus::try_from(text.to_string()),
                Err(UnknownText {
                    set: "payment status",
                    value: text.into()
                }),
                "'{text}'"
            );
        }
        assert!(Channel::try_from("cash".to_string()).is_err());
    }

    /// Every pair of `T`'s values: `can(from, to)` exactly for the `allowed` ones.
    fn only_moves<T>(can: fn(T, T) -> bool, allowed: &[(T, T)])
    where
        T: VariantArray + Copy + PartialEq + std::fmt::Display,
    {
        for from in T::VARIANTS {
            for to in T::VARIANTS {
                let expected = allowed.contains(&(*from, *to));
                assert_eq!(can(*from, *to), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn only_the_moves_the_use_cases_make_are_allowed() {
        use PaymentStatus::*;
        only_moves(
            PaymentStatus::can_become,
            &[
                (Captured, Voided),
                (Captured, Settled),
                (Captured, Reconciled),
                (Settled, Reconciled),
            ],
        );
        only_moves(
            ReceiptStatus::can_become,
            &[(ReceiptStatus::Issued, ReceiptStatus::RedReversed)],
        );
        only_moves(
            RefundStatus::can_become,
            &[
                (RefundStatus::Requested, RefundStatus::Approved),
                (RefundStatus::Requested, RefundStatus::AwaitingTreasury),
                (RefundStatus::Requested, RefundStatus::Rejected),
                (RefundStatus::Requested, RefundStatus::Cancelled),
                (RefundStatus::AwaitingTreasury, RefundStatus::Refunded),
                (RefundStatus::AwaitingTreasury, RefundStatus::Rejected),
            ],
        );
        let live: Vec<_> = RefundStatus::VARIANTS
            .iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(
            live,
            [
                &RefundStatus::Requested,
                &RefundStatus::Approved,
                &RefundStatus::AwaitingTreasury,
                &RefundStatus::Refunded
            ]
        );
        let refundable: Vec<_> = PaymentStatus::VARIANTS
            .iter()
            .filter(|s| s.refundable())
            .collect();
        assert_eq!(refundable, [&Captured, &Settled, &Reconciled]);
        let posted: Vec<_> = PaymentStatus::VARIANTS
            .iter()
            .filter(|s| s.settlement_posted())
            .collect();
        assert_eq!(posted, [&Reconciled]);
    }

    /// Every (status, event) pair, spelt out: the table DESIGN §3 and API.md describe.
    #[test]
    fn each_event_in_each_status() {
        use PaymentEvent::*;
        use PaymentStatus::*;
        let table = [
            (Captured, Void, Some(Voided)),
            (Settled, Void, None),
            (Reconciled, Void, None),
            (Voided, Void, None),
            (Captured, LineMatched, Some(Settled)),
            (Settled, LineMatched, Some(Settled)),
            (Reconciled, LineMatched, Some(Reconciled)),
            (Voided, LineMatched, Some(Voided)),
            (Captured, SettlementPosted, Some(Reconciled)),
            (Settled, SettlementPosted, Some(Reconciled)),
            (Reconciled, SettlementPosted, Some(Reconciled)),
            (Voided, SettlementPosted, Some(Voided)),
        ];
        assert_eq!(
            table.len(),
            PaymentStatus::VARIANTS.len() * PaymentEvent::VARIANTS.len()
        );
        for (from, event, to) in table {
            assert_eq!(from.after(event), to, "{from} after {event:?}");
        }
    }

    #[test]
    fn a_bulk_update_changes_only_the_rows_its_event_moves() {
        use PaymentEvent::*;
        use PaymentStatus::*;
        assert_eq!(PaymentStatus::moved_by(LineMatched, Settled), [Captured]);
        assert_eq!(
            PaymentStatus::moved_by(SettlementPosted, Reconciled),
            [Captured, Settled]
        );
        assert_eq!(PaymentStatus::moved_by(Void, Voided), [Captured]);
        assert!(PaymentStatus::moved_by(LineMatched, Voided).is_empty());
        assert!(PaymentStatus::moved_by(SettlementPosted, Captured).is_empty());
    }

    /// A status's place along captured → settled → reconciled (voided is off the line).
    fn rank(status: PaymentStatus) -> Option<u8> {
        match status {
            PaymentStatus::Captured => Some(0),
            PaymentStatus::Settled => Some(1),
            PaymentStatus::Reconciled => Some(2),
            PaymentStatus::Voided => None,
        }
    }

    fn any_status() -> impl Strategy<Value = PaymentStatus> {
        proptest::sample::select(PaymentStatus::VARIANTS)
    }

    fn any_event() -> impl Strategy<Value = PaymentEvent> {
        proptest::sample::select(PaymentEvent::VARIANTS)
    }

    proptest! {
        /// No sequence of events (refused ones leave the status as it was) moves a payment
        /// backwards along captured → settled → reconciled, or out of voided; and only a
        /// captured payment is ever voided.
        #[test]
        fn no_sequence_moves_a_payment_backwards_or_out_of_voided(
            start in any_status(),
            events in proptest::collection::vec(any_event(), 0..24),
        ) {
            let mut status = start;
            for event in events {
                let next = status.after(event).unwrap_or(status);
                if status == PaymentStatus::Voided {
                    prop_assert_eq!(next, PaymentStatus::Voided, "out of voided by {:?}", event);
                }
                if next == PaymentStatus::Voided && status != PaymentStatus::Voided {
                    prop_assert_eq!(status, PaymentStatus::Captured, "voided after settlement");
                }
                if let (Some(a), Some(b)) = (rank(status), rank(next)) {
                    prop_assert!(a <= b, "{} → {} by {:?}", status, next, event);
                }
                if next != status {
                    prop_assert!(status.can_become(next));
                }
                status = next;
            }
        }

        /// Events that reconciliation sends are never refused, and applying one twice is
        /// applying it once (a re-run changes nothing more).
        #[test]
        fn reconciliation_events_are_idempotent(status in any_status(), event in any_event()) {
            if event != PaymentEvent::Void {
                let once = status.after(event);
                prop_assert!(once.is_some());
                prop_assert_eq!(once.and_then(|s| s.after(event)), once);
            }
        }
    }
}
