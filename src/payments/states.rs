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
    /// voided). The schema and the list filter know all four; the only move this service
    /// makes today is the same-day void, captured → voided.
    #[derive(Hash, VariantArray)]
    pub enum PaymentStatus as "payment status" {
        /// Taken at the counter (`captured`).
        Captured,
        /// In an acquirer's settlement file (`settled`).
        Settled,
        /// Matched by reconciliation (`reconciled`).
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

    /// A refund's status (`refunds.status`): requested by one person, approved (and posted)
    /// by another.
    #[derive(Hash, VariantArray)]
    pub enum RefundStatus as "refund status" {
        /// Waiting for a supervisor (`requested`).
        Requested,
        /// Approved and posted (`approved`).
        Approved,
    }
}

impl PaymentStatus {
    /// Whether a payment in this status may be moved to `next`: only captured → voided.
    pub fn can_become(self, next: Self) -> bool {
        matches!((self, next), (Self::Captured, Self::Voided))
    }

    /// Whether a refund may be requested or approved: every status but voided.
    pub fn refundable(self) -> bool {
        self != Self::Voided
    }

    /// Whether the money has left "in transit" for the collection bank, so a refund is paid
    /// from the bank: every status past captured.
    pub fn past_capture(self) -> bool {
        self != Self::Captured
    }
}

impl ReceiptStatus {
    /// Whether a receipt in this status may be moved to `next`: only issued → red-reversed.
    pub fn can_become(self, next: Self) -> bool {
        matches!((self, next), (Self::Issued, Self::RedReversed))
    }
}

impl RefundStatus {
    /// Whether a refund in this status may be moved to `next`: only requested → approved.
    pub fn can_become(self, next: Self) -> bool {
        matches!((self, next), (Self::Requested, Self::Approved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::UnknownText;
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
        only_moves(PaymentStatus::can_become, &[(Captured, Voided)]);
        only_moves(
            ReceiptStatus::can_become,
            &[(ReceiptStatus::Issued, ReceiptStatus::RedReversed)],
        );
        only_moves(
            RefundStatus::can_become,
            &[(RefundStatus::Requested, RefundStatus::Approved)],
        );
        let refundable: Vec<_> = PaymentStatus::VARIANTS
            .iter()
            .filter(|s| s.refundable())
            .collect();
        assert_eq!(refundable, [&Captured, &Settled, &Reconciled]);
        let past: Vec<_> = PaymentStatus::VARIANTS
            .iter()
            .filter(|s| s.past_capture())
            .collect();
        assert_eq!(past, [&Settled, &Reconciled, &Voided]);
    }
}
