//! Object keys: the grammar of each object type's key, from the catalogues,
//! checked in one place before a key goes into anything sent to an element
//! (SAT command words, a URL path, a DN).
//!
//! The catalogues in effect ([`crate::Catalogs`]) say which grammar each
//! object type's key has.
//!
//! A key is always one token: a CM reads `change station 1003 zzz` as
//! station 1003, so a key with white space in it would change one object and
//! store another.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::ConnectError;

/// What the key of an object type may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyGrammar {
    /// A single system-wide form: no key at all.
    Empty,
    /// Between `min` and `max` ASCII digits (a CM extension: 1 to 13).
    Digits { min: usize, max: usize },
    /// A number of 1 to `digits` digits, not zero (a trunk group, a vector).
    Number { digits: usize },
    /// A CM board location: cabinet, carrier and slot (`01A05`), or a media
    /// gateway's slot (`001V2`).
    Location,
    /// One token of at most `max` characters.
    Token { max: usize },
    /// Parts joined by `:`, each of its own grammar (an IP Office incoming
    /// call route: line group and incoming number).
    Joined(&'static [KeyGrammar]),
}

/// Why a key is refused: a sentence saying what a key of that type is.
fn refuse(object_type: &str, key: &str, is: &str) -> String {
    format!("a {object_type} key is {is}, not {key:?}: give the key as the element shows it")
}

/// Whether `c` may stand in a key: no white space, separator, control or
/// format character of any Unicode kind.
fn token_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Separator | GeneralCategoryGroup::Other
        )
}

impl KeyGrammar {
    /// The grammar in words, for the refusal.
    fn describe(&self) -> String {
        match self {
            KeyGrammar::Empty => "empty (the form is system-wide)".into(),
            KeyGrammar::Digits { min, max } if min == max => format!("{min} digits"),
            KeyGrammar::Digits { min: 0, max } => format!("up to {max} digits"),
            KeyGrammar::Digits { min, max } => format!("{min} to {max} digits"),
            KeyGrammar::Number { digits } => format!("a number of 1 to {digits} digits"),
            KeyGrammar::Location => {
                "a board location (cabinet, carrier A-E and slot, as 01A05; or a gateway slot, as 001V2)"
                    .into()
            }
            KeyGrammar::Token { max } => format!(
                "one word of 1 to {max} characters, without white space or separators"
            ),
            KeyGrammar::Joined(parts) => parts
                .iter()
                .map(KeyGrammar::describe)
                .collect::<Vec<_>>()
                .join(", ':', "),
        }
    }

    /// Whether the element numbers such keys itself (a CM's `add … next`).
    fn is_numbered(&self) -> bool {
        matches!(
            self,
            KeyGrammar::Digits { .. } | KeyGrammar::Number { .. } | KeyGrammar::Location
        )
    }

    fn matches(&self, key: &str) -> bool {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        match *self {
            KeyGrammar::Empty => key.is_empty(),
            KeyGrammar::Digits { min, max } => (min..=max).contains(&key.len()) && digits(key),
            KeyGrammar::Number { digits: n } => {
                (1..=n).contains(&key.len()) && digits(key) && key.bytes().any(|b| b != b'0')
            }
            KeyGrammar::Location => {
                let b = key.as_bytes();
                let cabinet = b.len() == 5
                    && digits(&key[..2])
                    && (b'A'..=b'E').contains(&b[2])
                    && digits(&key[3..]);
                let gateway = (5..=6).contains(&b.len())
                    && digits(&key[..3])
                    && b[3] == b'V'
                    && digits(&key[4..]);
                cabinet || gateway
            }
            KeyGrammar::Token { max } => {
                !key.is_empty() && key.chars().count() <= max && key.chars().all(token_char)
            }
            KeyGrammar::Joined(parts) => {
                let split: Vec<&str> = key.splitn(parts.len(), ':').collect();
                split.len() == parts.len() && parts.iter().zip(split).all(|(g, s)| g.matches(s))
            }
        }
    }

