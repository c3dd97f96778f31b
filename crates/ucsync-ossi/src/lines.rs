//! Splitting a byte stream into lines: `\n`, `\r\n` and a lone `\r` all end a
//! line (a terminal sends `\r` for Enter), and a line may arrive in pieces.

/// The longest line either side accepts; a longer one is an error, not a buffer
/// that grows without end.
pub const MAX_LINE: usize = 64 * 1024;

/// One complete line, or the report that one was too long (its bytes dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// At most [`MAX_LINE`] bytes.
    Text(String),
    /// `len` counts the line's bytes, invalid UTF-8 counted as its replacement.
    TooLong { len: usize },
}

/// Buffers bytes until whole lines are available.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// The previous byte was a `\r`, so a `\n` right after it ends nothing.
    after_cr: bool,
    /// Bytes of an over-long line being skipped until its end.
    skipping: Option<usize>,
    out: std::collections::VecDeque<Line>,
}

impl LineBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; complete lines become available from [`LineBuffer::next_line`].
    pub fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    self.finish_line();
                }
                _ => {
                    if let Some(n) = self.skipping.as_mut() {
                        *n += 1;
                    } else if self.buf.len() >= MAX_LINE {
                        self.skipping = Some(self.buf.len() + 1);
                        self.buf.clear();
                    } else {
                        self.buf.push(b);
                    }
                }
            }
        }
    }

    fn finish_line(&mut self) {
        if let Some(len) = self.skipping.take() {
            self.out.push_back(Line::TooLong { len });
            return;
        }
        let text = match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        // Each invalid byte became three bytes of U+FFFD: no line handed on is
        // longer than MAX_LINE, so whatever is built from it can be sent back.
        if text.len() > MAX_LINE {
            self.out.push_back(Line::TooLong { len: text.len() });
            return;
        }
        self.out.push_back(Line::Text(text));
    }

    pub fn next_line(&mut self) -> Option<Line> {
        self.out.pop_front()
    }

    /// The bytes of the line not yet ended (a prompt is printed without a newline).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the bytes of the line not yet ended.
    pub fn clear_pending(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Line> {
        let mut lb = LineBuffer::new();
        for c in chunks {
            lb.extend(c);
        }
        std::iter::from_fn(|| lb.next_line()).collect()
    }

    fn t(s: &str) -> Line {
        Line::Text(s.to_string())
    }

    #[test]
    fn every_line_ending() {
        assert_eq!(
            lines(&[b"a\nb\r\nc\rd\n"]),
            vec![t("a"), t("b"), t("c"), t("d")]
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_ending() {
        assert_eq!(lines(&[b"a\r", b"\nb\n"]), vec![t("a"), t("b")]);
    }

    #[test]
    fn empty_lines_are_kept() {
        assert_eq!(lines(&[b"\n\n"]), vec![t(""), t("")]);
    }

    #[test]
    fn half_line_waits() {
        let mut lb = LineBuffer::new();
        lb.extend(b"clist sta");
        assert_eq!(lb.next_line(), None);
        assert_eq!(lb.pending(), b"clist sta");
        lb.extend(b"tion\n");
        assert_eq!(lb.next_line(), Some(t("clist station")));
    }

    #[test]
    fn over_long_line_is_reported_and_skipped() {
        let mut lb = LineBuffer::new();
        lb.extend(&vec![b'x'; MAX_LINE + 10]);
        lb.extend(b"\nok\n");
        assert_eq!(lb.next_line(), Some(Line::TooLong { len: MAX_LINE + 10 }));
        assert_eq!(lb.next_line(), Some(t("ok")));
    }

    #[test]
    fn a_line_too_long_once_invalid_utf8_is_replaced_is_too_long() {
        // Found by fuzzing: 30,000 invalid bytes became a 90,000-byte line,
        // which could not be sent back (echoed, re-encoded) to the other side.
        let mut bytes = vec![b'c'];
        bytes.extend(vec![0xff; 30_000]);
        bytes.extend_from_slice(b"\nok\n");
        assert_eq!(
            lines(&[&bytes]),
            vec![
                Line::TooLong {
                    len: 1 + 3 * 30_000
                },
                t("ok")
            ]
        );
        let mut fits = vec![0xff; MAX_LINE / 3];
        fits.push(b'\n');
        assert_eq!(lines(&[&fits]), vec![t(&"\u{fffd}".repeat(MAX_LINE / 3))]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(lines(&[b"d\xff\n"]), vec![t("d\u{fffd}")]);
    }
}
