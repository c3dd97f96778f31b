//! Splitting a syslog byte stream into messages (RFC 6587), apart from
//! decoding them: octet counting (`LEN SP MSG`) and non-transparent framing
//! (a message ends at LF, CRLF or NUL), told apart per message; and UDP, where
//! a datagram is a message.
//!
//! # Telling the two framings apart
//!
//! As rsyslog and syslog-ng do, each message is looked at on its own: a run of
//! one to nine digits, the first not `0`, followed by a space is an octet count
//! (RFC 6587's `MSG-LEN = NONZERO-DIGIT 0*8DIGIT` with a limit that keeps the
//! number in range); anything else starts a non-transparent frame. A syslog
//! message starts with `<`, so the two cannot be confused for a message that a
//! decoder would accept. A sender may switch framing between messages.
//!
//! # Over-long frames: skipped, and the stream goes on
//!
//! A frame longer than the limit is reported once as
//! [`FrameError::Oversized`] and its bytes are dropped as they arrive, never
//! buffered: an octet-counted frame by its declared length (the boundary is
//! known), a non-transparent one up to its next LF or NUL. The framer is then
//! at the next frame's start, so nothing ever requires the connection to be
//! dropped: the well-behaved messages a sender pipelined after the bad one are
//! still delivered. (A listener may still close a connection whose peer keeps
//! sending garbage; that is its policy, not a framing necessity.) Memory is
//! bounded by the limit plus the bytes of one [`Framer::push`].
//!
//! # What is not a message
//!
//! Empty frames (an LF after an LF, a CRLF, a NUL padding a message) are
//! skipped silently: senders emit them and they carry nothing. When the peer
//! closes the connection, [`Framer::finish`] hands out the last
//! non-transparent frame even without its trailer (as line decoders do at
//! end of input), and reports an octet-counted frame cut short as
//! [`FrameError::Truncated`].

use std::fmt;

use crate::ErrorKind;

/// The default longest message, in bytes: a notify event is a few hundred,
/// and RFC 5424 asks receivers to take at least 2048.
pub const DEFAULT_MAX_LEN: usize = 8 * 1024;

/// The most digits of an octet count: nine keeps any count in `usize` and is
/// far above any sensible limit.
const MAX_COUNT_DIGITS: usize = 9;

/// How a message was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `LEN SP MSG` (RFC 6587 3.4.1).
    OctetCounting,
    /// `MSG LF`, also `MSG CR LF` and `MSG NUL` (RFC 6587 3.4.2).
    NonTransparent,
    /// One UDP datagram (RFC 5426).
    Datagram,
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::OctetCounting => "octet-counted",
            Framing::NonTransparent => "non-transparent",
            Framing::Datagram => "datagram",
        })
    }
}

/// A frame that could not be handed out as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Over the limit; its bytes were (or are being) skipped.
    #[error("{framing} message over the limit of {max} bytes{}, skipped", declared_text(*.declared))]
    Oversized {
        framing: Framing,
        max: usize,
        /// The octet count, when the sender declared one.
        declared: Option<usize>,
    },
    /// The connection closed inside an octet-counted frame.
    #[error("the connection closed inside an octet-counted message: {got} of {declared} bytes")]
    Truncated { declared: usize, got: usize },
}

fn declared_text(declared: Option<usize>) -> String {
    declared.map_or_else(String::new, |n| format!(" ({n} bytes declared)"))
}

impl FrameError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            FrameError::Oversized { .. } => ErrorKind::Oversized,
            FrameError::Truncated { .. } => ErrorKind::Truncated,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a frame, framing not yet known.
    Boundary,
    /// In a non-transparent frame; `scanned` bytes from its start hold no trailer.
    Line { scanned: usize },
    /// In an octet-counted frame of `len` bytes, its prefix consumed.
    Counted { len: usize },
    /// Dropping the rest of an over-long octet-counted frame.
    SkipCounted { remaining: usize },
    /// Dropping the rest of an over-long non-transparent frame.
    SkipLine,
}

