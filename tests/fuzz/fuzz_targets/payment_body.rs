//! Fuzzes the payment request parser (`POST /v1/payments` bodies): any bytes are read or
//! refused without a panic, a full card number anywhere is refused, and an accepted body hashes
//! the same however its JSON is spaced (the idempotency check depends on it).
#![no_main]

use onecard::payments::intake::{parse_value, read_json};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok((value, hash)) = read_json(data) else {
        return;
    };
    assert!(onecard::payments::card::find_card_number(&value).is_none());
    let spaced = serde_json::to_vec_pretty(&value).expect("a value serialises");
    let (_, again) = read_json(&spaced).expect("its own serialisation reads back");
    assert_eq!(hash, again, "the request hash ignores formatting");
    let _ = parse_value(value);
});
