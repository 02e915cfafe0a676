//! Text decoding for bank files: GB18030 / GBK / UTF-8 to UTF-8, strictly, with the position of
//! the first byte that is not valid in the file's encoding.
//!
//! Depends on: [`super::records`], [`super::spec`].

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use super::records::ReadError;
use super::spec::{BomRule, Encoding};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest line a delimited file may have: far above any bank's row, low enough that a file
/// without line breaks cannot make the CSV reader hold it whole.
pub const MAX_LINE_BYTES: u64 = 1 << 20;
const GB18030_BOM: &[u8] = b"\x84\x31\x95\x33";

/// Applies the spec's byte-order-mark rule at the start of `input`, consuming a mark that is
/// allowed. Never reads more than the buffer already holds plus one fill.
pub fn take_bom<R: BufRead>(
    input: &mut R,
    encoding: Encoding,
    rule: BomRule,
) -> Result<(), ReadError> {
    let bom = match encoding {
        Encoding::Utf8 => UTF8_BOM,
        Encoding::Gb18030 => GB18030_BOM,
    };
    let head = input.fill_buf()?;
    // A UTF-8 mark in a GB18030 file is as wrong as a missing one; name it plainly.
    let has = head.starts_with(bom);
    let has_utf8_in_gb = encoding == Encoding::Gb18030 && head.starts_with(UTF8_BOM);
    match rule {
        BomRule::Forbidden if has || has_utf8_in_gb => Err(ReadError::corrupt(
            1,
            Some(1),
            "the file starts with a byte-order mark, which this format does not have",
        )),
        BomRule::Required if !has => Err(ReadError::corrupt(
            1,
            Some(1),
            "the file does not start with the byte-order mark this format requires",
        )),
        BomRule::Required | BomRule::Optional if has => {
            input.consume(bom.len());
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Decodes one field's bytes; `Err(offset)` is the 0-based offset of the first byte that is not
/// valid in the encoding. ASCII (most fields) is borrowed as it is.
pub fn decode_field(bytes: &[u8], encoding: Encoding) -> Result<Cow<'_, str>, usize> {
    if bytes.is_ascii() {
        return std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|e| e.valid_up_to());
    }
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|e| e.valid_up_to()),
        Encoding::Gb18030 => {
            let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
            let mut out = String::with_capacity(bytes.len() * 3 / 2 + 4);
            let (result, read) =
                decoder.decode_to_string_without_replacement(bytes, &mut out, true);
            match result {
                encoding_rs::DecoderResult::InputEmpty => Ok(Cow::Owned(out)),
                encoding_rs::DecoderResult::Malformed(bad, after) => {
                    Err(read.saturating_sub(usize::from(bad) + usize::from(after)))
                }
                encoding_rs::DecoderResult::OutputFull => {
                    // Capacity above is always enough (GB18030 → UTF-8 at most 3/2 + 4); if
                    // not, call the field undecodable rather than guess.
                    Err(read)
                }
            }
        }
    }
}

/// A `Read` that turns a file in `encoding` into UTF-8 for the CSV reader, stopping at the
/// first undecodable byte and remembering its line and byte.
pub struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    out: Vec<u8>,
    out_pos: usize,
    done: bool,
    line: u64,
    column: u64,
    /// The decoded output ended in `\r`, held back until the next byte shows whether it ends
    /// a CR LF.
    held_cr: bool,
    /// The position and reason of the first undecodable byte, once met.
    pub failure: Option<ReadError>,
}

