//! `/metrics` in the Prometheus text format. Counts come from the store at
//! each scrape, so every node sharing a database reports the same; sync
//! durations are a histogram this node feeds from the finished-job events
//! it sees.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use ucsync_core::{JobState, SyncType};
use ucsync_engine::Event;
use ucsync_store::{Job, JobId};

use crate::ApiState;
use crate::error::ApiError;

/// Upper bounds of the duration buckets, in seconds: inits of large CMs
/// take many minutes, incrementals seconds.
const BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

/// Jobs remembered as already timed: a finished job may be announced more
/// than once (a stop asked after its end announces it again).
const SEEN: usize = 10_000;

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket, not cumulative.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Timed {
    /// By (type that ran, final state).
    durations: BTreeMap<(&'static str, &'static str), Histogram>,
    seen: HashSet<JobId>,
    order: VecDeque<JobId>,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    timed: Mutex<Timed>,
    started: AtomicBool,
}

impl Metrics {
    fn observe(&self, job: &Job) {
        if !job.state.is_finished() {
            return;
        }
        let (Some(start), Some(end)) = (job.started_at, job.finished_at) else {
            return;
        };
        let seconds = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
        let mut t = self.timed.lock().unwrap_or_else(|e| e.into_inner());
        if !t.seen.insert(job.id) {
            return;
        }
        t.order.push_back(job.id);
        if t.order.len() > SEEN {
            if let Some(old) = t.order.pop_front() {
                t.seen.remove(&old);
            }
        }
        let h = t
            .durations
            .entry((job.sync_type.as_str(), job.state.as_str()))
            .or_default();
        if h.buckets.is_empty() {
            h.buckets = vec![0; BUCKETS.len()];
        }
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }
}

/// Starts timing the jobs that finish, once per state.
pub(crate) fn spawn_recorder(state: &ApiState) {
    if state.metrics.started.swap(true, Ordering::SeqCst) {
        return;
    }
    let metrics = state.metrics.clone();
    let node = state.runner.node().to_string();
    // Holds the receiver only, so the task ends with the runner.
    let mut rx = state.runner.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                // The jobs of this node: the others time theirs.
                Ok(Event::Job { job }) if job.node.as_deref() == Some(node.as_str()) => {
                    metrics.observe(&job)
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// A label value, escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(crate) async fn render(state: &ApiState) -> Result<String, ApiError> {
    let store = state.store();
    let counts = store.counts().await?;
    let elements = store.elements().await?;
    let now = Utc::now();
    let mut out = String::new();

    header(
        &mut out,
        "ucsync_jobs",
        "gauge",
        "Jobs by the sync type that ran and their state.",
    );
    let mut jobs: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for t in SyncType::ALL {
        for s in JobState::ALL {
            jobs.insert((t.as_str(), s.as_str()), 0);
        }
    }
    for (t, s, n) in &counts.jobs {
        *jobs.entry((t.as_str(), s.as_str())).or_default() += n;
    }
    for ((t, s), n) in &jobs {
        let _ = writeln!(out, "ucsync_jobs{{type=\"{t}\",state=\"{s}\"}} {n}");
    }

    header(
        &mut out,
        "ucsync_sync_duration_seconds",
        "histogram",
        "How long finished sync jobs ran, by the type that ran and how they ended (jobs seen by this node).",
    );
    {
        let t = state
            .metrics
            .timed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((ty, st), h) in &t.durations {
            let labels = format!("type=\"{ty}\",state=\"{st}\"");
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "ucsync_sync_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "ucsync_sync_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "ucsync_sync_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "ucsync_sync_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }

    header(
        &mut out,
        "ucsync_objects",
        "gauge",
        "Synchronized objects per element and object type.",
    );
    for (element, object_type, n) in &counts.objects {
        let _ = writeln!(
            out,
            "ucsync_objects{{element=\"{}\",type=\"{}\"}} {n}",
            label(element),
            label(object_type)
        );
    }

    header(
        &mut out,
        "ucsync_alarms_open",
        "gauge",
        "Open alarms per severity.",
    );
    let alarms = store.open_alarm_counts().await?;
    for s in ucsync_core::Severity::ALL {
        let n = alarms.get(s.as_str()).copied().unwrap_or(0);
        let _ = writeln!(out, "ucsync_alarms_open{{severity=\"{s}\"}} {n}");
    }

    header(&mut out, "ucsync_elements", "gauge", "Elements managed.");
    let _ = writeln!(out, "ucsync_elements {}", elements.len());

    header(
        &mut out,
        "ucsync_last_successful_sync_age_seconds",
        "gauge",
        "Seconds since each element's last successful sync (absent: none yet).",
    );
    for e in &elements {
        if let Some(at) = e.sync.last_success_at {
            let age = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "ucsync_last_successful_sync_age_seconds{{element=\"{}\"}} {age}",
                label(e.name.as_str())
            );
        }
    }

    // Job retention: the daily runs this node made (one node of those
    // sharing the database makes each day's) and the jobs they removed.
    let (runs, removed) = state.runner.retention_stats().totals();
    header(
        &mut out,
        "ucsync_retention_runs_total",
        "counter",
        "Daily job-retention runs this node made (of the nodes sharing a database, one runs each day's).",
    );
    let _ = writeln!(out, "ucsync_retention_runs_total {runs}");
    header(
        &mut out,
        "ucsync_retention_removed_jobs_total",
        "counter",
        "Finished jobs older than job_retention_days that this node removed.",
    );
    let _ = writeln!(out, "ucsync_retention_removed_jobs_total {removed}");

    // CM notify sync: this node's listener and applier, and per CM the
    // last event received (by any node).
    state.runner.notify_stats().render(&mut out);
    header(
        &mut out,
        "ucsync_notify_last_event_timestamp_seconds",
        "gauge",
        "When each CM's last notify event was received, in Unix seconds (absent: none yet).",
    );
    for e in &elements {
        if let Some(at) = e.sync.last_notify_at {
            let _ = writeln!(
                out,
                "ucsync_notify_last_event_timestamp_seconds{{element=\"{}\"}} {:.3}",
                label(e.name.as_str()),
                at.timestamp_millis() as f64 / 1000.0
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use ucsync_core::Trigger;

    fn time(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().to_utc()
    }

    fn job(id: i64, state: JobState, start: &str, end: &str) -> Job {
        Job {
            id: JobId(id),
            element: "cm1".into(),
            requested: SyncType::Init,
            sync_type: SyncType::Init,
            reason: None,
            trigger: Trigger::OnDemand,
            requested_by: "t".into(),
            state,
            progress: Default::default(),
            counts: Default::default(),
            error: None,
            created_at: time(start),
            started_at: Some(time(start)),
            finished_at: Some(time(end)),
            node: Some("n1".into()),
            dry_run: false,
            applied_at: None,
            applied_by: None,
        }
    }

    #[test]
    fn durations_are_bucketed_once_per_job() {
        let m = Metrics::default();
        let j = job(
            1,
            JobState::Succeeded,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:20Z",
        );
        m.observe(&j);
        m.observe(&j);
        m.observe(&job(
            2,
            JobState::Running,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:20Z",
        ));
        let t = m.timed.lock().unwrap();
        let h = &t.durations[&("init", "succeeded")];
        assert_eq!(h.count, 1);
        assert_eq!(h.sum, 20.0);
        assert_eq!(h.buckets[3], 1, "20 s falls in the 30 s bucket");
        assert_eq!(t.durations.len(), 1);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
