//! Connectors: how ucsync reads and writes each kind of element. The sync
//! engine knows only the [`Connector`] interface; CM (over SAT/OSSI) is the
//! first kind, IP Office (HTTP/JSON) the second, Messaging plugs in the same way.

mod catalogs;
pub mod cm;
mod error;
pub mod ipo;
pub mod key;
pub mod messaging;
pub mod net;
pub mod tls;

pub use catalogs::Catalogs;
pub use error::{Cause, ConnectError};

use async_trait::async_trait;
use tokio::sync::mpsc;
use ucsync_core::{ChangeSummary, Fields, Object, ObjectId};

/// What a connector reports while it reads everything.
#[derive(Debug)]
pub enum ReadEvent {
    /// The number of objects of a type about to be read. In a whole
    /// read, every type's count comes before the first object, so that
    /// progress knows every total from the start.
    Expect {
        object_type: String,
        count: u64,
    },
    Object(Object),
}

/// One thing an incremental must read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeItem {
    /// This object changed (or was removed): read it again.
    Object {
        id: ObjectId,
        by_login: Option<String>,
        at_element: Option<String>,
    },
    /// Something of this type changed that cannot be pinned to objects:
    /// read the whole type again.
    Type { object_type: String, why: String },
}

/// What changed on an element since a sync point.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// The point to continue from next time; taken before anything was read.
    pub new_point: String,
    pub items: Vec<ChangeItem>,
    /// Rows that were not applied, each with the rule that skipped it.
    pub skipped: Vec<String>,
    /// How many of them were data commands (not logins and logoffs).
    pub data_rows_skipped: usize,
    /// Data-command rows left out because notify sync already applied and
    /// committed the event for each (they are not in `data_rows_skipped`
    /// and do not count toward `summary.rows_to_apply`).
    pub notified_rows_skipped: usize,
    pub summary: ChangeSummary,
    /// How the connector sums up what it found, for the job log, when
    /// history rows are not its way of telling (an IP Office's version check).
    pub report: Option<String>,
    /// Every key of these types that exists on the element now, for a
    /// connector that can list them but learns of no deletion otherwise: what
    /// is stored and not listed was deleted.
    pub listings: Vec<KeyListing>,
}

/// The complete list of keys of one object type on the element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyListing {
    pub object_type: String,
    pub keys: Vec<String>,
}

/// A change event an element sent on its own (CM notify sync): the tuple of
/// a history row, as the element resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementEvent {
    pub login: String,
    pub action: String,
    pub object: String,
    pub qualifier: String,
    /// On the element's own clock.
    pub at: chrono::NaiveDateTime,
}

/// What an element's change event means, told by the same rules as the
/// rows an incremental reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventMeaning {
    /// Nothing to read: a metric label (`own-login`, `not-data`,
    /// `not-synchronized`, `unreadable`, `whole-type`, `unsupported`) and why.
    Ignore { label: &'static str, why: String },
    /// Read these objects again. `row_key` identifies the history row the
    /// event stands for, so that an incremental can skip exactly that row
    /// once the event is applied (see [`Connector::changes_since_notified`]).
    Objects { ids: Vec<ObjectId>, row_key: String },
    /// A form changed that needs an initializing sync; the reason in words.
    NeedsInit(String),
}

/// A change to make on the element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Add {
        id: ObjectId,
        fields: Fields,
    },
    /// Only the given fields change; an empty value clears a field.
    Change {
        id: ObjectId,
        fields: Fields,
    },
    Remove {
        id: ObjectId,
    },
}

pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

/// How the engine talks to one element.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The element's software version.
    async fn version(&self) -> Result<String>;
    /// Where the element's changes stand now, as the connector's own opaque
    /// text; taken before reading, so changes made meanwhile are read next time.
    async fn sync_point(&self) -> Result<String>;
    /// Reads every object, sending them to `out` as they come.
    async fn read_all(&self, out: mpsc::Sender<ReadEvent>) -> Result<()>;
    /// Reads every object of one type.
    async fn read_type(&self, object_type: &str, out: mpsc::Sender<ReadEvent>) -> Result<()>;
    /// What changed since `point`, leaving out what the given logins did.
    async fn changes_since(&self, point: &str, own_logins: &[String]) -> Result<ChangeSet>;
    /// As [`Connector::changes_since`], leaving out too the rows whose
    /// `row_key` is in `notified` (events notify sync applied and
    /// committed), each key once. Elements without notify events have no
    /// such rows.
    async fn changes_since_notified(
        &self,
        point: &str,
        own_logins: &[String],
        notified: &[String],
    ) -> Result<ChangeSet> {
        let _ = notified;
        self.changes_since(point, own_logins).await
    }
    /// What a change event the element sent means (CM notify sync). Pure:
    /// no request to the element.
    fn classify_event(&self, event: &ElementEvent, own_logins: &[String]) -> EventMeaning {
        let _ = (event, own_logins);
        EventMeaning::Ignore {
            label: "unsupported",
            why: "this kind of element sends no change events".into(),
        }
    }
    /// One object as it is now; `None` when it does not exist.
    async fn read_one(&self, id: &ObjectId) -> Result<Option<Object>>;
    /// Makes a change on the element (under its login) and returns the object as it is after.
    async fn write_one(&self, op: &WriteOp) -> Result<Option<Object>>;
    /// The fingerprint of the element's identity (a CM's SSH host key),
    /// when the protocol has one.
    fn fingerprint(&self) -> Option<String> {
        None
    }
    /// The fields of a type that are secrets.
    fn secret_fields(&self, object_type: &str) -> Vec<String>;
    /// The name search shows for an object, if it has one.
    fn display_name(&self, object: &Object) -> Option<String>;
    /// Logs off and closes connections.
    async fn close(&self);
}
