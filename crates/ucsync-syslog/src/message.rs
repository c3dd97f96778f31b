//! One syslog message, decoded: the fields RFC 5424 and RFC 3164 share, the
//! typed errors of a message that is not one, and the entry point that tells
//! the two formats apart.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};

use crate::{ErrorKind, rfc3164, rfc5424};

/// A syslog facility, 0 (`kern`) to 23 (`local7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Facility(u8);

impl Facility {
    pub const USER: Facility = Facility(1);
    pub const LOCAL0: Facility = Facility(16);

    const NAMES: [&'static str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];

    pub fn new(code: u8) -> Option<Facility> {
        (code < 24).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[usize::from(self.0)]
    }
}

/// A syslog severity, 0 (`emerg`) to 7 (`debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Severity(u8);

impl Severity {
    pub const NOTICE: Severity = Severity(5);
    pub const INFO: Severity = Severity(6);

    const NAMES: [&'static str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];

    pub fn new(code: u8) -> Option<Severity> {
        (code < 8).then_some(Severity(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[usize::from(self.0)]
    }
}

/// Which format a message was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`
    Rfc5424,
    /// `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, the BSD format.
    Rfc3164,
}

/// When a message says it was sent, as it said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// RFC 3339, as RFC 5424 requires (and some RFC 3164 senders use).
    Rfc3339(DateTime<FixedOffset>),
    /// RFC 3164's `Mmm dd hh:mm:ss`: no year and no time zone, so it can only
    /// be placed in time against a clock ([`Timestamp::resolve`]).
    Bsd {
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    },
}

impl Timestamp {
    /// The timestamp as a date and time; a BSD timestamp is read in `now`'s
    /// offset and given the year that puts it nearest to `now` (so a message
    /// of December 31st read on January 1st is from the year before).
    pub fn resolve(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match *self {
            Timestamp::Rfc3339(t) => Some(t),
            Timestamp::Bsd {
                month,
                day,
                hour,
                minute,
                second,
            } => [now.year() - 1, now.year(), now.year() + 1]
                .into_iter()
                .filter_map(|y| {
                    let date = NaiveDate::from_ymd_opt(y, month.into(), day.into())?;
                    let t = date.and_hms_opt(hour.into(), minute.into(), second.into())?;
                    now.offset().from_local_datetime(&t).single()
                })
                .min_by_key(|t| (*t - now).num_seconds().unsigned_abs()),
        }
    }
}

/// One RFC 5424 SD-ELEMENT: `[id name="value" ...]`, values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    pub id: String,
    /// In order; RFC 5424 lets a name repeat.
    pub params: Vec<(String, String)>,
}

impl SdElement {
    /// The first value of the parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A decoded syslog message of either format: a plain record of what the
/// sender sent. From [`SyslogMessage::decode`], every field is within the
/// rules of its format; fields a sender left out (RFC 5424's `-`, RFC 3164's
/// absent tag) are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage {
    pub protocol: Protocol,
    pub facility: Facility,
    pub severity: Severity,
    pub timestamp: Option<Timestamp>,
    /// At most 255 printable US-ASCII characters.
    pub hostname: Option<String>,
    /// RFC 5424's APP-NAME, or the RFC 3164 TAG before `[` or `:`.
    pub app_name: Option<String>,
    /// RFC 5424's PROCID, or what an RFC 3164 TAG has in `[...]`.
    pub proc_id: Option<String>,
    /// RFC 5424 only.
    pub msg_id: Option<String>,
    /// RFC 5424 only; no SD-ID appears twice.
    pub structured_data: Vec<SdElement>,
    /// The free text; a leading byte-order mark is not part of it.
    pub msg: String,
}

impl SyslogMessage {
    /// Decodes one message (one frame: no length prefix or trailer).
    ///
    /// Strict where a lenient reading would invent data: the PRI is required
    /// and at most 191, RFC 5424 fields are separated by exactly one space and
    /// keep to their lengths and characters, structured data must parse
    /// whole. Bytes that are not UTF-8 are refused — RFC 5424 allows them in
    /// MSG, but nothing ucsync reads from syslog can use them.
    pub fn decode(bytes: &[u8]) -> Result<SyslogMessage, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let s = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let mut c = Cursor::new(s);
        let pri = pri(&mut c)?;
        let facility = Facility(pri >> 3);
        let severity = Severity(pri & 7);
        match version(&mut c) {
            Some(1) => rfc5424::parse(c, facility, severity),
            Some(v) => Err(DecodeError::UnsupportedVersion(v)),
            None => rfc3164::parse(c, facility, severity),
        }
    }

    /// The PRI value: facility × 8 + severity.
    pub fn pri(&self) -> u8 {
        self.facility.0 * 8 + self.severity.0
    }

