//! Fuzzes the `onecard-settlement-csv` reader (see `common.rs`).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::read(
    &["onecard-settlement-csv"],
    Some("YKT_310000000000021_20261124.csv"),
    data
));
