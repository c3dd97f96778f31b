//! The coarse kinds of everything that can go wrong between bytes and a
//! notify event: the label a listener counts a dropped message under.

use std::fmt;

/// Why a message was dropped, as a metric label.
///
/// Every error of this crate has a `kind()`; the set is closed and small on
/// purpose, so that a label never grows with what senders make up. The detail
/// is in the error itself (its `Display`), for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Longer than the configured limit; its bytes were skipped.
    Oversized,
    /// Ended before it was complete: an empty message, a header cut short, an
    /// unclosed structured-data element, a connection closed inside an
    /// octet-counted frame.
    Truncated,
    /// Not syslog, or syslog that breaks the grammar (no or bad PRI, bad
    /// timestamp, bad structured data), or a notify event with a field missing
    /// or out of its rules.
    Malformed,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Well-formed syslog that is not a notify event (another APP-NAME or
    /// MSGID): not an error of the sender, only not ours.
    NotNotify,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Oversized,
        ErrorKind::Truncated,
        ErrorKind::Malformed,
        ErrorKind::InvalidUtf8,
        ErrorKind::NotNotify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Oversized => "oversized",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Malformed => "malformed",
            ErrorKind::InvalidUtf8 => "invalid-utf8",
            ErrorKind::NotNotify => "not-notify",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_lower_case() {
        let labels: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        let mut unique = labels.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), labels.len());
        for l in labels {
            assert!(
                l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{l}"
            );
        }
    }
}
