//! The notify event: ucsync's model of the change event a CM sends over
//! syslog when notify sync is on, carrying the same tuple as a row of the
//! CM's command history. The format is ours (a real CM's payload is not
//! public); it is defined here, both ways, and in `docs/notify-sync.md`.
//!
//! RFC 5424 (what the emulator sends):
//!
//! ```text
//! <13>1 2026-11-26T10:02:03.000+01:00 cm1 cm-notify - change [ucsyncNotify@32473 login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03"] craft change station 1001
//! ```
//!
//! RFC 3164 (the same parameters as the whole MSG):
//!
//! ```text
//! <13>Nov 26 10:02:03 cm1 cm-notify: login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03"
//! ```

use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Timelike};

use crate::params::{self, ParamError};
use crate::{ErrorKind, Protocol, SyslogMessage};

/// The APP-NAME (RFC 5424) or TAG (RFC 3164) of every notify event.
pub const APP_NAME: &str = "cm-notify";
/// The MSGID of a notify event (RFC 5424 only): an object changed.
pub const MSG_ID: &str = "change";
/// The SD-ID of the element that carries the event. 32473 is the private
/// enterprise number reserved for documentation (RFC 5612), the one RFC 5424's
/// own examples use; ucsync has no number of its own.
pub const SD_ID: &str = "ucsyncNotify@32473";
/// The PRI the encoders write: `user.notice`, what util-linux `logger` sends
/// by default. Receivers do not look at it.
pub const PRI: u8 = 13;
/// The format of the `time` parameter: the CM's local clock, to the second,
/// with no offset — as the CM's history keeps it.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

// The limits on each field, in bytes, are far above what a CM has and low
// enough that an event, escaped, stays under 1 KiB.

/// The longest login.
pub const MAX_LOGIN: usize = 32;
/// The longest object (its words joined by single spaces).
pub const MAX_OBJECT: usize = 64;
/// The longest qualifier.
pub const MAX_QUALIFIER: usize = 128;
/// The longest CM name; a CM name follows the rules of
/// `ucsync_core::ElementName` (this crate depends on no crate of ours).
pub const MAX_CM: usize = 64;
const MAX_ACTION: usize = 16;

/// The parameters of the event, in the order the encoders write them.
const PARAMS: [&str; 5] = ["login", "action", "object", "qualifier", "time"];

/// What the command did: one of the SAT verbs that change data, or another
/// verb a CM may report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Add,
    Change,
    Remove,
    Duplicate,
    /// Any other verb: 1 to 16 lower-case ASCII letters or `-`.
    Other(String),
}

