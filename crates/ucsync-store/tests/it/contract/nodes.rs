//! The contract: nodes, the init pool, interrupted and stopped jobs, and
//! the last finished jobs.

use chrono::{DateTime, Duration, Utc};
use ucsync_core::{JobState, SyncType};
use ucsync_store::*;

use super::*;

pub(crate) async fn a_live_node_name_is_not_joined_twice(s: &dyn Store) {
    let t0 = Utc::now();
    let lease = Duration::seconds(30);
    assert_eq!(
        s.join_node("n1", "pid 1", t0, t0 + lease).await.unwrap(),
        None
    );
    // Alive: another service under its name is told who holds it.
    let again = s.join_node("n1", "pid 2", t0 + Duration::seconds(5), t0 + lease);
    assert_eq!(again.await.unwrap().as_deref(), Some("pid 1"));
    assert_eq!(
        s.join_node("n2", "pid 3", t0, t0 + lease).await.unwrap(),
        None
    );
    // Renewed with the leases: still alive past the first lease.
    s.renew_leases("n1", t0 + lease * 2).await.unwrap();
    let later = t0 + lease + Duration::seconds(1);
    let again = s.join_node("n1", "pid 2", later, later + lease);
    assert_eq!(again.await.unwrap().as_deref(), Some("pid 1"));
    // Its heartbeat ran out (the node died): the name is free.
    let dead = t0 + lease * 3;
    let joined = s.join_node("n1", "pid 2", dead, dead + lease);
    assert_eq!(joined.await.unwrap(), None);
    // Left cleanly: free at once.
    s.leave_node("n2").await.unwrap();
    assert_eq!(
        s.join_node("n2", "pid 4", t0, t0 + lease).await.unwrap(),
        None
    );
}

pub(crate) async fn nodes_are_listed_with_what_they_run(s: &dyn Store) {
    assert!(s.nodes().await.unwrap().is_empty());
    let t0 = Utc::now();
    s.join_node("n1", "pid 1", t0, at(10)).await.unwrap();
    let info = |v: &str| NodeInfo {
        version: v.into(),
        http: "127.0.0.1:8080".into(),
        syslog: "127.0.0.1:5514".into(),
    };
    s.describe_node("n1", &info("1.2.3"), at(10)).await.unwrap();
    // A node that did not join (SQLite's) gets its row here.
    s.describe_node("n2", &info("1.2.4"), at(10)).await.unwrap();
    s.add_element(new_cm("cm1")).await.unwrap();
    request(s, "cm1", SyncType::Incremental).await;
    claim(s, "n1").await.unwrap();
    s.renew_leases("n2", at(20)).await.unwrap();
    let nodes = s.nodes().await.unwrap();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // A renewal moves the heartbeat on by however long its write waited
    // (for the writer, a lock): at least the time asked, never much more.
    let renewed = |t: DateTime<Utc>, asked: DateTime<Utc>| {
        if t >= asked && t - asked < Duration::seconds(5) {
            asked
        } else {
            t
        }
    };
    let seen: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.version.as_deref(),
                n.jobs,
                stamp(if n.name == "n2" {
                    renewed(n.alive_until, at(20))
                } else {
                    n.alive_until
                }),
                n.http.as_deref(),
                n.syslog.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "n1",
                Some("1.2.3"),
                1,
                stamp(at(10)),
                Some("127.0.0.1:8080"),
                Some("127.0.0.1:5514")
            ),
            (
                "n2",
                Some("1.2.4"),
                0,
                stamp(at(20)),
                Some("127.0.0.1:8080"),
                Some("127.0.0.1:5514")
            ),
        ]
    );
    assert!(
        nodes
            .iter()
            .all(|n| n.started_at.is_some() && n.heartbeat_at.is_some())
    );
    s.leave_node("n1").await.unwrap();
    let names: Vec<String> = s
        .nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["n2"]);
}

/// Claims an init of each element, on nodes in turn; all wait for a place.
async fn claimed_inits(s: &dyn Store, elements: &[&str]) -> Vec<Job> {
    let mut out = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        s.add_element(new_cm(e)).await.unwrap();
        let j = request(s, e, SyncType::Init).await.job;
        assert_eq!(j.node, None, "a queued job has no node");
        let node = if i % 2 == 0 { "n1" } else { "n2" };
        let c = claim(s, node).await.unwrap();
        assert_eq!(
            (c.id, c.node.as_deref()),
            (j.id, Some(node)),
            "named by its node"
        );
        assert_eq!((c.state, c.started_at), (JobState::Waiting, None));
        out.push(c);
    }
    out
}

