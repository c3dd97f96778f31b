//! The error codes of `e` lines and what a client can do about each.
//!
//! Only `29cf` (no records match) is documented from real systems; the other
//! codes are **[modelled]**. A client classifies by code first and falls back to
//! the message text, so it also understands a real CM whose codes differ.

/// What an `e` line means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The query matched nothing: for `list`, zero records.
    NoRecords,
    /// The object named in the command does not exist.
    NotAssigned,
    /// `add` of an object that already exists.
    AlreadyAssigned,
    /// A field id the form does not have.
    BadFieldId,
    /// A value the field does not accept.
    BadValue,
    /// The object is referenced elsewhere and cannot be removed or changed so.
    InUse,
    /// Another session is changing the object; retry later.
    DataLocked,
    /// A command word the SAT does not know.
    UnknownWord,
    /// An abbreviation that fits several command words.
    AmbiguousWord,
    /// The login may not run this command.
    NotPermitted,
    /// The command's lines did not follow the grammar.
    Malformed,
    /// Anything else.
    Other,
}

const TABLE: &[(u16, ErrorKind, &str)] = &[
    (
        0x29cf,
        ErrorKind::NoRecords,
        "No records match the specified query options",
    ),
    (0x2a01, ErrorKind::NotAssigned, "Identifier not assigned"),
    (
        0x2a02,
        ErrorKind::AlreadyAssigned,
        "Identifier already assigned",
    ),
    (
        0x2a03,
        ErrorKind::BadFieldId,
        "Field identifier not valid for this form",
    ),
    (0x2a04, ErrorKind::BadValue, "Entered value not valid"),
    (0x2a05, ErrorKind::InUse, "Object in use; please try later"),
    (
        0x2a06,
        ErrorKind::DataLocked,
        "has data locked; please try later",
    ),
    (0x2a07, ErrorKind::UnknownWord, "Command word unknown"),
    (0x2a08, ErrorKind::AmbiguousWord, "Command word ambiguous"),
    (
        0x2a09,
        ErrorKind::NotPermitted,
        "Command not permitted for this login",
    ),
    (0x2a0a, ErrorKind::Malformed, "Input not valid"),
];

impl ErrorKind {
    /// The 4-hex code the emulator sends for this kind.
    pub fn code(self) -> u16 {
        TABLE
            .iter()
            .find(|(_, k, _)| *k == self)
            .map_or(0x2aff, |(c, _, _)| *c)
    }

    /// The text the emulator sends for this kind when it has nothing more precise.
    pub fn text(self) -> &'static str {
        TABLE
            .iter()
            .find(|(_, k, _)| *k == self)
            .map_or("Error encountered", |(_, _, t)| t)
    }

    /// Classifies an `e` line by its code, falling back to its text.
    pub fn classify(code: u16, text: &str) -> ErrorKind {
        if let Some((_, k, _)) = TABLE.iter().find(|(c, _, _)| *c == code) {
            return *k;
        }
        let t = text.to_ascii_lowercase();
        if t.contains("no records match") {
            ErrorKind::NoRecords
        } else if t.contains("locked") {
            ErrorKind::DataLocked
        } else if t.contains("in use") {
            ErrorKind::InUse
        } else if t.contains("not assigned") || t.contains("does not exist") {
            ErrorKind::NotAssigned
        } else if t.contains("already assigned") || t.contains("already exists") {
            ErrorKind::AlreadyAssigned
        } else {
            ErrorKind::Other
        }
    }

    /// Whether waiting and sending the command again may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::DataLocked | ErrorKind::InUse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_text_fallback_works() {
        for (code, kind, text) in TABLE {
            assert_eq!(kind.code(), *code);
            assert_eq!(ErrorKind::classify(*code, text), *kind);
        }
        assert_eq!(
            ErrorKind::classify(0x1234, "Station 1001 has data locked by another user"),
            ErrorKind::DataLocked
        );
        assert_eq!(
            ErrorKind::classify(0x1234, "Object in use"),
            ErrorKind::InUse
        );
        assert_eq!(ErrorKind::classify(0x1234, "whatever"), ErrorKind::Other);
    }
}
