//! RFC 3164 (BSD syslog) after `<PRI>`: `Mmm dd hh:mm:ss HOSTNAME TAG: MSG`.
//!
//! RFC 3164 describes what senders did rather than a grammar, so this reader
//! keeps to the shapes that real senders (util-linux `logger --rfc3164`,
//! rsyslog, syslog-ng) produce and refuses the rest rather than guessing:
//!
//! - The timestamp is required: `Mmm dd hh:mm:ss` (day padded with a space or
//!   not), or an RFC 3339 date and time as rsyslog sends in this format.
//! - A HOSTNAME follows, unless the first word is already a TAG (a message
//!   logged locally has none).
//! - A TAG is a name followed by `:` or `[pid]` (and maybe `:`), then a space
//!   or the end. A word that is not shaped so is not a tag: it and what
//!   follows are MSG, rather than an APP-NAME made up from the text.

use chrono::{DateTime, NaiveDate};

use crate::Protocol;
use crate::message::{
    Cursor, DecodeError, Facility, Part, Severity, SyslogMessage, Timestamp, is_print,
};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Longest tag name taken as an APP-NAME (RFC 5424's limit).
const MAX_TAG: usize = 48;
const MAX_PID: usize = 128;
const MAX_HOSTNAME: usize = 255;

pub(crate) fn parse(
    mut c: Cursor,
    facility: Facility,
    severity: Severity,
) -> Result<SyslogMessage, DecodeError> {
    let timestamp = timestamp(&mut c)?;
    let mut m = SyslogMessage {
        protocol: Protocol::Rfc3164,
        facility,
        severity,
        timestamp: Some(timestamp),
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: Vec::new(),
        msg: String::new(),
    };
    match c.peek() {
        None => return Ok(m),
        Some(b' ') => c.bump(),
        Some(_) => {
            return Err(DecodeError::malformed(
                Part::Timestamp,
                "expected a space after the timestamp",
            ));
        }
    }
    let mut tagged = tag(&mut c)?;
    if tagged.is_none() {
        let host = c.take_while(|b| b != b' ');
        if host.is_empty() {
            if c.peek().is_none() {
                return Ok(m);
            }
            return Err(DecodeError::malformed(
                Part::Hostname,
                "empty: expected one space after the timestamp",
            ));
        }
        if !host.bytes().all(is_print) {
            return Err(DecodeError::malformed(
                Part::Hostname,
                "not printable us-ascii characters",
            ));
        }
        if host.len() > MAX_HOSTNAME {
            return Err(DecodeError::malformed(Part::Hostname, "too long"));
        }
        m.hostname = Some(host.to_string());
        if !c.eat(b' ') {
            return Ok(m);
        }
        tagged = tag(&mut c)?;
    }
    if let Some((app, pid)) = tagged {
        m.app_name = Some(app.to_string());
        m.proc_id = pid.map(str::to_string);
    }
    m.msg = c.take_rest().to_string();
    Ok(m)
}

/// A TAG at the cursor — `name:` or `name[pid]` or `name[pid]:`, then a
/// space (stepped over) or the end — or `None`, the cursor unmoved.
fn tag<'a>(c: &mut Cursor<'a>) -> Result<Option<(&'a str, Option<&'a str>)>, DecodeError> {
    let rest = c.rest();
    let b = rest.as_bytes();
    let is_name = |x: &u8| is_print(*x) && !matches!(x, b':' | b'[');
    let name_len = b.iter().take_while(|x| is_name(x)).count();
    if name_len == 0 || name_len > MAX_TAG {
        return Ok(None);
    }
    let (pid, mut end) = match b.get(name_len) {
        Some(b':') => (None, name_len + 1),
        Some(b'[') => {
            let start = name_len + 1;
            let pid_len = b[start..]
                .iter()
                .take_while(|x| is_print(**x) && **x != b']')
                .count();
            match b.get(start + pid_len) {
                None => return Err(DecodeError::Truncated(Part::Tag)),
                Some(b']') if (1..=MAX_PID).contains(&pid_len) => {}
                Some(_) => return Ok(None),
            }
            let end = start + pid_len + 1;
            let end = if b.get(end) == Some(&b':') {
                end + 1
            } else {
                end
            };
            (Some(&rest[start..start + pid_len]), end)
        }
        _ => return Ok(None),
    };
    match b.get(end) {
        None => {}
        Some(b' ') => end += 1,
        Some(_) => return Ok(None),
    }
    let name = &rest[..name_len];
    c.skip(end);
    Ok(Some((name, pid)))
}

fn timestamp(c: &mut Cursor) -> Result<Timestamp, DecodeError> {
    let b = c.rest().as_bytes();
    if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let t = c.take_while(|b| b != b' ');
        return DateTime::parse_from_rfc3339(t)
            .map(Timestamp::Rfc3339)
            .map_err(|_| DecodeError::malformed(Part::Timestamp, "not an rfc 3339 date and time"));
    }
    bsd(c)
}

