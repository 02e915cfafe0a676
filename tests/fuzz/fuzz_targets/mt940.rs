//! Fuzzes the `mt940` reader (see `common.rs`).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::read(&["mt940"], None, data));