impl Action {
    pub fn parse(s: &str) -> Result<Action, EventError> {
        Ok(match s {
            "add" => Action::Add,
            "change" => Action::Change,
            "remove" => Action::Remove,
            "duplicate" => Action::Duplicate,
            _ if (1..=MAX_ACTION).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') =>
            {
                Action::Other(s.to_string())
            }
            _ => {
                return Err(EventError::BadField {
                    field: "action",
                    reason: "use 1 to 16 lower-case letters or `-`, such as `change`",
                });
            }
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Action::Add => "add",
            Action::Change => "change",
            Action::Remove => "remove",
            Action::Duplicate => "duplicate",
            Action::Other(s) => s,
        }
    }

    /// Whether the object is gone afterwards, so there is nothing to read.
    pub fn removes(&self) -> bool {
        matches!(self, Action::Remove)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a syslog message is not a usable notify event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not a notify event: app-name {} is not `cm-notify`", shown(.app_name))]
    NotNotify { app_name: Option<String> },
    #[error("not a notify event: msgid {} is not `change`", shown(.msg_id))]
    UnknownMsgId { msg_id: Option<String> },
    #[error("notify event without a hostname: the hostname must be the cm's name")]
    MissingHostname,
    #[error("notify event without its [ucsyncNotify@32473 ...] structured data")]
    MissingElement,
    #[error("notify event without its `{0}` parameter")]
    MissingParam(&'static str),
    #[error("notify event with its `{0}` parameter twice")]
    DuplicateParam(&'static str),
    #[error("notify event with a bad {field}: {reason}")]
    BadField {
        field: &'static str,
        reason: &'static str,
    },
    #[error("notify event whose text ends inside a name=\"value\" parameter")]
    ParamsTruncated,
    #[error("notify event whose text is not name=\"value\" parameters: {0}")]
    BadParams(&'static str),
}

fn shown(field: &Option<String>) -> String {
    field
        .as_ref()
        .map_or("`-`".to_string(), |s| format!("{s:?}"))
}

impl EventError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EventError::NotNotify { .. } | EventError::UnknownMsgId { .. } => ErrorKind::NotNotify,
            EventError::ParamsTruncated => ErrorKind::Truncated,
            EventError::MissingHostname
            | EventError::MissingElement
            | EventError::MissingParam(_)
            | EventError::DuplicateParam(_)
            | EventError::BadField { .. }
            | EventError::BadParams(_) => ErrorKind::Malformed,
        }
    }
}

/// One change on a CM: who did what to which object, and when on the CM's
/// clock.
///
/// Unlike a history row, nothing is abbreviated or cut: `action` is the full
/// verb and `object` the full object words (`system-parameters features`), as
/// the CM resolved the command; resolve a history row with
/// `ucsync_ossi::vocabulary` to compare the two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyEvent {
    cm: String,
    login: String,
    action: Action,
    object: String,
    qualifier: Option<String>,
    time: NaiveDateTime,
}

impl NotifyEvent {
    /// An event, checked and normalised: runs of whitespace in `object` and
    /// `qualifier` become one space and the ends are trimmed, an empty
    /// qualifier is none, and `time` is cut to the second.
    pub fn new(
        cm: &str,
        login: &str,
        action: Action,
        object: &str,
        qualifier: &str,
        time: NaiveDateTime,
    ) -> Result<NotifyEvent, EventError> {
        let cm_ok = (1..=MAX_CM).contains(&cm.len())
            && cm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && cm.as_bytes()[0].is_ascii_alphanumeric();
        if !cm_ok {
            return Err(EventError::BadField {
                field: "cm name",
                reason: "the hostname must be an element name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
            });
        }
        if login.is_empty()
            || login.len() > MAX_LOGIN
            || login.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EventError::BadField {
                field: "login",
                reason: "use 1 to 32 bytes without spaces or control characters",
            });
        }
        let action = Action::parse(action.as_str())?;
        let object = words(object, "object", MAX_OBJECT)?;
        if object.is_empty() {
            return Err(EventError::BadField {
                field: "object",
                reason: "empty: name the object, such as `station`",
            });
        }
        let qualifier = words(qualifier, "qualifier", MAX_QUALIFIER)?;
        if !(1..=9999).contains(&time.year()) {
            return Err(EventError::BadField {
                field: "time",
                reason: "the year must have four digits",
            });
        }
        Ok(NotifyEvent {
            cm: cm.to_string(),
            login: login.to_string(),
            action,
            object,
            qualifier: (!qualifier.is_empty()).then_some(qualifier),
            time: time.with_nanosecond(0).unwrap_or(time),
        })
    }

    /// The event a syslog message carries, in either form.
    pub fn parse(m: &SyslogMessage) -> Result<NotifyEvent, EventError> {
        if m.app_name.as_deref() != Some(APP_NAME) {
            return Err(EventError::NotNotify {
                app_name: m.app_name.clone(),
            });
        }
        match m.protocol {
            Protocol::Rfc5424 => {
                if m.msg_id.as_deref() != Some(MSG_ID) {
                    return Err(EventError::UnknownMsgId {
                        msg_id: m.msg_id.clone(),
                    });
                }
                let element = m.sd_element(SD_ID).ok_or(EventError::MissingElement)?;
                from_params(
                    m.hostname.as_deref(),
                    element.params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                )
            }
            Protocol::Rfc3164 => {
                let pairs = params::pairs(&m.msg).map_err(|e| match e {
                    ParamError::Truncated => EventError::ParamsTruncated,
                    ParamError::Malformed(reason) => EventError::BadParams(reason),
                })?;
                from_params(
                    m.hostname.as_deref(),
                    pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                )
            }
        }
    }

    /// The CM's name: the syslog HOSTNAME.
    pub fn cm(&self) -> &str {
        &self.cm
    }

    /// The CM login that made the change.
    pub fn login(&self) -> &str {
        &self.login
    }

    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The SAT object words, such as `station` or `system-parameters features`.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The words after the object, such as the extension `1001`.
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    /// When, on the CM's clock (its local time; no offset, as in its history).
    pub fn time(&self) -> NaiveDateTime {
        self.time
    }

    /// The event as the CM's history would show it: `craft change station 1001`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {} {}", self.login, self.action, self.object);
        if let Some(q) = &self.qualifier {
            s.push(' ');
            s.push_str(q);
        }
        s
    }

    /// The RFC 5424 message (without framing), stamped `sent_at`.
    pub fn to_rfc5424(&self, sent_at: DateTime<FixedOffset>) -> String {
        let mut s = String::with_capacity(320);
        let _ = write!(
            s,
            "<{PRI}>1 {} {} {APP_NAME} - {MSG_ID} [{SD_ID} ",
            sent_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            self.cm
        );
        self.write_params(&mut s);
        s.push_str("] ");
        s.push_str(&self.summary());
        s
    }

    /// The RFC 3164 message (without framing), stamped `sent_at` (its offset
    /// and year are not written: RFC 3164 has neither).
    pub fn to_rfc3164(&self, sent_at: DateTime<FixedOffset>) -> String {
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "<{PRI}>{} {} {APP_NAME}: ",
            sent_at.format("%b %e %H:%M:%S"),
            self.cm
        );
        self.write_params(&mut s);
        s
    }

    /// `login="…" action="…" object="…" qualifier="…" time="…"`.
    fn write_params(&self, out: &mut String) {
        let time = self.time.format(TIME_FORMAT).to_string();
        let values = [
            self.login.as_str(),
            self.action.as_str(),
            &self.object,
            self.qualifier.as_deref().unwrap_or(""),
            &time,
        ];
        for (i, (name, value)) in PARAMS.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(name);
            out.push_str("=\"");
            params::escape_into(value, out);
            out.push('"');
        }
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} at {}",
            self.summary(),
            self.cm,
            self.time.format(TIME_FORMAT)
        )
    }
}

