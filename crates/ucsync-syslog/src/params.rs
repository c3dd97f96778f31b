//! `name="value"` parameters, RFC 5424's SD-PARAM: the structured data of
//! RFC 5424, and the whole text of a notify event in RFC 3164 form.

use crate::message::{Cursor, is_print};

/// The longest SD-ID or PARAM-NAME.
pub(crate) const MAX_NAME: usize = 32;

/// What went wrong in a parameter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamError {
    Truncated,
    Malformed(&'static str),
}

/// SD-NAME's characters: printable US-ASCII but `=`, `]` and `"`.
pub(crate) fn is_name_byte(b: u8) -> bool {
    is_print(b) && !matches!(b, b'=' | b']' | b'"')
}

/// An SD-ID or PARAM-NAME.
pub(crate) fn name<'a>(c: &mut Cursor<'a>) -> Result<&'a str, ParamError> {
    let n = c.take_while(is_name_byte);
    if n.is_empty() {
        return Err(match c.peek() {
            None => ParamError::Truncated,
            Some(_) => ParamError::Malformed("expected a name"),
        });
    }
    if n.len() > MAX_NAME {
        return Err(ParamError::Malformed("a name is longer than 32 characters"));
    }
    Ok(n)
}

fn expect(c: &mut Cursor, b: u8, what: &'static str) -> Result<(), ParamError> {
    match c.peek() {
        None => Err(ParamError::Truncated),
        Some(x) if x == b => {
            c.bump();
            Ok(())
        }
        Some(_) => Err(ParamError::Malformed(what)),
    }
}

/// `name="value"`, the cursor at the name.
pub(crate) fn param(c: &mut Cursor) -> Result<(String, String), ParamError> {
    let n = name(c)?;
    expect(c, b'=', "expected `=` after a parameter name")?;
    expect(c, b'"', "expected `\"` to open a parameter value")?;
    Ok((n.to_string(), value(c)?))
}

/// A PARAM-VALUE after its opening quote, through its closing quote.
///
/// `\"`, `\\` and `\]` stand for the character; a backslash before anything
/// else is a backslash (RFC 5424 6.3.3). An unescaped `]` is taken as itself:
/// the quotes already delimit the value, and some senders do not escape it.
pub(crate) fn value(c: &mut Cursor) -> Result<String, ParamError> {
    let mut out = String::new();
    loop {
        out.push_str(c.take_while(|b| b != b'"' && b != b'\\'));
        match c.peek() {
            None => return Err(ParamError::Truncated),
            Some(b'"') => {
                c.bump();
                return Ok(out);
            }
            Some(_) => {
                c.bump();
                match c.peek() {
                    None => return Err(ParamError::Truncated),
                    Some(b @ (b'"' | b'\\' | b']')) => {
                        c.bump();
                        out.push(char::from(b));
                    }
                    Some(_) => out.push('\\'),
                }
            }
        }
    }
}

/// Appends `value` escaped for a PARAM-VALUE (without the quotes).
pub fn escape_into(value: &str, out: &mut String) {
    for ch in value.chars() {
        if matches!(ch, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// `name="value" name="value" ...`, separated by one or more spaces;
/// whitespace around the list is ignored, and an empty list is no pairs.
pub(crate) fn pairs(text: &str) -> Result<Vec<(String, String)>, ParamError> {
    let mut c = Cursor::new(text.trim());
    let mut out = Vec::new();
    while c.peek().is_some() {
        out.push(param(&mut c)?);
        match c.peek() {
            None => {}
            Some(b' ') => {
                c.take_while(|b| b == b' ');
            }
            Some(_) => return Err(ParamError::Malformed("expected a space between parameters")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    fn check(text: &str, expect: Result<Vec<(String, String)>, ParamError>) {
        assert_eq!(pairs(text), expect, "{text:?}");
    }

    #[test]
    fn pair_lists() {
        check("", Ok(vec![]));
        check("  ", Ok(vec![]));
        check(r#"a="1""#, Ok(vec![p("a", "1")]));
        check(r#" a="1"   b="" "#, Ok(vec![p("a", "1"), p("b", "")]));
        check(r#"a="x y=\"z\"""#, Ok(vec![p("a", r#"x y="z""#)]));
    }

    #[test]
    fn escapes() {
        check(r#"a="\\""#, Ok(vec![p("a", r"\")]));
        check(r#"a="\]""#, Ok(vec![p("a", "]")]));
        check(r#"a="]""#, Ok(vec![p("a", "]")]));
        check(r#"a="\n\x""#, Ok(vec![p("a", r"\n\x")]));
        check(r#"a="\é""#, Ok(vec![p("a", r"\é")]));
        check(r#"a="é\"""#, Ok(vec![p("a", "é\"")]));
    }

    #[test]
    fn truncated() {
        for text in [
            r#"a"#,
            r#"a="#,
            r#"a=""#,
            r#"a="x"#,
            r#"a="x\"#,
            r#"a="x\""#,
        ] {
            check(text, Err(ParamError::Truncated));
        }
    }

    #[test]
    fn malformed() {
        let m = ParamError::Malformed;
        check(r#"a"1""#, Err(m("expected `=` after a parameter name")));
        check(r#"a=1"#, Err(m("expected `\"` to open a parameter value")));
        check(
            r#"a="1"b="2""#,
            Err(m("expected a space between parameters")),
        );
        check(r#"="1""#, Err(m("expected a name")));
        check(r#"é="1""#, Err(m("expected a name")));
        check(
            &format!(r#"{}="1""#, "n".repeat(33)),
            Err(m("a name is longer than 32 characters")),
        );
        check(
            &format!(r#"{}="1""#, "n".repeat(32)),
            Ok(vec![p(&"n".repeat(32), "1")]),
        );
    }

    #[test]
    fn escape_then_parse_is_the_identity() {
        for v in [
            "",
            "plain",
            r#"q"uote"#,
            r"back\slash",
            "br]acket",
            r#"\"]\\"#,
            "é ü 中",
        ] {
            let mut text = String::from("a=\"");
            escape_into(v, &mut text);
            text.push('"');
            check(&text, Ok(vec![p("a", v)]));
        }
    }
}
