//! The OSSI protocol spoken over a Communication Manager SAT session, without IO.
//!
//! Bytes go in, typed requests and responses come out (and back). Nothing in
//! this crate touches a socket, a clock or a file: the SSH client (`ucsync-sat`)
//! and the emulator (`ucsync-emulator`) own the IO and share this definition of
//! the protocol.

mod error_code;
mod fid;
mod lines;
mod request;
mod response;
pub mod vocabulary;
pub mod wellknown;

pub use error_code::ErrorKind;
pub use fid::{FieldId, ParseFieldIdError};
pub use lines::{Line, LineBuffer, MAX_LINE};
pub use request::{Request, RequestAssembler, RequestEvent, Value, ValueError};
pub use response::{
    FIELDS_PER_LINE, OssiError, Record, Response, ResponseDecoder, ServerEvent, StreamError,
    encode_echo, encode_error, encode_fields, encode_record, encode_response,
};

/// The prompt a CM prints when a SAT session starts, exactly.
pub const TERMINAL_PROMPT: &str =
    "Terminal Type (513, 715, 4410, 4425, VT220, NTT, W2KTT, SUNT): [513]";
/// The answer to a terminator with no command before it (clients use it as a keep-alive).
pub const NO_COMMAND_ACTIVE: &str = "Terminator received but no command active";
/// The prompt that follows `clogoff`; the client answers `y`.
pub const LOGOFF_PROMPT: &str = "Proceed With Logoff";
/// What a CM says when every SAT port is in use.
pub const RESOURCES_UNAVAILABLE: &str = "Login resources unavailable";

/// Whether a terminal type selects OSSI mode (`ossi`, `ossi4`, `ossie`, `ossit`, ...).
pub fn is_ossi_terminal(term: &str) -> bool {
    term.trim().to_ascii_lowercase().starts_with("ossi")
}

#[doc(hidden)]
pub mod fuzzing;
