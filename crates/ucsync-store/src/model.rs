//! What the store holds, as the rest of ucsync sees it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, ObjectId, PlanOp, SyncType, Trigger,
};
use ucsync_schedule::ScheduleSpec;

/// A job's number: the order in which jobs were asked for. Shown, parsed
/// and serialized as the number; stored as it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for JobId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<JobId, Self::Err> {
        s.parse().map(JobId)
    }
}

pub type ElementId = i64;

/// Times serialize as the store shows them (see [`crate::time_text`]).
mod time_serde {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time_text(*t))
    }

    pub(super) mod opt {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub(crate) fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }
    }
}

/// Kind-specific settings of an element.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementSettings {
    /// CM: notify sync on.
    #[serde(default)]
    pub notify_sync: bool,
    /// CM: the logins that are ucsync's own (the element's login is always one).
    #[serde(default)]
    pub own_logins: Vec<String>,
    /// The pinned host key (SHA256 fingerprint) or certificate fingerprint.
    #[serde(default)]
    pub host_key: Option<String>,
    #[serde(default)]
    pub tls: Option<bool>,
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The CM a messaging element belongs to or links to.
    #[serde(default)]
    pub cm: Option<String>,
}

/// An element to add; the password is plaintext here and encrypted by the store.
#[derive(Debug, Clone)]
pub struct NewElement {
    pub name: ElementName,
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub password: String,
    pub settings: ElementSettings,
}

/// Per-element sync state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_init_at: Option<DateTime<Utc>>,
    pub last_init_ok: Option<bool>,
    pub last_init_error: Option<String>,
    pub version_at_init: Option<String>,
    pub format_at_init: Option<u32>,
    /// The connector's own record of where the element's changes were read up to.
    pub sync_point: Option<String>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_sync_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the element's last notify event (CM notify sync) was received.
    #[serde(default, serialize_with = "time_serde::opt::serialize")]
    pub last_notify_at: Option<DateTime<Utc>>,
    /// Moves on with every write to the element's objects: a plan made at
    /// one revision is applied only at the same one.
    #[serde(default, skip_serializing)]
    pub revision: i64,
}

/// An element as stored (never with its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    pub id: ElementId,
    pub name: ElementName,
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub settings: ElementSettings,
    #[serde(serialize_with = "time_serde::serialize")]
    pub created_at: DateTime<Utc>,
    pub sync: SyncState,
}

impl Element {
    /// The element's own logins: the declared ones and always its login.
    pub fn own_logins(&self) -> Vec<String> {
        let mut v = self.settings.own_logins.clone();
        if !v.iter().any(|l| l.eq_ignore_ascii_case(&self.login)) {
            v.push(self.login.clone());
        }
        v
    }
}

/// An object as stored: secret values are still encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredObject {
    pub id: ObjectId,
    pub fields: Fields,
    #[serde(skip)]
    pub hash: ContentHash,
    #[serde(serialize_with = "time_serde::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// An object read by an init, waiting for the final transaction.
#[derive(Debug, Clone)]
pub struct Staged {
    pub id: ObjectId,
    pub op: PlanOp,
    /// Stored form: secrets encrypted.
    pub fields: Fields,
    pub hash: ContentHash,
    /// The name shown by search, if the object has one.
    pub name: Option<String>,
    /// What the element's history said of the change (an incremental's
    /// plan); an init's rows have neither.
    pub by_login: Option<String>,
    pub at_element: Option<String>,
}

/// One change applied outside an init: by an incremental or notify sync.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: ObjectId,
    /// `None` deletes the object.
    pub upsert: Option<(Fields, ContentHash, Option<String>)>,
    pub by_login: Option<String>,
    pub at_element: Option<String>,
}

/// A change-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    pub object_type: String,
    pub key: String,
    /// Serialized as `add`, `change` or `delete`.
    pub op: PlanOp,
    pub by_login: Option<String>,
    pub at_element: Option<String>,
    #[serde(serialize_with = "time_serde::serialize")]
    pub at: DateTime<Utc>,
    /// Whether it was applied (`false`: a plan — a dry run's, or a refused
    /// init's — kept for review and for applying).
    pub applied: bool,
    /// A planned change's fields, field by field: of an add every field,
    /// of a change those that differ (`before` as stored now). Secret
    /// values are never shown. Empty for applied changes and deletions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// One entry of an object's history ([`crate::Store::object_history`]):
/// an applied change and the job that applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// `None` for a change applied outside a job: by notify sync, or made
    /// through ucsync on the element.
    pub job: Option<JobId>,
    pub change: ChangeRecord,
}

