//! Property tests of framing, decoding and the event format, with fixed seeds
//! (the project's rule for property fuzzers): the same cases run on every
//! machine and every run, so a failure is reproducible from the test name.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use proptest::collection::vec;
use proptest::prelude::*;
use ucsync_syslog::{
    Action, DEFAULT_MAX_LEN, Facility, FrameError, Framer, Framing, NotifyEvent, Protocol,
    SdElement, Severity, SyslogMessage, Timestamp, datagram, encode_frame, fuzzing,
};

const SEED: [u8; 32] = *b"ucsync-syslog proptest fixed sd!";

/// Runs the property; a failure panics with the minimal failing input.
fn check<S: Strategy>(
    test: u8,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    ucsync_testkit::fuzz::check(SEED, test, cases, strategy, property);
}

// ------------------------------------------------------------- strategies

fn naive_time() -> impl Strategy<Value = NaiveDateTime> {
    (
        1970i32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|d| d.and_hms_opt(h, mi, s))
                .expect("in range")
        })
}

fn sent_at() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (0i64..4_000_000_000, 0u32..1000, -720i32..=840).prop_map(|(secs, ms, offset_min)| {
        FixedOffset::east_opt(offset_min * 60)
            .expect("offset")
            .timestamp_opt(secs, ms * 1_000_000)
            .single()
            .expect("in range")
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Add),
        Just(Action::Change),
        Just(Action::Remove),
        Just(Action::Duplicate),
        "[a-z-]{1,16}".prop_map(Action::Other),
    ]
}

/// Valid events, with the characters that need escaping, Unicode and runs of
/// whitespace in every free-text field.
fn event() -> impl Strategy<Value = NotifyEvent> {
    (
        "[A-Za-z0-9][A-Za-z0-9._-]{0,20}",
        prop_oneof![
            Just("craft".to_string()),
            Just("tti-m".to_string()),
            r#"[a-z0-9"\\\]é中-]{1,10}"#,
        ],
        action(),
        prop_oneof![
            Just("station".to_string()),
            Just("system-parameters features".to_string()),
            r#"[a-z"\\\] é\u{3000}-]{1,24}"#,
        ],
        prop_oneof![
            Just(String::new()),
            "[0-9]{1,5}",
            r#"[0-9a-z "\\\]中\t]{0,30}"#
        ],
        naive_time(),
    )
        .prop_filter_map(
            "not an event",
            |(cm, login, action, object, qualifier, t)| {
                NotifyEvent::new(&cm, &login, action, &object, &qualifier, t).ok()
            },
        )
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::OctetCounting), Just(Framing::NonTransparent)]
}

/// Printable US-ASCII, not `-` alone (which means "none").
fn header_field(max: usize) -> impl Strategy<Value = Option<String>> {
    let field = proptest::string::string_regex(&format!("[!-~]{{1,{max}}}")).expect("regex");
    proptest::option::of(field.prop_filter("nil", |s| s != "-"))
}

fn sd_name() -> impl Strategy<Value = String> {
    r"[!#-<>-\\^-~]{1,32}"
}

/// An RFC 5424 message in the decoder's terms; SD-IDs unique.
fn rfc5424_message() -> impl Strategy<Value = SyslogMessage> {
    (
        (0u8..=191, proptest::option::of(sent_at())),
        (
            header_field(255),
            header_field(48),
            header_field(128),
            header_field(32),
        ),
        vec((sd_name(), vec((sd_name(), ".{0,12}"), 0..4)), 0..4),
        // A leading byte-order mark is not part of MSG.
        proptest::option::of(".{0,40}".prop_filter("bom", |m| !m.starts_with('\u{feff}'))),
    )
        .prop_map(|((pri, ts), (host, app, proc_id, msg_id), sd, msg)| {
            let sd: BTreeMap<String, Vec<(String, String)>> = sd.into_iter().collect();
            SyslogMessage {
                protocol: Protocol::Rfc5424,
                facility: Facility::new(pri >> 3).expect("facility"),
                severity: Severity::new(pri & 7).expect("severity"),
                timestamp: ts.map(Timestamp::Rfc3339),
                hostname: host,
                app_name: app,
                proc_id,
                msg_id,
                structured_data: sd
                    .into_iter()
                    .map(|(id, params)| SdElement { id, params })
                    .collect(),
                msg: msg.unwrap_or_default(),
            }
        })
}