/// One byte of a timestamp that must satisfy `ok`.
fn next(c: &mut Cursor, ok: fn(u8) -> bool, expected: &'static str) -> Result<u8, DecodeError> {
    match c.peek() {
        None => Err(DecodeError::Truncated(Part::Timestamp)),
        Some(b) if ok(b) => {
            c.bump();
            Ok(b - if b.is_ascii_digit() { b'0' } else { 0 })
        }
        Some(_) => Err(DecodeError::malformed(Part::Timestamp, expected)),
    }
}

fn two_digits(c: &mut Cursor) -> Result<u8, DecodeError> {
    let tens = next(c, |b| b.is_ascii_digit(), "expected `Mmm dd hh:mm:ss`")?;
    let ones = next(c, |b| b.is_ascii_digit(), "expected `Mmm dd hh:mm:ss`")?;
    Ok(tens * 10 + ones)
}

/// `Mmm dd hh:mm:ss`, the day padded with a space (`Nov  6`) or not (`Nov 6`).
fn bsd(c: &mut Cursor) -> Result<Timestamp, DecodeError> {
    const SHAPE: &str = "expected `Mmm dd hh:mm:ss`";
    let name = c.take_while(|b| b.is_ascii_alphabetic());
    if name.len() < 3 && c.peek().is_none() {
        return Err(DecodeError::Truncated(Part::Timestamp));
    }
    if name.len() != 3 {
        return Err(DecodeError::malformed(Part::Timestamp, SHAPE));
    }
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .ok_or(DecodeError::malformed(Part::Timestamp, "unknown month"))?;
    let space = |b: u8| b == b' ';
    let digit = |b: u8| b.is_ascii_digit();
    next(c, space, SHAPE)?;
    let day = if c.eat(b' ') {
        next(c, digit, SHAPE)?
    } else {
        let d = next(c, digit, SHAPE)?;
        match c.peek() {
            Some(b) if b.is_ascii_digit() => {
                c.bump();
                d * 10 + (b - b'0')
            }
            _ => d,
        }
    };
    next(c, space, SHAPE)?;
    let hour = two_digits(c)?;
    next(c, |b| b == b':', SHAPE)?;
    let minute = two_digits(c)?;
    next(c, |b| b == b':', SHAPE)?;
    let second = two_digits(c)?;
    let month = month as u8 + 1;
    // Any year will do for the day's range, as long as it has a February 29th.
    if NaiveDate::from_ymd_opt(2000, month.into(), day.into()).is_none() {
        return Err(DecodeError::malformed(Part::Timestamp, "no such day"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(DecodeError::malformed(
            Part::Timestamp,
            "no such time of day",
        ));
    }
    Ok(Timestamp::Bsd {
        month,
        day,
        hour,
        minute,
        second,
    })
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use crate::message::{Part, Timestamp};
    use crate::testing::{check, check_err, empty};
    use crate::{DecodeError, Facility, Protocol, Severity, SyslogMessage};

    const NOV_26: Timestamp = Timestamp::Bsd {
        month: 11,
        day: 26,
        hour: 10,
        minute: 2,
        second: 3,
    };

    /// `<13>Nov 26 10:02:03` and nothing else.
    fn bare() -> SyslogMessage {
        SyslogMessage {
            timestamp: Some(NOV_26),
            ..empty(Protocol::Rfc3164)
        }
    }

    /// Host, tag, pid and text of `<13>Nov 26 10:02:03 {rest}`.
    fn check_rest(rest: &str, host: Option<&str>, tag: Option<&str>, pid: Option<&str>, msg: &str) {
        check(
            &format!("<13>Nov 26 10:02:03 {rest}"),
            SyslogMessage {
                hostname: host.map(Into::into),
                app_name: tag.map(Into::into),
                proc_id: pid.map(Into::into),
                msg: msg.into(),
                ..bare()
            },
        );
    }

    #[test]
    fn what_logger_sends() {
        check_rest(
            "vm cm-notify: a b",
            Some("vm"),
            Some("cm-notify"),
            None,
            "a b",
        );
        check_rest(
            "vm cm-notify[26243]: octet tcp 3164",
            Some("vm"),
            Some("cm-notify"),
            Some("26243"),
            "octet tcp 3164",
        );
    }

    #[test]
    fn rfc_3164_example() {
        check(
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            SyslogMessage {
                facility: Facility::new(4).unwrap(),
                severity: Severity::new(2).unwrap(),
                timestamp: Some(Timestamp::Bsd {
                    month: 10,
                    day: 11,
                    hour: 22,
                    minute: 14,
                    second: 15,
                }),
                hostname: Some("mymachine".into()),
                app_name: Some("su".into()),
                msg: "'su root' failed for lonvick on /dev/pts/8".into(),
                ..bare()
            },
        );
    }

    #[test]
    fn hosts_and_tags() {
        check_rest("", None, None, None, "");
        check_rest("host", Some("host"), None, None, "");
        check_rest("host ", Some("host"), None, None, "");
        check_rest("tag: text", None, Some("tag"), None, "text");
        check_rest("tag[1]: text", None, Some("tag"), Some("1"), "text");
        check_rest(
            "host tag[1] text",
            Some("host"),
            Some("tag"),
            Some("1"),
            "text",
        );
        check_rest("host tag:", Some("host"), Some("tag"), None, "");
        check_rest("host tag:  two", Some("host"), Some("tag"), None, " two");
        check_rest("host no tag here", Some("host"), None, None, "no tag here");
        check_rest(
            "host tag:no-space",
            Some("host"),
            None,
            None,
            "tag:no-space",
        );
        check_rest(
            "0:0:0:0:0:0:0:1 tag: x",
            Some("0:0:0:0:0:0:0:1"),
            Some("tag"),
            None,
            "x",
        );
        check_rest("::1 tag: x", Some("::1"), Some("tag"), None, "x");
        check_rest("host [1]: x", Some("host"), None, None, "[1]: x");
        check_rest("host tag[]: x", Some("host"), None, None, "tag[]: x");
        check_rest("host tag[a b]: x", Some("host"), None, None, "tag[a b]: x");
        check_rest("host täg: x", Some("host"), None, None, "täg: x");
        let long = "t".repeat(49);
        check_rest(
            &format!("host {long}: x"),
            Some("host"),
            None,
            None,
            &format!("{long}: x"),
        );
    }

    #[test]
    fn bad_hostnames() {
        check_err(
            "<13>Nov 26 10:02:03  two",
            DecodeError::malformed(
                Part::Hostname,
                "empty: expected one space after the timestamp",
            ),
        );
        check_err(
            "<13>Nov 26 10:02:03 höst tag: x",
            DecodeError::malformed(Part::Hostname, "not printable us-ascii characters"),
        );
        check_err(
            &format!("<13>Nov 26 10:02:03 {} tag: x", "h".repeat(256)),
            DecodeError::malformed(Part::Hostname, "too long"),
        );
    }

    #[test]
    fn a_tag_cut_inside_its_pid_is_truncated() {
        check_err(
            "<13>Nov 26 10:02:03 host tag[12",
            DecodeError::Truncated(Part::Tag),
        );
    }

    #[test]
    fn timestamps() {
        let bsd = |month, day| Timestamp::Bsd {
            month,
            day,
            hour: 10,
            minute: 2,
            second: 3,
        };
        for (text, ts) in [
            ("Nov 26 10:02:03", bsd(11, 26)),
            ("Nov  6 10:02:03", bsd(11, 6)),
            ("Nov 6 10:02:03", bsd(11, 6)),
            ("NOV 06 10:02:03", bsd(11, 6)),
            ("jan 31 10:02:03", bsd(1, 31)),
            ("Feb 29 10:02:03", bsd(2, 29)),
            (
                "2026-11-26T10:02:03.123+01:00",
                Timestamp::Rfc3339(
                    DateTime::parse_from_rfc3339("2026-11-26T10:02:03.123+01:00").unwrap(),
                ),
            ),
        ] {
            check(
                &format!("<13>{text} h t: x"),
                SyslogMessage {
                    timestamp: Some(ts),
                    hostname: Some("h".into()),
                    app_name: Some("t".into()),
                    msg: "x".into(),
                    ..bare()
                },
            );
        }
    }

    #[test]
    fn bad_timestamps() {
        let shape = DecodeError::malformed(Part::Timestamp, "expected `Mmm dd hh:mm:ss`");
        for (text, expect) in [
            ("hello world", shape.clone()),
            ("Nov 26 2026 10:02:03 h", shape.clone()),
            ("Nov 26 1:02:03 h", shape.clone()),
            ("Nov 126 10:02:03 h", shape.clone()),
            ("Novem 26 10:02:03 h", shape.clone()),
            ("No 26 10:02:03 h", shape.clone()),
            (
                "Nox 26 10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "unknown month"),
            ),
            (
                "Nov 31 10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "no such day"),
            ),
            (
                "Feb 30 10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "no such day"),
            ),
            (
                "Nov 00 10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "no such day"),
            ),
            (
                "Nov 26 24:02:03 h",
                DecodeError::malformed(Part::Timestamp, "no such time of day"),
            ),
            (
                "Nov 26 10:60:03 h",
                DecodeError::malformed(Part::Timestamp, "no such time of day"),
            ),
            (
                "Nov 26 10:02:60 h",
                DecodeError::malformed(Part::Timestamp, "no such time of day"),
            ),
            (
                "Nov 26 10:02:03.123 h",
                DecodeError::malformed(Part::Timestamp, "expected a space after the timestamp"),
            ),
            (
                "2026-11-26 10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "not an rfc 3339 date and time"),
            ),
            (
                "2026-11-26T10:02:03 h",
                DecodeError::malformed(Part::Timestamp, "not an rfc 3339 date and time"),
            ),
        ] {
            check_err(&format!("<13>{text}"), expect);
        }
    }

    #[test]
    fn truncated_timestamps() {
        for text in [
            "",
            "N",
            "Nov",
            "Nov ",
            "Nov 2",
            "Nov 26",
            "Nov 26 10:0",
            "Nov 26 10:02:0",
        ] {
            check_err(
                &format!("<13>{text}"),
                DecodeError::Truncated(Part::Timestamp),
            );
        }
    }
}
