//! The parser's figure: notify events per second through framing, decoding
//! and event parsing, on one core (issue 5 asks for 200,000 a second).
//!
//! Run with `cargo bench -p ucsync-syslog --bench parse` (release). The
//! stream mixes what ucsync will receive: RFC 5424 octet-counted and
//! newline-framed, and RFC 3164 newline-framed, read in 64 KiB pieces as a
//! socket would hand them over; the UDP run takes one datagram at a time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use ucsync_syslog::{
    Action, DEFAULT_MAX_LEN, Framer, Framing, NotifyEvent, SyslogMessage, datagram, encode_frame,
};

const MESSAGES: usize = 300_000;
const ROUNDS: usize = 7;
const READ: usize = 64 * 1024;

fn messages() -> Vec<(Framing, String)> {
    let sent = DateTime::parse_from_rfc3339("2026-11-26T10:02:03.250+01:00").expect("time");
    let at = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(10, 2, 3))
        .expect("time");
    let objects = [
        "station",
        "hunt-group",
        "system-parameters features",
        "coverage path",
    ];
    let actions = [
        Action::Change,
        Action::Add,
        Action::Remove,
        Action::Duplicate,
    ];
    (0..MESSAGES)
        .map(|i| {
            let e = NotifyEvent::new(
                &format!("cm{}", i % 20),
                ["craft", "dadmin", "tti-m", "psa-u"][i % 4],
                actions[i % 4].clone(),
                objects[i % 4],
                &format!("{}", 10_000 + i % 5000),
                at,
            )
            .expect("event");
            match i % 3 {
                0 => (Framing::OctetCounting, e.to_rfc5424(sent)),
                1 => (Framing::NonTransparent, e.to_rfc5424(sent)),
                _ => (Framing::NonTransparent, e.to_rfc3164(sent)),
            }
        })
        .collect()
}

/// Frames, decodes and parses every message of `stream`; returns how many were events.
fn tcp(stream: &[u8], decode: bool, parse: bool) -> usize {
    let mut framer = Framer::new(DEFAULT_MAX_LEN);
    let mut n = 0;
    for piece in stream.chunks(READ) {
        framer.push(piece);
        while let Some(frame) = framer.next_frame() {
            let frame = frame.expect("a frame");
            if !decode {
                n += black_box(frame).len().min(1);
                continue;
            }
            let m = SyslogMessage::decode(frame).expect("a message");
            if parse {
                n += usize::from(NotifyEvent::parse(&m).is_ok());
            } else {
                n += black_box(&m).msg.len().min(1);
            }
        }
    }
    n
}

fn udp(datagrams: &[Vec<u8>]) -> usize {
    datagrams
        .iter()
        .filter(|d| {
            let msg = datagram(d, DEFAULT_MAX_LEN).expect("a datagram");
            let m = SyslogMessage::decode(msg).expect("a message");
            NotifyEvent::parse(&m).is_ok()
        })
        .count()
}

/// The median of `ROUNDS` timed runs of `f`, which must handle every message.
fn measure(name: &str, bytes: usize, mut f: impl FnMut() -> usize) {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(black_box(f()), MESSAGES, "{name}: every message handled");
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[ROUNDS / 2];
    let per_s = MESSAGES as f64 / median.as_secs_f64();
    println!(
        "{name:<44} {:>10.0} messages/s  {:>6.1} MB/s  ({:.0} ns per message, best {:.0} messages/s)",
        per_s,
        bytes as f64 / median.as_secs_f64() / 1e6,
        median.as_nanos() as f64 / MESSAGES as f64,
        MESSAGES as f64 / times[0].as_secs_f64(),
    );
}

fn main() {
    let msgs = messages();
    let stream: Vec<u8> = msgs
        .iter()
        .flat_map(|(framing, text)| encode_frame(*framing, text.as_bytes()))
        .collect();
    let datagrams: Vec<Vec<u8>> = msgs.iter().map(|(_, t)| t.clone().into_bytes()).collect();
    let udp_bytes: usize = datagrams.iter().map(Vec::len).sum();
    println!(
        "{MESSAGES} notify events, {:.0} bytes each on average, one core, median of {ROUNDS} runs",
        stream.len() as f64 / MESSAGES as f64
    );
    measure("tcp: framing only", stream.len(), || {
        tcp(&stream, false, false)
    });
    measure("tcp: framing + decoding", stream.len(), || {
        tcp(&stream, true, false)
    });
    measure(
        "tcp: framing + decoding + event parsing",
        stream.len(),
        || tcp(&stream, true, true),
    );
    measure(
        "udp: datagram + decoding + event parsing",
        udp_bytes,
        || udp(&datagrams),
    );
}
