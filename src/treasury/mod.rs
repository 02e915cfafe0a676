//! Treasury remittance: how fee revenue reaches the treasury whole (DESIGN §6).
//!
//! - [`remt`]: the ISO 20022 remt.001.001.04 writer (pure), checked against the official XSD.
//!
//! Batches, approval, signed pulls and acknowledgement build on it (issue: treasury
//! remittance).
//!
//! Depends on: nothing inside the crate yet.

pub mod remt;
