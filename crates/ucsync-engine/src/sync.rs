//! One sync job, from decision to commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use ucsync_schedule::{Clock, SystemClock};

use crate::alarms::{JobEnd, condition_of};
use crate::error::RunnerError;
use crate::events::{Event, Events};
use crate::hashing::{HashedEvent, spawn_hasher};
use ucsync_connect::{ChangeItem, ConnectError, Connector, ReadEvent, WriteOp};
use ucsync_core::{
    AlarmCondition, ContentHash, Decision, DeleteGuard, Differ, Fields, HashIndex, JobState,
    Object, ObjectId, SecretKey, SyncFacts, SyncType, Thresholds, decide, escalate, key_digest,
};
use ucsync_store::{
    Change, Element, InitOutcome, Job, JobCounts, PlanBase, Progress, Staged, Store, StoreError,
};

/// The version of what ucsync stores for an element: an incremental after it
/// changed is refused until an init has run. 2: content hashes read fields
/// framed by their lengths in decimal.
pub const SYNC_FORMAT: u32 = 2;

/// Settings of the sync engine.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub thresholds: Thresholds,
    /// Objects staged per write.
    pub batch: usize,
    pub format: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            thresholds: Thresholds::default(),
            batch: 1000,
            format: SYNC_FORMAT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    #[error("stopped")]
    Stopped,
}

/// Runs sync jobs against the store.
#[derive(Debug, Clone)]
pub struct SyncEngine {
    pub(crate) store: Arc<dyn Store>,
    secret: SecretKey,
    hash_key: [u8; 32],
    pub(crate) settings: SyncSettings,
    /// Every init, whatever started it, runs with a place in the init pool
    /// of this many places, shared by every node of the database.
    pool: u32,
    /// How often a waiting init looks for a place freed on another node.
    pool_poll: Duration,
    /// Wakes the inits waiting on this node: one of its inits ended.
    pool_freed: Arc<Notify>,
    inits_now: Arc<AtomicUsize>,
    inits_peak: Arc<AtomicUsize>,
    /// The engine's "now": the runner's, the notify applier's and this one's.
    clock: Arc<dyn Clock>,
    /// Where a running job's progress is told, if anywhere.
    events: Option<Events>,
}

/// The stored form of an object: secret fields encrypted.
fn seal(secret: &SecretKey, fields: &Fields, secrets: &[String]) -> Fields {
    if secrets.is_empty() {
        return fields.clone();
    }
    let mut out = fields.clone();
    for s in secrets {
        if let Some(v) = fields.get(s).filter(|v| !v.is_empty()) {
            out.set(s, secret.encrypt(v));
        }
    }
    out
}

pub(crate) struct Ctx<'a> {
    pub(crate) job: &'a Job,
    pub(crate) element: &'a Element,
    pub(crate) conn: &'a dyn Connector,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) counts: JobCounts,
    pub(crate) progress: Progress,
    /// The element's history wrapped since the last sync (why, in words).
    pub(crate) wrapped: Option<String>,
}

/// Waits for `work`, or ends with [`Failure::Stopped`] as soon as the job is
/// asked to stop. Only for work that changes nothing ucsync stores —
/// reading from the element, waiting for a place — as dropping it half-way
/// must be harmless: a SAT session reads the rest of an answer nobody waits
/// for, an HTTP or LDAP request is abandoned.
pub(crate) async fn until_stopped<T, E: Into<Failure>>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Failure::Stopped),
        r = work => r.map_err(Into::into),
    }
}

impl SyncEngine {
    pub fn new(store: Arc<dyn Store>, secret: SecretKey, settings: SyncSettings) -> SyncEngine {
        let hash_key = secret.hash_key();
        SyncEngine {
            store,
            secret,
            hash_key,
            settings,
            pool: 8,
            pool_poll: Duration::from_millis(500),
            pool_freed: Arc::new(Notify::new()),
            inits_now: Arc::new(AtomicUsize::new(0)),
            inits_peak: Arc::new(AtomicUsize::new(0)),
            clock: Arc::new(SystemClock),
            events: None,
        }
    }