/// Buffers the bytes of one TCP or TLS connection until whole messages are
/// available.
///
/// Call [`Framer::push`] with what was read, then [`Framer::next_frame`] until
/// it returns `None` ("incomplete": wait for more bytes, not an error); at end
/// of stream, [`Framer::finish`] once.
#[derive(Debug)]
pub struct Framer {
    max_len: usize,
    buf: Vec<u8>,
    /// Where the unconsumed bytes start: frames are handed out as slices of
    /// `buf`, so consumed bytes are only dropped by the next `push`.
    pos: usize,
    state: State,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_LEN)
    }
}

impl Framer {
    /// A framer that hands out messages of at most `max_len` bytes (the
    /// framing's own bytes — count, space, trailer — not included).
    pub fn new(max_len: usize) -> Framer {
        Framer {
            // The scan looks up to two bytes past the limit (a CR, then LF).
            max_len: max_len.clamp(1, usize::MAX - 2),
            buf: Vec::new(),
            pos: 0,
            state: State::Boundary,
        }
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Adds bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
        } else if self.pos > 0 {
            self.buf.drain(..self.pos);
        }
        self.pos = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for frames not yet complete (the limit bounds them once
    /// [`Framer::next_frame`] has returned `None`).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next whole message, an error for a frame that is not one, or
    /// `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        loop {
            let avail = &self.buf[self.pos..];
            match self.state {
                State::Boundary => {
                    let first = *avail.first()?;
                    match first {
                        b'\n' | 0 => self.pos += 1,
                        b'1'..=b'9' => match octet_prefix(avail) {
                            Prefix::Incomplete => return None,
                            Prefix::NotCount => self.state = State::Line { scanned: 0 },
                            Prefix::Count { len, prefix_len } => {
                                self.pos += prefix_len;
                                if len > self.max_len {
                                    self.state = State::SkipCounted { remaining: len };
                                    return Some(Err(FrameError::Oversized {
                                        framing: Framing::OctetCounting,
                                        max: self.max_len,
                                        declared: Some(len),
                                    }));
                                }
                                self.state = State::Counted { len };
                            }
                        },
                        _ => self.state = State::Line { scanned: 0 },
                    }
                }
                State::Line { scanned } => {
                    // A frame of max_len bytes may still have a CR before its LF.
                    let limit = avail.len().min(self.max_len + 2);
                    let Some(i) = avail[scanned..limit].iter().position(|&b| is_trailer(b)) else {
                        if avail.len() >= self.max_len + 2 {
                            self.pos += limit;
                            self.state = State::SkipLine;
                            return Some(Err(self.oversized_line()));
                        }
                        self.state = State::Line {
                            scanned: avail.len(),
                        };
                        return None;
                    };
                    let start = self.pos;
                    let mut end = start + scanned + i;
                    self.pos = end + 1;
                    self.state = State::Boundary;
                    if end > start && self.buf[end - 1] == b'\r' {
                        end -= 1;
                    }
                    if end - start > self.max_len {
                        return Some(Err(self.oversized_line()));
                    }
                    if end > start {
                        return Some(Ok(&self.buf[start..end]));
                    }
                }
                State::Counted { len } => {
                    if avail.len() < len {
                        return None;
                    }
                    let start = self.pos;
                    self.pos += len;
                    self.state = State::Boundary;
                    return Some(Ok(&self.buf[start..start + len]));
                }
                State::SkipCounted { remaining } => {
                    let n = remaining.min(avail.len());
                    self.pos += n;
                    if n < remaining {
                        self.state = State::SkipCounted {
                            remaining: remaining - n,
                        };
                        return None;
                    }
                    self.state = State::Boundary;
                }
                State::SkipLine => match avail.iter().position(|&b| is_trailer(b)) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.state = State::Boundary;
                    }
                    None => {
                        self.pos = self.buf.len();
                        return None;
                    }
                },
            }
        }
    }

    /// The end of the stream: the last frame if one is pending, or the report
    /// that an octet-counted frame was cut short. Call it once
    /// [`Framer::next_frame`] has returned `None`; the framer is then empty
    /// and could serve a new stream.
    pub fn finish(&mut self) -> Option<Result<&[u8], FrameError>> {
        let state = std::mem::replace(&mut self.state, State::Boundary);
        let start = self.pos;
        let end = self.buf.len();
        self.pos = end;
        match state {
            State::Boundary | State::Line { .. } => {
                let end = if end > start && self.buf[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                if end == start {
                    None
                } else if end - start > self.max_len {
                    Some(Err(self.oversized_line()))
                } else {
                    Some(Ok(&self.buf[start..end]))
                }
            }
            State::Counted { len } => Some(Err(FrameError::Truncated {
                declared: len,
                got: end - start,
            })),
            State::SkipCounted { .. } | State::SkipLine => None,
        }
    }

    fn oversized_line(&self) -> FrameError {
        FrameError::Oversized {
            framing: Framing::NonTransparent,
            max: self.max_len,
            declared: None,
        }
    }
}

