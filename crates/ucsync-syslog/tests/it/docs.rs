//! The examples of `docs/notify-sync.md` are events this crate reads, and the
//! RFC 5424 one is exactly what it writes.

use chrono::{DateTime, NaiveDate};
use ucsync_syslog::{Action, NotifyEvent, SyslogMessage};

#[test]
fn the_documented_examples_are_what_the_crate_reads_and_writes() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/notify-sync.md"
    ))
    .expect("docs/notify-sync.md");
    let examples: Vec<&str> = doc.lines().filter(|l| l.starts_with("<13>")).collect();
    assert_eq!(examples.len(), 2, "{examples:?}");
    let time = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(10, 2, 3))
        .expect("time");
    let event =
        NotifyEvent::new("cm1", "craft", Action::Change, "station", "1001", time).expect("event");
    for text in &examples {
        let m = SyslogMessage::decode(text.as_bytes()).expect("syslog");
        assert_eq!(NotifyEvent::parse(&m), Ok(event.clone()), "{text}");
    }
    let sent = DateTime::parse_from_rfc3339("2026-11-26T10:02:03+01:00").expect("time");
    assert_eq!(examples[0], event.to_rfc5424(sent));
    assert_eq!(examples[1], event.to_rfc3164(sent));
}