pub(crate) async fn the_init_pool_bounds_inits_of_every_node(s: &dyn Store) {
    let j = claimed_inits(s, &["cm1", "cm2", "cm3", "cm4"]).await;
    let place = |id| s.take_init_place(id, 2);
    assert!(place(j[0].id).await.unwrap());
    assert!(place(j[0].id).await.unwrap(), "its own place is kept");
    assert!(place(j[1].id).await.unwrap(), "a place on another node");
    let running = s.job(j[0].id).await.unwrap().unwrap();
    assert_eq!(running.state, JobState::Running);
    assert!(running.started_at.is_some(), "started when it reads");
    assert!(!place(j[2].id).await.unwrap(), "two places, both taken");
    let waiting = s.job(j[2].id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.state, waiting.started_at),
        (JobState::Waiting, None)
    );
    // A running incremental takes no place.
    s.add_element(new_cm("cm5")).await.unwrap();
    let incr = request(s, "cm5", SyncType::Incremental).await.job;
    assert_eq!(claim(s, "n1").await.unwrap().state, JobState::Running);
    assert!(!place(j[2].id).await.unwrap());
    // A stopping init keeps its place until it ends; a job stopped while
    // waiting never had one and gets none.
    s.stop_job(j[0].id).await.unwrap();
    s.stop_job(j[3].id).await.unwrap();
    assert!(!place(j[2].id).await.unwrap());
    s.set_job_state(j[0].id, JobState::Stopped, Some("stopped"))
        .await
        .unwrap();
    assert!(!place(j[3].id).await.unwrap());
    assert_eq!(state(s, j[3].id).await, JobState::Stopping);
    assert!(place(j[2].id).await.unwrap(), "the ended init's place");
    // An incremental that turns into an init waits like one.
    s.set_job_type(incr.id, SyncType::Init, Some("no sync point"))
        .await
        .unwrap();
    assert!(!place(incr.id).await.unwrap());
    let turned = s.job(incr.id).await.unwrap().unwrap();
    assert_eq!((turned.state, turned.started_at), (JobState::Waiting, None));
    // The places of a node that died are freed with its leases.
    let mut failed = s.fail_interrupted(Some("n2"), at(0)).await.unwrap();
    failed.sort();
    assert_eq!(
        failed,
        [j[1].id, j[3].id],
        "waiting or stopping, all of n2's"
    );
    assert!(place(incr.id).await.unwrap());
    assert_eq!(state(s, incr.id).await, JobState::Running);
}

