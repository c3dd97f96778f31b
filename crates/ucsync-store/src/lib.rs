//! ucsync's database, behind one interface ([`Store`]). Embedded SQLite is
//! the default; a PostgreSQL backend implements the same trait for several
//! nodes. Nothing SQLite-specific crosses this interface.
//!
//! The store encrypts element passwords with the installation's secret key;
//! secret object fields arrive already encrypted (the engine knows which
//! fields are secret) and content hashes are of the plaintext.

mod model;
mod pg_tls;
mod postgres;
mod rows;
mod rules;
mod sqlite;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ucsync_core::{
    AlarmCondition, ContentHash, HashIndex, JobState, ObjectId, Role, Severity, SyncType, Trigger,
};
use ucsync_schedule::ScheduleSpec;

pub use model::*;
pub use postgres::PgStore;
pub use rows::time_text;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("element '{0}' already exists")]
    Exists(String),
    #[error("user '{0}' already exists")]
    UserExists(String),
    #[error("no element '{0}'")]
    NoElement(String),
    #[error("no job {0}")]
    NoJob(JobId),
    #[error("no schedule {0}")]
    NoSchedule(ScheduleId),
    #[error("element '{0}' already has a default schedule")]
    DefaultExists(String),
    #[error("{0}")]
    Secret(#[from] ucsync_core::SecretError),
    #[error("database: {0}")]
    Database(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The longest message [`Store::announce`] takes (PostgreSQL's limit for a
/// NOTIFY payload is 8,000 bytes).
pub const MAX_ANNOUNCEMENT: usize = 7_900;

/// The import previews one console session keeps at most (see
/// [`Store::keep_import_preview`]).
pub const IMPORT_PREVIEWS_KEPT: i64 = 16;

/// Announcements as they come (see [`Store::listen`]); holds what keeps them
/// coming (a connection), so dropping it stops listening.
pub struct Announcements {
    rx: tokio::sync::mpsc::Receiver<String>,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for Announcements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcements").finish_non_exhaustive()
    }
}

impl Announcements {
    /// The next announcement; `None` once listening ended.
    pub async fn recv(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

/// The refusal of a database whose schema a newer ucsync has migrated: this
/// one would misread its rows. During a rolling upgrade the newer node
/// migrates (under the migration lock); the older ones must be upgraded,
/// not restarted as they are.
fn newer_schema(found: usize, known: usize) -> StoreError {
    StoreError::Database(format!(
        "the database schema is at version {found}, newer than this ucsync {} knows (version {known}): a newer ucsync has upgraded it; run that newer ucsync on this node too",
        env!("CARGO_PKG_VERSION")
    ))
}

/// Which objects to list.
#[derive(Debug, Clone, Default)]
pub struct ObjectQuery {
    pub object_type: Option<String>,
    pub key: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// Which jobs to list: each filter given narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// Only this element's jobs.
    pub element: Option<String>,
    /// Only jobs in one of these states (every state when empty).
    pub states: Vec<JobState>,
    /// Only jobs of this type (the type that ran, not the one asked for).
    pub sync_type: Option<SyncType>,
    pub trigger: Option<Trigger>,
}

/// Declares [`Store`] from one list of its methods' signatures and
/// implements it for both backends by their inherent methods of the same
/// names (each backend keeps them by topic in its own modules), so each
/// signature is written here once.
macro_rules! store {
    (
        backends: $sqlite:ty, $postgres:ty;
        provided { $($provided:tt)* }
        $( $(#[$meta:meta])* async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty; )*
    ) => {
        /// The database of ucsync.
        #[async_trait]
        pub trait Store: Send + Sync + std::fmt::Debug {
            $($provided)*
            $( $(#[$meta])* async fn $name(&self $(, $arg: $ty)*) -> $ret; )*
        }
        store!(@impl $sqlite; $( $name($($arg: $ty),*) -> $ret; )*);
        store!(@impl $postgres; $( $name($($arg: $ty),*) -> $ret; )*);
    };
    (@impl $backend:ty; $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        #[async_trait]
        impl Store for $backend {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    <$backend>::$name(self $(, $arg)*).await
                }
            )*
        }
    };
}

store! {
    backends: SqliteStore, PgStore;
    provided {
        /// The changes a job applied, or would have applied.
        async fn changes(&self, job: JobId) -> Result<Vec<ChangeRecord>> {
            Ok(self.changes_page(job, 0, u64::MAX).await?.0)
        }
        /// Adds one element ([`Store::add_elements`] of one).
        async fn add_element(&self, e: NewElement) -> Result<Element> {
            let name = e.name.to_string();
            self.add_elements(vec![e])
                .await?
                .pop()
                .ok_or(StoreError::NoElement(name))
        }
        /// A page of jobs, newest first, of one element and in one state if
        /// asked ([`Store::find_jobs`] with those two filters).
        async fn jobs(
            &self,
            element: Option<&str>,
            state: Option<JobState>,
            offset: u64,
            limit: u64,
        ) -> Result<Vec<Job>> {
            let q = JobQuery {
                element: element.map(str::to_string),
                states: state.into_iter().collect(),
                ..JobQuery::default()
            };
            self.find_jobs(&q, offset, limit).await
        }
    }
    // Elements.
    /// Adds every element or none, in one transaction: a name that exists,
    /// or that comes twice, refuses them all (`StoreError::Exists`).
    async fn add_elements(&self, elements: Vec<NewElement>) -> Result<Vec<Element>>;
    async fn element(&self, name: &str) -> Result<Option<Element>>;
    async fn elements(&self) -> Result<Vec<Element>>;
    /// The element's password, decrypted, for the one place that logs in.
    async fn element_password(&self, name: &str) -> Result<String>;
    /// Removes the element and everything synchronized from it, its
    /// default schedule, and its queued jobs (which become `stopped`).
    async fn remove_element(&self, name: &str) -> Result<bool>;
    /// Changes an element's settings (a new password is encrypted).
    async fn update_element(&self, name: &str, update: ElementUpdate) -> Result<Element>;

    // Objects.
    /// Keys and content hashes of every object of an element: what an init diffs against.
    async fn object_hashes(&self, element: ElementId) -> Result<HashIndex>;
    /// The objects of an element whose identity digests are given (see
    /// `ucsync_core::key_digest`): how an init learns the keys of its deletions.
    async fn object_ids(&self, element: ElementId, digests: Vec<u128>) -> Result<Vec<ObjectId>>;
    async fn objects(&self, element: ElementId, q: &ObjectQuery) -> Result<Vec<StoredObject>>;
    async fn object_count(&self, element: ElementId) -> Result<u64>;
    /// An element's objects per type, for one element's view: the types it
    /// has, as the database keeps them counted while objects are written.
    async fn object_counts_by_type(&self, element: ElementId) -> Result<BTreeMap<String, u64>>;
    /// [`Store::object_counts_by_type`] of every element that holds
    /// objects, in one read: for lists of elements.
    async fn object_counts(&self) -> Result<BTreeMap<ElementId, BTreeMap<String, u64>>>;
    /// Objects, across all elements, whose key or name starts with `text`
    /// (case-insensitive), ordered by element, type and key; paged.
    async fn search(&self, text: &str, offset: u64, limit: u64) -> Result<Vec<SearchHit>>;
    /// Objects per element and type, jobs per type and state.
    async fn counts(&self) -> Result<StoreCounts>;

    // Init: staged outside the final transaction, applied in one short one.
    async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()>;
    /// Applies what the job staged plus `deletes`, records the init as
    /// successful with its versions and sync point, and logs every change.
    async fn commit_init(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        outcome: &InitOutcome,
    ) -> Result<()>;
    /// Keeps what the job staged, plus `deletes`, as its plan — the changes
    /// it would have applied (a dry run, or an init the discrepancy check
    /// refused) — without applying them; `base` says what it was made
    /// against and what applying it records.
    async fn keep_plan(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        base: &PlanBase,
    ) -> Result<()>;
    /// The job's kept plan, not yet applied, counted per object type.
    async fn plan(&self, job: JobId) -> Result<Option<PlanRecord>>;
    /// What the job's plan does to one object: `None`, nothing;
    /// `Some(None)`, deletes it; `Some(Some(hash))`, stores it with that
    /// content hash.
    async fn planned_hash(&self, job: JobId, id: &ObjectId) -> Result<Option<Option<ContentHash>>>;
    /// Applies the job's kept plan exactly, in one transaction, if the
    /// element's objects have not changed since the plan read them (its
    /// revision, checked inside the transaction): the objects, the change
    /// log (as the job's), the sync state (an init's plan records an init),
    /// and the job's `applied_at`, `applied_by` and counts.
    async fn apply_plan(&self, job: JobId, by: &str) -> Result<PlanApplied>;
    /// Drops what the job staged.
    async fn discard_staged(&self, job: JobId) -> Result<()>;
    async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()>;
    /// Drops the element's sync point, so that its next incremental runs as
    /// an init (what changed since it can no longer be told).
    async fn forget_sync_point(&self, element: ElementId) -> Result<()>;

    // Changes outside an init.
    /// Applies changes and moves the sync point, in one transaction. Returns
    /// how many objects were added, changed, deleted, and found unchanged
    /// (an upsert of what is stored, a delete of what is not).
    async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts>;
    /// Notify sync: applies the changes an element's events called for, as
    /// change-log entries of no job, and records the history rows they stand
    /// for (`row_keys`, each an applied event), in one transaction — if the
    /// element's objects are still at `revision` (its `sync.revision`, read
    /// before the objects were read: every write of them moves it on); `None`,
    /// with nothing applied, if another write came in between: what was
    /// read may be older than what is stored, so it is read again.
    async fn apply_notify(
        &self,
        element: ElementId,
        changes: Vec<Change>,
        row_keys: &[String],
        revision: i64,
    ) -> Result<Option<JobCounts>>;
    /// The history rows notify sync applied and no sync has covered yet,
    /// oldest first (a key may appear more than once).
    async fn notified_rows(&self, element: ElementId) -> Result<Vec<String>>;
    /// Forgets the applied rows recorded before `before` (a sync whose
    /// history reading started then has committed).
    async fn prune_notified_rows(&self, element: ElementId, before: DateTime<Utc>) -> Result<()>;
    /// Records when the element's last notify event was received.
    async fn record_notify_event(&self, element: ElementId, at: DateTime<Utc>) -> Result<()>;
    /// A page of [`Store::changes`] (`limit` from `offset`), read as a page
    /// from the database, and how many there are in all.
    async fn changes_page(
        &self,
        job: JobId,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)>;
    /// One object's history: its applied change-log entries — of jobs, of
    /// notify sync and of changes made through ucsync — newest first, a
    /// page (`limit` from `offset`), and how many there are in all. Read on
    /// the change log's index of objects.
    async fn object_history(
        &self,
        element: ElementId,
        object_type: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<HistoryEntry>, u64)>;

    // The cluster's events: what one node tells every other sharing the
    // database (PostgreSQL's NOTIFY; a SQLite store has one node only).
    /// Tells every node listening (see [`Store::listen`]) `message`, once
    /// the caller's writes before it have committed; at most
    /// [`MAX_ANNOUNCEMENT`] bytes.
    async fn announce(&self, message: &str) -> Result<()>;
    /// What every node announces from now on, in the order the database
    /// took the announcements, the caller's own included; `None` for a store
    /// no other node can share. The stream ends when its connection is lost.
    async fn listen(&self) -> Result<Option<Announcements>>;

    // Nodes: services sharing the database, by name.
    /// Records `node` as alive until `until` (its heartbeat, renewed with
    /// its leases by [`Store::renew_leases`]) and answers `None`; unless a
    /// node of that name is alive at `now`: then nothing changes and the
    /// answer is who it is (the `holder` it joined with).
    async fn join_node(
        &self,
        node: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>>;
    /// Forgets the node's heartbeat (it stopped cleanly).
    async fn leave_node(&self, node: &str) -> Result<()>;
    /// Records what the node is, and that it started and beat now (alive
    /// until `until`); makes its row if it has none (on SQLite no node joins:
    /// the data directory's lock keeps a second service out).
    async fn describe_node(&self, node: &str, info: &NodeInfo, until: DateTime<Utc>) -> Result<()>;
    /// The nodes, by name, with their jobs waiting, running or stopping.
    async fn nodes(&self) -> Result<Vec<NodeRecord>>;

    // Jobs: the database is the queue, so queued jobs survive a restart and
    // several service processes sharing one database run each job once.
    /// Asks for a sync on an element, atomically: joins a queued or running
    /// job of the same or greater strength, or queues a new job after what
    /// is there.
    async fn request_job(&self, job: &NewJob) -> Result<Requested>;
    /// Claims the oldest queued job whose element has no waiting, running
    /// or stopping job, for `node`, with a lease until `lease_until` (moved
    /// on by however long the write waited, for the writer or a lock, since
    /// the call): an incremental becomes `running`, an init `waiting` (for
    /// its place in the init pool, see [`Store::take_init_place`]). At most
    /// one job per element runs, whatever the number of nodes.
    async fn claim_job(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Option<Job>>;
    /// The cluster's init pool: gives the job (claimed, an init) one of
    /// `pool` places if one is free among the inits reading on every node
    /// sharing the database — it becomes `running`, `started_at` now — and
    /// answers whether it did; else the job is left (or put) `waiting`. A
    /// place is the running job itself, so a node that dies frees its places
    /// when its jobs are failed at the end of their lease.
    async fn take_init_place(&self, id: JobId, pool: u32) -> Result<bool>;
    /// Extends the lease of `node`'s waiting and running jobs (and its
    /// heartbeat) to `lease_until`, moved on by however long the write
    /// waited since the call, so that a slow writer cannot make a live job
    /// look dead; returns those of them that were asked to stop.
    async fn renew_leases(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Vec<JobId>>;
    /// Fails, with the reason "interrupted", every running or stopping job
    /// whose lease ended before `now` (its node died) or, when `node` is
    /// given, that belongs to it (this node restarted), and discards what
    /// they staged.
    async fn fail_interrupted(&self, node: Option<&str>, now: DateTime<Utc>) -> Result<Vec<JobId>>;
    /// Asks a job to stop: a queued job is stopped at once, a running one
    /// becomes `stopping` (its node ends it at a safe point). Finished jobs
    /// are left as they are. Returns the job as it is now.
    async fn stop_job(&self, id: JobId) -> Result<Option<Job>>;
    async fn create_job(
        &self,
        job: &NewJob,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<Job>;
    async fn job(&self, id: JobId) -> Result<Option<Job>>;
    /// A page of the jobs `q` selects, newest first.
    async fn find_jobs(&self, q: &JobQuery, offset: u64, limit: u64) -> Result<Vec<Job>>;
    /// The newest job that ran and finished (succeeded, failed or stopped;
    /// not one stopped before it started, nor a preview whose plan was not
    /// applied), whatever its type, of each
    /// element — or of the one given: what an element's status reads.
    async fn last_finished_jobs(&self, element: Option<&str>) -> Result<Vec<Job>>;
    async fn set_job_state(&self, id: JobId, state: JobState, error: Option<&str>) -> Result<()>;
    async fn set_job_type(
        &self,
        id: JobId,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<()>;
    async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()>;
    async fn job_log(&self, id: JobId, line: &str) -> Result<()>;
    async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>>;

    // API tokens: only a hash of each token's secret is stored.
    async fn create_token(&self, name: &str, role: Role, secret_hash: &[u8; 32]) -> Result<Token>;
    async fn tokens(&self) -> Result<Vec<Token>>;
    /// The token whose secret hashes to `secret_hash`; records its use.
    async fn token_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<Token>>;
    /// Removes a token, atomically refusing to remove the last admin token.
    async fn delete_token(&self, id: i64) -> Result<TokenRemoval>;

    // Console users: a password is kept as its argon2id hash (a PHC
    // string), which the API makes and checks.
    /// Adds a user; a name taken refuses it (`StoreError::UserExists`).
    async fn add_user(&self, name: &str, role: Role, password_hash: &str) -> Result<User>;
    async fn users(&self) -> Result<Vec<User>>;
    /// The user and the hash of its password, to check a sign-in against.
    async fn user_sign_in(&self, name: &str) -> Result<Option<(User, String)>>;
    /// Records a sign-in.
    async fn record_sign_in(&self, name: &str, at: DateTime<Utc>) -> Result<()>;
    /// Changes a user's role or password, atomically refusing to take the
    /// admin role from the last admin.
    async fn update_user(
        &self,
        name: &str,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<UserChange>;
    /// Removes a user, atomically refusing to remove the last admin.
    async fn remove_user(&self, name: &str) -> Result<UserChange>;

    // Console sessions: the cookie's secret is kept only as a hash. A new
    // password or the user's removal ends the user's sessions.
    /// Starts a session of `user` (who must exist); also forgets the
    /// sessions idle for longer than `idle`.
    async fn create_session(
        &self,
        secret_hash: &[u8; 32],
        user: &str,
        csrf: &str,
        idle: std::time::Duration,
    ) -> Result<()>;
    /// The session whose secret hashes to `secret_hash`, unless it has been
    /// idle for longer than `idle`; records its use (at most once a minute).
    async fn session_by_hash(
        &self,
        secret_hash: &[u8; 32],
        idle: std::time::Duration,
    ) -> Result<Option<Session>>;
    /// Ends a session (signing out); whether there was one.
    async fn remove_session(&self, secret_hash: &[u8; 32]) -> Result<bool>;
    /// Keeps a console import's previewed file under `id` for the session
    /// whose secret hashes to `session`: the file's name and its rows
    /// (stored encrypted). Forgets every preview older than `lifetime`, and
    /// the session's oldest past its newest [`IMPORT_PREVIEWS_KEPT`].
    async fn keep_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        file: &str,
        rows: &str,
        lifetime: std::time::Duration,
    ) -> Result<()>;
    /// The preview `id` of the session `session` — (file, rows) — taken
    /// out, once: `None` if there is none of that session, or it is older
    /// than `lifetime`.
    async fn take_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        lifetime: std::time::Duration,
    ) -> Result<Option<(String, String)>>;

    // Schedules.
    async fn add_schedule(&self, s: &NewSchedule) -> Result<ScheduleRecord>;
    async fn schedules(&self) -> Result<Vec<ScheduleRecord>>;
    async fn schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>>;
    /// Replaces a schedule's name, specification and next due time; when it
    /// last fired stays.
    async fn update_schedule(
        &self,
        id: ScheduleId,
        name: &str,
        spec: &ScheduleSpec,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<ScheduleRecord>;
    async fn delete_schedule(&self, id: ScheduleId) -> Result<bool>;
    /// Records that a schedule fired, only if its next due time is still
    /// `expected_due` (so that of several nodes, exactly one fires it).
    /// Returns whether this call won.
    async fn schedule_fired(
        &self,
        id: ScheduleId,
        expected_due: Option<DateTime<Utc>>,
        last_fired: Option<DateTime<Utc>>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<bool>;

    // Retention, and tasks that one node runs for the whole database.
    /// Claims the turn of the task `name` (the daily retention run…) at
    /// `now`: if it never ran, or its next run was due by `now`, records
    /// `next_due` as its next run and answers true — this caller runs it;
    /// otherwise changes nothing and answers false. Of several nodes calling
    /// at once, exactly one wins a turn.
    async fn claim_task(
        &self,
        name: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
    ) -> Result<bool>;
    /// Removes the finished jobs (succeeded, failed, stopped) that finished
    /// before `before`, with their log lines, their change records and the
    /// proposals of refused inits, and the change records of notify sync
    /// (no job) made before `before` — in transactions of at most `batch`
    /// jobs or `batch` change records, so that none holds the database for
    /// long. Each element's newest finished job that ran (what its status
    /// reads, see [`Store::last_finished_jobs`]) is kept whatever its age;
    /// a job not finished is never removed. On SQLite the freed pages go
    /// back to the file system afterwards.
    async fn remove_finished_jobs(&self, before: DateTime<Utc>, batch: u32) -> Result<Removed>;

    // Alarms: one open alarm per element and condition.
    /// Raises the alarm of `condition` on `element`, seen at `at` because of
    /// `cause`: a new alarm if none of them is open, else the open one
    /// counted again (its cause and severity the latest). Idempotent in the
    /// sense that matters: one condition, one alarm.
    async fn raise_alarm(
        &self,
        element: &str,
        condition: AlarmCondition,
        severity: Severity,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Raised>;
    /// Clears the open alarms of `element` whose condition is among
    /// `conditions`, at `at`; answers those this call cleared (none when
    /// none was open, so each clear is told once).
    async fn clear_alarms(
        &self,
        element: &str,
        conditions: &[AlarmCondition],
        at: DateTime<Utc>,
    ) -> Result<Vec<Alarm>>;
    /// A page of alarms, the last seen first, and how many match in all.
    async fn alarms(&self, q: &AlarmQuery) -> Result<(Vec<Alarm>, u64)>;
    async fn alarm(&self, id: i64) -> Result<Option<Alarm>>;
    /// Acknowledges an alarm (once: a second acknowledgement changes
    /// nothing); `None` if there is no such alarm.
    async fn ack_alarm(&self, id: i64, by: &str, at: DateTime<Utc>) -> Result<Option<Alarm>>;
    /// The open alarms per severity.
    async fn open_alarm_counts(&self) -> Result<BTreeMap<String, u64>>;
    /// Records one attempt to deliver an alarm to a webhook.
    async fn record_delivery(&self, d: &NewDelivery) -> Result<()>;
    /// A page of a webhook's delivery attempts, newest first, and how many
    /// there are in all.
    async fn deliveries(
        &self,
        webhook: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Delivery>, u64)>;
}