/// The test's own RFC 5424 encoder, written from the RFC, not from the crate.
fn encode_5424(m: &SyslogMessage) -> String {
    let nil = |f: &Option<String>| f.clone().unwrap_or_else(|| "-".into());
    let ts = match m.timestamp {
        Some(Timestamp::Rfc3339(t)) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        _ => "-".into(),
    };
    let mut s = format!(
        "<{}>1 {ts} {} {} {} {} ",
        m.pri(),
        nil(&m.hostname),
        nil(&m.app_name),
        nil(&m.proc_id),
        nil(&m.msg_id)
    );
    if m.structured_data.is_empty() {
        s.push('-');
    }
    for e in &m.structured_data {
        s.push('[');
        s.push_str(&e.id);
        for (n, v) in &e.params {
            s.push_str(&format!(" {n}=\""));
            for c in v.chars() {
                if matches!(c, '"' | '\\' | ']') {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
        }
        s.push(']');
    }
    if !m.msg.is_empty() {
        s.push(' ');
        s.push_str(&m.msg);
    }
    s
}

/// Text that looks like syslog often enough to get past the first checks.
fn syslogish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("<13>".to_string()),
        Just("<191>".to_string()),
        Just("1 ".to_string()),
        Just("- ".to_string()),
        Just("2026-11-26T10:02:03Z ".to_string()),
        Just("Nov 26 10:02:03 ".to_string()),
        Just("cm1 ".to_string()),
        Just("cm-notify ".to_string()),
        Just("cm-notify: ".to_string()),
        Just("change ".to_string()),
        Just("[ucsyncNotify@32473".to_string()),
        Just(" login=\"craft\"".to_string()),
        Just(" action=\"change\"".to_string()),
        Just(" object=\"station\"".to_string()),
        Just(" time=\"2026-11-26T10:02:03\"".to_string()),
        Just("]".to_string()),
        Just("\\".to_string()),
        Just("\"".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\0".to_string()),
        Just("12 ".to_string()),
        Just("\u{feff}".to_string()),
        "[ -~é]{0,6}",
    ];
    vec(piece, 0..24).prop_map(|p| p.concat().into_bytes())
}

// ------------------------------------------------------------- properties

/// Frames `stream` fed in pieces cut at `cuts`.
fn frames_of(stream: &[u8], max: usize, cuts: &[usize]) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    for w in points.windows(2) {
        framer.push(&stream[w[0]..w[1]]);
        while let Some(r) = framer.next_frame() {
            out.push(r.map(<[u8]>::to_vec));
        }
    }
    if let Some(r) = framer.finish() {
        out.push(r.map(<[u8]>::to_vec));
    }
    out
}

#[test]
fn events_survive_encode_frame_decode_over_tcp() {
    let one = (event(), any::<bool>(), framing(), sent_at());
    check(
        1,
        256,
        (vec(one, 1..12), vec(any::<usize>(), 0..16)),
        |(items, cuts)| {
            let mut stream = Vec::new();
            for (e, rfc5424, framing, at) in &items {
                let text = if *rfc5424 {
                    e.to_rfc5424(*at)
                } else {
                    e.to_rfc3164(*at)
                };
                stream.extend(encode_frame(*framing, text.as_bytes()));
            }
            let got: Vec<NotifyEvent> = frames_of(&stream, DEFAULT_MAX_LEN, &cuts)
                .into_iter()
                .map(|f| {
                    let m = SyslogMessage::decode(&f.expect("a frame")).expect("a message");
                    NotifyEvent::parse(&m).expect("an event")
                })
                .collect();
            let want: Vec<NotifyEvent> = items.into_iter().map(|(e, ..)| e).collect();
            prop_assert_eq!(got, want);
            Ok(())
        },
    );
}

#[test]
fn events_survive_encode_decode_over_udp() {
    check(
        2,
        512,
        (event(), any::<bool>(), sent_at()),
        |(e, rfc5424, at)| {
            let text = if rfc5424 {
                e.to_rfc5424(at)
            } else {
                e.to_rfc3164(at)
            };
            prop_assert!(text.len() <= DEFAULT_MAX_LEN);
            let msg = datagram(text.as_bytes(), DEFAULT_MAX_LEN).expect("fits");
            let m = SyslogMessage::decode(msg).expect("a message");
            prop_assert_eq!(m.hostname.as_deref(), Some(e.cm()));
            if rfc5424 {
                prop_assert_eq!(m.timestamp, Some(Timestamp::Rfc3339(at)));
                prop_assert_eq!(&m.msg, &e.summary());
            }
            prop_assert_eq!(NotifyEvent::parse(&m).expect("an event"), e);
            Ok(())
        },
    );
}

#[test]
fn rfc5424_messages_decode_to_what_was_encoded() {
    check(3, 512, rfc5424_message(), |m| {
        let text = encode_5424(&m);
        prop_assert_eq!(SyslogMessage::decode(text.as_bytes()), Ok(m), "{}", text);
        Ok(())
    });
}

#[test]
fn framing_does_not_depend_on_how_bytes_arrive() {
    let bytes = vec(
        prop_oneof![
            Just(b'1'),
            Just(b'5'),
            Just(b'0'),
            Just(b' '),
            Just(b'\n'),
            Just(b'\r'),
            Just(0u8),
            Just(b'<'),
            Just(b'a'),
        ],
        0..200,
    );
    check(
        4,
        1024,
        (bytes, 1usize..40, vec(any::<usize>(), 0..20)),
        |(stream, max, cuts)| {
            let whole = frames_of(&stream, max, &[]);
            prop_assert_eq!(&frames_of(&stream, max, &cuts), &whole);
            for f in whole.iter().flatten() {
                prop_assert!(f.len() <= max && !f.is_empty());
            }
            Ok(())
        },
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    check(5, 2048, vec(any::<u8>(), 0..600), |bytes| {
        fuzzing::syslog(&bytes);
        let _ = SyslogMessage::decode(&bytes);
        Ok(())
    });
}

#[test]
fn syslog_shaped_text_never_panics() {
    check(6, 4096, (any::<u8>(), syslogish()), |(knobs, text)| {
        let mut data = vec![knobs];
        data.extend(&text);
        fuzzing::syslog(&data);
        if let Ok(m) = SyslogMessage::decode(&text) {
            let _ = NotifyEvent::parse(&m);
        }
        Ok(())
    });
}
