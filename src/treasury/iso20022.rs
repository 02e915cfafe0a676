//! What the ISO 20022 writers share ([`remt`](super::remt), [`pain001`](super::pain001)):
//! the schema's text limits, and the small element writers (text, amount, party, account,
//! proprietary type) over quick-xml. Pure: values in, XML events out.
//!
//! Depends on: `money` (amount formatting).

use std::io;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use quick_xml::events::BytesText;
use quick_xml::Writer;

use crate::money;

/// `Max34Text` (account identifiers).
pub const MAX34: usize = 34;
/// `Max35Text` (identifiers, references).
pub const MAX35: usize = 35;
/// `Max140Text` (names, free text).
pub const MAX140: usize = 140;

/// Why a text is not a valid `MaxNText` value for the writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Empty (every `MaxNText` has `minLength` 1).
    Empty,
    /// Longer than the schema allows, in characters (what XSD `maxLength` counts).
    TooLong {
        /// Actual length in characters.
        len: usize,
        /// The schema's maximum.
        max: usize,
    },
    /// A control character (or one XML cannot carry), by code point.
    Control(u32),
}

/// A character the writers refuse in identifiers and names: controls (C0, DEL, C1) and the
/// non-characters XML 1.0 forbids.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Checks `value` is 1..=`max` characters with no [forbidden](is_forbidden) character.
pub fn check_text(value: &str, max: usize) -> Result<(), TextProblem> {
    if value.is_empty() {
        return Err(TextProblem::Empty);
    }
    if let Some(c) = value.chars().find(|c| is_forbidden(*c)) {
        return Err(TextProblem::Control(u32::from(c)));
    }
    let len = value.chars().count();
    if len > max {
        return Err(TextProblem::TooLong { len, max });
    }
    Ok(())
}

/// Free text made fit for a `MaxNText` element: every run of whitespace or forbidden
/// characters becomes one space, the ends are trimmed, and what is left is cut to `max`
/// characters (never inside a character; a space left at the cut is trimmed too).
pub fn fit_free_text(value: &str, max: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in value.chars() {
        if c.is_whitespace() || is_forbidden(c) {
            pending_space = count > 0;
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max {
            break;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        count += needed;
    }
    out
}

/// `ISODateTime` to whole seconds with the offset: `2026-11-25T09:30:00+08:00`.
pub fn iso_datetime(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `<name>value</name>`, escaped.
pub fn text<W: io::Write>(w: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// `<name Ccy="ccy">1234.56</name>` from minor units, two decimals, no floats.
pub fn amount<W: io::Write>(
    w: &mut Writer<W>,
    name: &str,
    ccy: &str,
    minor: i64,
) -> io::Result<()> {
    w.create_element(name)
        .with_attribute(("Ccy", ccy))
        .write_text_content(BytesText::new(&money::format_minor(minor)))?;
    Ok(())
}

/// A party known by name: `<tag><Nm>name</Nm></tag>`.
pub fn party<W: io::Write>(w: &mut Writer<W>, tag: &str, name: &str) -> io::Result<()> {
    w.create_element(tag)
        .write_inner_content(|w| text(w, "Nm", name))?;
    Ok(())
}

/// An account by its number (not an IBAN): `<tag><Id><Othr><Id>id</Id></Othr></Id><Ccy>…`.
pub fn account<W: io::Write>(w: &mut Writer<W>, tag: &str, id: &str, ccy: &str) -> io::Result<()> {
    w.create_element(tag).write_inner_content(|w| {
        w.create_element("Id").write_inner_content(|w| {
            w.create_element("Othr")
                .write_inner_content(|w| text(w, "Id", id))?;
            Ok(())
        })?;
        text(w, "Ccy", ccy)
    })?;
    Ok(())
}

/// A proprietary type: `<Tp><CdOrPrtry><Prtry>code</Prtry></CdOrPrtry></Tp>`.
pub fn proprietary_type<W: io::Write>(w: &mut Writer<W>, code: &str) -> io::Result<()> {
    w.create_element("Tp").write_inner_content(|w| {
        w.create_element("CdOrPrtry")
            .write_inner_content(|w| text(w, "Prtry", code))?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! The writers' tests: validation against the official XSDs with xmllint.

    use std::path::PathBuf;
    use std::process::Command;

    /// The official schema `name` (e.g. `pain.001.001.10.xsd`) under the real samples.
    pub fn xsd_path(name: &str) -> PathBuf {
        crate::bankfiles::real_samples_dir().join("xsd").join(name)
    }

    /// Runs `xmllint --schema` on `xml`; `Err` carries xmllint's complaint. Panics when the
    /// schema or xmllint itself is missing: a validity test that cannot run must not pass.
    pub fn xmllint(xml: &[u8], xsd: &str, name: &str) -> Result<(), String> {
        let xsd = xsd_path(xsd);
        assert!(xsd.is_file(), "schema not found at {}", xsd.display());
        let file = std::env::temp_dir().join(format!("iso-{}-{name}.xml", std::process::id()));
        std::fs::write(&file, xml).expect("write temp file");
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&file)
            .output();
        let _ = std::fs::remove_file(&file);
        let out = match out {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "xmllint not found on PATH: install libxml2-utils (apt-get install libxml2-utils)"
            ),
            Err(e) => panic!("running xmllint: {e}"),
        };
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Like [`xmllint`] but panics with xmllint's complaint.
    pub fn assert_valid(xml: &[u8], xsd: &str, name: &str) {
        if let Err(e) = xmllint(xml, xsd, name) {
            panic!("xmllint rejected the document:\n{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_count_characters() {
        assert_eq!(check_text("", 35), Err(TextProblem::Empty));
        assert_eq!(check_text(&"费".repeat(35), 35), Ok(()));
        assert_eq!(
            check_text(&"费".repeat(36), 35),
            Err(TextProblem::TooLong { len: 36, max: 35 })
        );
        assert_eq!(check_text("a\u{7}", 35), Err(TextProblem::Control(7)));
        assert_eq!(
            check_text("\u{FFFE}", 35),
            Err(TextProblem::Control(0xFFFE))
        );
    }

    #[test]
    fn free_text_is_folded_and_cut_on_characters() {
        assert_eq!(fit_free_text("  a \n\t b\u{0}c  ", 140), "a b c");
        assert_eq!(fit_free_text("退库原因：重复缴费", 4), "退库原因");
        assert_eq!(fit_free_text("ab cd", 3), "ab");
        assert_eq!(fit_free_text("ab cd", 4), "ab c");
        assert_eq!(fit_free_text(" \n\u{85} ", 140), "");
        let long = "费".repeat(500);
        let cut = fit_free_text(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(long.starts_with(&cut));
    }
}