    /// Checks a key of `object_type` against the grammar.
    pub fn check(&self, object_type: &str, key: &str) -> Result<(), ConnectError> {
        // Every grammar is of one token; said first, since it is the usual mistake.
        if let Some(c) = key.chars().find(|c| !token_char(*c)) {
            return Err(ConnectError::InvalidKey(format!(
                "a key is one word: {key:?} holds {c:?} (U+{:04X}); give the key without white space or separators",
                c as u32
            )));
        }
        if self.matches(key) {
            Ok(())
        } else if key.eq_ignore_ascii_case("next") && self.is_numbered() {
            // A CM's `add station next` takes the next free number, which
            // the command's answer does not tell: what would be stored is
            // not known, so it is refused rather than made and not stored.
            Err(ConnectError::InvalidKey(format!(
                "ucsync adds a {object_type} under the key given, and \"next\" (the element's next free number) is not one: give the {object_type}'s key"
            )))
        } else {
            Err(ConnectError::InvalidKey(refuse(
                object_type,
                key,
                &self.describe(),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogs;
    use ucsync_core::ElementKind;

    fn check(kind: ElementKind, object_type: &str, key: &str) -> Result<(), ConnectError> {
        Catalogs::builtin().check(kind, object_type, key)
    }

    #[track_caller]
    fn check_key(kind: ElementKind, object_type: &str, key: &str, ok: bool) {
        let r = check(kind, object_type, key);
        assert_eq!(r.is_ok(), ok, "{object_type} {key:?}: {r:?}");
        if let Err(e) = r {
            assert!(matches!(e, ConnectError::InvalidKey(_)), "{e:?}");
        }
    }

    #[test]
    fn cm_keys() {
        use ElementKind::Cm;
        for (t, k, ok) in [
            ("station", "1003", true),
            ("station", "1234567890123", true),
            ("station", "12345678901234", false),
            ("station", "1003 ", false),
            ("station", "1299 zzz", false),
            ("station", "1003\u{a0}", false),
            ("station", "10\u{200b}03", false),
            ("station", "1003\u{2028}", false),
            ("station", "next", false),
            ("station", "", false),
            ("station", "１００３", false),
            ("trunk-group", "12", true),
            ("trunk-group", "0", false),
            ("trunk-group", "123456", false),
            ("board", "01A05", true),
            ("board", "001V2", true),
            ("board", "01F05", false),
            ("system-parameters-features", "", true),
            ("system-parameters-features", "x", false),
        ] {
            check_key(Cm, t, k, ok);
        }
        assert!(matches!(
            check(Cm, "nothing", "1"),
            Err(ConnectError::UnknownType(_))
        ));
    }

    #[test]
    fn ip_office_and_messaging_keys() {
        use ElementKind::*;
        for (kind, t, k, ok) in [
            (IpOffice, "user", "JSmith", true),
            (IpOffice, "user", "J Smith", false),
            (IpOffice, "user", "ThisNameIsTooLong", false),
            (IpOffice, "extension", "8001", true),
            (IpOffice, "extension", "8001 ", false),
            (IpOffice, "short-code", "*17*N#", true),
            (IpOffice, "short-code", "*17\t", false),
            (IpOffice, "incoming-call-route", "0:", true),
            (IpOffice, "incoming-call-route", "1:0123", true),
            (IpOffice, "incoming-call-route", "1", false),
            (IpOffice, "incoming-call-route", "x:1", false),
            (Messaging, "subscriber", "2001", true),
            (Messaging, "subscriber", "20", false),
            (Messaging, "subscriber", "2001 x", false),
            (ModularMessaging, "subscriber", "5", true),
        ] {
            check_key(kind, t, k, ok);
        }
    }

    #[test]
    fn the_refusal_says_what_a_key_is() {
        let e = check(ElementKind::Cm, "station", "1003x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a station key is 1 to 13 digits, not \"1003x\": give the key as the element shows it"
        );
        let e = check(ElementKind::Cm, "station", "next").unwrap_err();
        assert!(e.to_string().contains("\"next\""), "{e}");
        let e = check(ElementKind::Cm, "station", "1003 ").unwrap_err();
        assert!(e.to_string().starts_with("a key is one word"), "{e}");
    }
}
