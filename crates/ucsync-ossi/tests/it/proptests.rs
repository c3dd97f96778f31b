//! Property tests of the codec, with fixed seeds (the project's rule for
//! property fuzzers): the same cases run on every machine and every run, so a
//! failure is reproducible from the test name alone.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use ucsync_ossi::vocabulary::{Resolved, Vocabulary};
use ucsync_ossi::{
    FIELDS_PER_LINE, FieldId, LineBuffer, OssiError, Record, Request, RequestAssembler,
    RequestEvent, Response, ResponseDecoder, ServerEvent, Value, encode_response,
};

/// The fixed seed; each test mixes its own number into it so that the tests
/// do not all draw the same cases.
const SEED: [u8; 32] = *b"ucsync-ossi proptest fixed seed!";

/// Runs the property on 256 cases; a failure panics with the minimal
/// failing input.
fn check<S: Strategy>(
    test: u8,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    ucsync_testkit::fuzz::check(SEED, test, 256, strategy, property);
}

// ------------------------------------------------------------- strategies

fn fid() -> impl Strategy<Value = FieldId> {
    any::<u32>().prop_map(FieldId::from_u32)
}

/// A value cell: any text without tab, line feed or carriage return; often empty.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        4 => "[^\t\n\r]{1,16}",
    ]
}

fn ossi_error() -> impl Strategy<Value = OssiError> {
    (any::<u32>(), fid(), any::<u16>(), "[^\n\r]{0,30}").prop_map(
        |(index, field, code, message)| OssiError {
            index,
            field,
            code,
            message,
        },
    )
}

/// A response with 1..40 field ids and 0..20 records (and sometimes errors).
fn response() -> impl Strategy<Value = Response> {
    vec(fid(), 1..40)
        .prop_flat_map(|fids| {
            let n = fids.len();
            (
                Just(fids),
                vec(vec(cell(), n), 0..20),
                "[^\n\r]{0,24}",
                vec(ossi_error(), 0..3),
            )
        })
        .prop_map(|(fids, rows, echo, errors)| {
            let fields: Arc<[FieldId]> = fids.into();
            Response {
                echo,
                records: rows
                    .iter()
                    .map(|values| Record::new(fields.clone(), values))
                    .collect(),
                errors,
            }
        })
}

/// Chunk sizes to cut a byte stream with (cycled).
fn chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(1..64usize, 1..16)
}

fn pieces<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

/// Decodes bytes fed in the given pieces, collecting every event.
fn decode(pieces: &[&[u8]]) -> Vec<Result<ServerEvent, ucsync_ossi::StreamError>> {
    let mut d = ResponseDecoder::ready();
    let mut events = Vec::new();
    for p in pieces {
        d.feed(p);
        events.extend(std::iter::from_fn(|| d.next_event()));
    }
    assert!(!d.mid_response(), "decoder still inside a response");
    events
}

// -------------------------------------------------------------- responses

#[test]
fn response_encode_then_decode_is_identity() {
    check(1, response(), |r| {
        let text = encode_response(&r);
        let events = decode(&[text.as_bytes()]);
        prop_assert_eq!(events, vec![Ok(ServerEvent::Response(r))]);
        Ok(())
    });
}

#[test]
fn response_survives_any_chunking() {
    check(2, (response(), chunks()), |(r, sizes)| {
        let text = encode_response(&r);
        let events = decode(&pieces(text.as_bytes(), &sizes));
        prop_assert_eq!(events, vec![Ok(ServerEvent::Response(r))]);
        Ok(())
    });
}

#[test]
fn response_with_crlf_line_ends_decodes_the_same() {
    check(3, (response(), chunks()), |(r, sizes)| {
        let text = encode_response(&r).replace('\n', "\r\n");
        let whole = decode(&[text.as_bytes()]);
        prop_assert_eq!(&whole, &vec![Ok(ServerEvent::Response(r))]);
        let chunked = decode(&pieces(text.as_bytes(), &sizes));
        prop_assert_eq!(chunked, whole);
        Ok(())
    });
}

#[test]
fn pipelined_responses_decode_in_order() {
    check(4, (vec(response(), 1..5), chunks()), |(rs, sizes)| {
        let text: String = rs.iter().map(encode_response).collect();
        let events = decode(&pieces(text.as_bytes(), &sizes));
        let expected: Vec<_> = rs
            .into_iter()
            .map(|r| Ok(ServerEvent::Response(r)))
            .collect();
        prop_assert_eq!(events, expected);
        Ok(())
    });
}

/// What a CM prints at most on one `f` or `d` line (the protocol, not the constant).
const CELLS_PER_LINE: usize = 5;

#[test]
fn encoder_puts_at_most_five_cells_on_f_and_d_lines() {
    assert_eq!(FIELDS_PER_LINE, CELLS_PER_LINE);
    check(5, response(), |r| {
        let text = encode_response(&r);
        let mut f_lines = 0;
        for line in text.lines() {
            if line.starts_with('f') || line.starts_with('d') {
                let cells = line[1..].split('\t').count();
                prop_assert!(cells <= CELLS_PER_LINE, "{} cells in {:?}", cells, line);
            }
            if line.starts_with('f') {
                f_lines += 1;
            }
        }
        let n = r.records.first().map_or(0, |rec| rec.len());
        prop_assert_eq!(f_lines, n.div_ceil(CELLS_PER_LINE));
        Ok(())
    });
}

// --------------------------------------------------------------- requests