    /// The structured-data element `id`, if the message has it.
    pub fn sd_element(&self, id: &str) -> Option<&SdElement> {
        self.structured_data.iter().find(|e| e.id == id)
    }
}

/// The part of a message an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Pri,
    Version,
    Timestamp,
    Hostname,
    AppName,
    ProcId,
    MsgId,
    StructuredData,
    Tag,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Pri => "pri",
            Part::Version => "version",
            Part::Timestamp => "timestamp",
            Part::Hostname => "hostname",
            Part::AppName => "app-name",
            Part::ProcId => "procid",
            Part::MsgId => "msgid",
            Part::StructuredData => "structured data",
            Part::Tag => "tag",
        })
    }
}

/// Why bytes are not a syslog message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty message")]
    Empty,
    #[error("not utf-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },
    #[error("no pri: a syslog message starts with `<`, a priority of 0 to 191 and `>`")]
    MissingPri,
    #[error("pri {0} is out of range: a priority is 0 to 191")]
    PriOutOfRange(u16),
    #[error("syslog version {0} is not supported: only version 1 (rfc 5424) and rfc 3164")]
    UnsupportedVersion(u16),
    #[error("the message ends before its {0} is complete")]
    Truncated(Part),
    #[error("bad {part}: {reason}")]
    Malformed { part: Part, reason: &'static str },
}

impl DecodeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecodeError::Empty | DecodeError::Truncated(_) => ErrorKind::Truncated,
            DecodeError::InvalidUtf8 { .. } => ErrorKind::InvalidUtf8,
            DecodeError::MissingPri
            | DecodeError::PriOutOfRange(_)
            | DecodeError::UnsupportedVersion(_)
            | DecodeError::Malformed { .. } => ErrorKind::Malformed,
        }
    }

    pub(crate) fn malformed(part: Part, reason: &'static str) -> DecodeError {
        DecodeError::Malformed { part, reason }
    }
}

/// `<` 1*3DIGIT `>`, at most 191.
fn pri(c: &mut Cursor) -> Result<u8, DecodeError> {
    if !c.eat(b'<') {
        return Err(DecodeError::MissingPri);
    }
    let digits = c.take_while(|b| b.is_ascii_digit());
    if digits.is_empty() {
        return Err(match c.peek() {
            None => DecodeError::Truncated(Part::Pri),
            Some(_) => DecodeError::malformed(Part::Pri, "expected digits after `<`"),
        });
    }
    if digits.len() > 3 {
        return Err(DecodeError::malformed(Part::Pri, "more than three digits"));
    }
    match c.peek() {
        None => return Err(DecodeError::Truncated(Part::Pri)),
        Some(b'>') => c.bump(),
        Some(_) => return Err(DecodeError::malformed(Part::Pri, "expected `>`")),
    }
    let value: u16 = digits.parse().unwrap_or(u16::MAX);
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 191)
        .ok_or(DecodeError::PriOutOfRange(value))
}

/// RFC 5424's VERSION: one to three digits followed by a space (or the end).
/// Anything else after the PRI is an RFC 3164 timestamp; the cursor is then
/// left where it was.
fn version(c: &mut Cursor) -> Option<u16> {
    let rest = c.rest().as_bytes();
    let n = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 || n > 3 || !matches!(rest.get(n), None | Some(b' ')) {
        return None;
    }
    let v = c.take_while(|b| b.is_ascii_digit());
    v.parse().ok()
}

/// Printable US-ASCII (RFC 5424's PRINTUSASCII): the bytes of header fields.
pub(crate) fn is_print(b: u8) -> bool {
    (33..=126).contains(&b)
}

