//! Line counting under the XML parser: a `BufRead` wrapper that counts line breaks (LF, CRLF,
//! lone CR) in the bytes quick-xml consumes and caps a single XML item at [`MAX_EVENT_BYTES`].
//!
//! Depends on: std only.

use std::io::{self, BufRead, Read};

use super::MAX_EVENT_BYTES;

/// A `BufRead` wrapper that counts line breaks in the bytes the XML reader consumes and
/// refuses to feed a single XML item beyond [`MAX_EVENT_BYTES`].
pub(super) struct LineCounter<R> {
    inner: R,
    pub(super) line: u64,
    prev_cr: bool,
    pub(super) event_bytes: u64,
    pub(super) limit_hit: bool,
}

impl<R: BufRead> LineCounter<R> {
    pub(super) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            line: 1,
            prev_cr: false,
            event_bytes: 0,
            limit_hit: false,
        }
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            for (o, a) in out.iter_mut().zip(avail.iter()) {
                *o = *a;
            }
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.event_bytes > MAX_EVENT_BYTES {
            self.limit_hit = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "XML item too long",
            ));
        }
        // Never hand out more than the rest of the allowance, so one huge item is caught
        // even when the whole input is already in memory.
        let room = usize::try_from(MAX_EVENT_BYTES - self.event_bytes + 1).unwrap_or(usize::MAX);
        let avail = self.inner.fill_buf()?;
        Ok(avail.get(..room).unwrap_or(avail))
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            for &b in buf.iter().take(amt) {
                match b {
                    b'\n' => {
                        if !self.prev_cr {
                            self.line += 1;
                        }
                        self.prev_cr = false;
                    }
                    b'\r' => {
                        self.line += 1;
                        self.prev_cr = true;
                    }
                    _ => self.prev_cr = false,
                }
            }
        }
        self.event_bytes = self.event_bytes.saturating_add(amt as u64);
        self.inner.consume(amt);
    }
}
