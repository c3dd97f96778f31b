//! Entry points shared by the fuzz target (`fuzz/fuzz_targets/syslog.rs`) and
//! the test that replays its corpus on the stable toolchain. Must never panic
//! except where it asserts a property of the crate.

use chrono::DateTime;

use crate::{FrameError, Framer, NotifyEvent, SyslogMessage, datagram};

/// Arbitrary bytes as a TCP stream and as a UDP datagram, through framing,
/// decoding and event parsing.
///
/// The first byte sets the framer's limit and the size of the pieces the
/// stream arrives in, so that the fuzzer reaches over-long frames and split
/// reads. Checked on the way: framing does not depend on how the bytes were
/// split, no frame is over the limit, the framer holds no more than the limit
/// between reads, and an event that parses re-encodes (both formats) to itself.
pub fn syslog(data: &[u8]) {
    let (knobs, stream) = data.split_first().map_or((0, data), |(k, r)| (*k, r));
    let max = 16 + usize::from(knobs & 0x0f) * 64;
    let piece = 1 + usize::from(knobs >> 4);
    let whole = frames(stream, max, stream.len().max(1));
    let pieces = frames(stream, max, piece);
    assert_eq!(whole, pieces, "framing depends on how the bytes arrived");
    for frame in whole.iter().flatten() {
        message(frame);
    }
    if let Ok(msg) = datagram(stream, max) {
        message(msg);
    }
}

fn frames(stream: &[u8], max: usize, piece: usize) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    let keep = |r: Result<&[u8], FrameError>, out: &mut Vec<_>| {
        if let Ok(f) = r {
            assert!(f.len() <= max, "a frame of {} bytes is over {max}", f.len());
        }
        out.push(r.map(<[u8]>::to_vec));
    };
    for chunk in stream.chunks(piece) {
        framer.push(chunk);
        while let Some(r) = framer.next_frame() {
            keep(r, &mut out);
        }
        assert!(
            framer.buffered() <= max + 1,
            "the framer holds {}",
            framer.buffered()
        );
    }
    if let Some(r) = framer.finish() {
        keep(r, &mut out);
    }
    out
}

fn message(bytes: &[u8]) {
    let m = match SyslogMessage::decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.kind();
            return;
        }
    };
    if let Some(h) = &m.hostname {
        assert!(h.len() <= 255 && h.bytes().all(|b| (33..=126).contains(&b)));
    }
    let event = match NotifyEvent::parse(&m) {
        Ok(e) => e,
        Err(e) => {
            let _ = e.kind();
            return;
        }
    };
    let at = DateTime::parse_from_rfc3339("2026-11-26T10:02:03.5+01:00").expect("a fixed time");
    for text in [event.to_rfc5424(at), event.to_rfc3164(at)] {
        assert!(
            !text.bytes().any(|b| b == b'\n' || b == 0),
            "an event fits a non-transparent frame"
        );
        let again = SyslogMessage::decode(text.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|m| NotifyEvent::parse(&m).map_err(|e| e.to_string()));
        assert_eq!(again, Ok(event.clone()), "{text}");
    }
}
