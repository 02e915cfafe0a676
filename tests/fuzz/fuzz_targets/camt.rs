//! Fuzzes the ISO 20022 readers: the same input goes to camt.052, camt.053 and camt.054 (see
//! `common.rs`).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::read(
    &["camt.052", "camt.053", "camt.054"],
    None,
    data
));
