//! What the decoders' unit tests share: a message of the given protocol
//! with nothing but its priority (user.notice) set, and the checks that a
//! line decodes to a message or fails with an error.

use crate::message::Part;
use crate::{DecodeError, Facility, Protocol, Severity, SyslogMessage};

/// `<13>` (user.notice) in `protocol`, every other field empty.
pub(crate) fn empty(protocol: Protocol) -> SyslogMessage {
    SyslogMessage {
        protocol,
        facility: Facility::USER,
        severity: Severity::NOTICE,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: vec![],
        msg: String::new(),
    }
}

pub(crate) fn check(input: &str, expect: SyslogMessage) {
    assert_eq!(
        SyslogMessage::decode(input.as_bytes()),
        Ok(expect),
        "{input:?}"
    );
}

pub(crate) fn check_err(input: &str, expect: DecodeError) {
    assert_eq!(
        SyslogMessage::decode(input.as_bytes()),
        Err(expect),
        "{input:?}"
    );
}

pub(crate) fn malformed(part: Part, reason: &'static str) -> DecodeError {
    DecodeError::Malformed { part, reason }
}
