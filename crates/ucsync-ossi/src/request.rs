//! Requests (client → CM): `c` command, optional `f` field ids and `d` values, `t`.

use crate::fid::FieldId;
use crate::lines::{Line, MAX_LINE};

/// A value to write with `add` or `change`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Set(String),
    /// Clears the field: sent as a single space.
    Clear,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("value for field {0} contains a tab or line break, which OSSI cannot carry")]
    Unencodable(FieldId),
    #[error("value for field {0} is empty: use Value::Clear to clear a field")]
    Empty(FieldId),
    #[error("command contains a line break")]
    CommandLineBreak,
    #[error("command is empty")]
    EmptyCommand,
    #[error("{0} is longer than an OSSI line can carry ({max} bytes)", max = MAX_LINE - 1)]
    TooLong(String),
}

/// One OSSI command as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `c` line without its `c`, exactly as sent (`" list station"` keeps its space).
    raw: String,
    fields: Vec<FieldId>,
    values: Vec<String>,
}

fn check_command(cmd: &str) -> Result<(), ValueError> {
    if cmd.contains(['\n', '\r']) {
        return Err(ValueError::CommandLineBreak);
    }
    if cmd.trim().is_empty() {
        return Err(ValueError::EmptyCommand);
    }
    if cmd.len() >= MAX_LINE {
        return Err(ValueError::TooLong("the command".into()));
    }
    Ok(())
}

impl Request {
    /// A command with no field lines (`list station`, `display station 1001`).
    pub fn command(cmd: &str) -> Result<Self, ValueError> {
        check_command(cmd)?;
        Ok(Request {
            raw: cmd.to_string(),
            fields: Vec::new(),
            values: Vec::new(),
        })
    }

    /// A `list` or `display` returning only the given fields.
    pub fn select(cmd: &str, fields: &[FieldId]) -> Result<Self, ValueError> {
        let mut r = Request::command(cmd)?;
        r.fields = fields.to_vec();
        Ok(r)
    }

    /// An `add` or `change` writing the given fields.
    pub fn write(cmd: &str, fields: &[(FieldId, Value)]) -> Result<Self, ValueError> {
        let mut r = Request::command(cmd)?;
        for (fid, v) in fields {
            let text = match v {
                Value::Clear => " ".to_string(),
                Value::Set(s) if s.is_empty() => return Err(ValueError::Empty(*fid)),
                Value::Set(s) if s.contains(['\t', '\n', '\r']) => {
                    return Err(ValueError::Unencodable(*fid));
                }
                Value::Set(s) if s.len() >= MAX_LINE => {
                    return Err(ValueError::TooLong(format!("the value for field {fid}")));
                }
                Value::Set(s) => s.clone(),
            };
            r.fields.push(*fid);
            r.values.push(text);
        }
        Ok(r)
    }

    /// The `c` line as it was sent, without the leading `c`.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The command text itself (`list station`), without the space some clients put after `c`.
    pub fn text(&self) -> &str {
        self.raw.trim()
    }

    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// The values as sent, in field order (a single space clears a field).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The bytes on the wire, ending with the `t` line.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.raw.len() + 16 + self.fields.len() * 9);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut String) {
        out.push('c');
        out.push_str(&self.raw);
        out.push('\n');
        if !self.fields.is_empty() {
            encode_cells(out, 'f', &self.fields);
        }
        if !self.values.is_empty() {
            encode_cells(out, 'd', &self.values);
        }
        out.push_str("t\n");
    }
}

/// One `f` or `d` line of tab-separated cells; a cell that would make the line
/// longer than [`MAX_LINE`] (which the other side refuses) starts another line
/// of the same kind instead, as the grammar allows.
fn encode_cells<T: std::fmt::Display>(out: &mut String, kind: char, cells: &[T]) {
    use std::fmt::Write;
    let mut line_start = out.len();
    out.push(kind);
    for (i, cell) in cells.iter().enumerate() {
        let mark = out.len();
        if i > 0 {
            out.push('\t');
        }
        let _ = write!(out, "{cell}");
        if i > 0 && out.len() - line_start > MAX_LINE {
            out.truncate(mark);
            out.push('\n');
            line_start = out.len();
            out.push(kind);
            let _ = write!(out, "{cell}");
        }
    }
    out.push('\n');
}