/// One field of a planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What a plan records when it is applied, and what it was made against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanBase {
    /// `init` (what applying records as an init: versions, sync point) or
    /// `incremental` (the sync point only).
    pub kind: SyncType,
    /// The element's [`SyncState::revision`] before the plan read anything.
    pub revision: i64,
    /// The element's software version when the plan was made.
    pub version: String,
    pub format: u32,
    /// The element's sync point after the plan: an init's taken before it
    /// read, an incremental's where its reading of the history ended.
    pub sync_point: String,
}

/// A kept plan, with its changes counted per object type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub job: JobId,
    pub element: ElementId,
    pub base: PlanBase,
    /// Per object type: adds, changes, deletions.
    pub types: BTreeMap<String, PlanTypeCounts>,
}

/// A plan's changes of one object type, with the first keys it deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanTypeCounts {
    pub add: u64,
    pub change: u64,
    pub delete: u64,
    /// The first keys deleted, in key order (at most [`PLAN_FIRST_KEYS`]).
    pub first_deleted: Vec<String>,
}

/// How many deleted keys per type a plan's summary names.
pub const PLAN_FIRST_KEYS: usize = 10;

/// What applying a plan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanApplied {
    /// Applied: the counts of what it did.
    Applied(JobCounts),
    /// The job keeps no plan (not a dry run nor a refused init, or its
    /// element was removed).
    NoPlan,
    /// Applied already, at that time by that caller.
    AlreadyApplied(DateTime<Utc>, String),
    /// The element's objects changed in the database since the plan.
    Stale,
}

/// How a finished init is recorded.
#[derive(Debug, Clone)]
pub struct InitOutcome {
    pub version: String,
    pub format: u32,
    pub sync_point: Option<String>,
}

/// Progress of a running job: done and expected, per object type.
pub type Progress = BTreeMap<String, (u64, u64)>;

/// Counts of a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobCounts {
    /// What the job applied.
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub skipped: u64,
    /// What an init refused by the discrepancy check would have applied
    /// (its proposal); nothing of it was.
    pub would_add: u64,
    pub would_change: u64,
    pub would_delete: u64,
}

impl JobCounts {
    /// Counts one change against what is stored (`before`: the stored
    /// object's content hash, if there is one; `after`: the new hash, or
    /// `None` for a delete) and returns its change-log operation, or `None`
    /// when it changes nothing. Both backends apply changes by this rule.
    pub fn count_change(
        &mut self,
        before: Option<&[u8]>,
        after: Option<&ContentHash>,
    ) -> Option<PlanOp> {
        match (before, after) {
            (Some(b), Some(a)) if b == &a.0[..] => {
                self.unchanged += 1;
                None
            }
            (None, None) => {
                self.unchanged += 1;
                None
            }
            (Some(_), Some(_)) => {
                self.changed += 1;
                Some(PlanOp::Change)
            }
            (None, Some(_)) => {
                self.added += 1;
                Some(PlanOp::Add)
            }
            (Some(_), None) => {
                self.deleted += 1;
                Some(PlanOp::Delete)
            }
        }
    }
}

/// A sync job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub element: String,
    pub requested: SyncType,
    #[serde(rename = "type")]
    pub sync_type: SyncType,
    pub reason: Option<String>,
    pub trigger: Trigger,
    pub requested_by: String,
    pub state: JobState,
    pub progress: Progress,
    pub counts: JobCounts,
    pub error: Option<String>,
    #[serde(serialize_with = "time_serde::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The node that runs or ran it (`None` while queued).
    pub node: Option<String>,
    /// A preview: the job read and diffed, kept its plan, applied nothing.
    pub dry_run: bool,
    /// When its plan (a dry run's, or a refused init's proposal) was applied, and by whom.
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub applied_at: Option<DateTime<Utc>>,
    pub applied_by: Option<String>,
}

/// What a node says of itself when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub version: String,
    /// Where its API listens.
    pub http: String,
    /// Where its notify-sync syslog listener listens.
    pub syslog: String,
}

/// A service node of the database, as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRecord {
    pub name: String,
    pub version: Option<String>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub started_at: Option<DateTime<Utc>>,
    /// When its heartbeat last beat (renewed with its job leases).
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// Until when its heartbeat holds: past it, the node is lost.
    #[serde(serialize_with = "time_serde::serialize")]
    pub alive_until: DateTime<Utc>,
    pub http: Option<String>,
    pub syslog: Option<String>,
    /// Its jobs waiting, running or stopping.
    pub jobs: u64,
}

/// A new job.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub element: ElementName,
    pub requested: SyncType,
    pub trigger: Trigger,
    pub requested_by: String,
    /// A preview (see [`Job::dry_run`]): joins only another preview.
    pub dry_run: bool,
}

