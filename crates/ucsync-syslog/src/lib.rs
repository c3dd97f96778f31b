//! Syslog for CM notify sync, without IO: bytes in, notify events out (and
//! back).
//!
//! Three layers, each usable alone and each with its own typed errors:
//!
//! 1. **Framing** ([`Framer`], [`datagram`], [`encode_frame`]): RFC 6587 over
//!    TCP and TLS — octet counting and LF/CRLF/NUL-terminated frames, told
//!    apart per message — and one message per UDP datagram, with a length
//!    limit. "Incomplete" is a state, not an error; a frame over the limit is
//!    skipped and the stream goes on.
//! 2. **Decoding** ([`SyslogMessage::decode`]): RFC 5424 and RFC 3164 into one
//!    [`SyslogMessage`]. Strict where leniency would invent data.
//! 3. **The notify event** ([`NotifyEvent`]): ucsync's format for a CM's
//!    change event, parsed from and encoded to both syslog formats. The
//!    emulator encodes with this crate and ucsync decodes with it: like
//!    `ucsync-ossi`, it is the protocol's definition.
//!
//! Every error has a `kind()`, an [`ErrorKind`] whose [`ErrorKind::as_str`] is
//! a metric label (`oversized`, `truncated`, `malformed`, `invalid-utf8`,
//! `not-notify`). Nothing here panics on any input (fuzzed: `fuzz/`).
//!
//! ```
//! use ucsync_syslog::{Framer, NotifyEvent, SyslogMessage};
//!
//! let mut framer = Framer::default();
//! framer.push(b"146 <13>1 2026-11-26T10:02:03Z cm1 cm-notify - change ");
//! assert!(framer.next_frame().is_none(), "incomplete: wait for more");
//! framer.push(br#"[ucsyncNotify@32473 login="craft" action="change" object="station" time="2026-11-26T10:02:03"] x"#);
//! let frame = framer.next_frame().unwrap().unwrap();
//! let event = NotifyEvent::parse(&SyslogMessage::decode(frame).unwrap()).unwrap();
//! assert_eq!((event.cm(), event.object(), event.qualifier()), ("cm1", "station", None));
//! ```
//!
//! # The notify event format
//!
//! A real CM's notify payload is not public, so ucsync models it (the full
//! description, with examples, is `docs/notify-sync.md`). An event carries
//! the tuple of a history row: the CM's name, the login, the action, the
//! object, the qualifier and the time on the CM's clock.
//!
//! | field | RFC 5424 | RFC 3164 |
//! |---|---|---|
//! | CM name | HOSTNAME | HOSTNAME |
//! | marks the message as an event | APP-NAME `cm-notify`, MSGID `change` | TAG `cm-notify` (a `[pid]` is allowed) |
//! | login, action, object, qualifier, time | parameters of the SD-ELEMENT `ucsyncNotify@32473` | the same `name="value"` parameters as the whole MSG |
//! | for people | MSG: `craft change station 1001` | — |
//!
//! - `login`: 1 to 32 bytes, no whitespace or control characters.
//! - `action`: the full SAT verb — `add`, `change`, `remove`, `duplicate` —
//!   or another one of 1 to 16 lower-case letters or `-`.
//! - `object`: the full SAT object words, such as `station` or
//!   `system-parameters features` (runs of whitespace read as one space).
//! - `qualifier`: what follows the object (`1001`); `""` or absent for none.
//! - `time`: `YYYY-MM-DDTHH:MM:SS`, the CM's local clock as its history keeps
//!   it, with no offset. The syslog header's timestamp is only when the
//!   message was sent and is not part of the event.
//!
//! Values are quoted and escaped as RFC 5424 PARAM-VALUEs (`\"`, `\\`, `\]`);
//! parameters may come in any order; names other than these five are
//! ignored (reserved for additions); a known one given twice is an error. The
//! SD-ID's number, 32473, is the enterprise number reserved for documentation
//! (RFC 5612), as in RFC 5424's own examples.

mod error;
mod event;
mod framing;
mod message;
mod params;
mod rfc3164;
mod rfc5424;
#[cfg(test)]
mod testing;

pub use error::ErrorKind;
pub use event::{
    APP_NAME, Action, EventError, MAX_CM, MAX_LOGIN, MAX_OBJECT, MAX_QUALIFIER, MSG_ID,
    NotifyEvent, PRI, SD_ID, TIME_FORMAT,
};
pub use framing::{DEFAULT_MAX_LEN, FrameError, Framer, Framing, datagram, encode as encode_frame};
pub use message::{
    DecodeError, Facility, Part, Protocol, SdElement, Severity, SyslogMessage, Timestamp,
};
pub use params::escape_into as escape_param_value;

#[doc(hidden)]
pub mod fuzzing;