/// What the CM side makes of the lines it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// A complete command, ready to run.
    Command(Request),
    /// A command whose lines were not valid; answer with its echo and an error.
    Malformed { raw: String, reason: String },
    /// A `t` with no command before it.
    KeepAlive,
    /// A line outside any command that is not part of the grammar.
    Junk(String),
}

#[derive(Debug, Default)]
struct Partial {
    raw: String,
    fields: Vec<FieldId>,
    values: Vec<String>,
    problem: Option<String>,
}

/// Assembles request lines into commands on the CM side.
#[derive(Debug, Default)]
pub struct RequestAssembler {
    current: Option<Partial>,
}

impl RequestAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a command has started and its `t` is still to come.
    pub fn in_command(&self) -> bool {
        self.current.is_some()
    }

    pub fn push(&mut self, line: Line) -> Option<RequestEvent> {
        let text = match line {
            Line::Text(t) => t,
            Line::TooLong { len } => {
                return match self.current.as_mut() {
                    Some(p) => {
                        p.problem
                            .get_or_insert_with(|| format!("line of {len} bytes is too long"));
                        None
                    }
                    None => Some(RequestEvent::Junk(format!("<{len} bytes>"))),
                };
            }
        };
        let (kind, rest) = match text.chars().next() {
            Some(k) => (k, &text[k.len_utf8()..]),
            None => {
                return self
                    .current
                    .is_none()
                    .then(|| RequestEvent::Junk(String::new()));
            }
        };
        match kind {
            't' if rest.trim().is_empty() => Some(match self.current.take() {
                None => RequestEvent::KeepAlive,
                Some(p) => match p.problem {
                    Some(reason) => RequestEvent::Malformed { raw: p.raw, reason },
                    None if p.raw.trim().is_empty() => RequestEvent::Malformed {
                        raw: p.raw,
                        reason: "empty command".into(),
                    },
                    None => RequestEvent::Command(Request {
                        raw: p.raw,
                        fields: p.fields,
                        values: p.values,
                    }),
                },
            }),
            'c' => {
                // A new command before the previous one's `t` replaces it, as
                // a half-typed command is replaced on a terminal.
                self.current = Some(Partial {
                    raw: rest.to_string(),
                    ..Partial::default()
                });
                None
            }
            'f' | 'd' if self.current.is_some() => {
                let p = self.current.as_mut().expect("checked above");
                if kind == 'f' {
                    for cell in rest.split('\t').filter(|c| !c.is_empty()) {
                        match FieldId::parse(cell) {
                            Ok(f) => p.fields.push(f),
                            Err(e) => {
                                p.problem.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                } else {
                    p.values.extend(rest.split('\t').map(str::to_string));
                }
                None
            }
            _ => match self.current.as_mut() {
                Some(p) => {
                    p.problem
                        .get_or_insert_with(|| format!("unexpected line {:?}", truncate(&text)));
                    None
                }
                None => Some(RequestEvent::Junk(text)),
            },
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fid(s: &str) -> FieldId {
        FieldId::parse(s).unwrap()
    }

    fn feed(text: &str) -> Vec<RequestEvent> {
        let mut lb = crate::LineBuffer::new();
        lb.extend(text.as_bytes());
        let mut a = RequestAssembler::new();
        std::iter::from_fn(|| lb.next_line())
            .filter_map(|l| a.push(l))
            .collect()
    }

    #[test]
    fn change_with_values_over_several_d_lines() {
        let ev = feed("ccha stat 1001\nf8003ff00\t0031ff00\ndCarpenter, Adam\nd1002\nt\n");
        let RequestEvent::Command(r) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(r.raw(), "cha stat 1001");
        assert_eq!(r.fields(), &[fid("8003ff00"), fid("0031ff00")]);
        assert_eq!(
            r.values(),
            &["Carpenter, Adam".to_string(), "1002".to_string()]
        );
    }

    #[test]
    fn space_after_c_is_kept_in_raw() {
        let ev = feed("c list station\nf8003ff00\t8005ff00\nd\t\nt\n");
        let RequestEvent::Command(r) = &ev[0] else {
            panic!()
        };
        assert_eq!(r.raw(), " list station");
        assert_eq!(r.text(), "list station");
        assert_eq!(r.values(), &["".to_string(), "".to_string()]);
    }

    #[test]
    fn lone_t_is_keep_alive_and_junk_is_reported() {
        assert_eq!(
            feed("t\nxyz\n"),
            vec![RequestEvent::KeepAlive, RequestEvent::Junk("xyz".into())]
        );
    }

    #[test]
    fn bad_field_id_makes_the_command_malformed() {
        let ev = feed("cdisplay station 1\nfzz\nt\n");
        assert!(
            matches!(&ev[0], RequestEvent::Malformed { raw, .. } if raw == "display station 1")
        );
    }

    #[test]
    fn encode_round_trips() {
        let r = Request::write(
            "change station 1001",
            &[
                (fid("8003ff00"), Value::Set("Doe, Jane".into())),
                (fid("0031ff00"), Value::Clear),
            ],
        )
        .unwrap();
        assert_eq!(
            r.encode(),
            "cchange station 1001\nf8003ff00\t0031ff00\ndDoe, Jane\t \nt\n"
        );
        assert_eq!(feed(&r.encode()), vec![RequestEvent::Command(r)]);
    }

    #[test]
    fn long_f_and_d_lines_are_split_to_fit_the_line_limit() {
        // Found by fuzzing: values from several d lines were re-encoded on one
        // line longer than the other side accepts.
        let big = "x".repeat(40_000);
        let r = Request::write(
            "change station 1",
            &[
                (fid("8003ff00"), Value::Set(big.clone())),
                (fid("0031ff00"), Value::Set(big.clone())),
                (fid("0032ff00"), Value::Set("j".into())),
            ],
        )
        .unwrap();
        let text = r.encode();
        assert_eq!(
            text,
            format!("cchange station 1\nf8003ff00\t0031ff00\t0032ff00\nd{big}\nd{big}\tj\nt\n")
        );
        assert_eq!(feed(&text), vec![RequestEvent::Command(r)]);

        let many: Vec<FieldId> = (0..10_000).map(FieldId::from_u32).collect();
        let r = Request::select("list station", &many).unwrap();
        let text = r.encode();
        assert!(text.lines().all(|l| l.len() <= MAX_LINE));
        assert_eq!(text.lines().filter(|l| l.starts_with('f')).count(), 2);
        assert_eq!(feed(&text), vec![RequestEvent::Command(r)]);
    }

    #[test]
    fn unencodable_values_are_refused() {
        let f = fid("8003ff00");
        assert_eq!(
            Request::write("change station 1", &[(f, Value::Set("a\tb".into()))]),
            Err(ValueError::Unencodable(f))
        );
        assert_eq!(
            Request::write("change station 1", &[(f, Value::Set(String::new()))]),
            Err(ValueError::Empty(f))
        );
        assert_eq!(
            Request::command("list\nstation"),
            Err(ValueError::CommandLineBreak)
        );
        let huge = "x".repeat(MAX_LINE);
        assert!(matches!(
            Request::write("change station 1", &[(f, Value::Set(huge.clone()))]),
            Err(ValueError::TooLong(_))
        ));
        assert!(matches!(
            Request::command(&huge),
            Err(ValueError::TooLong(_))
        ));
    }
}
