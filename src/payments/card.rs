//! Card data rules (DESIGN §3): only masked card numbers are accepted; anything that looks like
//! a full card number (13–19 digits passing the Luhn check) is refused wherever it appears in a
//! request, and is never logged or stored. Payer identity numbers are kept only as a keyed hash
//! and a masked form. Pure functions; no I/O.

use serde_json::Value;

/// Fields whose own format is checked strictly and whose digits are identifiers, not card
/// numbers (a 15-digit merchant id passes the Luhn check one time in ten by chance; an 18-digit
/// identity number likewise). A card number put into one of them still fails that field's
/// format check unless it has exactly that field's shape.
pub const IDENTIFIER_FIELDS: [&str; 8] = [
    "merchant_id",
    "terminal_id",
    "batch_no",
    "trace_no",
    "rrn",
    "auth_code",
    "serial",
    "id_number",
];

/// The Luhn (mod 10) check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let dbl = v * 2;
                if dbl > 9 {
                    dbl - 9
                } else {
                    dbl
                }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Does `text` contain a full card number: a run of 13–19 digits (single spaces or dashes
/// between digit groups allowed, as people type them) that passes the Luhn check?
pub fn contains_card_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Collect one run of digits, allowing a lone ' ' or '-' between two digits.
        let mut run = Vec::with_capacity(19);
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                run.push(b);
                j += 1;
            } else if (b == b' ' || b == b'-')
                && j + 1 < bytes.len()
                && bytes[j + 1].is_ascii_digit()
                && j > i
            {
                j += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&run.len()) && luhn_valid(&run) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// The JSON path of the first value in `body` that holds a full card number, skipping the
