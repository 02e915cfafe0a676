//! 退库 refund requests as plain values (DESIGN §2, §6): where a request stands, and what the
//! treasury's acknowledgement or rejection of it does. No I/O.
//!
//! A refund of revenue already remitted is paid only after the treasury has returned the money:
//! a request waits (`waiting`) until the batch that carried its revenue to the treasury is
//! acknowledged — money that has not reached the treasury cannot be returned — then it is
//! offered (`offered`, with a pull position), and the treasury acknowledges it (the return and
//! the payer's refund post) or rejects it. Neither fund pre-finances it.

use super::batch::{decide_ack, AckDecision, AckError, AckState};

/// The stored refund statuses a 退库 moves a refund between (`payments::RefundStatus`; the
/// tests below hold the two equal).
pub const REFUND_AWAITING_TREASURY: &str = "awaiting_treasury";
/// See [`REFUND_AWAITING_TREASURY`]: the treasury returned the money, the payer was refunded.
pub const REFUND_REFUNDED: &str = "refunded";
/// See [`REFUND_AWAITING_TREASURY`]: the treasury refused.
pub const REFUND_REJECTED: &str = "rejected";
/// The stored payment status once its settlement entry has posted
/// (`payments::PaymentStatus::settlement_posted`): the payer's refund then leaves the bank.
pub const PAYMENT_SETTLEMENT_POSTED: &str = "reconciled";

crate::text_enum! {
    /// `refund_requests.status`.
    pub enum RequestStatus as "refund request status" {
        /// The revenue has not reached the treasury yet (its batch is not acknowledged).
        Waiting,
        /// Offered to the treasury: it may pull, acknowledge or reject it.
        Offered,
        /// The treasury returned the money; the return and the payer's refund are posted.
        Acknowledged,
        /// The treasury refused; nothing posted.
        Rejected,
    }
}

/// Why the treasury's answer to a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The acknowledgement is refused (amount, reference, status).
    #[error(transparent)]
    Ack(#[from] AckError),
    /// The request was acknowledged: it can no longer be rejected.
    #[error("the refund request was already acknowledged with treasury reference '{0}'")]
    AlreadyAcknowledged(String),
    /// Another request of the same refund was acknowledged: the refund is partly returned, so
    /// the rest cannot be rejected.
    #[error("another part of refund {0} was already returned by the treasury")]
    PartlyReturned(String),
    /// The reason is empty or longer than 500 characters.
    #[error("reason must be 1–500 characters")]
    BadReason,
}

/// The treasury's acknowledgement of a request in `status` (acknowledged with `existing`
/// reference, if so): the amount must be the request's, a request is acknowledged once, and the
/// same acknowledgement again is a no-op — as for a remittance batch ([`decide_ack`]).
pub fn decide_return_ack(
    status: RequestStatus,
    existing: Option<&str>,
    request_amount_minor: i64,
    reference: &str,
    amount_minor: i64,
) -> Result<AckDecision, RequestError> {
    let state = match (status, existing) {
        (RequestStatus::Acknowledged, Some(r)) => AckState::Acknowledged(r.to_string()),
        (RequestStatus::Offered, _) => AckState::Approved,
        (RequestStatus::Rejected, _) => AckState::Rejected,
        // Waiting (never offered), or acknowledged without a reference (an altered row).
        _ => AckState::Prepared,
    };
    Ok(decide_ack(
        &state,
        request_amount_minor,
        reference,
        amount_minor,
    )?)
}

/// What a rejection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectDecision {
    /// Reject the request (and the rest of its refund), the refund becomes `rejected`.
    Reject,
    /// Rejected before: nothing to do.
    AlreadyDone,
}

