//! RFC 5424 after `<PRI>1`: the header fields, structured data and MSG,
//! read strictly to the RFC's grammar.

use chrono::DateTime;

use crate::Protocol;
use crate::message::{
    Cursor, DecodeError, Facility, Part, SdElement, Severity, SyslogMessage, Timestamp, is_print,
};
use crate::params::{self, ParamError};

const BOM: &str = "\u{feff}";

pub(crate) fn parse(
    mut c: Cursor,
    facility: Facility,
    severity: Severity,
) -> Result<SyslogMessage, DecodeError> {
    space(&mut c, Part::Timestamp)?;
    let timestamp = match field(&mut c, Part::Timestamp, 64)? {
        None => None,
        Some(t) => Some(Timestamp::Rfc3339(
            DateTime::parse_from_rfc3339(t).map_err(|_| {
                DecodeError::malformed(Part::Timestamp, "not an rfc 3339 date and time")
            })?,
        )),
    };
    space(&mut c, Part::Hostname)?;
    let hostname = field(&mut c, Part::Hostname, 255)?;
    space(&mut c, Part::AppName)?;
    let app_name = field(&mut c, Part::AppName, 48)?;
    space(&mut c, Part::ProcId)?;
    let proc_id = field(&mut c, Part::ProcId, 128)?;
    space(&mut c, Part::MsgId)?;
    let msg_id = field(&mut c, Part::MsgId, 32)?;
    space(&mut c, Part::StructuredData)?;
    let structured_data = structured_data(&mut c)?;
    let msg = match c.peek() {
        None => "",
        Some(b' ') => {
            c.bump();
            let rest = c.take_rest();
            rest.strip_prefix(BOM).unwrap_or(rest)
        }
        Some(_) => {
            return Err(DecodeError::malformed(
                Part::StructuredData,
                "expected a space or the end after the structured data",
            ));
        }
    };
    Ok(SyslogMessage {
        protocol: Protocol::Rfc5424,
        facility,
        severity,
        timestamp,
        hostname: hostname.map(str::to_string),
        app_name: app_name.map(str::to_string),
        proc_id: proc_id.map(str::to_string),
        msg_id: msg_id.map(str::to_string),
        structured_data,
        msg: msg.to_string(),
    })
}

/// The one space before `next`.
fn space(c: &mut Cursor, next: Part) -> Result<(), DecodeError> {
    match c.peek() {
        None => Err(DecodeError::Truncated(next)),
        Some(b' ') => {
            c.bump();
            Ok(())
        }
        Some(_) => Err(DecodeError::malformed(next, "expected one space before it")),
    }
}

/// A header field: 1 to `max` printable US-ASCII characters, `-` for none.
fn field<'a>(c: &mut Cursor<'a>, part: Part, max: usize) -> Result<Option<&'a str>, DecodeError> {
    let f = c.take_while(|b| b != b' ');
    if f.is_empty() {
        return Err(match c.peek() {
            None => DecodeError::Truncated(part),
            Some(_) => DecodeError::malformed(part, "empty: fields are separated by one space"),
        });
    }
    if !f.bytes().all(is_print) {
        return Err(DecodeError::malformed(
            part,
            "not printable us-ascii characters",
        ));
    }
    if f.len() > max {
        return Err(DecodeError::malformed(part, "too long"));
    }
    Ok((f != "-").then_some(f))
}

/// `-`, or one or more `[SD-ID name="value" ...]` with no space between.
fn structured_data(c: &mut Cursor) -> Result<Vec<SdElement>, DecodeError> {
    match c.peek() {
        None => return Err(DecodeError::Truncated(Part::StructuredData)),
        Some(b'-') => {
            c.bump();
            return Ok(Vec::new());
        }
        Some(b'[') => {}
        Some(_) => {
            return Err(DecodeError::malformed(
                Part::StructuredData,
                "expected `-` or `[`",
            ));
        }
    }
    let mut elements: Vec<SdElement> = Vec::new();
    while c.eat(b'[') {
        let element = element(c).map_err(|e| match e {
            ParamError::Truncated => DecodeError::Truncated(Part::StructuredData),
            ParamError::Malformed(reason) => DecodeError::malformed(Part::StructuredData, reason),
        })?;
        if elements.iter().any(|e| e.id == element.id) {
            return Err(DecodeError::malformed(
                Part::StructuredData,
                "an sd-id appears twice",
            ));
        }
        elements.push(element);
    }
    Ok(elements)
}