/// [`IDENTIFIER_FIELDS`]. Returns the path only — the value must go nowhere, not even a log.
pub fn find_card_number(body: &Value) -> Option<String> {
    fn walk(v: &Value, path: &mut String) -> Option<String> {
        match v {
            Value::String(s) => contains_card_number(s).then(|| path.clone()),
            Value::Number(n) => contains_card_number(&n.to_string()).then(|| path.clone()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                if IDENTIFIER_FIELDS.contains(&k.as_str())
                    && !matches!(item, Value::Object(_) | Value::Array(_))
                {
                    return None;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Null | Value::Bool(_) => None,
        }
    }
    // Keys can carry data too ({"6228480012345678": 1}).
    fn keys_hold_card(v: &Value) -> bool {
        match v {
            Value::Object(map) => map
                .iter()
                .any(|(k, item)| contains_card_number(k) || keys_hold_card(item)),
            Value::Array(items) => items.iter().any(keys_hold_card),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(body, &mut path).or_else(|| keys_hold_card(body).then(|| "(a field name)".to_string()))
}

/// Is `masked` a masked card number: the first 6 and last 4 digits with the middle starred,
/// 13–19 characters in all (`622848******0123`)?
pub fn is_masked_pan(masked: &str) -> bool {
    let b = masked.as_bytes();
    (13..=19).contains(&b.len())
        && b[..6].iter().all(u8::is_ascii_digit)
        && b[b.len() - 4..].iter().all(u8::is_ascii_digit)
        && b[6..b.len() - 4].iter().all(|c| *c == b'*')
}

/// Is `masked` a masked one-card number: 8–20 characters, digits at both ends (at most 4 at
/// each), stars between, at least 4 stars?
pub fn is_masked_one_card(masked: &str) -> bool {
    let b = masked.as_bytes();
    if !(8..=20).contains(&b.len()) {
        return false;
    }
    let lead = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let trail = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let stars = b.len().saturating_sub(lead + trail);
    (1..=4).contains(&lead)
        && (1..=4).contains(&trail)
        && stars >= 4
        && b[lead..b.len() - trail].iter().all(|c| *c == b'*')
}

/// Is `id` a mainland resident identity number (18 characters: 17 digits and a check
/// character, digit or `X`, with the GB 11643 check)?
pub fn is_resident_id(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == expected
}

/// The masked form kept and shown: first 3 and last 4 characters (`440***********1234`).
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Appends the Luhn check digit to a digit string.
    fn with_check_digit(body: &str) -> String {
        (0..10u8)
            .map(|d| format!("{body}{d}"))
            .find(|c| luhn_valid(c.as_bytes()))
            .unwrap_or_default()
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"6222021234567890128"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"12a4"));
    }

    #[test]
    fn full_card_numbers_are_found_however_typed() {
        let pan = "4111111111111111";
        for text in [
            pan,
            "card 4111 1111 1111 1111 paid",
            "4111-1111-1111-1111",
            "x4111111111111111y",
        ] {
            assert!(contains_card_number(text), "{text}");
        }
        // too short; fails Luhn; masked; a double space breaks the run; a date-time typed with
        // separators; twenty digits (a one-card serial) is no card number
        for text in [
            "411111111111",
            "4111111111111112",
            "622848******0123",
            "4111  1111 1111 1111",
            "2026-11-24T09:30:15+08:00",
            "41111111111111111111",
        ] {
            assert!(!contains_card_number(text), "{text}");
        }
        // 14 digits that happen to pass Luhn are refused: the rule cannot tell them apart.
        assert!(contains_card_number("20261124093018"));
    }

    #[test]
    fn the_path_is_reported_and_identifier_fields_are_skipped() {
        let body = json!({
            "card": {"merchant_id": "898440379930001", "masked_pan": "622848******0123", "rrn": "000451234567"},
            "payer": {"name": "张三", "id_number": "11010519491231002X"},
            "lines": [{"fee_code": "ZR-BDC-01", "note": "paid with 4111111111111111"}]
        });
        assert_eq!(find_card_number(&body).as_deref(), Some("lines[0].note"));
        let clean = json!({"card": {"merchant_id": "898440379930001"}, "payer": {"id_number": "11010519491231002X"}});
        assert_eq!(find_card_number(&clean), None);
        assert_eq!(
            find_card_number(&json!({"x": 4111111111111111u64})).as_deref(),
            Some("x")
        );
        assert_eq!(
            find_card_number(&json!({"4111111111111111": true})).as_deref(),
            Some("(a field name)")
        );
        assert_eq!(
            find_card_number(&json!({"card": {"masked_pan": "4111111111111111"}})).as_deref(),
            Some("card.masked_pan")
        );
    }

    #[test]
    fn masked_forms() {
        assert!(is_masked_pan("622848******0123"));
        assert!(is_masked_pan("411111***1111"));
        assert!(!is_masked_pan("4111111111111111"));
        assert!(!is_masked_pan("622848*****x0123"));
        assert!(!is_masked_pan("6228****0123"));
        assert!(is_masked_one_card("3100********5678"));
        assert!(!is_masked_one_card("31005678"));
        assert!(!is_masked_one_card("3100567812345678"));
    }

    #[test]
    fn resident_ids_and_their_mask() {
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("11010519491231002x"));
        assert!(!is_resident_id("110105194912310021"));
        assert!(!is_resident_id("1101051949123100"));
        assert_eq!(mask_id("11010519491231002X"), "110***********002X");
        assert_eq!(mask_id("abc"), "***");
    }

    proptest! {
        /// Any Luhn-valid 13–19 digit number is found, with or without group separators.
        #[test]
        fn every_valid_card_number_is_found(body in "[1-9][0-9]{11,17}", sep in prop::sample::select(vec!["", " ", "-"])) {
            let pan = with_check_digit(&body);
            prop_assert!(contains_card_number(&pan));
            let grouped: Vec<String> = pan.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            let typed = grouped.join(sep);
            let note = format!("note: {typed}.");
            prop_assert!(contains_card_number(&note));
            let body = json!({"lines": [{"memo": typed}]});
            prop_assert!(find_card_number(&body).is_some());
        }

        /// Masking a card number hides it from the detector.
        #[test]
        fn masked_numbers_are_not_card_numbers(body in "[1-9][0-9]{11,17}") {
            let pan = with_check_digit(&body);
            let masked = format!("{}{}{}", &pan[..6], "*".repeat(pan.len() - 10), &pan[pan.len() - 4..]);
            prop_assert!(is_masked_pan(&masked));
            prop_assert!(!contains_card_number(&masked));
        }
    }
}