/// A command: no line break, not blank.
fn command() -> impl Strategy<Value = String> {
    "[^\n\r]{1,30}".prop_filter("a command is not blank", |c| !c.trim().is_empty())
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Clear),
        4 => "[^\t\n\r]{1,16}".prop_map(Value::Set),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (command(), vec((fid(), value()), 0..40))
            .prop_map(|(c, fields)| Request::write(&c, &fields).expect("encodable")),
        (command(), vec(fid(), 0..40))
            .prop_map(|(c, fields)| Request::select(&c, &fields).expect("encodable")),
    ]
}

fn assemble(pieces: &[&[u8]]) -> Vec<RequestEvent> {
    let mut lines = LineBuffer::new();
    let mut a = RequestAssembler::new();
    let mut events = Vec::new();
    for p in pieces {
        lines.extend(p);
        while let Some(l) = lines.next_line() {
            events.extend(a.push(l));
        }
    }
    assert!(!a.in_command(), "assembler still inside a command");
    events
}

#[test]
fn request_encode_then_assemble_is_identity() {
    check(6, request(), |r| {
        let text = r.encode();
        prop_assert_eq!(assemble(&[text.as_bytes()]), vec![RequestEvent::Command(r)]);
        Ok(())
    });
}

#[test]
fn pipelined_requests_assemble_in_order_with_any_line_end_and_chunking() {
    check(
        7,
        (vec(request(), 1..5), chunks(), any::<bool>()),
        |(rs, sizes, crlf)| {
            let mut text: String = rs.iter().map(Request::encode).collect();
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            let expected: Vec<_> = rs.into_iter().map(RequestEvent::Command).collect();
            prop_assert_eq!(assemble(&pieces(text.as_bytes(), &sizes)), expected);
            Ok(())
        },
    );
}

// ------------------------------------------------------------- vocabulary

/// Every (verb, object phrase) pair the built-in vocabulary allows, read from
/// its data file (the crate exposes the phrases but not which verbs take them).
fn verbs_and_phrases() -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let text = include_str!("../../data/sat-vocabulary.toml");
    let table: toml::Table = toml::from_str(text).expect("vocabulary parses");
    let strings = |v: &toml::Value| -> Vec<String> {
        v.as_array()
            .expect("an array")
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    };
    let verbs = strings(&table["verbs"]);
    let mut pairs = Vec::new();
    for o in table["object"].as_array().expect("objects") {
        let words: Vec<String> = o["words"]
            .as_str()
            .expect("words")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for v in strings(&o["verbs"]) {
            pairs.push((v, words.clone()));
        }
    }
    // The same phrases the crate loaded.
    let builtin: Vec<&[String]> = Vocabulary::builtin()
        .objects()
        .iter()
        .map(|o| o.words())
        .collect();
    for (_, words) in &pairs {
        assert!(builtin.contains(&words.as_slice()), "{words:?}");
    }
    (verbs, pairs)
}

/// The shortest prefix length of `word` that no other of `others` starts with
/// (case-insensitively), or `None` when the word itself is a prefix of another.
fn shortest_unique_prefix(word: &str, others: &[&str]) -> Option<usize> {
    let lw = word.to_ascii_lowercase();
    let rivals: Vec<String> = others
        .iter()
        .map(|o| o.to_ascii_lowercase())
        .filter(|o| *o != lw)
        .collect();
    (1..=lw.len())
        .find(|&n| lw.is_char_boundary(n) && !rivals.iter().any(|r| r.starts_with(&lw[..n])))
}

/// Picks a prefix of `word` between its shortest unique prefix and itself.
fn abbreviate(word: &str, others: &[&str], at: &Index, upper: bool) -> String {
    let min = shortest_unique_prefix(word, others).unwrap_or(word.len());
    let lens: Vec<usize> = (min..=word.len())
        .filter(|&n| word.is_char_boundary(n))
        .collect();
    let p = &word[..*at.get(&lens)];
    if upper {
        p.to_ascii_uppercase()
    } else {
        p.to_string()
    }
}

#[test]
fn unique_prefixes_resolve_like_full_words() {
    let (verbs, pairs) = verbs_and_phrases();
    let verb_refs: Vec<&str> = verbs.iter().map(String::as_str).collect();
    let vocab = Vocabulary::builtin();
    let strategy = (
        any::<Index>(),
        vec((any::<Index>(), any::<bool>()), 4),
        proptest::option::of("[0-9]{1,5}"),
    );
    check(8, strategy, |(which, cuts, qualifier)| {
        let (verb, words) = which.get(&pairs);
        let qualifiers: Vec<String> = qualifier.into_iter().collect();
        let mut full = vec![verb.clone()];
        full.extend(words.iter().cloned());
        full.extend(qualifiers.iter().cloned());
        let expected = Resolved {
            verb: verb.clone(),
            object: words.clone(),
            qualifiers: qualifiers.clone(),
        };
        prop_assert_eq!(vocab.resolve(&full.join(" ")), Ok(expected.clone()));

        let mut typed = vec![abbreviate(verb, &verb_refs, &cuts[0].0, cuts[0].1)];
        for (pos, word) in words.iter().enumerate() {
            // The words that could stand here after the same verb and words before.
            let rivals: Vec<&str> = pairs
                .iter()
                .filter(|(v, w)| v == verb && w.len() > pos && w[..pos] == words[..pos])
                .map(|(_, w)| w[pos].as_str())
                .collect();
            let (at, upper) = &cuts[(pos + 1) % cuts.len()];
            typed.push(abbreviate(word, &rivals, at, *upper));
        }
        typed.extend(qualifiers.iter().cloned());
        let line = typed.join(" ");
        prop_assert_eq!(vocab.resolve(&line), Ok(expected), "typed {:?}", line);
        Ok(())
    });
}
