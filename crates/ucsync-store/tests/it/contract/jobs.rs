//! The contract: jobs' state, progress and log, requests that join, and
//! claims and leases of the queue.

use ucsync_core::{JobState, SyncType, Trigger};
use ucsync_store::*;

use super::*;

pub(crate) async fn jobs_state_progress_and_log(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let nj = NewJob {
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
        ..new_job("cm1", SyncType::Incremental)
    };
    let j = s
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    assert_eq!(j.state, JobState::Queued);
    s.set_job_state(j.id, JobState::Running, None)
        .await
        .unwrap();
    s.set_job_type(
        j.id,
        SyncType::Init,
        Some("the last initializing sync failed"),
    )
    .await
    .unwrap();
    let mut p = Progress::new();
    p.insert("station".into(), (10, 300));
    s.set_job_progress(
        j.id,
        &p,
        &JobCounts {
            added: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.job_log(j.id, "first").await.unwrap();
    s.job_log(j.id, "second").await.unwrap();
    s.set_job_state(j.id, JobState::Failed, Some("boom"))
        .await
        .unwrap();
    let got = s.job(j.id).await.unwrap().unwrap();
    assert_eq!(
        (got.requested, got.sync_type, got.state),
        (SyncType::Incremental, SyncType::Init, JobState::Failed)
    );
    assert_eq!(got.progress["station"], (10, 300));
    assert_eq!(got.counts.added, 3);
    assert_eq!(got.error.as_deref(), Some("boom"));
    assert!(got.started_at.is_some() && got.finished_at.is_some());
    assert_eq!(s.job_log_lines(j.id).await.unwrap(), ["first", "second"]);
    assert_eq!(
        s.jobs(Some("cm1"), Some(JobState::Failed), 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.jobs(Some("cm1"), Some(JobState::Running), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.set_job_state(JobId(j.id.0 + 1000), JobState::Failed, None)
            .await,
        Err(StoreError::NoJob(_))
    ));
}

pub(crate) async fn jobs_are_found_by_element_state_type_and_trigger(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    // cm1: a scheduled incremental (failed), an on-demand init (running);
    // cm2: a notify incremental (succeeded), an on-demand force init (queued).
    let make = |e: &'static str, t: SyncType, trigger: Trigger| NewJob {
        trigger,
        ..new_job(e, t)
    };
    let mut ids = Vec::new();
    for (e, t, trigger, state) in [
        (
            "cm1",
            SyncType::Incremental,
            Trigger::Schedule,
            JobState::Failed,
        ),
        ("cm1", SyncType::Init, Trigger::OnDemand, JobState::Running),
        (
            "cm2",
            SyncType::Incremental,
            Trigger::Notify,
            JobState::Succeeded,
        ),
        (
            "cm2",
            SyncType::ForceInit,
            Trigger::OnDemand,
            JobState::Queued,
        ),
    ] {
        let j = s.create_job(&make(e, t, trigger), t, None).await.unwrap();
        if state != JobState::Queued {
            s.set_job_state(j.id, state, None).await.unwrap();
        }
        ids.push(j.id);
    }
    let found = |q: JobQuery, offset: u64, limit: u64| async move {
        s.find_jobs(&q, offset, limit)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>()
    };
    let all = JobQuery::default();
    assert_eq!(
        found(all.clone(), 0, 0).await,
        [ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(found(all.clone(), 1, 2).await, [ids[2], ids[1]], "a page");
    let q = JobQuery {
        sync_type: Some(SyncType::Incremental),
        ..JobQuery::default()
    };
    assert_eq!(found(q, 0, 0).await, [ids[2], ids[0]]);
    let q = JobQuery {
        trigger: Some(Trigger::OnDemand),
        ..JobQuery::default()
    };
    assert_eq!(found(q, 0, 0).await, [ids[3], ids[1]]);
    let q = JobQuery {
        states: vec![JobState::Succeeded, JobState::Failed, JobState::Stopped],
        ..JobQuery::default()
    };
    assert_eq!(found(q, 0, 0).await, [ids[2], ids[0]], "finished ones");
    let q = JobQuery {
        states: vec![JobState::Queued, JobState::Waiting],
        ..JobQuery::default()
    };
    assert_eq!(found(q, 0, 0).await, [ids[3]]);
    let q = JobQuery {
        element: Some("cm1".into()),
        states: vec![JobState::Running, JobState::Stopping],
        sync_type: Some(SyncType::Init),
        trigger: Some(Trigger::OnDemand),
    };
    assert_eq!(
        found(q.clone(), 0, 0).await,
        [ids[1]],
        "every filter at once"
    );
    let q = JobQuery {
        trigger: Some(Trigger::Schedule),
        ..q
    };
    assert!(found(q, 0, 0).await.is_empty());
    // The old two filters read the same.
    let got: Vec<_> = s
        .jobs(Some("cm2"), Some(JobState::Queued), 0, 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[3]]);
}

pub(crate) async fn request(s: &dyn Store, element: &str, t: SyncType) -> Requested {
    s.request_job(&new_job(element, t)).await.unwrap()
}

pub(crate) async fn claim(s: &dyn Store, node: &str) -> Option<Job> {
    s.claim_job(node, at(10)).await.unwrap()
}

pub(crate) async fn state(s: &dyn Store, id: JobId) -> JobState {
    s.job(id).await.unwrap().unwrap().state
}

pub(crate) async fn requests_join_jobs_of_the_same_or_greater_strength(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    let incr = request(s, "cm1", SyncType::Incremental).await;
    assert!(!incr.joined);
    let j = &incr.job;
    assert_eq!(
        (
            j.element.as_str(),
            j.requested,
            j.sync_type,
            j.state,
            j.reason.as_deref()
        ),
        (
            "cm1",
            SyncType::Incremental,
            SyncType::Incremental,
            JobState::Queued,
            None
        )
    );
    assert_eq!(
        (j.trigger, j.requested_by.as_str()),
        (Trigger::OnDemand, "test")
    );
    let again = request(s, "cm1", SyncType::Incremental).await;
    assert_eq!(
        (again.job.id, again.joined),
        (incr.job.id, true),
        "joins the queued one"
    );

    assert_eq!(claim(s, "n1").await.unwrap().id, incr.job.id);
    let r = request(s, "cm1", SyncType::Incremental).await;
    assert_eq!(
        (r.job.id, r.joined),
        (incr.job.id, true),
        "joins the running one"
    );
    assert_eq!(r.job.state, JobState::Running);

    let init = request(s, "cm1", SyncType::Init).await;
    assert!(!init.joined, "an init after an incremental is queued");
    assert_eq!(
        (init.job.sync_type, init.job.state),
        (SyncType::Init, JobState::Queued)
    );
    let r = request(s, "cm1", SyncType::Init).await;
    assert_eq!((r.job.id, r.joined), (init.job.id, true));
    let force = request(s, "cm1", SyncType::ForceInit).await;
    assert!(!force.joined, "a forced init after an init is queued");
    assert_eq!(force.job.sync_type, SyncType::ForceInit);
    let r = request(s, "cm1", SyncType::ForceInit).await;
    assert_eq!((r.job.id, r.joined), (force.job.id, true));
    let r = request(s, "cm1", SyncType::Init).await;
    assert_eq!(
        (r.job.id, r.joined),
        (init.job.id, true),
        "the first strong enough"
    );

    // A job asked to stop is not joined; nor are another element's jobs.
    s.stop_job(incr.job.id).await.unwrap();
    let r = request(s, "cm1", SyncType::Incremental).await;
    assert_eq!((r.job.id, r.joined), (init.job.id, true));
    let other = request(s, "cm2", SyncType::ForceInit).await;
    assert!(!other.joined);
    assert_eq!(other.job.element, "cm2");
    assert_eq!(s.jobs(Some("cm1"), None, 0, 100).await.unwrap().len(), 3);
}

pub(crate) async fn requests_for_missing_elements_are_refused(s: &dyn Store) {
    assert!(matches!(
        s.request_job(&new_job("nope", SyncType::Init)).await,
        Err(StoreError::NoElement(n)) if n == "nope"
    ));
    assert!(s.jobs(None, None, 0, 100).await.unwrap().is_empty());
}

pub(crate) async fn concurrent_requests_make_one_job(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let nj = new_job("cm1", SyncType::Init);
    let all = futures::future::join_all((0..16).map(|_| s.request_job(&nj))).await;
    let all: Vec<Requested> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(all.iter().filter(|r| !r.joined).count(), 1);
    assert!(all.iter().all(|r| r.job.id == all[0].job.id));
    assert_eq!(s.jobs(None, None, 0, 100).await.unwrap().len(), 1);
}

pub(crate) async fn claims_take_the_oldest_job_one_per_element(s: &dyn Store) {
    assert!(claim(s, "n1").await.is_none(), "nothing queued");
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    let a1 = request(s, "cm1", SyncType::Incremental).await.job;
    let a2 = request(s, "cm1", SyncType::Init).await.job;
    let b1 = request(s, "cm2", SyncType::Incremental).await.job;

    let got = claim(s, "n1").await.unwrap();
    assert_eq!((got.id, got.state), (a1.id, JobState::Running));
    assert!(got.started_at.is_some());
    assert_eq!(s.job(a1.id).await.unwrap().unwrap(), got);
    assert_eq!(
        claim(s, "n2").await.unwrap().id,
        b1.id,
        "another element's job runs at the same time"
    );
    assert!(
        claim(s, "n2").await.is_none(),
        "the element's next job waits for the running one"
    );
    assert_eq!(state(s, a2.id).await, JobState::Queued);
    s.set_job_state(a1.id, JobState::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(claim(s, "n2").await.unwrap().id, a2.id);
    assert!(claim(s, "n1").await.is_none());
    // A stopping job still holds its element.
    let a3 = request(s, "cm1", SyncType::ForceInit).await.job;
    s.stop_job(a2.id).await.unwrap();
    assert!(claim(s, "n1").await.is_none());
    s.set_job_state(a2.id, JobState::Stopped, None)
        .await
        .unwrap();
    assert_eq!(claim(s, "n1").await.unwrap().id, a3.id);
}

pub(crate) async fn concurrent_claims_take_one_job_per_element(s: &dyn Store) {
    for e in ["cm1", "cm2", "cm3"] {
        s.add_element(new_cm(e)).await.unwrap();
        for t in [SyncType::Incremental, SyncType::Init, SyncType::ForceInit] {
            request(s, e, t).await;
        }
    }
    let nodes: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
    let got = futures::future::join_all(nodes.iter().map(|n| s.claim_job(n, at(10)))).await;
    let mut elements: Vec<String> = got
        .into_iter()
        .filter_map(|r| r.unwrap())
        .map(|j| {
            assert_eq!(
                j.sync_type,
                SyncType::Incremental,
                "the oldest of each element"
            );
            j.element
        })
        .collect();
    elements.sort();
    assert_eq!(elements, ["cm1", "cm2", "cm3"]);
    assert_eq!(
        s.jobs(None, Some(JobState::Running), 0, 100)
            .await
            .unwrap()
            .len(),
        3
    );
}

pub(crate) async fn leases_are_renewed_and_report_stop_requests(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    s.add_element(new_cm("cm3")).await.unwrap();
    let a = request(s, "cm1", SyncType::Init).await.job;
    let b = request(s, "cm2", SyncType::Init).await.job;
    let c = request(s, "cm3", SyncType::Init).await.job;
    for node in ["n1", "n1", "n2"] {
        s.claim_job(node, at(1)).await.unwrap().unwrap();
    }
    assert!(s.renew_leases("n1", at(5)).await.unwrap().is_empty());
    assert_eq!(
        s.fail_interrupted(None, at(3)).await.unwrap(),
        [c.id],
        "only the lease not renewed has ended"
    );
    s.stop_job(a.id).await.unwrap();
    assert_eq!(state(s, a.id).await, JobState::Stopping);
    assert_eq!(s.renew_leases("n1", at(9)).await.unwrap(), [a.id]);
    assert!(s.renew_leases("n2", at(9)).await.unwrap().is_empty());
    assert!(
        s.fail_interrupted(None, at(8)).await.unwrap().is_empty(),
        "a stopping job's lease is renewed too"
    );
    assert_eq!(
        state(s, b.id).await,
        JobState::Waiting,
        "an init waits for its place"
    );
    s.set_job_state(a.id, JobState::Stopped, Some("stopped"))
        .await
        .unwrap();
    assert!(s.renew_leases("n1", at(12)).await.unwrap().is_empty());
}