/// An SD-ELEMENT after its `[`, through its `]`.
fn element(c: &mut Cursor) -> Result<SdElement, ParamError> {
    let id = params::name(c)?.to_string();
    let mut params = Vec::new();
    loop {
        match c.peek() {
            None => return Err(ParamError::Truncated),
            Some(b']') => {
                c.bump();
                return Ok(SdElement { id, params });
            }
            Some(b' ') => {
                c.bump();
                params.push(params::param(c)?);
            }
            Some(_) => {
                return Err(ParamError::Malformed(
                    "expected a space, a parameter or `]`",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use crate::message::{Part, SdElement, Timestamp};
    use crate::testing::{check, check_err, empty, malformed};
    use crate::{DecodeError, Facility, Protocol, Severity, SyslogMessage};

    /// The message all fields nil: tests change what they are about.
    fn nil() -> SyslogMessage {
        empty(Protocol::Rfc5424)
    }

    fn el(id: &str, params: &[(&str, &str)]) -> SdElement {
        SdElement {
            id: id.to_string(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn rfc_5424_example_1() {
        check(
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \
             \u{feff}'su root' failed for lonvick on /dev/pts/8",
            SyslogMessage {
                facility: Facility::new(4).unwrap(),
                severity: Severity::new(2).unwrap(),
                timestamp: Some(Timestamp::Rfc3339(
                    DateTime::parse_from_rfc3339("2003-10-11T22:14:15.003Z").unwrap(),
                )),
                hostname: Some("mymachine.example.com".into()),
                app_name: Some("su".into()),
                msg_id: Some("ID47".into()),
                msg: "'su root' failed for lonvick on /dev/pts/8".into(),
                ..nil()
            },
        );
    }

    #[test]
    fn rfc_5424_example_4_structured_data_and_msg() {
        check(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event log entry..."#,
            SyslogMessage {
                facility: Facility::new(20).unwrap(),
                severity: Severity::NOTICE,
                timestamp: Some(Timestamp::Rfc3339(
                    DateTime::parse_from_rfc3339("2003-10-11T22:14:15.003Z").unwrap(),
                )),
                hostname: Some("mymachine.example.com".into()),
                app_name: Some("evntslog".into()),
                msg_id: Some("ID47".into()),
                structured_data: vec![
                    el(
                        "exampleSDID@32473",
                        &[
                            ("iut", "3"),
                            ("eventSource", "Application"),
                            ("eventID", "1011"),
                        ],
                    ),
                    el("examplePriority@32473", &[("class", "high")]),
                ],
                msg: "An application event log entry...".into(),
                ..nil()
            },
        );
    }

    #[test]
    fn all_nil_and_no_msg() {
        check("<13>1 - - - - - -", nil());
    }

    #[test]
    fn empty_msg_after_the_space() {
        check("<13>1 - - - - - - ", nil());
    }

    #[test]
    fn msg_keeps_its_spaces_and_only_the_bom_goes() {
        check(
            "<13>1 - - - - - -  two  spaces ",
            SyslogMessage {
                msg: " two  spaces ".into(),
                ..nil()
            },
        );
        check(
            "<13>1 - - - - - - \u{feff}\u{feff}x",
            SyslogMessage {
                msg: "\u{feff}x".into(),
                ..nil()
            },
        );
    }

    #[test]
    fn timestamps_with_offsets_and_fractions() {
        let ts = |s: &str| Some(Timestamp::Rfc3339(DateTime::parse_from_rfc3339(s).unwrap()));
        for t in [
            "1985-04-12T23:20:50.52Z",
            "1985-04-12T19:20:50.52-04:00",
            "2003-08-24T05:14:15.000003-07:00",
            "2026-11-26T10:02:03+01:00",
        ] {
            check(
                &format!("<13>1 {t} - - - - -"),
                SyslogMessage {
                    timestamp: ts(t),
                    ..nil()
                },
            );
        }
    }

    #[test]
    fn bad_timestamps() {
        let bad = malformed(Part::Timestamp, "not an rfc 3339 date and time");
        for t in [
            "2003-08-24T05:14:15",
            "2003-08-24",
            "2003-13-24T05:14:15Z",
            "2003-02-30T05:14:15Z",
            "2003-08-24T25:14:15Z",
            "Oct 11 22:14:15",
            "now",
        ] {
            check_err(&format!("<13>1 {t} - - - - -"), bad.clone());
        }
    }

    #[test]
    fn header_fields() {
        check(
            "<13>1 - host app 1234 ID - msg",
            SyslogMessage {
                hostname: Some("host".into()),
                app_name: Some("app".into()),
                proc_id: Some("1234".into()),
                msg_id: Some("ID".into()),
                msg: "msg".into(),
                ..nil()
            },
        );
        check(
            "<13>1 - 0:0:0:0:0:0:0:1 - - - -",
            SyslogMessage {
                hostname: Some("0:0:0:0:0:0:0:1".into()),
                ..nil()
            },
        );
    }

    #[test]
    fn field_lengths() {
        let h = "h".repeat(255);
        check(
            &format!(
                "<13>1 - {h} {} {} {} -",
                "a".repeat(48),
                "p".repeat(128),
                "m".repeat(32)
            ),
            SyslogMessage {
                hostname: Some(h.clone()),
                app_name: Some("a".repeat(48)),
                proc_id: Some("p".repeat(128)),
                msg_id: Some("m".repeat(32)),
                ..nil()
            },
        );
        let too_long = |part| malformed(part, "too long");
        check_err(&format!("<13>1 - {h}h - - - -"), too_long(Part::Hostname));
        check_err(
            &format!("<13>1 - - {} - - -", "a".repeat(49)),
            too_long(Part::AppName),
        );
        check_err(
            &format!("<13>1 - - - {} - -", "p".repeat(129)),
            too_long(Part::ProcId),
        );
        check_err(
            &format!("<13>1 - - - - {} -", "m".repeat(33)),
            too_long(Part::MsgId),
        );
    }

    #[test]
    fn header_characters() {
        let not_ascii = |part| malformed(part, "not printable us-ascii characters");
        check_err("<13>1 - höst - - - -", not_ascii(Part::Hostname));
        check_err("<13>1 - h\tst - - - -", not_ascii(Part::Hostname));
        check_err("<13>1 - - app\u{7f} - - -", not_ascii(Part::AppName));
        check_err("<13>1 - - - - ms\u{0}g -", not_ascii(Part::MsgId));
    }

    #[test]
    fn exactly_one_space_between_fields() {
        let empty = |part| malformed(part, "empty: fields are separated by one space");
        check_err("<13>1  - - - - - -", empty(Part::Timestamp));
        check_err("<13>1 -  - - - - -", empty(Part::Hostname));
        check_err("<13>1 - - - -  - -", empty(Part::MsgId));
        check_err(
            "<13>1 - - - - -  -",
            malformed(Part::StructuredData, "expected `-` or `[`"),
        );
    }

    #[test]
    fn truncated_headers() {
        use DecodeError::Truncated as T;
        check_err("<13>1 ", T(Part::Timestamp));
        check_err("<13>1 -", T(Part::Hostname));
        check_err("<13>1 2026-11-26T10:02:03Z", T(Part::Hostname));
        check_err("<13>1 - host", T(Part::AppName));
        check_err("<13>1 - host ", T(Part::AppName));
        check_err("<13>1 - host app", T(Part::ProcId));
        check_err("<13>1 - host app -", T(Part::MsgId));
        check_err("<13>1 - host app - ID", T(Part::StructuredData));
        check_err("<13>1 - host app - ID ", T(Part::StructuredData));
    }

    #[test]
    fn structured_data_elements() {
        let check_sd = |sd: &str, expect: Vec<SdElement>| {
            check(
                &format!("<13>1 - - - - - {sd}"),
                SyslogMessage {
                    structured_data: expect,
                    ..nil()
                },
            )
        };
        check_sd("[a]", vec![el("a", &[])]);
        check_sd("[a][b]", vec![el("a", &[]), el("b", &[])]);
        check_sd(
            r#"[a x="1" x="2"]"#,
            vec![el("a", &[("x", "1"), ("x", "2")])],
        );
        check_sd(r#"[a x=""]"#, vec![el("a", &[("x", "")])]);
        check_sd(
            r#"[a x="q\"b\\c\]d]e"]"#,
            vec![el("a", &[("x", r#"q"b\c]d]e"#)])],
        );
        check_sd(r#"[a x="caf\é"]"#, vec![el("a", &[("x", r"caf\é")])]);
        check_sd(
            r#"[timeQuality tzKnown="1" isSynced="0"]"#,
            vec![el("timeQuality", &[("tzKnown", "1"), ("isSynced", "0")])],
        );
        check(
            r#"<13>1 - - - - - [a x="1"] msg [not="sd"]"#,
            SyslogMessage {
                structured_data: vec![el("a", &[("x", "1")])],
                msg: r#"msg [not="sd"]"#.into(),
                ..nil()
            },
        );
        check(
            "<13>1 - - - - - [a] [b]",
            SyslogMessage {
                structured_data: vec![el("a", &[])],
                msg: "[b]".into(),
                ..nil()
            },
        );
    }

    #[test]
    fn malformed_structured_data() {
        let sd = |reason| malformed(Part::StructuredData, reason);
        for (input, expect) in [
            (r#"[]"#, sd("expected a name")),
            (r#"[ a]"#, sd("expected a name")),
            (r#"[a x=1]"#, sd("expected `\"` to open a parameter value")),
            (r#"[a x]"#, sd("expected `=` after a parameter name")),
            (r#"[a x = "1"]"#, sd("expected `=` after a parameter name")),
            (r#"[a  x="1"]"#, sd("expected a name")),
            (r#"[a x="1" ]"#, sd("expected a name")),
            (
                r#"[a x="1"y="2"]"#,
                sd("expected a space, a parameter or `]`"),
            ),
            (r#"[a"b]"#, sd("expected a space, a parameter or `]`")),
            (r#"[é]"#, sd("expected a name")),
            (r#"[a][a]"#, sd("an sd-id appears twice")),
            (
                r#"[a]x"#,
                sd("expected a space or the end after the structured data"),
            ),
            (
                r#"-x"#,
                sd("expected a space or the end after the structured data"),
            ),
        ] {
            check_err(&format!("<13>1 - - - - - {input}"), expect);
        }
        check_err(
            &format!("<13>1 - - - - - [{}]", "i".repeat(33)),
            sd("a name is longer than 32 characters"),
        );
    }

    #[test]
    fn truncated_structured_data() {
        for sd in [
            "[",
            "[a",
            "[a ",
            "[a x",
            "[a x=",
            r#"[a x=""#,
            r#"[a x="1"#,
            r#"[a x="1\"#,
            r#"[a x="1\""#,
            r#"[a x="1""#,
            r#"[a x="1"][b"#,
        ] {
            check_err(
                &format!("<13>1 - - - - - {sd}"),
                DecodeError::Truncated(Part::StructuredData),
            );
        }
    }
}