/// The treasury's rejection of a request in `status`; `sibling_acknowledged` names the refund
/// when another of its requests was acknowledged (then none of it can be rejected any more).
pub fn decide_return_reject(
    status: RequestStatus,
    existing_reference: Option<&str>,
    sibling_acknowledged: Option<&str>,
    reason: &str,
) -> Result<RejectDecision, RequestError> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(RequestError::BadReason);
    }
    match status {
        RequestStatus::Rejected => Ok(RejectDecision::AlreadyDone),
        RequestStatus::Acknowledged => Err(RequestError::AlreadyAcknowledged(
            existing_reference.unwrap_or_default().to_string(),
        )),
        RequestStatus::Waiting => Err(RequestError::Ack(AckError::NotApproved)),
        RequestStatus::Offered => match sibling_acknowledged {
            Some(refund) => Err(RequestError::PartlyReturned(refund.to_string())),
            None => Ok(RejectDecision::Reject),
        },
    }
}

/// The pain.001 message id of a request: `TK` and the request id's random part (≤ 35
/// characters, unique as the id is).
pub fn message_id(request_id: &str) -> String {
    let tail = request_id.rsplit('_').next().unwrap_or(request_id);
    format!("TK{}", tail.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_is_acknowledged_once_for_its_amount() {
        use RequestStatus::*;
        assert_eq!(
            decide_return_ack(Offered, None, 500, "T1", 500),
            Ok(AckDecision::Post)
        );
        assert_eq!(
            decide_return_ack(Acknowledged, Some("T1"), 500, "T1", 500),
            Ok(AckDecision::AlreadyDone)
        );
        assert_eq!(
            decide_return_ack(Acknowledged, Some("T1"), 500, "T2", 500),
            Err(RequestError::Ack(AckError::OtherReference("T1".into())))
        );
        assert!(matches!(
            decide_return_ack(Offered, None, 500, "T1", 499),
            Err(RequestError::Ack(AckError::AmountMismatch { .. }))
        ));
        assert_eq!(
            decide_return_ack(Rejected, None, 500, "T1", 500),
            Err(RequestError::Ack(AckError::Rejected))
        );
        // Money that has not reached the treasury cannot be returned.
        assert_eq!(
            decide_return_ack(Waiting, None, 500, "T1", 500),
            Err(RequestError::Ack(AckError::NotApproved))
        );
        assert_eq!(
            decide_return_ack(Offered, None, 500, "", 500),
            Err(RequestError::Ack(AckError::BadReference))
        );
    }

    #[test]
    fn a_return_is_rejected_only_before_any_of_it_was_returned() {
        use RequestStatus::*;
        assert_eq!(
            decide_return_reject(Offered, None, None, "wrong account"),
            Ok(RejectDecision::Reject)
        );
        assert_eq!(
            decide_return_reject(Rejected, None, None, "again"),
            Ok(RejectDecision::AlreadyDone)
        );
        assert_eq!(
            decide_return_reject(Acknowledged, Some("T1"), None, "late"),
            Err(RequestError::AlreadyAcknowledged("T1".into()))
        );
        assert_eq!(
            decide_return_reject(Offered, None, Some("ref_1"), "half"),
            Err(RequestError::PartlyReturned("ref_1".into()))
        );
        assert_eq!(
            decide_return_reject(Offered, None, None, " "),
            Err(RequestError::BadReason)
        );
        assert!(decide_return_reject(Waiting, None, None, "x").is_err());
    }

    /// The texts written for a 退库 are payments' own.
    #[test]
    fn refund_and_payment_texts_are_the_payments_modules() {
        use crate::payments::{PaymentStatus, RefundStatus};
        assert_eq!(
            RefundStatus::AwaitingTreasury.as_ref(),
            REFUND_AWAITING_TREASURY
        );
        assert_eq!(RefundStatus::Refunded.as_ref(), REFUND_REFUNDED);
        assert_eq!(RefundStatus::Rejected.as_ref(), REFUND_REJECTED);
        assert!(PaymentStatus::Reconciled.settlement_posted());
        assert_eq!(
            PaymentStatus::Reconciled.as_ref(),
            PAYMENT_SETTLEMENT_POSTED
        );
    }

    #[test]
    fn message_ids_fit_and_follow_the_id() {
        let m = message_id("rrq_0a1b2c3d4e5f6071");
        assert_eq!(m, "TK0A1B2C3D4E5F6071");
        assert!(m.len() <= 35);
        assert_eq!(
            RequestStatus::try_from("offered".to_string()),
            Ok(RequestStatus::Offered)
        );
    }
}
