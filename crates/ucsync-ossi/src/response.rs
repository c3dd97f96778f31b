//! Responses (CM → client): the echo, `f` field lines, `d` value lines, `n`
//! between records, `e` errors, `t` at the end; plus the few plain-text lines
//! of the session around them (prompt, ready `t`, keep-alive answer, logoff).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::error_code::ErrorKind;
use crate::fid::FieldId;
use crate::lines::{Line, LineBuffer};
use crate::{LOGOFF_PROMPT, NO_COMMAND_ACTIVE, RESOURCES_UNAVAILABLE};

/// A CM prints at most this many field ids (and values) per `f` (and `d`) line.
pub const FIELDS_PER_LINE: usize = 5;

/// One record: a map from field id to value, in the order the CM sent them.
///
/// Values are kept in one buffer, so a large listing costs little more than its text.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    fields: Arc<[FieldId]>,
    text: Box<str>,
    ends: Box<[u32]>,
}

impl Record {
    /// A record from field ids and as many values.
    ///
    /// # Panics
    /// When the counts differ: that is a programming error, not bad input.
    pub fn new<S: AsRef<str>>(fields: Arc<[FieldId]>, values: &[S]) -> Self {
        assert_eq!(fields.len(), values.len(), "one value per field");
        let mut text = String::new();
        let mut ends = Vec::with_capacity(values.len());
        for v in values {
            text.push_str(v.as_ref());
            ends.push(text.len() as u32);
        }
        Record {
            fields,
            text: text.into(),
            ends: ends.into(),
        }
    }

    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn value_at(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The value of a field, if the record has it.
    pub fn get(&self, fid: FieldId) -> Option<&str> {
        self.fields
            .iter()
            .position(|f| *f == fid)
            .map(|i| self.value_at(i))
    }

    pub fn values(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.value_at(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FieldId, &str)> {
        self.fields.iter().copied().zip(self.values())
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An `e` line: `e<n> <fid> <code> <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssiError {
    pub index: u32,
    /// The field that failed, or `00000000` for the command as a whole.
    pub field: FieldId,
    pub code: u16,
    pub message: String,
}

impl OssiError {
    pub fn new(kind: ErrorKind, field: Option<FieldId>, message: impl Into<String>) -> Self {
        OssiError {
            index: 1,
            field: field.unwrap_or(FieldId::from_u32(0)),
            code: kind.code(),
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        ErrorKind::classify(self.code, &self.message)
    }

    fn parse(rest: &str) -> Option<Self> {
        let mut it = rest.splitn(4, ' ');
        let index = it.next()?.parse().ok()?;
        let field = FieldId::parse(it.next()?).ok()?;
        let code_s = it.next()?;
        if code_s.len() != 4 {
            return None;
        }
        let code = u16::from_str_radix(code_s, 16).ok()?;
        let message = it.next().unwrap_or("").to_string();
        Some(OssiError {
            index,
            field,
            code,
            message,
        })
    }

    fn encode_into(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "e{} {} {:04x} {}",
            self.index, self.field, self.code, self.message
        );
    }
}

impl std::fmt::Display for OssiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (field {}, code {:04x})",
            self.message, self.field, self.code
        )
    }
}

/// The complete answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The echoed `c` line without its `c`.
    pub echo: String,
    pub records: Vec<Record>,
    pub errors: Vec<OssiError>,
}

impl Response {
    /// The first error, unless it only says that no records matched.
    pub fn failure(&self) -> Option<&OssiError> {
        self.errors
            .iter()
            .find(|e| e.kind() != ErrorKind::NoRecords)
    }

    /// Whether the answer is "no records match", i.e. zero records.
    pub fn is_no_records(&self) -> bool {
        self.records.is_empty()
            && self.errors.iter().all(|e| e.kind() == ErrorKind::NoRecords)
            && !self.errors.is_empty()
    }
}

/// Writes a response the way a CM does: at most five ids or values per line.
pub fn encode_response(resp: &Response) -> String {
    let mut out = String::new();
    encode_echo(&mut out, &resp.echo);
    if let Some(first) = resp.records.first() {
        encode_fields(&mut out, first.fields());
        for (i, r) in resp.records.iter().enumerate() {
            encode_record(&mut out, i > 0, r.values());
        }
    }
    for e in &resp.errors {
        e.encode_into(&mut out);
    }
    out.push_str("t\n");
    out
}

/// The echo line: the client's `c` line exactly as it was sent.
pub fn encode_echo(out: &mut String, raw: &str) {
    out.push('c');
    out.push_str(raw);
    out.push('\n');
}

/// The `f` lines of a response.
pub fn encode_fields(out: &mut String, fields: &[FieldId]) {
    for chunk in fields.chunks(FIELDS_PER_LINE) {
        out.push('f');
        for (i, f) in chunk.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            let _ = write!(out, "{f}");
        }
        out.push('\n');
    }
}

/// The `d` lines of one record, preceded by `n` when it is not the first.
pub fn encode_record<'a>(
    out: &mut String,
    preceded_by_n: bool,
    values: impl IntoIterator<Item = &'a str>,
) {
    if preceded_by_n {
        out.push_str("n\n");
    }
    let mut col = 0;
    let mut any = false;
    for v in values {
        if col == 0 {
            out.push('d');
        } else {
            out.push('\t');
        }
        out.push_str(v);
        any = true;
        col += 1;
        if col == FIELDS_PER_LINE {
            out.push('\n');
            col = 0;
        }
    }
    if col != 0 || !any {
        if !any {
            out.push('d');
        }
        out.push('\n');
    }
}

/// An error line.
pub fn encode_error(out: &mut String, e: &OssiError) {
    e.encode_into(out);
}

/// What the client reads from a SAT session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The terminal-type prompt (it may come without a line end).
    TerminalPrompt,
    /// The ready `t` after the terminal type: commands can run.
    Ready,
    Response(Response),
    /// The answer to a lone `t`.
    KeepAliveAnswer,
    /// `Proceed With Logoff` after `clogoff`; the client answers `y`.
    LogoffPrompt,
    /// Every SAT port is in use.
    ResourcesUnavailable,
}

/// The CM's output did not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed OSSI output: {reason} (line {line:?})")]
pub struct StreamError {
    pub line: String,
    pub reason: String,
}

#[derive(Debug)]
struct Partial {
    echo: String,
    /// How many ids each `f` line carried.
    line_widths: Vec<usize>,
    fields: Vec<FieldId>,
    shared: Option<Arc<[FieldId]>>,
    values: Vec<String>,
    d_lines: usize,
    records: Vec<Record>,
    errors: Vec<OssiError>,
}

impl Partial {
    fn finish_record(&mut self) -> Result<(), String> {
        if self.d_lines == 0 {
            return Ok(());
        }
        if self.d_lines != self.line_widths.len() {
            return Err(format!(
                "record has {} d lines for {} f lines",
                self.d_lines,
                self.line_widths.len()
            ));
        }
        let shared = self
            .shared
            .get_or_insert_with(|| self.fields.clone().into())
            .clone();
        self.records.push(Record::new(shared, &self.values));
        self.values.clear();
        self.d_lines = 0;
        Ok(())
    }
}

#[derive(Debug)]
enum Phase {
    Login,
    Idle,
    NoCommand,
    InResponse(Box<Partial>),
    LoggedOff,
}

/// Decodes a SAT session's output on the client side.
#[derive(Debug)]
pub struct ResponseDecoder {
    lines: LineBuffer,
    phase: Phase,
    prompted: bool,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseDecoder {
    /// A decoder for a session that has just been opened (prompt and ready `t` to come).
    pub fn new() -> Self {
        ResponseDecoder {
            lines: LineBuffer::new(),
            phase: Phase::Login,
            prompted: false,
        }
    }

    /// A decoder for output after the ready `t` (for tests and transcripts).
    pub fn ready() -> Self {
        ResponseDecoder {
            lines: LineBuffer::new(),
            phase: Phase::Idle,
            prompted: true,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.extend(bytes);
    }

    /// Whether a response has started and not ended.
    pub fn mid_response(&self) -> bool {
        matches!(self.phase, Phase::InResponse(_) | Phase::NoCommand)
    }

    /// The next event, if enough bytes have arrived; an error means the
    /// session can no longer be trusted.
    pub fn next_event(&mut self) -> Option<Result<ServerEvent, StreamError>> {
        loop {
            let Some(line) = self.lines.next_line() else {
                // The prompt is printed without a line end on a real terminal.
                if matches!(self.phase, Phase::Login) && !self.prompted {
                    let pending = String::from_utf8_lossy(self.lines.pending());
                    if pending.trim_end().ends_with(']') && pending.contains("Terminal Type") {
                        self.prompted = true;
                        self.lines.clear_pending();
                        return Some(Ok(ServerEvent::TerminalPrompt));
                    }
                }
                return None;
            };
            let text = match line {
                Line::Text(t) => t,
                Line::TooLong { len } => {
                    return Some(Err(StreamError {
                        line: format!("<{len} bytes>"),
                        reason: "line too long".into(),
                    }));
                }
            };
            if let Some(ev) = self.line(text) {
                return Some(ev);
            }
        }
    }

    fn line(&mut self, text: String) -> Option<Result<ServerEvent, StreamError>> {
        let err = |line: &str, reason: &str| {
            Some(Err(StreamError {
                line: line.to_string(),
                reason: reason.to_string(),
            }))
        };
        match &mut self.phase {
            Phase::Login => {
                let t = text.trim();
                if t == "t" {
                    self.phase = Phase::Idle;
                    Some(Ok(ServerEvent::Ready))
                } else if t.contains("Terminal Type") {
                    if self.prompted {
                        return None;
                    }
                    self.prompted = true;
                    Some(Ok(ServerEvent::TerminalPrompt))
                } else if t == RESOURCES_UNAVAILABLE {
                    Some(Ok(ServerEvent::ResourcesUnavailable))
                } else {
                    // The echoed terminal type, banners: nothing to act on.
                    None
                }
            }
            Phase::LoggedOff => None,
            Phase::NoCommand => {
                if text.trim() == "t" {
                    self.phase = Phase::Idle;
                    Some(Ok(ServerEvent::KeepAliveAnswer))
                } else {
                    err(&text, "expected t after the keep-alive answer")
                }
            }
            Phase::Idle => {
                if let Some(echo) = text.strip_prefix('c') {
                    self.phase = Phase::InResponse(Box::new(Partial {
                        echo: echo.to_string(),
                        line_widths: Vec::new(),
                        fields: Vec::new(),
                        shared: None,
                        values: Vec::new(),
                        d_lines: 0,
                        records: Vec::new(),
                        errors: Vec::new(),
                    }));
                    None
                } else if text == NO_COMMAND_ACTIVE {
                    self.phase = Phase::NoCommand;
                    None
                } else if text == RESOURCES_UNAVAILABLE {
                    Some(Ok(ServerEvent::ResourcesUnavailable))
                } else if text.trim().is_empty() {
                    None
                } else {
                    err(&text, "output outside any command")
                }
            }
            Phase::InResponse(p) => {
                let Some(kind) = text.chars().next() else {
                    return err(&text, "empty line inside a response");
                };
                let rest = &text[kind.len_utf8()..];
                match kind {
                    'f' => {
                        if !p.records.is_empty() || p.d_lines > 0 {
                            return err(&text, "f line after the data started");
                        }
                        // Parsed whole before any is kept: a bad line leaves no trace.
                        let line: Result<Vec<FieldId>, _> =
                            rest.split('\t').map(FieldId::parse).collect();
                        match line {
                            Ok(fids) => {
                                p.line_widths.push(fids.len());
                                p.fields.extend(fids);
                                None
                            }
                            Err(e) => err(&text, &e.to_string()),
                        }
                    }
                    'd' => {
                        let Some(&width) = p.line_widths.get(p.d_lines) else {
                            return err(
                                &text,
                                if p.line_widths.is_empty() {
                                    "d line before any f line"
                                } else {
                                    "more d lines than f lines in a record"
                                },
                            );
                        };
                        let before = p.values.len();
                        p.values.extend(rest.split('\t').map(str::to_string));
                        if p.values.len() - before != width {
                            let reason = format!(
                                "d line has {} values for {} field ids",
                                p.values.len() - before,
                                width
                            );
                            // Drop the bad line's values, or the record they
                            // would join no longer fits its field ids.
                            p.values.truncate(before);
                            return err(&text, &reason);
                        }
                        p.d_lines += 1;
                        None
                    }
                    'n' if rest.is_empty() => {
                        if p.d_lines == 0 {
                            return err(&text, "n line with no record before it");
                        }
                        p.finish_record().err().and_then(|r| err(&text, &r))
                    }
                    'e' => match OssiError::parse(rest) {
                        Some(e) => {
                            p.errors.push(e);
                            None
                        }
                        None => err(&text, "e line not of the form e<n> <fid> <code> <text>"),
                    },
                    't' if rest.trim().is_empty() => {
                        if let Err(r) = p.finish_record() {
                            return err(&text, &r);
                        }
                        let Phase::InResponse(p) = std::mem::replace(&mut self.phase, Phase::Idle)
                        else {
                            unreachable!("matched above")
                        };
                        Some(Ok(ServerEvent::Response(Response {
                            echo: p.echo,
                            records: p.records,
                            errors: p.errors,
                        })))
                    }
                    _ if text == LOGOFF_PROMPT => {
                        self.phase = Phase::LoggedOff;
                        Some(Ok(ServerEvent::LogoffPrompt))
                    }
                    _ => err(&text, "unexpected line inside a response"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Vec<Result<ServerEvent, StreamError>> {
        let mut d = ResponseDecoder::ready();
        d.feed(text.as_bytes());
        std::iter::from_fn(|| d.next_event()).collect()
    }

    fn one(text: &str) -> Response {
        match decode(text).pop() {
            Some(Ok(ServerEvent::Response(r))) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn multi_line_records_with_empty_cells() {
        let r = one(
            "clist station\nf8005ff00\t8003ff00\t0031ff00\t8007ff00\t8001ff00\nf0032ff00\nd1001\tDoe, Jane\t\t\t1\nd\nn\nd1002\tRoe\t2-114\t\t1\ndJ-17\nt\n",
        );
        assert_eq!(r.records.len(), 2);
        let f = |s| FieldId::parse(s).unwrap();
        assert_eq!(r.records[0].get(f("8003ff00")), Some("Doe, Jane"));
        assert_eq!(r.records[0].get(f("0031ff00")), Some(""));
        assert_eq!(r.records[0].get(f("0032ff00")), Some(""));
        assert_eq!(r.records[1].get(f("0032ff00")), Some("J-17"));
    }

    #[test]
    fn no_records_is_an_error_line_and_zero_records() {
        let r = one(
            "clist station 9999\ne1 00000000 29cf No records match the specified query options\nt\n",
        );
        assert!(r.is_no_records());
        assert!(r.failure().is_none());
        assert_eq!(r.errors[0].kind(), ErrorKind::NoRecords);
    }

    #[test]
    fn keep_alive_and_logoff() {
        let ev =
            decode("Terminator received but no command active\nt\nclogoff\nProceed With Logoff\n");
        assert_eq!(
            ev,
            vec![
                Ok(ServerEvent::KeepAliveAnswer),
                Ok(ServerEvent::LogoffPrompt)
            ]
        );
    }

    #[test]
    fn login_prompt_without_newline_then_echo_then_ready() {
        let mut d = ResponseDecoder::new();
        d.feed(crate::TERMINAL_PROMPT.as_bytes());
        assert_eq!(d.next_event(), Some(Ok(ServerEvent::TerminalPrompt)));
        d.feed(b"\r\nossi4\r\nt\r\n");
        assert_eq!(d.next_event(), Some(Ok(ServerEvent::Ready)));
        assert_eq!(d.next_event(), None);
    }

    #[test]
    fn glued_t_is_not_ready() {
        let mut d = ResponseDecoder::new();
        d.feed(format!("{}t\n", crate::TERMINAL_PROMPT).as_bytes());
        assert_eq!(d.next_event(), Some(Ok(ServerEvent::TerminalPrompt)));
        assert_eq!(d.next_event(), None);
    }

    #[test]
    fn malformed_output_is_a_typed_error() {
        for bad in [
            "clist station\nd1001\nt\n",
            "clist station\nf8005ff00\nd1001\t1\nt\n",
            "clist station\nf8005ff00\t8003ff00\t0031ff00\t8007ff00\t8001ff00\nf0032ff00\nd1\t2\t3\t4\t5\nt\n",
            "clist station\nfnothex\nt\n",
            "clist station\nx\n",
            "garbage\n",
            "clist station\ne1 zz\nt\n",
        ] {
            assert!(decode(bad).iter().any(|e| e.is_err()), "{bad:?}");
        }
    }

    #[test]
    fn lines_after_an_error_do_not_corrupt_the_record() {
        // Found by fuzzing: a rejected d (or f) line used to leave its cells
        // behind, and the next record then panicked in `Record::new`.
        for (text, value) in [
            ("clist\nf00000000\nd10\t1\nda\nt\n", "a"),
            ("clist\nf00000000\tzz\nf00000001\ndb\nt\n", "b"),
            ("c0\nf0032ff00\nd10\t1\nd\nn\nd1\nt\n", "1"),
        ] {
            let ev = decode(text);
            assert!(ev[0].is_err(), "{text:?}: {ev:?}");
            let Some(Ok(ServerEvent::Response(r))) = ev.last() else {
                panic!("{text:?}: {ev:?}")
            };
            let last = r.records.last().expect("a record");
            assert_eq!(last.len(), 1, "{text:?}");
            assert_eq!(last.value_at(0), value, "{text:?}");
        }
    }

    #[test]
    fn encoder_puts_five_per_line() {
        let fields: Arc<[FieldId]> = (0..6u32).map(FieldId::from_u32).collect::<Vec<_>>().into();
        let r = Response {
            echo: " list x".into(),
            records: vec![
                Record::new(fields.clone(), &["a", "", "c", "", "e", "f"]),
                Record::new(fields, &["", "", "", "", "", ""]),
            ],
            errors: vec![],
        };
        let text = encode_response(&r);
        assert_eq!(
            text,
            "c list x\nf00000000\t00000001\t00000002\t00000003\t00000004\nf00000005\nda\t\tc\t\te\ndf\nn\nd\t\t\t\t\nd\nt\n"
        );
        assert_eq!(one(&text), r);
    }
}
