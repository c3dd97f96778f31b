//! Plans: a dry run keeps what it would apply, and applying that plan later
//! applies exactly it — refused as stale when the element or ucsync's
//! database changed since. An init the discrepancy check refused keeps its
//! proposal as the same kind of plan.
//!
//! Stale is decided on both sides. The database's: every write to an
//! element's objects moves its revision on (see the store), and the plan
//! is applied only at the revision it was made at, checked again inside
//! the applying transaction. The element's: its software version must be
//! the plan's, and asked what changed since the plan's sync point — as an
//! incremental asks, but counting every login's changes, ucsync's own too —
//! it must answer nothing but objects that, read again, are as the plan
//! leaves them (a CM's history rows after the point, a messaging
//! directory's entries modified after it, which must also list exactly the
//! keys the plan leaves; an IP Office's configuration version must be the
//! plan's). A plan whose element cannot tell is stale.

use ucsync_connect::{ChangeItem, ChangeSet, Connector};
use ucsync_core::{ContentHash, SyncType, escalate};
use ucsync_store::{
    Change, Element, Job, JobCounts, PlanApplied, PlanBase, PlanRecord, Staged, StoreError,
};

use crate::error::RunnerError;
use crate::sync::{Ctx, Failure, SyncEngine};

/// Why an element has changed since a plan's sync point, if what it tells
/// says so without reading objects again.
fn moved(set: &ChangeSet) -> Option<String> {
    if let Some(why) = escalate(&set.summary) {
        return Some(why);
    }
    if set.summary.rows_to_apply > 0 && set.items.is_empty() {
        return Some(format!(
            "{} changes were made on the element since the plan read it",
            set.summary.rows_to_apply
        ));
    }
    None
}

/// How many objects of `object_type` the element holds once the plan is
/// applied over what is stored now (`stored`).
fn expected(plan: &PlanRecord, object_type: &str, stored: u64) -> u64 {
    match plan.types.get(object_type) {
        Some(c) => (stored + c.add).saturating_sub(c.delete),
        None => stored,
    }
}

impl SyncEngine {
    /// A dry run's incremental: the changes counted against what is stored
    /// and kept as the job's plan, none applied.
    pub(crate) async fn plan_changes(
        &self,
        ctx: &mut Ctx<'_>,
        version: &str,
        changes: Vec<Change>,
        new_point: &str,
    ) -> Result<(), Failure> {
        let stored = self.store.object_hashes(ctx.element.id).await?;
        let mut counts = JobCounts::default();
        let mut batch: Vec<Staged> = Vec::new();
        for ch in changes {
            let before = stored.get(&ch.id);
            let after = ch.upsert.as_ref().map(|(_, hash, _)| hash);
            let Some(op) = counts.count_change(before.as_ref().map(|h| &h.0[..]), after) else {
                continue;
            };
            let (fields, hash, name) = ch
                .upsert
                .unwrap_or_else(|| (Default::default(), ContentHash([0; 16]), None));
            batch.push(Staged {
                id: ch.id,
                op,
                fields,
                hash,
                name,
                by_login: ch.by_login,
                at_element: ch.at_element,
            });
        }
        for chunk in batch.chunks(self.settings.batch.max(1)) {
            self.store.stage(ctx.job.id, chunk.to_vec()).await?;
        }
        let base = PlanBase {
            kind: SyncType::Incremental,
            revision: ctx.element.sync.revision,
            version: version.to_string(),
            format: ctx.element.sync.format_at_init.unwrap_or_default(),
            sync_point: new_point.to_string(),
        };
        self.store
            .keep_plan(ctx.job.id, ctx.element.id, &[], &base)
            .await?;
        ctx.counts = JobCounts {
            unchanged: counts.unchanged,
            skipped: ctx.counts.skipped,
            would_add: counts.added,
            would_change: counts.changed,
            would_delete: counts.deleted,
            ..JobCounts::default()
        };
        Ok(())
    }

