//! Retention on an injected clock: old finished jobs removed once a day by
//! one of two nodes, the newest of an element kept, nothing removed when
//! it is off, and the task started and stopped with its token.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::JobState;
use ucsync_engine::{Retention, RetentionSettings, RetentionStats};
use ucsync_schedule::ManualClock;
use ucsync_store::Removed;
use ucsync_testkit::rig::finished_job;

use crate::{Rig, until};

/// A rig on `clock` whose runner takes no jobs, with `cm1` and three jobs
/// of it finished now.
async fn rig_with_jobs(clock: Arc<ManualClock>) -> Rig {
    let rig = Rig::with_clock(clock).await;
    rig.runner.shutdown().await;
    rig.add_element_only("cm1", 1).await;
    for state in [JobState::Succeeded, JobState::Failed, JobState::Succeeded] {
        finished_job(rig.store.as_ref(), "cm1", state).await;
    }
    rig
}

async fn job_count(rig: &Rig) -> usize {
    rig.store.jobs(None, None, 0, 0).await.unwrap().len()
}

#[tokio::test]
async fn one_of_two_nodes_removes_old_jobs_once_a_day() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let rig = rig_with_jobs(clock.clone()).await;
    let settings = RetentionSettings { days: 90, batch: 2 };
    let stats = [Arc::new(RetentionStats::default()), Arc::default()];
    let nodes = stats
        .clone()
        .map(|s| Retention::new(rig.store.clone(), clock.clone(), settings, s));

    // The first look runs (nothing is old yet); the other node's finds the
    // day's run taken.
    assert_eq!(nodes[0].step().await.unwrap(), Some(Removed::default()));
    assert_eq!(nodes[1].step().await.unwrap(), None);
    clock.advance(TimeDelta::hours(23));
    assert_eq!(nodes[1].step().await.unwrap(), None, "the same day");

    // Day 89: the next day's run, still nothing old enough.
    clock.advance(TimeDelta::days(89));
    assert_eq!(nodes[1].step().await.unwrap(), Some(Removed::default()));
    assert_eq!(job_count(&rig).await, 3);

    // Two days on, they finished more than 90 days ago: the two older go,
    // the newest (what the element's status reads) stays.
    clock.advance(TimeDelta::days(2));
    let removed = nodes[0].step().await.unwrap().expect("the day's run");
    assert_eq!((removed.jobs, removed.log_lines), (2, 2));
    assert_eq!(nodes[1].step().await.unwrap(), None);
    assert_eq!(job_count(&rig).await, 1);
    assert_eq!(stats[0].totals(), (2, 2), "runs, jobs");
    assert_eq!(stats[1].totals(), (1, 0));
}

#[tokio::test]
async fn retention_off_keeps_every_job() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let rig = rig_with_jobs(clock.clone()).await;
    let off = RetentionSettings {
        days: 0,
        ..RetentionSettings::default()
    };
    let r = Retention::new(rig.store.clone(), clock.clone(), off, Arc::default());
    clock.advance(TimeDelta::days(3650));
    assert_eq!(r.step().await.unwrap(), None);
    assert_eq!(job_count(&rig).await, 3);
}

#[tokio::test]
async fn the_task_runs_when_it_starts_and_ends_with_its_token() {
    let clock = Arc::new(ManualClock::new(Utc::now() + TimeDelta::days(91)));
    let rig = rig_with_jobs(clock.clone()).await;
    let stats = Arc::new(RetentionStats::default());
    let r = Retention::new(
        rig.store.clone(),
        clock,
        RetentionSettings::default(),
        stats.clone(),
    );
    let (token, tasks) = (CancellationToken::new(), TaskTracker::new());
    r.start(token.clone(), &tasks);
    until("the old jobs removed", || async {
        job_count(&rig).await == 1
    })
    .await;
    until("the run counted", || async { stats.totals() == (1, 2) }).await;
    token.cancel();
    tasks.close();
    tasks.wait().await;
}