impl<R: BufRead> DecodingReader<R> {
    /// Wraps `inner` (after its byte-order mark, if any, has been taken).
    pub fn new(inner: R, encoding: Encoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.encoding().new_decoder_without_bom_handling(),
            out: Vec::with_capacity(64 * 1024),
            out_pos: 0,
            done: false,
            line: 1,
            column: 0,
            held_cr: false,
            failure: None,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() && !self.done {
            let chunk = self.inner.fill_buf()?;
            let last = chunk.is_empty();
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(chunk.len())
                .unwrap_or(chunk.len() * 3 + 16);
            self.out.resize(room, 0);
            let (result, read, written) =
                self.decoder
                    .decode_to_utf8_without_replacement(chunk, &mut self.out, last);
            self.out.truncate(written);
            match result {
                encoding_rs::DecoderResult::Malformed(bad, after) => {
                    let bad_at = read.saturating_sub(usize::from(bad) + usize::from(after));
                    advance(
                        &mut self.line,
                        &mut self.column,
                        chunk.get(..bad_at).unwrap_or_default(),
                    );
                    self.failure = Some(ReadError::corrupt(
                        self.line,
                        Some(self.column + 1),
                        "bytes that are not valid in the file's encoding",
                    ));
                    self.out.clear();
                    self.done = true;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "undecodable bytes",
                    ));
                }
                _ if self.column > MAX_LINE_BYTES => {
                    self.failure = Some(ReadError::corrupt(
                        self.line,
                        Some(MAX_LINE_BYTES + 1),
                        format!("a line longer than {MAX_LINE_BYTES} bytes"),
                    ));
                    self.out.clear();
                    self.done = true;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                }
                encoding_rs::DecoderResult::InputEmpty | encoding_rs::DecoderResult::OutputFull => {
                    advance(
                        &mut self.line,
                        &mut self.column,
                        chunk.get(..read).unwrap_or_default(),
                    );
                    self.inner.consume(read);
                    if last {
                        self.done = true;
                    }
                }
            }
        }
        self.fold_crlf();
        Ok(())
    }

    /// Turns CR LF into LF in the decoded text. The CSV reader counts lines by LF alone (its
    /// CR LF counting lags a line behind), and error messages must name the right line.
    fn fold_crlf(&mut self) {
        let mut folded = Vec::with_capacity(self.out.len() + 1);
        if self.held_cr {
            self.held_cr = false;
            if self.out.first() != Some(&b'\n') {
                folded.push(b'\r');
            }
        }
        let mut bytes = self.out.iter().peekable();
        while let Some(&b) = bytes.next() {
            if b == b'\r' {
                match bytes.peek() {
                    Some(b'\n') => continue,
                    None if !self.done => {
                        self.held_cr = true;
                        continue;
                    }
                    _ => {}
                }
            }
            folded.push(b);
        }
        self.out = folded;
    }
}

/// Moves a (line, column) position over `bytes`. Counting raw `\n` bytes is right for both
/// encodings: 0x0A is never part of a multi-byte sequence in UTF-8 or GB18030.
fn advance(line: &mut u64, column: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            *line += 1;
            *column = 0;
        } else {
            *column += 1;
        }
    }
}

impl<R: BufRead> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let available = self.out.get(self.out_pos..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_fields_decode_and_bad_bytes_are_located() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("窗口03营业执照");
        assert_eq!(
            decode_field(&bytes, Encoding::Gb18030).as_deref(),
            Ok("窗口03营业执照")
        );
        assert_eq!(
            decode_field(b"ABC", Encoding::Gb18030).as_deref(),
            Ok("ABC")
        );
        // 0xFF is never valid in GB18030; a lead byte cut off at the end is not either.
        assert_eq!(decode_field(b"AB\xFFC", Encoding::Gb18030), Err(2));
        let mut cut = bytes[..3].to_vec();
        cut.truncate(3);
        assert_eq!(decode_field(&cut, Encoding::Gb18030), Err(2));
        assert_eq!(decode_field(b"a\xC3", Encoding::Utf8), Err(1));
    }

    #[test]
    fn decoding_reader_names_line_and_byte() {
        let data = b"a,b\r\nc,\xFF\r\n".to_vec();
        let mut r = DecodingReader::new(&data[..], Encoding::Gb18030);
        let mut s = String::new();
        assert!(r.read_to_string(&mut s).is_err());
        match r.failure {
            Some(ReadError::Corrupt { line, byte, .. }) => assert_eq!((line, byte), (2, Some(3))),
            other => panic!("{other:?}"),
        }
        let (gbk, _, _) = encoding_rs::GB18030.encode("账号,1\r\n户名,某市\r\n");
        let mut r = DecodingReader::new(&gbk[..], Encoding::Gb18030);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "账号,1\n户名,某市\n");
        // CR LF split across reads, a lone CR kept, a CR at the very end kept.
        let mut r = DecodingReader::new(
            std::io::BufReader::with_capacity(1, &b"a\r\nb\rc\r"[..]),
            Encoding::Utf8,
        );
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a\nb\rc\r");
    }

    #[test]
    fn bom_rules() {
        let mut with = &b"\xEF\xBB\xBFx"[..];
        take_bom(&mut with, Encoding::Utf8, BomRule::Required).unwrap();
        assert_eq!(with, b"x");
        let mut without = &b"x"[..];
        assert!(take_bom(&mut without, Encoding::Utf8, BomRule::Required).is_err());
        let mut with = &b"\xEF\xBB\xBFH"[..];
        assert!(take_bom(&mut with, Encoding::Gb18030, BomRule::Forbidden).is_err());
        let mut plain = &b"H"[..];
        take_bom(&mut plain, Encoding::Gb18030, BomRule::Forbidden).unwrap();
        assert_eq!(plain, b"H");
    }
}
