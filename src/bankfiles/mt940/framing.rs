//! Framing and sanitising, kept apart from the strict field parser: the file cut into lines
//! (LF or CRLF, at most [`MAX_LINE_BYTES`], valid UTF-8, 0x1A end-of-file mark, blank lines
//! skipped), SOH (0x01) … ETX (0x03) message frames, SWIFT blocks `{1:..}{4:` / `-}` (the
//! next message's blocks may follow `-}` on the same line), message terminators and bank
//! preamble lines, and which line is a field, a continuation, or text between statements.
//!
//! Depends on: [`crate::bankfiles::records`].

use std::io::{BufRead, Read};

use super::{col, Parser, Stage, MAX_LINE_BYTES};
use crate::bankfiles::records::{ReadError, Sink};

/// Hands each non-blank line of `input` (its 1-based number and its text without the line
/// end) to `each`. After a 0x1A end-of-file mark only blank lines may follow.
pub(super) fn each_line<R: BufRead>(
    mut input: R,
    mut each: impl FnMut(u64, &str) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
    let mut eof_mark: Option<u64> = None;
    loop {
        buf.clear();
        let limit = (MAX_LINE_BYTES as u64).saturating_add(2);
        let n = (&mut input).take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        line_no = line_no.saturating_add(1);
        let (text, sub_here) = frame(&buf, line_no)?;
        if text.trim().is_empty() {
            if sub_here && eof_mark.is_none() {
                eof_mark = Some(line_no);
            }
            continue;
        }
        if let Some(mark_line) = eof_mark {
            return Err(ReadError::corrupt(
                line_no,
                None,
                format!("data after the end-of-file mark 0x1A on line {mark_line}"),
            ));
        }
        each(line_no, text)?;
        if sub_here {
            eof_mark = Some(line_no);
        }
    }
}

/// One line as read: without its line end and trailing 0x1A marks (and whether there was
/// one), no longer than [`MAX_LINE_BYTES`], valid UTF-8.
fn frame(buf: &[u8], line_no: u64) -> Result<(&str, bool), ReadError> {
    let mut bytes: &[u8] = buf;
    if let Some(rest) = bytes.strip_suffix(b"\n") {
        bytes = rest;
    }
    if let Some(rest) = bytes.strip_suffix(b"\r") {
        bytes = rest;
    }
    if bytes.len() > MAX_LINE_BYTES {
        return Err(ReadError::corrupt(
            line_no,
            None,
            format!("line is longer than {MAX_LINE_BYTES} bytes"),
        ));
    }
    let mut sub_here = false;
    while let Some(rest) = bytes.strip_suffix(b"\x1a") {
        bytes = rest;
        sub_here = true;
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok((t, sub_here)),
        Err(e) => Err(ReadError::corrupt(
            line_no,
            Some(col(e.valid_up_to())),
            "not valid UTF-8",
        )),
    }
}

/// A field tag at the start of a line: `(tag, value, value column)`.
pub(super) fn split_tag(text: &str, col0: u64) -> Option<(&str, &str, u64)> {
    let b = text.as_bytes();
    if b.first() != Some(&b':') {
        return None;
    }
    let d1 = b.get(1).copied()?;
    let d2 = b.get(2).copied()?;
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    let end = match b.get(3).copied()? {
        b':' => 3,
        c if c.is_ascii_uppercase() && b.get(4) == Some(&b':') => 4,
        _ => return None,
    };
    let tag = text.get(1..end)?;
    let value = text.get(end + 1..)?;
    Some((
        tag,
        value,
        col0.saturating_add(col(end + 1)).saturating_sub(1),
    ))
}

/// Skips balanced `{..}` blocks. Returns the text after `{4:` (`Some((rest, offset))`), or
/// `None` in the first position when the line held only complete blocks.
pub(super) fn skip_blocks(text: &str) -> Result<Option<(&str, usize)>, usize> {
    let b = text.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        if b.get(i..i + 3) == Some(b"{4:") {
            return Ok(Some((text.get(i + 3..).unwrap_or(""), i + 3)));
        }
        if b.get(i) != Some(&b'{') {
            return Err(i);
        }
        let mut depth = 0usize;
        let start = i;
        loop {
            match b.get(i) {
                Some(b'{') => depth += 1,
                Some(b'}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                Some(_) => {}
                None => return Err(start),
            }
            i += 1;
        }
    }
    Ok(None)
}

/// A message terminator at the start of `text`: `-`, `-XXX` (ING), or `-}` followed by
/// nothing or by blocks (`{5:..}` trailer, the next message's `{1:..}..{4:`). Returns whether
/// it closes a SWIFT block 4, what follows `-}`, and that rest's 0-based offset.
pub(super) fn split_terminator(text: &str) -> Option<(bool, &str, usize)> {
    let t = text.trim_end();
    if t == "-" || t == "-XXX" {
        return Some((false, "", t.len()));
    }
    let rest = t.strip_prefix("-}")?;
    if rest.is_empty() || rest.starts_with('{') {
        Some((true, rest, 2))
    } else {
        None
    }
}

/// Bank preamble lines before a message: `ABNANL2A`, `940`, `0000 01INGBNL2AXXXX00001`.
pub(super) fn is_preamble(text: &str) -> bool {
    let t = text.trim_end();
    t.len() <= 64 && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b' ')
}

/// SOH, which some banks put before each message.
const SOH: u8 = 0x01;
/// ETX, which some banks put after each message.
const ETX: u8 = 0x03;

