//! The OSSI transcripts in `fixtures/ossi/`, replayed against both sides: each
//! `>` block is sent to the emulator over SSH and must get `<` lines of the
//! same shape, and the client's decoder must read each `<` block into the
//! expected records.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use ucsync_emulator::cm::CmSettings;
use ucsync_ossi::{FieldId, LineBuffer, ResponseDecoder, ServerEvent};

use crate::{emulator, small};

#[derive(Debug, Clone, PartialEq)]
enum Dir {
    Send,
    Expect,
}

fn transcript(name: &str) -> Vec<(Dir, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ossi")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| {
            if let Some(s) = l.strip_prefix("> ") {
                Some((Dir::Send, s.to_string()))
            } else if l == ">" {
                Some((Dir::Send, String::new()))
            } else if let Some(s) = l.strip_prefix("< ") {
                Some((Dir::Expect, s.to_string()))
            } else {
                l.strip_prefix('<')
                    .filter(|s| s.is_empty())
                    .map(|_| (Dir::Expect, String::new()))
            }
        })
        .collect()
}

/// What must match between an expected and an actual line: field ids exactly,
/// the number of cells of a value line, the code and field of an error, and
/// every other line exactly.
fn shape(line: &str) -> String {
    match line.chars().next() {
        Some('d') => format!("d×{}", line.matches('\t').count() + 1),
        Some('e') => line.splitn(4, ' ').take(3).collect::<Vec<_>>().join(" "),
        _ => line.to_string(),
    }
}

struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Sends each `>` block to the emulator as raw bytes and checks the shape of
/// the `<` lines that come back.
async fn replay_against_emulator(name: &str) {
    let emu = emulator(CmSettings {
        counts: [("station".to_string(), 2)].into(),
        ..small()
    })
    .await;
    let mut h = client::connect(Arc::new(client::Config::default()), emu.addr(), AnyKey)
        .await
        .unwrap();
    assert!(
        h.authenticate_password("dadmin", "dadmin01")
            .await
            .unwrap()
            .success()
    );
    let ch = h.channel_open_session().await.unwrap();
    ch.request_pty(false, "vt100", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    ch.request_shell(false).await.unwrap();
    let (mut rd, wr) = ch.split();
    let mut lines = LineBuffer::new();
    let mut typed_terminal = String::new();
    let steps = transcript(name);
    let mut i = 0;
    while i < steps.len() {
        let dir = steps[i].0.clone();
        let block: Vec<String> = steps[i..]
            .iter()
            .take_while(|(d, _)| *d == dir)
            .map(|(_, l)| l.clone())
            .collect();
        i += block.len();
        if dir == Dir::Send {
            if typed_terminal.is_empty() {
                typed_terminal = block[0].clone();
            }
            let mut bytes = block.join("\n");
            bytes.push('\n');
            wr.data(bytes.as_bytes()).await.unwrap();
            continue;
        }
        for expected in &block {
            let actual = loop {
                let line = match lines.next_line() {
                    Some(ucsync_ossi::Line::Text(t)) => t,
                    Some(other) => panic!("{name}: {other:?}"),
                    None => match tokio::time::timeout(Duration::from_secs(5), rd.wait()).await {
                        Ok(Some(russh::ChannelMsg::Data { data })) => {
                            lines.extend(&data);
                            continue;
                        }
                        Ok(Some(_)) => continue,
                        other => {
                            panic!("{name}: no line where {expected:?} was expected: {other:?}")
                        }
                    },
                };
                // The echo of the typed terminal type is optional.
                if line == typed_terminal && *expected != typed_terminal {
                    continue;
                }
                break line;
            };
            assert_eq!(
                shape(&actual),
                shape(expected),
                "{name}: got {actual:?} for {expected:?}"
            );
        }
    }
}

/// Feeds the `<` lines to the client's decoder.
fn decode(name: &str) -> Vec<ServerEvent> {
    let mut d = ResponseDecoder::new();
    for (dir, line) in transcript(name) {
        if dir == Dir::Expect {
            d.feed(line.as_bytes());
            d.feed(b"\n");
        }
    }
    std::iter::from_fn(|| d.next_event())
        .map(|e| e.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn responses(events: &[ServerEvent]) -> Vec<&ucsync_ossi::Response> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Response(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn f(s: &str) -> FieldId {
    FieldId::parse(s).unwrap()
}

#[tokio::test]
async fn emulator_answers_every_transcript_in_shape() {
    for name in [
        "list_station.txt",
        "change_station.txt",
        "echo_verbatim.txt",
        "errors.txt",
        "pipelined.txt",
    ] {
        replay_against_emulator(name).await;
    }
}

#[test]
fn client_reads_list_station() {
    let ev = decode("list_station.txt");
    assert_eq!(ev.first(), Some(&ServerEvent::TerminalPrompt));
    assert_eq!(ev.get(1), Some(&ServerEvent::Ready));
    assert_eq!(ev.last(), Some(&ServerEvent::LogoffPrompt));
    let r = responses(&ev);
    assert_eq!(r.len(), 1);
    let recs = &r[0].records;
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].len(), 16);
    assert_eq!(recs[0].get(f("8005ff00")), Some("1001"));
    assert_eq!(recs[0].get(f("8004ff00")), Some("S00001"));
    assert_eq!(recs[0].get(f("8003ff00")), Some("Doe, Jane"));
    assert_eq!(recs[0].get(f("0031ff00")), Some(""));
    assert_eq!(recs[0].get(f("004fff00")), Some("9611SIP"));
    assert_eq!(recs[0].get(f("0032ff00")), Some(""));
    assert_eq!(recs[1].get(f("0031ff00")), Some("2-114"));
    assert_eq!(recs[1].get(f("0033ff00")), Some("C-33"));
    assert_eq!(recs[1].get(f("ce2aff00")), Some("2"));
    assert_eq!(recs[1].get(f("0032ff00")), Some("J-17"));
}

#[test]
fn client_reads_change_station() {
    let ev = decode("change_station.txt");
    let r = responses(&ev);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].echo, "cha stat 1001");
    assert!(r[0].records.is_empty() && r[0].errors.is_empty());
    assert_eq!(r[1].records[0].get(f("8003ff00")), Some("Carpenter, Adam"));
    assert_eq!(r[1].records[0].get(f("0031ff00")), Some("1002"));
    assert_eq!(r[2].echo, "change station 1001");
}

#[test]
fn client_reads_echo_verbatim() {
    let ev = decode("echo_verbatim.txt");
    assert_eq!(ev[..2], [ServerEvent::TerminalPrompt, ServerEvent::Ready]);
    let r = responses(&ev);
    assert_eq!(r[0].echo, " list station");
    assert_eq!(r[0].records.len(), 2);
    assert_eq!(r[0].records[1].get(f("8003ff00")), Some("Roe, Richard"));
    assert_eq!(r[1].echo, " change station 1001");
}

#[test]
fn client_reads_errors_and_keep_alive() {
    let ev = decode("errors.txt");
    let r = responses(&ev);
    assert!(r[0].is_no_records());
    assert_eq!(r[0].errors[0].code, 0x29cf);
    assert_eq!(ev.last(), Some(&ServerEvent::KeepAliveAnswer));
}

#[test]
fn client_reads_pipelined() {
    let ev = decode("pipelined.txt");
    let r = responses(&ev);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].records
            .iter()
            .map(|x| x.get(f("8005ff00")).unwrap())
            .collect::<Vec<_>>(),
        ["1001", "1002"]
    );
    assert_eq!(r[1].records[0].get(f("8003ff00")), Some("Doe, Jane"));
    assert_eq!(ev.last(), Some(&ServerEvent::LogoffPrompt));
}