pub(crate) async fn concurrent_inits_take_at_most_the_pool(s: &dyn Store) {
    let names: Vec<String> = (0..12).map(|i| format!("cm{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let jobs = claimed_inits(s, &names).await;
    let got = futures::future::join_all(jobs.iter().map(|j| s.take_init_place(j.id, 8))).await;
    let placed = got.into_iter().map(Result::unwrap).filter(|p| *p).count();
    let running = s.jobs(None, Some(JobState::Running), 0, 100).await.unwrap();
    assert_eq!(running.len(), placed);
    assert!(placed <= 8, "{placed} inits placed in a pool of 8");
    let waiting = s.jobs(None, Some(JobState::Waiting), 0, 100).await.unwrap();
    assert_eq!(waiting.len(), 12 - placed);
    // Those that lost a race find the places still free.
    for j in &waiting {
        s.take_init_place(j.id, 8).await.unwrap();
    }
    let running = s.jobs(None, Some(JobState::Running), 0, 100).await.unwrap();
    assert_eq!(running.len(), 8);
}

pub(crate) async fn interrupted_jobs_fail_by_node_and_by_lease(s: &dyn Store) {
    for e in ["cm1", "cm2", "cm3"] {
        s.add_element(new_cm(e)).await.unwrap();
    }
    let j1 = request(s, "cm1", SyncType::Init).await.job;
    let j2 = request(s, "cm2", SyncType::Init).await.job;
    let j3 = request(s, "cm3", SyncType::Init).await.job;
    s.claim_job("n1", at(10)).await.unwrap().unwrap();
    s.claim_job("n2", at(1)).await.unwrap().unwrap();
    s.claim_job("n3", at(10)).await.unwrap().unwrap();
    for j in [&j1, &j2, &j3] {
        s.stage(j.id, vec![staged("1001", "A"), staged("1002", "B")])
            .await
            .unwrap();
    }
    let queued = request(s, "cm1", SyncType::ForceInit).await.job;

    let mut failed = s.fail_interrupted(Some("n1"), at(5)).await.unwrap();
    failed.sort();
    assert_eq!(failed, [j1.id, j2.id], "n1's by node, n2's by its lease");
    for id in [j1.id, j2.id] {
        let j = s.job(id).await.unwrap().unwrap();
        assert_eq!(
            (j.state, j.error.as_deref()),
            (JobState::Failed, Some("interrupted"))
        );
        assert!(j.finished_at.is_some());
        let log = s.job_log_lines(id).await.unwrap();
        assert!(log.iter().any(|l| l.contains("interrupted")), "{log:?}");
        assert!(s.changes(id).await.unwrap().is_empty(), "staged rows gone");
    }
    assert_eq!(state(s, j3.id).await, JobState::Waiting);
    assert_eq!(s.changes(j3.id).await.unwrap().len(), 2, "kept");
    assert_eq!(
        state(s, queued.id).await,
        JobState::Queued,
        "queued jobs stay"
    );
    assert!(
        s.fail_interrupted(None, at(10)).await.unwrap().is_empty(),
        "a lease that ends now has not ended before now"
    );

    s.stop_job(j3.id).await.unwrap();
    assert_eq!(
        s.fail_interrupted(Some("n3"), at(0)).await.unwrap(),
        [j3.id],
        "stopping jobs too"
    );
    assert!(s.changes(j3.id).await.unwrap().is_empty());
    assert!(
        s.fail_interrupted(Some("n3"), at(0))
            .await
            .unwrap()
            .is_empty()
    );
    // The element is free again: its queued job runs.
    assert_eq!(claim(s, "n1").await.unwrap().id, queued.id);
}

pub(crate) async fn stop_job_in_each_state(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let running = request(s, "cm1", SyncType::Incremental).await.job;
    claim(s, "n1").await.unwrap();
    let queued = request(s, "cm1", SyncType::Init).await.job;

    let q = s.stop_job(queued.id).await.unwrap().unwrap();
    assert_eq!(
        (q.state, q.error.as_deref()),
        (JobState::Stopped, Some("stopped before it started"))
    );
    assert!(q.finished_at.is_some() && q.started_at.is_none());
    assert_eq!(s.job(queued.id).await.unwrap().unwrap(), q);

    let r = s.stop_job(running.id).await.unwrap().unwrap();
    assert_eq!((r.state, r.finished_at), (JobState::Stopping, None));
    let again = s.stop_job(running.id).await.unwrap().unwrap();
    assert_eq!(again, r, "stopping stays stopping");

    s.set_job_state(running.id, JobState::Stopped, Some("stopped"))
        .await
        .unwrap();
    let done = s.job(running.id).await.unwrap().unwrap();
    assert_eq!(s.stop_job(running.id).await.unwrap().unwrap(), done);

    let ok = request(s, "cm1", SyncType::Incremental).await.job;
    claim(s, "n1").await.unwrap();
    s.set_job_state(ok.id, JobState::Succeeded, None)
        .await
        .unwrap();
    let ok = s.job(ok.id).await.unwrap().unwrap();
    assert_eq!(
        s.stop_job(ok.id).await.unwrap().unwrap(),
        ok,
        "finished jobs are left"
    );
    assert_eq!(ok.error, None);

    assert!(s.stop_job(JobId(ok.id.0 + 1000)).await.unwrap().is_none());
}

pub(crate) async fn last_finished_jobs_are_the_newest_that_ran_per_element(s: &dyn Store) {
    for name in ["cm1", "cm2", "cm3"] {
        s.add_element(new_cm(name)).await.unwrap();
    }
    let finish = |id, state, error| async move {
        s.set_job_state(id, state, error).await.unwrap();
        s.job(id).await.unwrap().unwrap()
    };
    // cm1: an incremental succeeded, then an init failed, then a job was
    // stopped before it started (it never ran: not the last).
    let a = request(s, "cm1", SyncType::Incremental).await.job;
    assert_eq!(claim(s, "n1").await.unwrap().id, a.id);
    finish(a.id, JobState::Succeeded, None).await;
    let b = request(s, "cm1", SyncType::Init).await.job;
    assert_eq!(claim(s, "n1").await.unwrap().id, b.id);
    assert!(
        s.take_init_place(b.id, 8).await.unwrap(),
        "an init reads once it has a place"
    );
    let b = finish(b.id, JobState::Failed, Some("the CM did not answer")).await;
    let c = request(s, "cm1", SyncType::Incremental).await.job;
    s.stop_job(c.id).await.unwrap();
    // cm2: its only job is running; cm3 has none.
    let d = request(s, "cm2", SyncType::Init).await.job;
    assert_eq!(claim(s, "n1").await.unwrap().id, d.id);
    assert!(s.take_init_place(d.id, 8).await.unwrap());

    let all = s.last_finished_jobs(None).await.unwrap();
    assert_eq!(all, vec![b.clone()]);
    assert_eq!(
        (all[0].sync_type, all[0].error.as_deref()),
        (SyncType::Init, Some("the CM did not answer"))
    );
    assert_eq!(s.last_finished_jobs(Some("cm1")).await.unwrap(), vec![b]);
    assert!(s.last_finished_jobs(Some("cm2")).await.unwrap().is_empty());
    assert!(s.last_finished_jobs(Some("cm3")).await.unwrap().is_empty());
    // When cm2's job ends, each element has its own.
    let d = finish(d.id, JobState::Stopped, Some("stopped")).await;
    let all = s.last_finished_jobs(None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|j| (j.element.as_str(), j.id))
            .collect::<Vec<_>>(),
        vec![("cm1", all[0].id), ("cm2", d.id)]
    );
}