impl Parser {
    /// One line as read: SOH (0x01) and ETX (0x03) message marks split off and checked, the
    /// text around them handed to [`Parser::line`] with its column.
    pub(super) fn framed_line(
        &mut self,
        line: u64,
        text: &str,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let b = text.as_bytes();
        let mut start = 0usize;
        for (i, &c) in b.iter().enumerate() {
            if c != SOH && c != ETX {
                continue;
            }
            let before = text.get(start..i).unwrap_or("");
            if !before.trim().is_empty() {
                self.line(line, before, col(start), sink)?;
            }
            if c == SOH {
                let at_start = b.get(..i).is_some_and(|p| {
                    p.last() == Some(&ETX) || p.iter().all(u8::is_ascii_whitespace)
                });
                self.soh(line, col(i), at_start, sink)?;
            } else {
                let rest = b.get(i + 1..).unwrap_or(&[]);
                let at_end = rest.first() == Some(&SOH) || rest.iter().all(u8::is_ascii_whitespace);
                self.etx(line, col(i), at_end, sink)?;
            }
            start = i + 1;
        }
        let rest = text.get(start..).unwrap_or("");
        if rest.trim().is_empty() {
            return Ok(());
        }
        self.line(line, rest, col(start), sink)
    }

    /// SOH at column `at`: starts a framed message, between messages only.
    fn soh(
        &mut self,
        line: u64,
        at: u64,
        at_start: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if !at_start {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                "SOH (0x01) inside a line (it starts a message, at the start of a line or \
                 right after an ETX)",
            ));
        }
        if let Some((open, _)) = self.open_soh {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                format!("SOH (0x01) before the ETX (0x03) of the message started on line {open}"),
            ));
        }
        self.end_message(line, "SOH (0x01) starts a new message", sink)?;
        if let Some(open) = self.open_block4 {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                format!("SOH (0x01) inside the SWIFT block {{4: opened on line {open} (no -}})"),
            ));
        }
        self.open_soh = Some((line, self.doc.statements));
        self.header_line = Some(line);
        Ok(())
    }

    /// ETX at column `at`: ends the framed message, which must be complete and hold a
    /// statement.
    fn etx(
        &mut self,
        line: u64,
        at: u64,
        at_end: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if !at_end {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                "ETX (0x03) inside a line (it ends a message, at the end of a line or right \
                 before an SOH)",
            ));
        }
        let Some((open, statements_before)) = self.open_soh else {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                "ETX (0x03) without the SOH (0x01) that starts a message",
            ));
        };
        self.end_message(line, "ETX (0x03) ends the message", sink)?;
        if let Some(block) = self.open_block4 {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                format!("ETX (0x03) inside the SWIFT block {{4: opened on line {block} (no -}})"),
            ));
        }
        if self.doc.statements == statements_before {
            return Err(ReadError::corrupt(
                line,
                Some(at),
                format!("the message framed by SOH on line {open} and this ETX holds no statement"),
            ));
        }
        self.open_soh = None;
        self.header_line = None;
        Ok(())
    }

    /// A message ends (terminator, SOH or ETX, said by `what`): the statement being read must
    /// have its closing balance; it is emitted.
    fn end_message(&mut self, line: u64, what: &str, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        if let Some(stmt) = &self.stmt {
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    line,
                    None,
                    format!(
                        "{what} before the closing balance (:62F:/:62M:) of the statement that \
                         starts on line {}",
                        stmt.line
                    ),
                ));
            }
        }
        self.end_statement(sink)
    }

    pub(super) fn line(
        &mut self,
        line: u64,
        text: &str,
        col0: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if let Some((closes_block4, rest, offset)) = split_terminator(text) {
            self.end_message(line, "message ends", sink)?;
            if closes_block4 {
                self.open_block4 = None;
            }
            if rest.is_empty() {
                return Ok(());
            }
            let c = col0.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX));
            return self.outside(line, rest, c, sink);
        }
        if let Some((tag, value, vcol)) = split_tag(text, col0) {
            return self.field(line, tag, value, vcol, sink);
        }
        if let Some(stmt) = &mut self.stmt {
            if let Some(details) = &mut stmt.info {
                return details.push(line, text);
            }
            if let Some(entry) = &mut stmt.pending {
                if let Some(details) = &mut entry.details {
                    return details.push(line, text);
                }
                if entry.supplementary.is_none() {
                    entry.supplementary = Some(text.to_owned());
                    return Ok(());
                }
                return Err(ReadError::corrupt(
                    line,
                    Some(col0),
                    format!(
                        "the :61: on line {} has more than one line of supplementary details",
                        entry.line
                    ),
                ));
            }
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    line,
                    Some(col0),
                    "text where no field continues (expected a :tag:)",
                ));
            }
            self.end_statement(sink)?;
        }
        self.outside(line, text, col0, sink)
    }

    /// A non-field line between statements.
    pub(super) fn outside(
        &mut self,
        line: u64,
        text: &str,
        col0: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        if text.starts_with('{') {
            return match skip_blocks(text) {
                Ok(Some((rest, offset))) => {
                    self.open_block4 = Some(line);
                    self.header_line = Some(line);
                    if rest.trim().is_empty() {
                        Ok(())
                    } else {
                        let c = col0.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX));
                        self.line(line, rest, c, sink)
                    }
                }
                Ok(None) => Ok(()),
                Err(at) => Err(ReadError::corrupt(
                    line,
                    Some(col0.saturating_add(u64::try_from(at).unwrap_or(u64::MAX))),
                    "malformed SWIFT block header",
                )),
            };
        }
        if text.trim_end() == ":940:" || is_preamble(text) {
            self.header_line = Some(line);
            return Ok(());
        }
        Err(ReadError::corrupt(
            line,
            Some(col0),
            "text outside a statement (expected :20: or a header line)",
        ))
    }
}