/// Checks text for control characters, then makes runs of whitespace one
/// space.
fn words(s: &str, field: &'static str, max: usize) -> Result<String, EventError> {
    if s.chars().any(char::is_control) {
        return Err(EventError::BadField {
            field,
            reason: "control characters",
        });
    }
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.len() > max {
        return Err(EventError::BadField {
            field,
            reason: "too long",
        });
    }
    Ok(out)
}

/// `YYYY-MM-DDTHH:MM:SS`, exactly.
fn parse_time(s: &str) -> Result<NaiveDateTime, EventError> {
    let shape_ok = s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    // The shape is checked, so every number is digits: read them directly,
    // which is several times faster than a format string.
    let n = |from: usize, to: usize| {
        s.as_bytes()[from..to]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    shape_ok
        .then(|| {
            NaiveDate::from_ymd_opt(n(0, 4) as i32, n(5, 7), n(8, 10))?.and_hms_opt(
                n(11, 13),
                n(14, 16),
                n(17, 19),
            )
        })
        .flatten()
        .ok_or(EventError::BadField {
            field: "time",
            reason: "use the cm's local time as YYYY-MM-DDTHH:MM:SS",
        })
}

fn from_params<'a>(
    hostname: Option<&str>,
    params: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<NotifyEvent, EventError> {
    let cm = hostname.ok_or(EventError::MissingHostname)?;
    let mut found: [Option<&str>; 5] = [None; 5];
    for (name, value) in params {
        // Other names are reserved for additions; a reader of this version
        // does without them.
        let Some(i) = PARAMS.iter().position(|p| *p == name) else {
            continue;
        };
        if found[i].replace(value).is_some() {
            return Err(EventError::DuplicateParam(PARAMS[i]));
        }
    }
    let get = |i: usize| found[i].ok_or(EventError::MissingParam(PARAMS[i]));
    let (login, action, object) = (get(0)?, get(1)?, get(2)?);
    let time = parse_time(get(4)?)?;
    NotifyEvent::new(
        cm,
        login,
        Action::parse(action)?,
        object,
        found[3].unwrap_or(""),
        time,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(10, 2, 3)
            .unwrap()
    }

    fn sent_at() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-11-26T10:02:03.250+01:00").unwrap()
    }

    fn station_change() -> NotifyEvent {
        NotifyEvent::new("cm1", "craft", Action::Change, "station", "1001", time()).unwrap()
    }

    fn parse(text: &str) -> Result<NotifyEvent, EventError> {
        let m = SyslogMessage::decode(text.as_bytes()).expect("a syslog message");
        NotifyEvent::parse(&m)
    }

    fn check(text: &str, expect: Result<NotifyEvent, EventError>) {
        assert_eq!(parse(text), expect, "{text}");
    }

    /// An RFC 5424 event with this SD element (or none) and MSG.
    fn rfc5424(sd: &str) -> String {
        format!("<13>1 2026-11-26T10:02:03Z cm1 cm-notify - change {sd} text")
    }

    /// An RFC 3164 event with this text.
    fn rfc3164(text: &str) -> String {
        format!("<13>Nov 26 10:02:03 cm1 cm-notify: {text}")
    }

    const FULL: &str = r#"login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03""#;

    #[test]
    fn the_documented_examples() {
        let e = station_change();
        assert_eq!(
            e.to_rfc5424(sent_at()),
            r#"<13>1 2026-11-26T10:02:03.250+01:00 cm1 cm-notify - change [ucsyncNotify@32473 login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03"] craft change station 1001"#
        );
        assert_eq!(
            e.to_rfc3164(sent_at()),
            r#"<13>Nov 26 10:02:03 cm1 cm-notify: login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03""#
        );
        check(&e.to_rfc5424(sent_at()), Ok(e.clone()));
        check(&e.to_rfc3164(sent_at()), Ok(e));
    }

    #[test]
    fn single_digit_days_are_padded_in_rfc_3164() {
        let at = DateTime::parse_from_rfc3339("2026-11-06T09:08:07Z").unwrap();
        assert!(
            station_change()
                .to_rfc3164(at)
                .starts_with("<13>Nov  6 09:08:07 cm1 ")
        );
    }

    #[test]
    fn utc_is_written_as_z() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T10:02:03+00:00").unwrap();
        assert!(
            station_change()
                .to_rfc5424(at)
                .starts_with("<13>1 2026-11-26T10:02:03.000Z cm1 ")
        );
    }

    #[test]
    fn without_qualifier() {
        let e = NotifyEvent::new(
            "cm1",
            "craft",
            Action::Change,
            "system-parameters  features",
            "  ",
            time(),
        )
        .unwrap();
        assert_eq!(e.object(), "system-parameters features");
        assert_eq!(e.qualifier(), None);
        assert_eq!(e.summary(), "craft change system-parameters features");
        assert!(e.to_rfc5424(sent_at()).contains(r#" qualifier="" "#));
        check(&e.to_rfc5424(sent_at()), Ok(e.clone()));
        check(&e.to_rfc3164(sent_at()), Ok(e.clone()));
        check(
            &rfc3164(
                r#"login="craft" action="change" object="system-parameters features" time="2026-11-26T10:02:03""#,
            ),
            Ok(e),
        );
    }

    #[test]
    fn values_that_need_escaping() {
        let e = NotifyEvent::new(
            "cm1",
            r#"a"b\c]"#,
            Action::Add,
            "station",
            r#"1 "x" \] y"#,
            time(),
        )
        .unwrap();
        let text = e.to_rfc5424(sent_at());
        assert!(text.contains(r#"login="a\"b\\c\]""#), "{text}");
        check(&text, Ok(e.clone()));
        check(&e.to_rfc3164(sent_at()), Ok(e));
    }

    #[test]
    fn unicode_values() {
        let e = NotifyEvent::new(
            "cm1",
            "jürgen",
            Action::Change,
            "station",
            "Müller 中",
            time(),
        )
        .unwrap();
        check(&e.to_rfc5424(sent_at()), Ok(e.clone()));
        check(&e.to_rfc3164(sent_at()), Ok(e));
    }

    #[test]
    fn what_logger_sends() {
        // `logger --rfc5424 -t cm-notify --msgid change --sd-id ucsyncNotify@32473 --sd-param ...`
        // (util-linux 2.38.1) adds its own timeQuality element first.
        let text = r#"<13>1 2026-11-26T05:47:45.563901+00:00 vm cm-notify - change [timeQuality tzKnown="1" isSynced="0"][ucsyncNotify@32473 login="craft" action="change" object="station" qualifier="1001" time="2026-11-26T10:02:03"] craft change station 1001"#;
        let e = NotifyEvent::new("vm", "craft", Action::Change, "station", "1001", time()).unwrap();
        check(text, Ok(e.clone()));
        // `logger --rfc3164 -t cm-notify 'login="craft" ...'`
        check(
            &format!("<13>Nov 26 05:47:45 vm cm-notify: {FULL}"),
            Ok(e.clone()),
        );
        // ... with `-i`, which adds the pid.
        check(
            &format!("<13>Nov 26 05:47:45 vm cm-notify[26243]: {FULL}"),
            Ok(e),
        );
    }

    #[test]
    fn actions() {
        for (text, action) in [
            ("add", Action::Add),
            ("change", Action::Change),
            ("remove", Action::Remove),
            ("duplicate", Action::Duplicate),
            ("busyout", Action::Other("busyout".into())),
            ("un-merge", Action::Other("un-merge".into())),
        ] {
            assert_eq!(Action::parse(text), Ok(action.clone()));
            assert_eq!(action.as_str(), text);
        }
        for bad in ["", "Change", "cha nge", "x1", "abcdefghijklmnopq"] {
            assert!(Action::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Action::Remove.removes());
        assert!(!Action::Change.removes());
        let e = NotifyEvent::new(
            "cm1",
            "c",
            Action::Other("add".into()),
            "station",
            "",
            time(),
        )
        .unwrap();
        assert_eq!(e.action(), &Action::Add, "a known verb is never Other");
        assert!(
            NotifyEvent::new(
                "cm1",
                "c",
                Action::Other("Bad Verb".into()),
                "s",
                "",
                time()
            )
            .is_err()
        );
    }

    #[test]
    fn other_messages_are_not_notify_events() {
        let not = |app: Option<&str>| {
            Err(EventError::NotNotify {
                app_name: app.map(Into::into),
            })
        };
        check("<13>1 - cm1 sshd - - - hello", not(Some("sshd")));
        check("<13>1 - cm1 - - - - hello", not(None));
        check("<13>Nov 26 10:02:03 cm1 cron[1]: job", not(Some("cron")));
        check(
            "<13>Nov 26 10:02:03 cm1 CM-NOTIFY: x",
            not(Some("CM-NOTIFY")),
        );
        check(
            "<13>1 - cm1 cm-notify - heartbeat -",
            Err(EventError::UnknownMsgId {
                msg_id: Some("heartbeat".into()),
            }),
        );
        check(
            "<13>1 - cm1 cm-notify - - -",
            Err(EventError::UnknownMsgId { msg_id: None }),
        );
        for e in [
            EventError::NotNotify { app_name: None },
            EventError::UnknownMsgId { msg_id: None },
        ] {
            assert_eq!(e.kind(), ErrorKind::NotNotify);
        }
    }

    #[test]
    fn missing_parts() {
        check(
            "<13>1 - - cm-notify - change [ucsyncNotify@32473 login=\"c\"]",
            Err(EventError::MissingHostname),
        );
        check(
            &format!("<13>Nov 26 10:02:03 cm-notify: {FULL}"),
            Err(EventError::MissingHostname),
        );
        check(&rfc5424("-"), Err(EventError::MissingElement));
        check(
            &rfc5424("[other@32473 login=\"c\"]"),
            Err(EventError::MissingElement),
        );
        check(
            &rfc5424("[ucsyncNotify login=\"c\"]"),
            Err(EventError::MissingElement),
        );
        for (i, name) in ["login", "action", "object", "time"]
            .into_iter()
            .enumerate()
        {
            let without: Vec<&str> = FULL
                .split(' ')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect();
            assert_eq!(without.len(), 4, "{i}");
            let without = without.join(" ");
            check(
                &rfc5424(&format!("[ucsyncNotify@32473 {without}]")),
                Err(EventError::MissingParam(name)),
            );
            check(&rfc3164(&without), Err(EventError::MissingParam(name)));
        }
        check(&rfc3164(""), Err(EventError::MissingParam("login")));
    }

    #[test]
    fn unknown_parameters_are_ignored_and_known_ones_may_not_repeat() {
        let e = station_change();
        check(
            &rfc5424(&format!("[ucsyncNotify@32473 seq=\"7\" {FULL}]")),
            Ok(e.clone()),
        );
        check(&rfc3164(&format!("{FULL} seq=\"7\"")), Ok(e));
        check(
            &rfc5424(&format!("[ucsyncNotify@32473 {FULL} login=\"x\"]")),
            Err(EventError::DuplicateParam("login")),
        );
        check(
            &rfc3164(&format!("qualifier=\"1\" {FULL}")),
            Err(EventError::DuplicateParam("qualifier")),
        );
    }

    #[test]
    fn the_parameter_order_does_not_matter() {
        let mut reversed: Vec<&str> = FULL.split(' ').collect();
        reversed.reverse();
        check(&rfc3164(&reversed.join(" ")), Ok(station_change()));
    }

    #[test]
    fn bad_rfc_3164_text() {
        check(
            &rfc3164("craft changed station 1001"),
            Err(EventError::BadParams("expected `=` after a parameter name")),
        );
        check(
            &rfc3164(r#"login="craft"#),
            Err(EventError::ParamsTruncated),
        );
        assert_eq!(EventError::ParamsTruncated.kind(), ErrorKind::Truncated);
        assert_eq!(EventError::BadParams("x").kind(), ErrorKind::Malformed);
    }

    fn bad(field: &'static str) -> impl Fn(&Result<NotifyEvent, EventError>) -> bool {
        move |r| matches!(r, Err(EventError::BadField { field: f, .. }) if *f == field)
    }

    #[test]
    fn bad_fields() {
        let with = |name: &str, value: &str| {
            let params: Vec<String> = FULL
                .split(' ')
                .map(|p| {
                    if p.starts_with(&format!("{name}=")) {
                        format!("{name}=\"{value}\"")
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            parse(&rfc3164(&params.join(" ")))
        };
        for (name, value, field) in [
            ("login", "", "login"),
            ("login", "two words", "login"),
            ("login", &"l".repeat(33), "login"),
            ("login", "tab\there", "login"),
            ("action", "Change", "action"),
            ("action", "", "action"),
            ("object", "", "object"),
            ("object", "   ", "object"),
            ("object", &"o".repeat(65), "object"),
            ("object", "sta\u{7}tion", "object"),
            ("qualifier", "10\n01", "qualifier"),
            ("qualifier", &"q".repeat(129), "qualifier"),
            ("time", "2026-11-26 10:02:03", "time"),
            ("time", "2026-11-26T10:02:03Z", "time"),
            ("time", "2026-11-26T10:02", "time"),
            ("time", "2026-02-30T10:02:03", "time"),
            ("time", "2026-11-26T24:00:00", "time"),
            ("time", "+026-11-26T10:02:03", "time"),
            ("time", "", "time"),
        ] {
            let r = with(name, value);
            assert!(bad(field)(&r), "{name}={value:?}: {r:?}");
            assert_eq!(r.unwrap_err().kind(), ErrorKind::Malformed);
        }
        assert_eq!(with("login", &"l".repeat(32)).unwrap().login().len(), 32);
    }

    #[test]
    fn cm_names() {
        let cm = |name: &str| NotifyEvent::new(name, "c", Action::Add, "station", "", time());
        for ok in ["cm1", "CM-East.example_1", "1cm", &"c".repeat(64)] {
            assert_eq!(cm(ok).unwrap().cm(), ok);
        }
        for no in ["", "-cm", "cm:", "cm[1]", "cm 1", "cm/1", &"c".repeat(65)] {
            assert!(bad("cm name")(&cm(no)), "{no:?}");
        }
        check(
            &format!("<13>1 - .cm cm-notify - change [ucsyncNotify@32473 {FULL}]"),
            Err(EventError::BadField {
                field: "cm name",
                reason: "the hostname must be an element name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
            }),
        );
    }

    #[test]
    fn time_is_cut_to_the_second_and_needs_a_four_digit_year() {
        let precise = time().with_nanosecond(999_000_000).unwrap();
        let e = NotifyEvent::new("cm1", "c", Action::Add, "station", "", precise).unwrap();
        assert_eq!(e.time(), time());
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert!(bad("time")(&NotifyEvent::new(
            "cm1",
            "c",
            Action::Add,
            "s",
            "",
            far
        )));
    }

    #[test]
    fn display_and_error_messages() {
        assert_eq!(
            station_change().to_string(),
            "craft change station 1001 on cm1 at 2026-11-26T10:02:03"
        );
        assert_eq!(
            EventError::NotNotify {
                app_name: Some("sshd".into())
            }
            .to_string(),
            "not a notify event: app-name \"sshd\" is not `cm-notify`"
        );
        assert_eq!(
            EventError::UnknownMsgId { msg_id: None }.to_string(),
            "not a notify event: msgid `-` is not `change`"
        );
        assert_eq!(
            EventError::MissingParam("time").to_string(),
            "notify event without its `time` parameter"
        );
    }

    #[test]
    fn an_event_at_every_limit_fits_the_default_frame() {
        let worst = NotifyEvent::new(
            &"c".repeat(MAX_CM),
            &"\"".repeat(MAX_LOGIN),
            Action::Other("a".repeat(16)),
            &"]".repeat(MAX_OBJECT),
            &"\\".repeat(MAX_QUALIFIER),
            time(),
        )
        .unwrap();
        let text = worst.to_rfc5424(sent_at());
        assert!(text.len() < 1024, "{}", text.len());
        assert!(text.len() <= crate::DEFAULT_MAX_LEN);
        check(&text, Ok(worst.clone()));
        check(&worst.to_rfc3164(sent_at()), Ok(worst));
    }
}