/// A change to an element's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ElementUpdate {
    pub host: Option<String>,
    /// `Some(None)` removes the alternate host.
    pub alternate_host: Option<Option<String>>,
    pub port: Option<u16>,
    pub login: Option<String>,
    /// Plaintext; the store encrypts it.
    pub password: Option<String>,
    /// Replaces the kind-specific settings as a whole (the caller merges).
    pub settings: Option<ElementSettings>,
}

/// What a sync request became: a new queued job, or an existing queued or
/// running job of the same or greater strength that it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub job: Job,
    pub joined: bool,
}

/// One object found by search, with the element it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    pub element: String,
    pub object: StoredObject,
    pub name: Option<String>,
}

/// An API token as stored: its secret is only ever held as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub role: ucsync_core::Role,
    #[serde(serialize_with = "time_serde::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What removing a token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRemoval {
    Removed,
    NoToken,
    /// Refused: it is the last admin token, without which nobody could
    /// administer the service.
    LastAdmin,
}

/// A user of the console. The password's hash is read only where a
/// sign-in is checked ([`crate::Store::user_sign_in`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub role: ucsync_core::Role,
    #[serde(serialize_with = "time_serde::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A signed-in console session: its user as the store has it now (a
/// changed role takes effect at once) and the session's form token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// The token every form of the session carries (CSRF).
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// What changing or removing a user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// Done; the user as it is now (`None` once removed).
    Done(Option<User>),
    NoUser,
    /// Refused: it is the last admin, without whom nobody could administer
    /// the console.
    LastAdmin,
}

pub type ScheduleId = i64;

/// A schedule as stored: its specification (stored as JSON; the
/// `ucsync-schedule` crate owns its meaning, [`ucsync_schedule::Schedule`]
/// checks it) and the scheduler's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRecord {
    pub id: ScheduleId,
    pub name: String,
    /// Set for an element's default schedule: removed with the element, and
    /// at most one per element.
    pub default_for: Option<String>,
    pub spec: ScheduleSpec,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub last_fired: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub next_due: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_serde::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A schedule to add.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub name: String,
    pub default_for: Option<ElementName>,
    pub spec: ScheduleSpec,
    pub next_due: Option<DateTime<Utc>>,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// (element, object type, objects).
    pub objects: Vec<(String, String, u64)>,
    /// (job type that ran, state, jobs).
    pub jobs: Vec<(SyncType, JobState, u64)>,
}

/// What one removal of old jobs took away (see
/// [`crate::Store::remove_finished_jobs`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Finished jobs.
    pub jobs: u64,
    /// Their log lines.
    pub log_lines: u64,
    /// Change records: those of the removed jobs (applied, or proposed by a
    /// refused init), and those of notify sync (no job) as old.
    pub changes: u64,
}

/// An alarm on an element: raised while its condition lasts (`count` times,
/// from `first_seen` to `last_seen`), cleared by itself when it ends, and
/// acknowledged by an operator meanwhile or after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub id: i64,
    pub element: String,
    pub condition: ucsync_core::AlarmCondition,
    pub severity: ucsync_core::Severity,
    /// The latest cause, in words (the error the condition was seen with).
    pub cause: String,
    #[serde(serialize_with = "time_serde::serialize")]
    pub first_seen: DateTime<Utc>,
    #[serde(serialize_with = "time_serde::serialize")]
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub cleared_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
    #[serde(serialize_with = "time_serde::opt::serialize")]
    pub acked_at: Option<DateTime<Utc>>,
}

impl Alarm {
    pub fn is_open(&self) -> bool {
        self.cleared_at.is_none()
    }
}

/// What raising an alarm did: the alarm as it is now, and whether it was
/// raised by this call (it was not open) or only counted again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub alarm: Alarm,
    pub new: bool,
}

/// Which alarms to list, newest seen first.
#[derive(Debug, Clone, Default)]
pub struct AlarmQuery {
    pub element: Option<String>,
    pub severity: Option<ucsync_core::Severity>,
    pub condition: Option<ucsync_core::AlarmCondition>,
    /// Open (true) or cleared (false) alarms only.
    pub open: Option<bool>,
    /// Acknowledged (true) or not (false) only.
    pub acked: Option<bool>,
    pub offset: u64,
    pub limit: u64,
}

/// One attempt to deliver an alarm's raise or clear to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook: String,
    pub alarm_id: i64,
    /// `raised` or `cleared`.
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    #[serde(serialize_with = "time_serde::serialize")]
    pub at: DateTime<Utc>,
    /// The HTTP status answered, if one was.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
}

/// A delivery attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub webhook: String,
    pub alarm_id: i64,
    pub event: String,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
}