    /// Tells a running job's progress on `events` as it is stored.
    pub fn with_events(mut self, events: Events) -> SyncEngine {
        self.events = Some(events);
        self
    }

    /// Stores the job's progress and counts so far, and tells them.
    async fn report(&self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        self.store
            .set_job_progress(ctx.job.id, &ctx.progress, &ctx.counts)
            .await?;
        if let Some(events) = &self.events {
            events.publish(Event::Progress {
                job: ctx.job.id,
                element: ctx.job.element.clone(),
                progress: Box::new(ctx.progress.clone()),
                counts: ctx.counts,
            });
        }
        Ok(())
    }

    /// Takes "now" from `clock` instead of the system's (a test's clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SyncEngine {
        self.clock = clock;
        self
    }

    /// Where the engine's "now" comes from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Sets how many inits may run at once over every node of the
    /// database, and how often a waiting init looks for a place.
    pub fn with_init_pool(mut self, size: usize, poll: Duration) -> SyncEngine {
        self.pool = u32::try_from(size.max(1)).unwrap_or(u32::MAX);
        self.pool_poll = poll;
        self
    }

    /// Waits, `waiting`, for a place in the init pool; the job is `running`
    /// once it has one.
    async fn take_place(&self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let mut logged = false;
        loop {
            let freed = self.pool_freed.notified();
            if self.store.take_init_place(ctx.job.id, self.pool).await? {
                return Ok(());
            }
            if !logged {
                logged = true;
                self.log(
                    ctx.job,
                    format!(
                        "waiting for a place in the init pool ({} inits run at once)",
                        self.pool
                    ),
                )
                .await;
            }
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(self.pool_poll) => {}
                _ = ctx.cancel.cancelled() => return Err(Failure::Stopped),
            }
        }
    }

    /// The most inits that ran at once.
    pub fn peak_inits(&self) -> usize {
        self.inits_peak.load(Ordering::SeqCst)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The stored form of an object: its secrets encrypted.
    fn seal(&self, conn: &dyn Connector, obj: &Object) -> Fields {
        seal(
            &self.secret,
            &obj.fields,
            &conn.secret_fields(&obj.id.object_type),
        )
    }

    /// The stored form of an object and its hash.
    pub fn prepare(&self, conn: &dyn Connector, obj: &Object) -> (Fields, ContentHash) {
        (self.seal(conn, obj), ContentHash::of(&self.hash_key, obj))
    }

    /// Administers an object through ucsync: the change is made on the
    /// element under its login and stored in the same step. A failure on the
    /// element changes nothing in the database. Returns the object as it is now.
    pub async fn administer(
        &self,
        element: &Element,
        conn: &dyn Connector,
        op: &WriteOp,
    ) -> Result<Option<Object>, RunnerError> {
        let id = match op {
            WriteOp::Add { id, .. } | WriteOp::Change { id, .. } | WriteOp::Remove { id } => {
                id.clone()
            }
        };
        let after = match conn.write_one(op).await {
            Ok(after) => after,
            Err(e) if e.outcome_unknown() => {
                return Err(self.answer_lost(element, conn, id, e).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.store_as_read(element, conn, id, after.clone()).await?;
        Ok(after)
    }

    /// After a write whose answer was lost: the element's history will show
    /// the change under ucsync's own login, which every incremental skips,
    /// so the object is read again at once and stored as it is; when that
    /// fails too, the element's sync point is dropped, so that its next
    /// incremental runs as an init and reads everything.
    async fn answer_lost(
        &self,
        element: &Element,
        conn: &dyn Connector,
        id: ObjectId,
        error: ConnectError,
    ) -> RunnerError {
        tracing::warn!(element = %element.name, object = %id, %error, "the answer to a change was lost: reading the object again");
        let read = match conn.read_one(&id).await {
            Ok(now) => self
                .store_as_read(element, conn, id.clone(), now)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let settled = match read {
            Ok(()) => format!("ucsync read {id} again and stored it as the element has it now"),
            Err(why) => match self.store.forget_sync_point(element.id).await {
                Ok(()) => format!(
                    "ucsync could not read {id} again ({why}), so the next incremental sync of {} runs as an init",
                    element.name
                ),
                Err(e) => format!(
                    "ucsync could not read {id} again ({why}) nor mark {} for an init ({e}): run an init sync of it",
                    element.name
                ),
            },
        };
        RunnerError::AnswerLost { error, settled }
    }

    /// Stores an object as read from the element (`None`: it does not exist).
    async fn store_as_read(
        &self,
        element: &Element,
        conn: &dyn Connector,
        id: ObjectId,
        after: Option<Object>,
    ) -> Result<(), StoreError> {
        let upsert = after.as_ref().map(|obj| {
            let (fields, hash) = self.prepare(conn, obj);
            (fields, hash, conn.display_name(obj))
        });
        let change = Change {
            id,
            upsert,
            by_login: Some(element.login.clone()),
            at_element: None,
        };
        self.store
            .apply_changes(None, element.id, vec![change], None)
            .await?;
        Ok(())
    }

    pub(crate) async fn log(&self, job: &Job, line: impl AsRef<str>) {
        let line = line.as_ref();
        tracing::info!(job = job.id.0, element = %job.element, "{line}");
        if let Err(e) = self.store.job_log(job.id, line).await {
            tracing::warn!(job = job.id.0, error = %e, "cannot write the job log");
        }
    }

    /// Runs a job to its end and records the outcome; returns how it ended.
    pub async fn run(
        &self,
        job: &Job,
        element: &Element,
        conn: &dyn Connector,
        cancel: &CancellationToken,
    ) -> JobEnd {
        let mut ctx = Ctx {
            job,
            element,
            conn,
            cancel,
            counts: JobCounts::default(),
            progress: Progress::new(),
            wrapped: None,
        };
        // The job was set running (or waiting) when it was claimed; setting
        // it again here could overwrite a stop asked for in between.
        let result = self.decide_and_run(&mut ctx).await;
        let _ = self
            .store
            .set_job_progress(job.id, &ctx.progress, &ctx.counts)
            .await;
        let failure = match &result {
            Err(Failure::Connect(e)) => Some((condition_of(e), e.to_string())),
            Err(e @ Failure::Store(_)) => Some((AlarmCondition::SyncFailed, e.to_string())),
            Err(e @ Failure::Refused(_)) => Some((AlarmCondition::SyncRefused, e.to_string())),
            Ok(()) | Err(Failure::Stopped) => None,
        };
        let (state, error) = match result {
            Ok(()) => (JobState::Succeeded, None),
            Err(Failure::Stopped) => (
                JobState::Stopped,
                Some(
                    "stopped before it finished; nothing it had not committed was changed"
                        .to_string(),
                ),
            ),
            Err(e) => (JobState::Failed, Some(e.to_string())),
        };
        if let Some(e) = &error {
            self.log(job, format!("{state}: {e}")).await;
        } else if job.dry_run {
            let c = ctx.counts;
            self.log(
                job,
                format!(
                    "planned (a dry run: nothing applied): would add {}, change {}, delete {}; {} unchanged, {} skipped; apply the plan with POST /api/v1/jobs/{}/apply (ucsync job apply {})",
                    c.would_add, c.would_change, c.would_delete, c.unchanged, c.skipped, job.id, job.id
                ),
            )
            .await;
        } else {
            let c = ctx.counts;
            self.log(
                job,
                format!(
                    "succeeded: {} added, {} changed, {} deleted, {} unchanged, {} skipped",
                    c.added, c.changed, c.deleted, c.unchanged, c.skipped
                ),
            )
            .await;
        }
        if let Err(e) = self
            .store
            .set_job_state(job.id, state, error.as_deref())
            .await
        {
            tracing::error!(job = job.id.0, error = %e, "cannot record the job's end");
        }
        // Its place in the init pool, if it had one, is free now.
        self.pool_freed.notify_waiters();
        JobEnd {
            state,
            failure,
            wrapped: ctx.wrapped,
        }
    }

    async fn decide_and_run(&self, ctx: &mut Ctx<'_>) -> Result<(), Failure> {
        let version = until_stopped(ctx.cancel, ctx.conn.version()).await?;
        let s = &ctx.element.sync;
        let facts = SyncFacts {
            init_ran: s.last_init_ok.is_some(),
            last_init_failed: s.last_init_ok == Some(false),
            version_at_init: s.version_at_init.clone(),
            version_now: version.clone(),
            format_at_init: s.format_at_init,
            format_now: self.settings.format,
            has_sync_point: s.sync_point.is_some(),
        };
        let sync_type = match decide(ctx.job.requested, &facts) {
            Decision::Run(t) => t,
            Decision::Refuse { reason } => return Err(Failure::Refused(reason)),
            Decision::Init { reason } => {
                self.become_init(ctx, &reason).await?;
                SyncType::Init
            }
        };
        match sync_type {
            SyncType::Incremental => self.incremental(ctx, &version).await,
            t => self.init(ctx, &version, t == SyncType::ForceInit).await,
        }
    }

    async fn become_init(&self, ctx: &Ctx<'_>, reason: &str) -> Result<(), Failure> {
        self.log(
            ctx.job,
            format!("running an initializing sync instead of an incremental: {reason}"),
        )
        .await;
        self.store
            .set_job_type(ctx.job.id, SyncType::Init, Some(reason))
            .await?;
        Ok(())
    }

    async fn init(&self, ctx: &mut Ctx<'_>, version: &str, force: bool) -> Result<(), Failure> {
        self.take_place(ctx).await?;
        let now = self.inits_now.fetch_add(1, Ordering::SeqCst) + 1;
        self.inits_peak.fetch_max(now, Ordering::SeqCst);
        let r = self.init_inner(ctx, version, force).await;
        self.inits_now.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = &r {
            if !matches!(e, Failure::Refused(_)) {
                let _ = self.store.discard_staged(ctx.job.id).await;
            }
            // A preview changes nothing of the element's sync state.
            if !matches!(e, Failure::Stopped) && !ctx.job.dry_run {
                let _ = self
                    .store
                    .record_init_failure(ctx.element.id, &e.to_string())
                    .await;
            }
        }
        r
    }

    async fn init_inner(
        &self,
        ctx: &mut Ctx<'_>,
        version: &str,
        force: bool,
    ) -> Result<(), Failure> {
        // The point first: what changes while we read is read again next time.
        let point = until_stopped(ctx.cancel, ctx.conn.sync_point()).await?;
        let (tx, rx) = mpsc::channel::<ReadEvent>(4096);
        let hashed = spawn_hasher(self.hash_key, rx);
        // A stop ends the reading at once, and the consumer at its next safe
        // point (between two writes of staged rows); the consumer owns the
        // hashed events, so that when it ends the hasher and the reader find
        // their channels closed instead of waiting for room for ever.
        let reading = until_stopped(ctx.cancel, ctx.conn.read_all(tx));
        let consuming = async {
            let mut hashed = hashed;
            // The stored index loads while the first objects are read and hashed.
            let stored = self.store.object_hashes(ctx.element.id).await?;
            self.log(
                ctx.job,
                format!(
                    "{} of {} (version {version}) with {} objects stored",
                    if force { "force-init" } else { "init" },
                    ctx.element.name,
                    stored.len()
                ),
            )
            .await;
            let mut differ = Differ::new(stored);
            let mut batch: Vec<Staged> = Vec::with_capacity(self.settings.batch);
            let mut last_report = Instant::now();
            while let Some(events) =
                until_stopped(ctx.cancel, async { Ok::<_, Failure>(hashed.recv().await) }).await?
            {
                differ.prefetch(events.iter().filter_map(HashedEvent::digest));
                // Connectors tell every total before the first object, so
                // progress is written only once objects come: its first
                // write has them all, and `expected` never grows after.
                let objects = events.iter().any(|e| matches!(e, HashedEvent::Object(..)));
                for ev in events {
                    match ev {
                        HashedEvent::Expect { object_type, count } => {
                            differ.expect_type(&object_type);
                            ctx.progress.insert(object_type, (0, count));
                        }
                        HashedEvent::Object(obj, h) => {
                            if let Some(p) = ctx.progress.get_mut(&obj.id.object_type) {
                                p.0 += 1;
                            }
                            if let Some(op) = differ.observe(&obj.id.object_type, h) {
                                batch.push(Staged {
                                    fields: self.seal(ctx.conn, &obj),
                                    name: ctx.conn.display_name(&obj),
                                    id: obj.id,
                                    op,
                                    hash: h.hash,
                                    by_login: None,
                                    at_element: None,
                                });
                                if batch.len() >= self.settings.batch {
                                    self.store
                                        .stage(ctx.job.id, std::mem::take(&mut batch))
                                        .await?;
                                }
                            }
                        }
                    }
                }
                if objects && last_report.elapsed() > Duration::from_millis(250) {
                    last_report = Instant::now();
                    self.report(ctx).await?;
                }
            }
            if !batch.is_empty() {
                self.store.stage(ctx.job.id, batch).await?;
            }
            Ok::<Differ, Failure>(differ)
        };
        let (read, consumed) = tokio::join!(reading, consuming);
        let differ = consumed?;
        read?;
        if ctx.cancel.is_cancelled() {
            return Err(Failure::Stopped);
        }
        let mut plan = differ.finish();
        if !plan.leftover.is_empty() {
            let ids = self
                .store
                .object_ids(ctx.element.id, plan.leftover.digests())
                .await?;
            plan.set_deletes(ids);
        }
        let total = plan.total();
        let dry_run = ctx.job.dry_run;
        let refused = if force {
            None
        } else {
            (DeleteGuard {
                thresholds: self.settings.thresholds,
            })
            .check(&plan)
            .err()
        };
        // A refused init applies nothing: its counts say so, and what it
        // would have applied is counted apart, never as done.
        ctx.counts = match refused {
            None if !dry_run => JobCounts {
                added: total.added,
                changed: total.changed,
                deleted: total.deleted,
                unchanged: total.unchanged,
                ..JobCounts::default()
            },
            _ => JobCounts {
                unchanged: total.unchanged,
                would_add: total.added,
                would_change: total.changed,
                would_delete: total.deleted,
                ..JobCounts::default()
            },
        };
        for (t, c) in &plan.counts {
            if c.added + c.changed + c.deleted > 0 {
                let line = if refused.is_some() || dry_run {
                    format!(
                        "{t}: would add {}, change {}, delete {}; {} unchanged",
                        c.added, c.changed, c.deleted, c.unchanged
                    )
                } else {
                    format!(
                        "{t}: {} added, {} changed, {} deleted, {} unchanged",
                        c.added, c.changed, c.deleted, c.unchanged
                    )
                };
                self.log(ctx.job, line).await;
            }
        }
        if refused.is_some() || dry_run {
            // The plan is kept, to be looked at and applied as it is.
            let base = PlanBase {
                kind: SyncType::Init,
                revision: ctx.element.sync.revision,
                version: version.to_string(),
                format: self.settings.format,
                sync_point: point,
            };
            self.store
                .keep_plan(ctx.job.id, ctx.element.id, &plan.deletes, &base)
                .await?;
            match refused {
                Some(d) if dry_run => {
                    self.log(
                        ctx.job,
                        format!("an init would be refused by the discrepancy check: {d}"),
                    )
                    .await;
                }
                Some(d) => return Err(Failure::Refused(d.to_string())),
                None => {}
            }
            return Ok(());
        }
        if force && total.deleted > 0 {
            self.log(
                ctx.job,
                format!(
                    "force-init: deleting {} objects without the discrepancy check",
                    total.deleted
                ),
            )
            .await;
        }
        self.store
            .commit_init(
                ctx.job.id,
                ctx.element.id,
                &plan.deletes,
                &InitOutcome {
                    version: version.to_string(),
                    format: self.settings.format,
                    sync_point: Some(point),
                },
            )
            .await?;
        self.forget_notified(ctx).await;
        Ok(())
    }

    async fn incremental(&self, ctx: &mut Ctx<'_>, version: &str) -> Result<(), Failure> {
        let point = ctx.element.sync.sync_point.clone().unwrap_or_default();
        let own = ctx.element.own_logins();
        // The rows notify sync applied: read before the history, so that
        // every key read stands for a row already in it.
        let notified = self.store.notified_rows(ctx.element.id).await?;
        let set = until_stopped(
            ctx.cancel,
            ctx.conn.changes_since_notified(&point, &own, &notified),
        )
        .await?;
        for s in &set.skipped {
            self.log(ctx.job, format!("skipped {s}")).await;
        }
        if set.notified_rows_skipped > 0 {
            self.log(
                ctx.job,
                format!(
                    "skipped {} history rows that notify sync already applied (not counted toward the {} rows of an incremental)",
                    set.notified_rows_skipped,
                    ucsync_core::MAX_INCREMENTAL_ROWS
                ),
            )
            .await;
        }
        ctx.counts.skipped = (set.data_rows_skipped + set.notified_rows_skipped) as u64;
        if set.summary.log_wrapped {
            ctx.wrapped = Some(
                "the command history wrapped since the last sync: an initializing sync ran instead of an incremental"
                    .into(),
            );
        }
        if let Some(reason) = escalate(&set.summary) {
            self.become_init(ctx, &reason).await?;
            return self.init(ctx, version, false).await;
        }
        let gone = match self.unlisted(ctx, &set.listings).await? {
            Ok(gone) => gone,
            Err(reason) => {
                self.become_init(ctx, &reason).await?;
                return self.init(ctx, version, false).await;
            }
        };
        let report = set.report.clone().unwrap_or_else(|| {
            format!(
                "incremental: {} history rows to apply, {} data commands skipped",
                set.summary.rows_to_apply, set.data_rows_skipped
            )
        });
        self.log(ctx.job, report).await;
        // Each object once, with the newest row that named it.
        let mut objects: BTreeMap<ObjectId, (Option<String>, Option<String>)> = BTreeMap::new();
        let mut types: Vec<String> = Vec::new();
        for item in &set.items {
            match item {
                ChangeItem::Object {
                    id,
                    by_login,
                    at_element,
                } => {
                    objects.insert(id.clone(), (by_login.clone(), at_element.clone()));
                }
                ChangeItem::Type { object_type, why } => {
                    if !types.contains(object_type) {
                        self.log(ctx.job, format!("reading every {object_type} again: {why}"))
                            .await;
                        types.push(object_type.clone());
                    }
                }
            }
        }
        objects.retain(|id, _| !types.contains(&id.object_type));
        let mut changes = Vec::new();
        // One named as changed too was added back after the listing: reading
        // it decides.
        for id in gone {
            if !types.contains(&id.object_type) && !objects.contains_key(&id) {
                changes.push(Change {
                    id,
                    upsert: None,
                    by_login: None,
                    at_element: None,
                });
            }
        }
        ctx.progress
            .insert("objects".into(), (0, objects.len() as u64));
        for (id, (by_login, at_element)) in objects {
            let now = until_stopped(ctx.cancel, ctx.conn.read_one(&id)).await?;
            let upsert = now.map(|obj| {
                let (fields, hash) = self.prepare(ctx.conn, &obj);
                (fields, hash, ctx.conn.display_name(&obj))
            });
            changes.push(Change {
                id,
                upsert,
                by_login,
                at_element,
            });
            if let Some(p) = ctx.progress.get_mut("objects") {
                p.0 += 1;
            }
        }
        if !types.is_empty() {
            let stored = self.store.object_hashes(ctx.element.id).await?;
            for t in &types {
                changes.extend(self.refresh_type(ctx, t, &stored).await?);
            }
        }
        if ctx.cancel.is_cancelled() {
            return Err(Failure::Stopped);
        }
        if ctx.job.dry_run {
            return self
                .plan_changes(ctx, version, changes, &set.new_point)
                .await;
        }
        let applied = self
            .store
            .apply_changes(
                Some(ctx.job.id),
                ctx.element.id,
                changes,
                Some(&set.new_point),
            )
            .await?;
        ctx.counts = JobCounts {
            skipped: ctx.counts.skipped,
            ..applied
        };
        self.forget_notified(ctx).await;
        Ok(())
    }

    /// After a sync committed, the rows notify sync applied until now are
    /// forgotten: those before its point need no skipping any more, and one
    /// after it (an event applied while the job ran, which notify sync
    /// avoids) is better read again by the next incremental than skipped
    /// over what this job may have written.
    async fn forget_notified(&self, ctx: &Ctx<'_>) {
        if let Err(e) = self
            .store
            .prune_notified_rows(ctx.element.id, self.clock.now())
            .await
        {
            tracing::warn!(element = %ctx.element.name, error = %e, "cannot forget the rows notify sync applied");
        }
    }

    /// The stored objects that a connector's complete key listings leave out:
    /// deleted on the element. When they pass the discrepancy threshold the
    /// incremental cannot be sure, and the reason to run an init instead is
    /// returned (the init then applies its own discrepancy check).
    async fn unlisted(
        &self,
        ctx: &Ctx<'_>,
        listings: &[ucsync_connect::KeyListing],
    ) -> Result<Result<Vec<ObjectId>, String>, Failure> {
        if listings.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let stored = self.store.object_hashes(ctx.element.id).await?;
        let mut gone = Vec::new();
        for l in listings {
            let mut left = stored.of_type(&l.object_type);
            let before = left.len() as u64;
            for k in &l.keys {
                left.remove_digest(key_digest(&l.object_type, k));
            }
            let missing = left.len() as u64;
            if missing == 0 {
                continue;
            }
            if self.settings.thresholds.exceeded(missing, before) {
                return Ok(Err(format!(
                    "{missing} of {before} {} objects are gone from the element, past the discrepancy threshold",
                    l.object_type
                )));
            }
            let mut ids = self
                .store
                .object_ids(ctx.element.id, left.digests())
                .await?;
            ids.retain(|id| id.object_type == l.object_type);
            self.log(
                ctx.job,
                format!(
                    "{missing} {} objects are gone from the element",
                    l.object_type
                ),
            )
            .await;
            gone.extend(ids);
        }
        Ok(Ok(gone))
    }

    /// Reads one type whole and returns the changes against what is stored of it.
    async fn refresh_type(
        &self,
        ctx: &Ctx<'_>,
        object_type: &str,
        stored: &HashIndex,
    ) -> Result<Vec<Change>, Failure> {
        let mut differ = Differ::new(stored.of_type(object_type));
        let (tx, rx) = mpsc::channel::<ReadEvent>(1024);
        let hashed = spawn_hasher(self.hash_key, rx);
        // As in an init: a stop ends both sides, and the collector owns what
        // it reads so that nobody is left waiting for room.
        let reading = until_stopped(ctx.cancel, ctx.conn.read_type(object_type, tx));
        let collecting = async {
            let mut hashed = hashed;
            let mut out = Vec::new();
            while let Some(events) =
                until_stopped(ctx.cancel, async { Ok::<_, Failure>(hashed.recv().await) }).await?
            {
                differ.prefetch(events.iter().filter_map(HashedEvent::digest));
                for ev in events {
                    if let HashedEvent::Object(obj, h) = ev
                        && differ.observe(&obj.id.object_type, h).is_some()
                    {
                        out.push(Change {
                            upsert: Some((
                                self.seal(ctx.conn, &obj),
                                h.hash,
                                ctx.conn.display_name(&obj),
                            )),
                            id: obj.id,
                            by_login: None,
                            at_element: None,
                        });
                    }
                }
            }
            Ok::<_, Failure>(out)
        };
        let (read, out) = tokio::join!(reading, collecting);
        let mut out = out?;
        read?;
        let mut plan = differ.finish();
        if !plan.leftover.is_empty() {
            plan.set_deletes(
                self.store
                    .object_ids(ctx.element.id, plan.leftover.digests())
                    .await?,
            );
        }
        out.extend(plan.deletes.into_iter().map(|id| Change {
            id,
            upsert: None,
            by_login: None,
            at_element: None,
        }));
        Ok(out)
    }
}
