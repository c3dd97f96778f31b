//! Entry points shared by the fuzz targets (`fuzz/`) and the test that replays
//! their corpora on the stable toolchain. Each must never panic.

use crate::{LineBuffer, RequestAssembler, ResponseDecoder, vocabulary::Vocabulary};

/// Feeds arbitrary bytes to the client-side decoder, split at `split`.
pub fn response_decoder(data: &[u8]) {
    let split = data.first().map_or(0, |b| *b as usize) % (data.len().max(1));
    for start_ready in [false, true] {
        let mut d = if start_ready {
            ResponseDecoder::ready()
        } else {
            ResponseDecoder::new()
        };
        d.feed(&data[..split]);
        while let Some(ev) = d.next_event() {
            if ev.is_err() {
                break;
            }
        }
        d.feed(&data[split..]);
        while let Some(ev) = d.next_event() {
            if ev.is_err() {
                break;
            }
        }
    }
}

/// Feeds arbitrary bytes to the CM-side request assembler and re-encodes what it accepts.
pub fn request_assembler(data: &[u8]) {
    let mut lines = LineBuffer::new();
    lines.extend(data);
    let mut a = RequestAssembler::new();
    while let Some(l) = lines.next_line() {
        if let Some(crate::RequestEvent::Command(r)) = a.push(l) {
            let again = r.encode();
            let mut lb = LineBuffer::new();
            lb.extend(again.as_bytes());
            let mut b = RequestAssembler::new();
            let mut out = None;
            while let Some(l) = lb.next_line() {
                if let Some(ev) = b.push(l) {
                    out = Some(ev);
                }
            }
            assert_eq!(
                out,
                Some(crate::RequestEvent::Command(r)),
                "a decoded request re-encodes to itself"
            );
        }
    }
}

/// Resolves arbitrary text as a SAT command.
pub fn vocabulary(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Vocabulary::builtin().resolve(&text);
}