/// A position in the message text.
///
/// Every predicate given to [`Cursor::take_while`] accepts only ASCII bytes or
/// stops only at ASCII bytes, so the cursor never rests inside a UTF-8
/// sequence and slicing the text cannot panic.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Cursor<'a> {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Steps over one ASCII byte (the caller has peeked it).
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let bytes = self.s.as_bytes();
        while self.pos < bytes.len() && f(bytes[self.pos]) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// Steps over `n` bytes, which the caller has checked end after an
    /// ASCII byte.
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.s.len());
    }

    /// Moves to the end, returning what was left.
    pub(crate) fn take_rest(&mut self) -> &'a str {
        let rest = self.rest();
        self.pos = self.s.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(input: &[u8], expect: DecodeError) {
        assert_eq!(
            SyslogMessage::decode(input),
            Err(expect),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn pri_errors() {
        use DecodeError::*;
        check_err(b"", Empty);
        check_err(b"hello", MissingPri);
        check_err(b" <13>1 - - - - - -", MissingPri);
        check_err(b"<", Truncated(Part::Pri));
        check_err(b"<13", Truncated(Part::Pri));
        check_err(
            b"<>1 - - - - - -",
            DecodeError::malformed(Part::Pri, "expected digits after `<`"),
        );
        check_err(
            b"<1234>",
            DecodeError::malformed(Part::Pri, "more than three digits"),
        );
        check_err(b"<13x", DecodeError::malformed(Part::Pri, "expected `>`"));
        check_err(b"<192>1 - - - - - -", PriOutOfRange(192));
        check_err(b"<999>Nov 26 10:02:03 h t: m", PriOutOfRange(999));
    }

    #[test]
    fn pri_bounds() {
        let m = SyslogMessage::decode(b"<191>1 - - - - - -").unwrap();
        assert_eq!((m.facility.name(), m.severity.name()), ("local7", "debug"));
        assert_eq!(m.pri(), 191);
        let m = SyslogMessage::decode(b"<0>1 - - - - - -").unwrap();
        assert_eq!((m.facility.name(), m.severity.name()), ("kern", "emerg"));
        let m = SyslogMessage::decode(b"<013>1 - - - - - -").unwrap();
        assert_eq!(m.pri(), 13, "leading zeros are harmless");
    }

    #[test]
    fn versions() {
        check_err(b"<13>2 - - - - - -", DecodeError::UnsupportedVersion(2));
        check_err(b"<13>0 - - - - - -", DecodeError::UnsupportedVersion(0));
        check_err(b"<13>123", DecodeError::UnsupportedVersion(123));
        check_err(b"<13>1", DecodeError::Truncated(Part::Timestamp));
    }

    #[test]
    fn invalid_utf8_is_its_own_kind() {
        let e = SyslogMessage::decode(b"<13>1 - h a - - - caf\xe9").unwrap_err();
        assert_eq!(e, DecodeError::InvalidUtf8 { valid_up_to: 21 });
        assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
    }

    #[test]
    fn kinds() {
        assert_eq!(DecodeError::Empty.kind(), ErrorKind::Truncated);
        assert_eq!(
            DecodeError::Truncated(Part::Hostname).kind(),
            ErrorKind::Truncated
        );
        assert_eq!(DecodeError::MissingPri.kind(), ErrorKind::Malformed);
        assert_eq!(DecodeError::PriOutOfRange(200).kind(), ErrorKind::Malformed);
        assert_eq!(
            DecodeError::UnsupportedVersion(2).kind(),
            ErrorKind::Malformed
        );
    }

    #[test]
    fn messages_are_lower_case() {
        for e in [
            DecodeError::Empty,
            DecodeError::InvalidUtf8 { valid_up_to: 1 },
            DecodeError::MissingPri,
            DecodeError::PriOutOfRange(200),
            DecodeError::UnsupportedVersion(2),
            DecodeError::Truncated(Part::StructuredData),
            DecodeError::malformed(Part::AppName, "x"),
        ] {
            let text = e.to_string();
            assert!(!text.starts_with(|c: char| c.is_uppercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }

    #[test]
    fn bsd_timestamps_resolve_to_the_nearest_year() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let bsd = |month, day| Timestamp::Bsd {
            month,
            day,
            hour: 10,
            minute: 2,
            second: 3,
        };
        let now = at("2026-11-26T12:00:00+01:00");
        assert_eq!(
            bsd(11, 26).resolve(now),
            Some(at("2026-11-26T10:02:03+01:00"))
        );
        let new_year = at("2027-01-01T00:00:10+00:00");
        assert_eq!(
            bsd(12, 31).resolve(new_year),
            Some(at("2026-12-31T10:02:03+00:00"))
        );
        assert_eq!(
            bsd(1, 1).resolve(at("2026-12-31T23:59:00+00:00")),
            Some(at("2027-01-01T10:02:03+00:00"))
        );
        assert_eq!(
            bsd(2, 29).resolve(at("2028-03-01T00:00:00+00:00")),
            Some(at("2028-02-29T10:02:03+00:00"))
        );
        assert_eq!(
            bsd(2, 29).resolve(at("2026-03-01T00:00:00+00:00")),
            None,
            "no February 29th within a year of now"
        );
        let t = at("2026-11-26T10:02:03.5+02:00");
        assert_eq!(Timestamp::Rfc3339(t).resolve(now), Some(t));
    }

    #[test]
    fn facility_and_severity_names() {
        assert_eq!(Facility::new(24), None);
        assert_eq!(Severity::new(8), None);
        assert_eq!(Facility::new(16), Some(Facility::LOCAL0));
        assert_eq!(Facility::LOCAL0.name(), "local0");
        assert_eq!(Facility::USER.code(), 1);
        assert_eq!(Severity::NOTICE.name(), "notice");
        assert_eq!(Severity::INFO.code(), 6);
    }
}