fn is_trailer(b: u8) -> bool {
    b == b'\n' || b == 0
}

enum Prefix {
    /// Digits so far, and room for more: wait.
    Incomplete,
    NotCount,
    Count {
        len: usize,
        prefix_len: usize,
    },
}

/// Reads an octet count at the start of `b`, whose first byte is `1`–`9`.
fn octet_prefix(b: &[u8]) -> Prefix {
    for (i, &c) in b.iter().enumerate().take(MAX_COUNT_DIGITS + 1) {
        if c == b' ' {
            let len = b[..i]
                .iter()
                .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
            return Prefix::Count {
                len,
                prefix_len: i + 1,
            };
        }
        if !c.is_ascii_digit() {
            return Prefix::NotCount;
        }
    }
    if b.len() <= MAX_COUNT_DIGITS {
        Prefix::Incomplete
    } else {
        Prefix::NotCount
    }
}

/// The message of one UDP datagram: trailing LF, CR and NUL bytes, which some
/// senders append, are not part of it.
pub fn datagram(bytes: &[u8], max_len: usize) -> Result<&[u8], FrameError> {
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    if end > max_len {
        return Err(FrameError::Oversized {
            framing: Framing::Datagram,
            max: max_len,
            declared: None,
        });
    }
    Ok(&bytes[..end])
}

