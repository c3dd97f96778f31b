//! The contract: old finished jobs removed with their log lines, change
//! records and proposals, in batches, never a job that is not finished nor
//! the one an element's status reads; and the claim of a task's turn, won
//! once per turn.

use chrono::{Duration, Utc};
use ucsync_core::{JobState, ObjectId, SyncType};
use ucsync_store::*;

use super::*;

/// A job of `element` that ran and ended in `state`, with a log line.
async fn ran(s: &dyn Store, element: &str, state: JobState) -> Job {
    ucsync_testkit::rig::finished_job(s, element, state).await
}

pub(crate) async fn old_finished_jobs_are_removed_with_their_records(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    // cm1: an init that applied five changes, a failed incremental, a
    // refused init that kept its proposal, a job stopped before it started,
    // and its newest finished job.
    let objects = (1..=5).map(|i| staged(&format!("100{i}"), "A")).collect();
    fill(s, &e, objects).await;
    let init = s.jobs(Some("cm1"), None, 0, 0).await.unwrap()[0].clone();
    let failed = ran(s, "cm1", JobState::Failed).await;
    let refused = s
        .create_job(&new_job("cm1", SyncType::Init), SyncType::Init, None)
        .await
        .unwrap();
    s.set_job_state(refused.id, JobState::Running, None)
        .await
        .unwrap();
    s.stage(refused.id, vec![staged("2001", "B")])
        .await
        .unwrap();
    let cm1 = s.element("cm1").await.unwrap().unwrap();
    s.keep_plan(
        refused.id,
        cm1.id,
        &[ObjectId::new("station", "1001")],
        &plan_base(SyncType::Init, cm1.sync.revision),
    )
    .await
    .unwrap();
    s.set_job_state(refused.id, JobState::Failed, Some("too many deletions"))
        .await
        .unwrap();
    assert_eq!(s.changes(refused.id).await.unwrap().len(), 2);
    let never_ran = s
        .create_job(
            &new_job("cm1", SyncType::Incremental),
            SyncType::Incremental,
            None,
        )
        .await
        .unwrap();
    s.stop_job(never_ran.id).await.unwrap();
    // Notify sync's change record, of no job.
    let x = staged("3001", "C");
    let before = revision(s, &e).await;
    s.apply_notify(
        e.id,
        vec![Change {
            id: x.id,
            upsert: Some((x.fields, x.hash, x.name)),
            by_login: Some("craft".into()),
            at_element: None,
        }],
        &[],
        before,
    )
    .await
    .unwrap()
    .expect("applied");
    let newest = ran(s, "cm1", JobState::Succeeded).await;
    // cm2: its newest finished job (failed: its status says so), a job
    // running and one queued.
    let cm2_last = ran(s, "cm2", JobState::Failed).await;
    let running = s
        .request_job(&new_job("cm2", SyncType::Incremental))
        .await
        .unwrap()
        .job;
    s.claim_job("n1", Utc::now() + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    let queued = s
        .request_job(&new_job("cm2", SyncType::Init))
        .await
        .unwrap()
        .job;
    let status_before = s.last_finished_jobs(None).await.unwrap();

    // Nothing finished a day ago.
    let none = s
        .remove_finished_jobs(Utc::now() - Duration::days(1), 2)
        .await
        .unwrap();
    assert_eq!(none, Removed::default());

    // Everything finished by now is old enough; two rows per transaction.
    let removed = s
        .remove_finished_jobs(Utc::now() + Duration::minutes(1), 2)
        .await
        .unwrap();
    assert_eq!(
        removed,
        Removed {
            jobs: 4,
            log_lines: 1,
            // The init's five, the proposal's two, notify's one.
            changes: 8,
        }
    );
    for gone in [&init, &failed, &refused, &never_ran] {
        assert_eq!(s.job(gone.id).await.unwrap(), None, "job {}", gone.id);
        match s.changes(gone.id).await {
            Err(StoreError::NoJob(_)) => {}
            other => panic!("job {}'s changes: {other:?}", gone.id),
        }
        assert!(s.job_log_lines(gone.id).await.unwrap().is_empty());
    }
    for kept in [&newest, &cm2_last] {
        let j = s.job(kept.id).await.unwrap().unwrap();
        assert_eq!(j.state, kept.state);
        assert_eq!(s.job_log_lines(kept.id).await.unwrap(), ["read 3 types"]);
    }
    assert_eq!(
        s.job(running.id).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert_eq!(
        s.job(queued.id).await.unwrap().unwrap().state,
        JobState::Queued
    );
    assert_eq!(
        s.last_finished_jobs(None).await.unwrap(),
        status_before,
        "every element stands as it did"
    );
    assert_eq!(
        s.object_count(e.id).await.unwrap(),
        6,
        "synchronized objects are not touched"
    );
    assert_eq!(
        s.element("cm1").await.unwrap().unwrap().sync.last_init_ok,
        Some(true)
    );

    // A second run finds nothing more.
    let again = s
        .remove_finished_jobs(Utc::now() + Duration::minutes(1), 1000)
        .await
        .unwrap();
    assert_eq!(again, Removed::default());
}

pub(crate) async fn a_task_turn_is_claimed_once(s: &dyn Store) {
    let t0 = at(0);
    let day = Duration::days(1);
    assert!(s.claim_task("retention", t0, t0 + day).await.unwrap());
    assert!(!s.claim_task("retention", t0, t0 + day).await.unwrap());
    assert!(
        !s.claim_task(
            "retention",
            t0 + Duration::hours(23),
            t0 + Duration::hours(23) + day
        )
        .await
        .unwrap(),
        "not due yet"
    );
    assert!(
        s.claim_task("other", t0, t0 + day).await.unwrap(),
        "each task has its own turns"
    );
    // Due: of several callers at once, one wins.
    let t1 = t0 + day;
    let claims = (0..8).map(|_| s.claim_task("retention", t1, t1 + day));
    let won = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(Result::unwrap)
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1);
    // A turn missed (no node was up) is taken late, once.
    let late = t1 + Duration::days(3);
    assert!(s.claim_task("retention", late, late + day).await.unwrap());
    assert!(!s.claim_task("retention", late, late + day).await.unwrap());
}