    /// Applies the plan `job` kept, exactly, if neither `element` (read
    /// through `conn`) nor the database changed since it was made; records
    /// on the job who applied it and when. Returns what it applied.
    pub async fn apply_plan(
        &self,
        job: &Job,
        element: &Element,
        conn: &dyn Connector,
        by: &str,
    ) -> Result<JobCounts, RunnerError> {
        let plan = match self.store.plan(job.id).await? {
            Some(p) if p.element == element.id => p,
            _ => return Err(self.no_plan(job).await),
        };
        // The database's side first (the cheap one); the transaction that
        // applies checks it again.
        if element.sync.revision != plan.base.revision {
            return Err(RunnerError::Stale(format!(
                "{}'s objects changed in ucsync's database since (another sync, notify sync or a change made through ucsync)",
                element.name
            )));
        }
        let version = conn.version().await?;
        if version != plan.base.version {
            return Err(RunnerError::Stale(format!(
                "{}'s software version changed from {} to {version}",
                element.name, plan.base.version
            )));
        }
        // Every login's changes count, ucsync's own too.
        let set = conn.changes_since(&plan.base.sync_point, &[]).await?;
        if let Some(why) = moved(&set) {
            return Err(RunnerError::Stale(why));
        }
        // Each object named as changed since is read again: it must be as
        // the plan leaves it (a directory names again what changed in the
        // very second its point was taken).
        let stored = if set.items.is_empty() {
            Default::default()
        } else {
            self.store.object_hashes(element.id).await?
        };
        for item in &set.items {
            let id = match item {
                ChangeItem::Object { id, .. } => id,
                ChangeItem::Type { object_type, why } => {
                    return Err(RunnerError::Stale(format!(
                        "every {object_type} must be read again: {why}"
                    )));
                }
            };
            let now = conn.read_one(id).await?.map(|o| self.prepare(conn, &o).1);
            let want = match self.store.planned_hash(job.id, id).await? {
                Some(h) => h,
                None => stored.get(id),
            };
            if now != want {
                return Err(RunnerError::Stale(format!(
                    "{id} changed on the element since the plan read it"
                )));
            }
        }
        if !set.listings.is_empty() {
            let stored = self.store.object_counts_by_type(element.id).await?;
            for l in &set.listings {
                let now = stored.get(&l.object_type).copied().unwrap_or(0);
                let want = expected(&plan, &l.object_type, now);
                if l.keys.len() as u64 != want {
                    return Err(RunnerError::Stale(format!(
                        "the element lists {} {} objects where the plan leaves {want}",
                        l.keys.len(),
                        l.object_type
                    )));
                }
            }
        }
        match self.store.apply_plan(job.id, by).await? {
            PlanApplied::Applied(c) => {
                self.log(
                    job,
                    format!(
                        "plan applied by {by}: {} added, {} changed, {} deleted",
                        c.added, c.changed, c.deleted
                    ),
                )
                .await;
                if let Err(e) = self
                    .store
                    .prune_notified_rows(element.id, self.clock().now())
                    .await
                {
                    tracing::warn!(element = %element.name, error = %e, "cannot forget the rows notify sync applied");
                }
                Ok(c)
            }
            PlanApplied::Stale => Err(RunnerError::Stale(format!(
                "{}'s objects changed in ucsync's database since",
                element.name
            ))),
            PlanApplied::AlreadyApplied(at, who) => Err(RunnerError::PlanApplied {
                job: job.id,
                at: ucsync_store::time_text(at),
                by: who,
            }),
            PlanApplied::NoPlan => Err(self.no_plan(job).await),
        }
    }

    /// Why a job has no plan to apply.
    async fn no_plan(&self, job: &Job) -> RunnerError {
        match self.store.job(job.id).await {
            Ok(Some(j)) => match (j.applied_at, j.applied_by) {
                (Some(at), by) => RunnerError::PlanApplied {
                    job: job.id,
                    at: ucsync_store::time_text(at),
                    by: by.unwrap_or_default(),
                },
                _ => RunnerError::NoPlan(job.id),
            },
            Ok(None) => RunnerError::Store(StoreError::NoJob(job.id)),
            Err(e) => RunnerError::Store(e),
        }
    }
}
