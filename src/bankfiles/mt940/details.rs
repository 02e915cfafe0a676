//! `:86:` details: German structured subfields (`GVC?00..?20..?32..`) or plain lines, read
//! into a narrative and a counterparty.
//!
//! Depends on: std only.

/// Narrative and counterparty from `:86:` lines (or the `:61:` supplementary details).
pub(super) fn read_details(
    lines: &[String],
    supplementary: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    let joined: String = lines.concat();
    if let Some(fields) = structured(&joined) {
        let mut purpose = String::new();
        let mut account = String::new();
        let mut name = String::new();
        let mut booking_text = String::new();
        for (code, text) in fields {
            match code {
                0 => booking_text.push_str(text),
                20..=29 | 60..=63 => purpose.push_str(text),
                31 => account.push_str(text),
                32 | 33 => name.push_str(text),
                _ => {}
            }
        }
        let some = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let narrative = some(&purpose)
            .or_else(|| some(&booking_text))
            .unwrap_or_else(|| spaced(lines));
        return (narrative, some(&account), some(&name));
    }
    let narrative = if lines.is_empty() {
        supplementary.map(str::trim).unwrap_or("").to_owned()
    } else {
        spaced(lines)
    };
    (narrative, None, None)
}

/// Lines joined with one space, trimmed.
pub(super) fn spaced(lines: &[String]) -> String {
    let parts: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(" ")
}

/// German structured details: `GVC` (3 digits), then `?NN` subfields. Line breaks are not
/// separators there (subfields wrap mid-word), so `text` is the lines concatenated.
pub(super) fn structured(text: &str) -> Option<Vec<(u32, &str)>> {
    let t = text.trim_start();
    let b = t.as_bytes();
    if !(b.get(0..3)?.iter().all(u8::is_ascii_digit) && b.get(3) == Some(&b'?')) {
        return None;
    }
    let is_mark = |i: usize| {
        b.get(i) == Some(&b'?')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && b.get(i + 2).is_some_and(u8::is_ascii_digit)
    };
    let mut out = Vec::new();
    let mut i = 3;
    if !is_mark(i) {
        return None;
    }
    while i < b.len() {
        let code: u32 = t.get(i + 1..i + 3)?.parse().ok()?;
        let start = i + 3;
        let mut j = start;
        while j < b.len() && !is_mark(j) {
            j += 1;
        }
        out.push((code, t.get(start..j)?));
        i = j;
    }
    Some(out)
}
