//! Fuzzes the `pos-settlement-fixed-width` reader (see `common.rs`).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::read(
    &["pos-settlement-fixed-width"],
    Some("POS_898440379930001_20261124.txt"),
    data
));
