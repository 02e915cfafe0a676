//! Fuzzes the `collection-account-statement-csv` reader (see `common.rs`).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::read(
    &["collection-account-statement-csv"],
    Some("33050161234500001234_20261125_20261125.csv"),
    data
));