/// Frames one message for sending. A non-transparent frame cannot carry a
/// message containing LF or NUL (a notify event never does); use octet
/// counting for arbitrary messages.
pub fn encode(framing: Framing, msg: &[u8]) -> Vec<u8> {
    match framing {
        Framing::OctetCounting => {
            let mut out = format!("{} ", msg.len()).into_bytes();
            out.extend_from_slice(msg);
            out
        }
        Framing::NonTransparent => {
            debug_assert!(
                !msg.iter().any(|&b| is_trailer(b)),
                "a non-transparent frame cannot hold LF or NUL"
            );
            let mut out = Vec::with_capacity(msg.len() + 1);
            out.extend_from_slice(msg);
            out.push(b'\n');
            out
        }
        Framing::Datagram => msg.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the framer hands out, in order; `Frame` owns its bytes.
    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        Frame(String),
        Err(FrameError),
    }
    use Out::Frame as F;

    fn f(s: &str) -> Out {
        F(s.to_string())
    }

    fn oversized(framing: Framing, max: usize, declared: Option<usize>) -> Out {
        Out::Err(FrameError::Oversized {
            framing,
            max,
            declared,
        })
    }

    /// Feeds `chunks` in turn to a framer of `max` bytes, draining after each,
    /// then finishes the stream.
    fn run(max: usize, chunks: &[&[u8]]) -> Vec<Out> {
        let mut framer = Framer::new(max);
        let mut out = Vec::new();
        let mut take = |r: Result<&[u8], FrameError>| {
            out.push(match r {
                Ok(b) => F(String::from_utf8_lossy(b).into_owned()),
                Err(e) => Out::Err(e),
            })
        };
        for c in chunks {
            framer.push(c);
            while let Some(r) = framer.next_frame() {
                take(r);
            }
        }
        if let Some(r) = framer.finish() {
            take(r);
        }
        out
    }

    /// The same stream gives the same frames fed whole and fed a byte at a time.
    fn check(input: &[u8], expect: Vec<Out>) {
        check_max(DEFAULT_MAX_LEN, input, expect);
    }

    fn check_max(max: usize, input: &[u8], expect: Vec<Out>) {
        assert_eq!(run(max, &[input]), expect, "fed whole");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(max, &bytes), expect, "fed a byte at a time");
    }

    #[test]
    fn lf_crlf_and_nul_end_a_message() {
        check(
            b"<1>a\n<1>b\r\n<1>c\0",
            vec![f("<1>a"), f("<1>b"), f("<1>c")],
        );
    }

    #[test]
    fn octet_counting() {
        check(b"4 <1>a5 <1>bc", vec![f("<1>a"), f("<1>bc")]);
    }

    #[test]
    fn octet_counted_message_may_hold_lf_and_nul() {
        check(b"7 <1>a\nb\0", vec![f("<1>a\nb\0")]);
    }

    #[test]
    fn framing_may_change_between_messages() {
        check(
            b"4 <1>a<1>b\n4 <1>c<1>d\n",
            vec![f("<1>a"), f("<1>b"), f("<1>c"), f("<1>d")],
        );
    }

    #[test]
    fn newline_after_an_octet_counted_message_is_an_empty_frame() {
        check(b"4 <1>a\n4 <1>b\n", vec![f("<1>a"), f("<1>b")]);
    }

    #[test]
    fn empty_frames_are_skipped() {
        check(b"\n\r\n\0\0<1>a\n\n", vec![f("<1>a")]);
    }

    #[test]
    fn only_one_cr_is_stripped() {
        check(b"<1>a\r\r\n", vec![f("<1>a\r")]);
    }

    #[test]
    fn a_lone_cr_does_not_end_a_message() {
        check(b"<1>a\rb\n", vec![f("<1>a\rb")]);
    }

    #[test]
    fn digits_not_followed_by_a_space_are_a_line() {
        check(b"123abc\n", vec![f("123abc")]);
    }

    #[test]
    fn a_leading_zero_is_not_an_octet_count() {
        check(b"0 abc\n05 <1>a\n", vec![f("0 abc"), f("05 <1>a")]);
    }

    #[test]
    fn ten_digits_are_not_an_octet_count() {
        check(b"1234567890 x\n", vec![f("1234567890 x")]);
    }

    #[test]
    fn nine_digits_are_an_octet_count() {
        check_max(
            8,
            b"999999999 x",
            vec![oversized(Framing::OctetCounting, 8, Some(999_999_999))],
        );
    }

    #[test]
    fn incomplete_is_not_an_error() {
        let mut framer = Framer::default();
        for part in [&b"1"[..], b"0", b" <1>", b"abc", b"def"] {
            framer.push(part);
            assert_eq!(framer.next_frame(), None);
        }
        framer.push(b"g");
        assert_eq!(framer.next_frame(), Some(Ok(&b"<1>abcdefg"[..])));
        framer.push(b"<1>half");
        assert_eq!(framer.next_frame(), None);
        framer.push(b" line\n");
        assert_eq!(framer.next_frame(), Some(Ok(&b"<1>half line"[..])));
        assert_eq!(framer.next_frame(), None);
    }

    #[test]
    fn the_last_line_is_a_message_without_its_trailer() {
        check(b"<1>a\n<1>b", vec![f("<1>a"), f("<1>b")]);
        check(b"<1>a\r", vec![f("<1>a")]);
    }

    #[test]
    fn a_pending_digit_run_at_the_end_is_a_line() {
        check(b"12", vec![f("12")]);
    }

    #[test]
    fn an_octet_counted_message_cut_short_is_truncated() {
        check(
            b"10 <1>abc",
            vec![Out::Err(FrameError::Truncated {
                declared: 10,
                got: 6,
            })],
        );
        check(
            b"10 ",
            vec![Out::Err(FrameError::Truncated {
                declared: 10,
                got: 0,
            })],
        );
    }

    #[test]
    fn at_the_limit_is_fine() {
        check_max(
            4,
            b"4 <1>a<1>b\n<1>c\r\n",
            vec![f("<1>a"), f("<1>b"), f("<1>c")],
        );
    }

    #[test]
    fn oversized_octet_counted_is_skipped_by_its_count() {
        check_max(
            4,
            b"5 <1>ab<1>c\n",
            vec![oversized(Framing::OctetCounting, 4, Some(5)), f("<1>c")],
        );
    }

    #[test]
    fn oversized_octet_counted_skipping_spans_pushes() {
        assert_eq!(
            run(4, &[b"8 <1>", b"ab", b"cd", b"e4 <1>x"]),
            vec![oversized(Framing::OctetCounting, 4, Some(8)), f("<1>x")]
        );
    }

    #[test]
    fn oversized_line_is_skipped_to_its_end() {
        check_max(
            4,
            b"<1>abcdefgh\n<1>c\n",
            vec![oversized(Framing::NonTransparent, 4, None), f("<1>c")],
        );
    }

    #[test]
    fn a_line_one_over_the_limit_is_oversized() {
        check_max(
            4,
            b"<1>ab\n<1>c\n",
            vec![oversized(Framing::NonTransparent, 4, None), f("<1>c")],
        );
        check_max(
            4,
            b"<1>ab\r\n<1>c\n",
            vec![oversized(Framing::NonTransparent, 4, None), f("<1>c")],
        );
    }

    #[test]
    fn oversized_line_is_reported_once_before_its_end_arrives() {
        let mut framer = Framer::new(4);
        framer.push(b"<1>abcdef");
        assert!(matches!(
            framer.next_frame(),
            Some(Err(FrameError::Oversized { .. }))
        ));
        assert_eq!(framer.next_frame(), None);
        assert_eq!(framer.buffered(), 0, "skipped bytes are not kept");
        framer.push(b"ghijkl");
        assert_eq!(framer.next_frame(), None);
        assert_eq!(framer.buffered(), 0);
        framer.push(b"mn\n<1>c\n");
        assert_eq!(framer.next_frame(), Some(Ok(&b"<1>c"[..])));
    }

    #[test]
    fn oversized_last_line_at_the_end_of_the_stream() {
        assert_eq!(
            run(4, &[b"<1>ab"]),
            vec![oversized(Framing::NonTransparent, 4, None)]
        );
        assert_eq!(run(4, &[b"<1>a\r"]), vec![f("<1>a")]);
    }

    #[test]
    fn skipping_at_the_end_of_the_stream_reports_nothing_more() {
        assert_eq!(
            run(4, &[b"9 <1>"]),
            vec![oversized(Framing::OctetCounting, 4, Some(9))]
        );
    }

    #[test]
    fn the_framer_is_reusable_after_finish() {
        let mut framer = Framer::default();
        framer.push(b"10 <1>");
        assert_eq!(framer.next_frame(), None);
        assert!(matches!(framer.finish(), Some(Err(_))));
        framer.push(b"<1>a\n");
        assert_eq!(framer.next_frame(), Some(Ok(&b"<1>a"[..])));
    }

    #[test]
    fn datagrams() {
        let check = |input: &[u8], expect: Result<&[u8], FrameError>| {
            assert_eq!(datagram(input, 8), expect, "{input:?}");
        };
        check(b"<1>a", Ok(b"<1>a"));
        check(b"<1>a\n", Ok(b"<1>a"));
        check(b"<1>a\r\n\0", Ok(b"<1>a"));
        check(b"<1>a \n", Ok(b"<1>a "));
        check(b"\n", Ok(b""));
        check(b"<1>abcde\n", Ok(b"<1>abcde"));
        check(
            b"<1>abcdef",
            Err(FrameError::Oversized {
                framing: Framing::Datagram,
                max: 8,
                declared: None,
            }),
        );
    }

    #[test]
    fn encode_then_frame() {
        let mut stream = encode(Framing::OctetCounting, b"<1>a\nb");
        stream.extend(encode(Framing::NonTransparent, b"<1>c"));
        check(&stream, vec![f("<1>a\nb"), f("<1>c")]);
        assert_eq!(encode(Framing::Datagram, b"<1>d"), b"<1>d");
    }

    #[test]
    fn errors_have_kinds_and_say_what_happened() {
        let e = FrameError::Oversized {
            framing: Framing::OctetCounting,
            max: 4,
            declared: Some(9),
        };
        assert_eq!(e.kind(), ErrorKind::Oversized);
        assert_eq!(
            e.to_string(),
            "octet-counted message over the limit of 4 bytes (9 bytes declared), skipped"
        );
        let e = FrameError::Truncated {
            declared: 9,
            got: 2,
        };
        assert_eq!(e.kind(), ErrorKind::Truncated);
    }
}
