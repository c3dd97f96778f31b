//! The contract of [`Store`]: what every backend must do, written once
//! against `&dyn Store`. A backend's module runs it with
//! `contract_tests!(fresh)`, where `fresh` is an async fn returning a new,
//! empty [`TestStore`] (which also keeps the store's temporary directory or
//! database alive), or `None` when the backend's service is not there and
//! the test is skipped (having said so).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, Object, ObjectId, PlanOp, Role,
    SyncType, Trigger, key_digest,
};
use ucsync_store::*;

/// A fresh store and whatever must live as long as it does.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl TestStore {
    pub fn new(store: Arc<dyn Store>, guard: impl std::any::Any + Send + Sync) -> TestStore {
        TestStore {
            store,
            _guard: Box::new(guard),
        }
    }
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

/// One `#[tokio::test]` per contract test, each on a store from `$fresh`.
macro_rules! contract_tests {
    ($fresh:path) => {
        $crate::contract::contract_tests!(@each $fresh;
            elements_added_listed_and_removed_with_their_data,
            update_element_changes_settings_and_reencrypts_the_password,
            init_commits_in_one_step_and_refused_inits_keep_their_proposal,
            stored_index_is_whole_and_found_by_digest,
            changes_are_logged_with_login_and_idempotent,
            changes_are_read_a_page_at_a_time,
            jobs_state_progress_and_log,
            requests_join_jobs_of_the_same_or_greater_strength,
            requests_for_missing_elements_are_refused,
            concurrent_requests_make_one_job,
            claims_take_the_oldest_job_one_per_element,
            concurrent_claims_take_one_job_per_element,
            leases_are_renewed_and_report_stop_requests,
            interrupted_jobs_fail_by_node_and_by_lease,
            a_live_node_name_is_not_joined_twice,
            the_init_pool_bounds_inits_of_every_node,
            nodes_are_listed_with_what_they_run,
            concurrent_inits_take_at_most_the_pool,
            stop_job_in_each_state,
            last_finished_jobs_are_the_newest_that_ran_per_element,
            removing_an_element_stops_its_queued_jobs_and_drops_its_default_schedule,
            tokens_are_found_by_hash_and_deleted,
            schedules_crud_defaults_and_fired_compare_and_set,
            search_finds_key_and_name_prefixes_across_elements,
            counts_objects_and_jobs,
            object_counts_by_type_of_one_element,
            notify_applies_changes_without_a_job_and_records_its_rows,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(s) = $fresh().await else { return };
                $crate::contract::$name(&*s).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

pub fn new_cm(name: &str) -> NewElement {
    NewElement {
        name: ElementName::parse(name).unwrap(),
        kind: ElementKind::Cm,
        host: "127.0.0.1".into(),
        alternate_host: None,
        port: 5022,
        login: "ucsync".into(),
        password: "S3cret-pass".into(),
        settings: ElementSettings {
            own_logins: vec!["init".into()],
            ..Default::default()
        },
    }
}

pub fn staged_as(object_type: &str, key: &str, name: &str) -> Staged {
    let o = Object {
        id: ObjectId::new(object_type, key),
        fields: Fields::new(vec![("8003ff00".into(), name.into())]),
    };
    Staged {
        hash: ContentHash::of(&[1; 32], &o),
        id: o.id,
        op: PlanOp::Add,
        fields: o.fields,
        name: Some(name.into()),
    }
}

pub fn staged(key: &str, name: &str) -> Staged {
    staged_as("station", key, name)
}

pub fn new_job(element: &str, requested: SyncType) -> NewJob {
    NewJob {
        element: ElementName::parse(element).unwrap(),
        requested,
        trigger: Trigger::OnDemand,
        requested_by: "test".into(),
    }
}

/// A fixed instant, so that lease times are far from the wall clock.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

/// Stores objects on an element through an init.
pub async fn fill(s: &dyn Store, element: &Element, objects: Vec<Staged>) {
    let j = s
        .create_job(
            &new_job(element.name.as_str(), SyncType::Init),
            SyncType::Init,
            None,
        )
        .await
        .unwrap();
    s.stage(j.id, objects).await.unwrap();
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: None,
    };
    s.commit_init(j.id, element.id, &[], &out).await.unwrap();
    s.set_job_state(j.id, JobState::Succeeded, None)
        .await
        .unwrap();
}

pub async fn elements_added_listed_and_removed_with_their_data(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    assert_eq!(
        e.own_logins(),
        vec!["init".to_string(), "ucsync".to_string()]
    );
    assert!(matches!(
        s.add_element(new_cm("cm1")).await,
        Err(StoreError::Exists(_))
    ));
    s.add_element(new_cm("cm0")).await.unwrap();
    let names: Vec<String> = s
        .elements()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["cm0", "cm1"]);
    assert_eq!(s.element_password("cm1").await.unwrap(), "S3cret-pass");
    assert!(matches!(
        s.element_password("nope").await,
        Err(StoreError::NoElement(_))
    ));
    fill(s, &e, vec![staged("1001", "Doe, Jane")]).await;
    assert_eq!(s.object_count(e.id).await.unwrap(), 1);
    assert!(s.remove_element("cm1").await.unwrap());
    assert!(!s.remove_element("cm1").await.unwrap());
    assert_eq!(s.object_count(e.id).await.unwrap(), 0);
    assert!(s.element("cm1").await.unwrap().is_none());
    assert_eq!(s.elements().await.unwrap().len(), 1);
}

pub async fn update_element_changes_settings_and_reencrypts_the_password(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let unchanged = s
        .update_element("cm1", ElementUpdate::default())
        .await
        .unwrap();
    assert_eq!(unchanged, e);
    let u = s
        .update_element(
            "cm1",
            ElementUpdate {
                host: Some("127.0.0.21".into()),
                alternate_host: Some(Some("127.0.0.22".into())),
                port: Some(22),
                login: Some("sync2".into()),
                password: Some("N3w-pass".into()),
                settings: Some(ElementSettings {
                    notify_sync: true,
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            u.host.as_str(),
            u.alternate_host.as_deref(),
            u.port,
            u.login.as_str()
        ),
        ("127.0.0.21", Some("127.0.0.22"), 22, "sync2")
    );
    assert!(u.settings.notify_sync && u.settings.own_logins.is_empty());
    assert_eq!(
        (u.id, &u.name, &u.created_at),
        (e.id, &e.name, &e.created_at)
    );
    assert_eq!(s.element("cm1").await.unwrap().unwrap(), u);
    assert_eq!(s.element_password("cm1").await.unwrap(), "N3w-pass");
    let u = s
        .update_element(
            "cm1",
            ElementUpdate {
                alternate_host: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((u.alternate_host, u.port), (None, 22));
    assert_eq!(s.element_password("cm1").await.unwrap(), "N3w-pass");
    assert!(matches!(
        s.update_element("nope", ElementUpdate::default()).await,
        Err(StoreError::NoElement(n)) if n == "nope"
    ));
}

pub async fn init_commits_in_one_step_and_refused_inits_keep_their_proposal(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let nj = new_job("cm1", SyncType::Init);
    let j1 = s.create_job(&nj, SyncType::Init, None).await.unwrap();
    s.stage(j1.id, vec![staged("1001", "A"), staged("1002", "B")])
        .await
        .unwrap();
    assert_eq!(
        s.object_count(e.id).await.unwrap(),
        0,
        "staged is not applied"
    );
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: Some("point-1".into()),
    };
    s.commit_init(j1.id, e.id, &[], &out).await.unwrap();
    let hashes = s.object_hashes(e.id).await.unwrap();
    assert_eq!(hashes.len(), 2);
    let st = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(
        (
            st.last_init_ok,
            st.version_at_init.as_deref(),
            st.format_at_init,
            st.sync_point.as_deref()
        ),
        (Some(true), Some("R1"), Some(1), Some("point-1"))
    );
    assert_eq!(s.changes(j1.id).await.unwrap().len(), 2);

    let j2 = s.create_job(&nj, SyncType::Init, None).await.unwrap();
    s.keep_proposal(j2.id, &[ObjectId::new("station", "1001")])
        .await
        .unwrap();
    s.record_init_failure(e.id, "too many deletions")
        .await
        .unwrap();
    let proposal = s.changes(j2.id).await.unwrap();
    assert_eq!(proposal.len(), 1);
    assert!(!proposal[0].applied && proposal[0].op == "delete" && proposal[0].key == "1001");
    assert_eq!(s.object_count(e.id).await.unwrap(), 2, "nothing applied");
    let st = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(st.last_init_ok, Some(false));
    assert_eq!(
        st.version_at_init.as_deref(),
        Some("R1"),
        "the last successful init's versions stay"
    );
    // A change whose answer was lost and could not be read again: the next
    // incremental has no point to continue from.
    s.forget_sync_point(e.id).await.unwrap();
    let st = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(st.sync_point, None);
    assert_eq!(st.version_at_init.as_deref(), Some("R1"));
}

pub async fn stored_index_is_whole_and_found_by_digest(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let objects: Vec<Staged> = (0..3000u32)
        .map(|i| {
            let t = if i % 10 == 0 { "vdn" } else { "station" };
            staged_as(t, &i.to_string(), &format!("n{i}"))
        })
        .collect();
    fill(s, &e, objects.clone()).await;
    let idx = s.object_hashes(e.id).await.unwrap();
    assert_eq!(idx.len(), 3000);
    assert_eq!(idx.type_counts()["vdn"], 300);
    for o in &objects {
        assert_eq!(idx.get(&o.id), Some(o.hash), "{:?}", o.id);
    }
    let mut ids = s
        .object_ids(
            e.id,
            vec![
                key_digest("station", "1"),
                key_digest("vdn", "20"),
                key_digest("vdn", "1"),
            ],
        )
        .await
        .unwrap();
    ids.sort();
    assert_eq!(
        ids,
        vec![ObjectId::new("station", "1"), ObjectId::new("vdn", "20")]
    );
}

pub async fn changes_are_read_a_page_at_a_time(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let nj = new_job("cm1", SyncType::Incremental);
    let j = s
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    let changes = (1..=5)
        .map(|i| {
            let x = staged(&format!("100{i}"), "A");
            Change {
                id: x.id,
                upsert: Some((x.fields, x.hash, x.name)),
                by_login: Some("craft".into()),
                at_element: None,
            }
        })
        .collect();
    s.apply_changes(Some(j.id), e.id, changes, Some("p1"))
        .await
        .unwrap();
    let (page, total) = s.changes_page(j.id, 1, 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|c| c.key.as_str()).collect();
    assert_eq!((keys, total), (vec!["1002", "1003"], 5));
    assert!(page.iter().all(|c| c.applied && c.op == "add"));
    let (past, total) = s.changes_page(j.id, 5, 10).await.unwrap();
    assert_eq!((past.len(), total), (0, 5));
    assert_eq!(s.changes(j.id).await.unwrap().len(), 5);

    // A job that applied nothing yet: its staged objects, paged alike.
    let j2 = s.create_job(&nj, SyncType::Init, None).await.unwrap();
    s.stage(
        j2.id,
        vec![
            staged("2001", "B"),
            staged("2002", "C"),
            staged("2003", "D"),
        ],
    )
    .await
    .unwrap();
    let (page, total) = s.changes_page(j2.id, 2, 5).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.len(), 1);
    assert!(!page[0].applied && page[0].key == "2003", "{page:?}");
    assert!(matches!(
        s.changes_page(j2.id + 1000, 0, 1).await,
        Err(StoreError::NoJob(_))
    ));
}

pub async fn changes_are_logged_with_login_and_idempotent(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let st = staged("1001", "A");
    let change = |name: &str| {
        let x = staged("1001", name);
        Change {
            id: x.id,
            upsert: Some((x.fields, x.hash, x.name)),
            by_login: Some("craft".into()),
            at_element: Some("11/25 10:02".into()),
        }
    };
    let nj = new_job("cm1", SyncType::Incremental);
    let j = s
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    let counts = s
        .apply_changes(
            Some(j.id),
            e.id,
            vec![
                change("B"),
                Change {
                    id: ObjectId::new("station", "1009"),
                    upsert: None,
                    by_login: None,
                    at_element: None,
                },
            ],
            Some("p2"),
        )
        .await
        .unwrap();
    assert_eq!((counts.added, counts.unchanged), (1, 1));
    let log = s.changes(j.id).await.unwrap();
    assert_eq!(
        log.len(),
        1,
        "deleting what is not stored changes nothing: {log:?}"
    );
    assert_eq!(
        (log[0].op.as_str(), log[0].by_login.as_deref()),
        ("add", Some("craft"))
    );
    let j2 = s
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    let counts = s
        .apply_changes(Some(j2.id), e.id, vec![change("B")], Some("p3"))
        .await
        .unwrap();
    assert_eq!(
        counts,
        JobCounts {
            unchanged: 1,
            ..Default::default()
        }
    );
    assert!(
        s.changes(j2.id).await.unwrap().is_empty(),
        "the same change twice is logged once"
    );
    assert_eq!(
        s.element("cm1")
            .await
            .unwrap()
            .unwrap()
            .sync
            .sync_point
            .as_deref(),
        Some("p3")
    );
    let objs = s
        .objects(
            e.id,
            &ObjectQuery {
                object_type: Some("station".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(objs[0].fields.get("8003ff00"), Some("B"));
    assert_ne!(objs[0].hash, st.hash);
}

pub async fn jobs_state_progress_and_log(s: &dyn Store) {
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
        s.set_job_state(j.id + 1000, JobState::Failed, None).await,
        Err(StoreError::NoJob(_))
    ));
}

async fn request(s: &dyn Store, element: &str, t: SyncType) -> Requested {
    s.request_job(&new_job(element, t)).await.unwrap()
}

async fn claim(s: &dyn Store, node: &str) -> Option<Job> {
    s.claim_job(node, at(10)).await.unwrap()
}

async fn state(s: &dyn Store, id: i64) -> JobState {
    s.job(id).await.unwrap().unwrap().state
}

pub async fn requests_join_jobs_of_the_same_or_greater_strength(s: &dyn Store) {
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

pub async fn requests_for_missing_elements_are_refused(s: &dyn Store) {
    assert!(matches!(
        s.request_job(&new_job("nope", SyncType::Init)).await,
        Err(StoreError::NoElement(n)) if n == "nope"
    ));
    assert!(s.jobs(None, None, 0, 100).await.unwrap().is_empty());
}

pub async fn concurrent_requests_make_one_job(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let nj = new_job("cm1", SyncType::Init);
    let all = futures::future::join_all((0..16).map(|_| s.request_job(&nj))).await;
    let all: Vec<Requested> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(all.iter().filter(|r| !r.joined).count(), 1);
    assert!(all.iter().all(|r| r.job.id == all[0].job.id));
    assert_eq!(s.jobs(None, None, 0, 100).await.unwrap().len(), 1);
}

pub async fn claims_take_the_oldest_job_one_per_element(s: &dyn Store) {
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

pub async fn concurrent_claims_take_one_job_per_element(s: &dyn Store) {
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

pub async fn leases_are_renewed_and_report_stop_requests(s: &dyn Store) {
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

pub async fn a_live_node_name_is_not_joined_twice(s: &dyn Store) {
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

pub async fn nodes_are_listed_with_what_they_run(s: &dyn Store) {
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
    let seen: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.version.as_deref(),
                n.jobs,
                n.alive_until.clone(),
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
        assert_eq!(
            (c.state, c.started_at.as_deref()),
            (JobState::Waiting, None)
        );
        out.push(c);
    }
    out
}

pub async fn the_init_pool_bounds_inits_of_every_node(s: &dyn Store) {
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
        (waiting.state, waiting.started_at.as_deref()),
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
    assert_eq!(
        (turned.state, turned.started_at.as_deref()),
        (JobState::Waiting, None)
    );
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

pub async fn concurrent_inits_take_at_most_the_pool(s: &dyn Store) {
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

pub async fn interrupted_jobs_fail_by_node_and_by_lease(s: &dyn Store) {
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

pub async fn stop_job_in_each_state(s: &dyn Store) {
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
    assert_eq!(
        (r.state, r.finished_at.as_deref()),
        (JobState::Stopping, None)
    );
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

    assert!(s.stop_job(ok.id + 1000).await.unwrap().is_none());
}

pub async fn last_finished_jobs_are_the_newest_that_ran_per_element(s: &dyn Store) {
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

fn schedule_spec(every: &str) -> serde_json::Value {
    serde_json::json!({ "repeat": { "every": every }, "sync": "incremental" })
}

fn new_schedule(name: &str, default_for: Option<&str>) -> NewSchedule {
    NewSchedule {
        name: name.into(),
        default_for: default_for.map(|e| ElementName::parse(e).unwrap()),
        spec: schedule_spec("1d"),
        next_due: Some("2030-01-01T02:00:00.000Z".into()),
    }
}

pub async fn removing_an_element_stops_its_queued_jobs_and_drops_its_default_schedule(
    s: &dyn Store,
) {
    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    request(s, "cm1", SyncType::Incremental).await;
    claim(s, "n1").await.unwrap();
    let queued = request(s, "cm1", SyncType::Init).await.job;
    let other = request(s, "cm2", SyncType::Init).await.job;
    s.add_schedule(&new_schedule("cm1 daily", Some("cm1")))
        .await
        .unwrap();
    let keep = [
        s.add_schedule(&new_schedule("cm2 daily", Some("cm2")))
            .await
            .unwrap(),
        s.add_schedule(&new_schedule("all weekly", None))
            .await
            .unwrap(),
    ];

    assert!(s.remove_element("cm1").await.unwrap());
    let q = s.job(queued.id).await.unwrap().unwrap();
    assert_eq!(
        (q.state, q.error.as_deref()),
        (JobState::Stopped, Some("element removed"))
    );
    assert!(q.finished_at.is_some());
    assert_eq!(state(s, other.id).await, JobState::Queued);
    assert_eq!(s.schedules().await.unwrap(), keep);

    s.add_element(new_cm("cm1")).await.unwrap();
    s.add_schedule(&new_schedule("cm1 daily", Some("cm1")))
        .await
        .unwrap();
}

pub async fn tokens_are_found_by_hash_and_deleted(s: &dyn Store) {
    assert!(s.tokens().await.unwrap().is_empty());
    let t1 = s.create_token("ops", Role::Admin, &[1; 32]).await.unwrap();
    let t2 = s
        .create_token("grafana", Role::ReadOnly, &[2; 32])
        .await
        .unwrap();
    assert_eq!(
        (t1.name.as_str(), t1.role, t1.last_used_at.as_deref()),
        ("ops", Role::Admin, None)
    );
    assert_eq!((t2.name.as_str(), t2.role), ("grafana", Role::ReadOnly));
    assert_ne!(t1.id, t2.id);
    assert!(!t1.created_at.is_empty());
    assert_eq!(s.tokens().await.unwrap(), [t1.clone(), t2.clone()]);
    assert!(
        s.create_token("again", Role::Admin, &[1; 32])
            .await
            .is_err(),
        "secret hashes are unique"
    );

    let found = s.token_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!((found.id, found.role), (t2.id, Role::ReadOnly));
    assert!(found.last_used_at.is_some(), "its use is recorded");
    assert_eq!(s.tokens().await.unwrap()[1], found);
    // Every API request looks its token up: within a minute of the recorded
    // use, a lookup writes nothing.
    let again = s.token_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(again, found, "recorded at most once a minute");
    assert_eq!(s.tokens().await.unwrap()[1], found);
    assert!(s.token_by_hash(&[3; 32]).await.unwrap().is_none());
    // The last admin token stays: without one nobody could administer.
    assert_eq!(
        s.delete_token(t1.id).await.unwrap(),
        TokenRemoval::LastAdmin
    );
    let t3 = s.create_token("ops2", Role::Admin, &[3; 32]).await.unwrap();
    assert_eq!(s.delete_token(t1.id).await.unwrap(), TokenRemoval::Removed);
    assert_eq!(s.delete_token(t1.id).await.unwrap(), TokenRemoval::NoToken);
    assert!(s.token_by_hash(&[1; 32]).await.unwrap().is_none());
    assert_eq!(s.tokens().await.unwrap(), [found.clone(), t3.clone()]);
    assert_eq!(
        s.delete_token(t3.id).await.unwrap(),
        TokenRemoval::LastAdmin
    );
    assert_eq!(s.delete_token(t2.id).await.unwrap(), TokenRemoval::Removed);
    assert_eq!(s.tokens().await.unwrap(), [t3]);
}

pub async fn schedules_crud_defaults_and_fired_compare_and_set(s: &dyn Store) {
    s.add_element(new_cm("cm1")).await.unwrap();
    let due1 = "2030-01-01T02:00:00.000Z";
    let due2 = "2030-01-02T02:00:00.000Z";
    let plain = s
        .add_schedule(&new_schedule("nightly", None))
        .await
        .unwrap();
    assert_eq!(
        (
            plain.name.as_str(),
            plain.default_for.as_deref(),
            plain.next_due.as_deref(),
            plain.last_fired.as_deref()
        ),
        ("nightly", None, Some(due1), None)
    );
    assert_eq!(plain.spec, schedule_spec("1d"));
    assert!(!plain.created_at.is_empty());
    let default = s
        .add_schedule(&new_schedule("cm1 default", Some("cm1")))
        .await
        .unwrap();
    assert_eq!(default.default_for.as_deref(), Some("cm1"));
    assert!(matches!(
        s.add_schedule(&new_schedule("another", Some("cm1"))).await,
        Err(StoreError::DefaultExists(e)) if e == "cm1"
    ));
    assert_eq!(
        s.schedules().await.unwrap(),
        [plain.clone(), default.clone()]
    );
    assert_eq!(s.schedule(plain.id).await.unwrap().unwrap(), plain);

    // Of two nodes that saw the same due time, one wins.
    let id = plain.id;
    assert!(
        s.schedule_fired(id, Some(due1), Some(due1), Some(due2))
            .await
            .unwrap()
    );
    assert!(
        !s.schedule_fired(id, Some(due1), Some(due1), Some(due2))
            .await
            .unwrap()
    );
    let got = s.schedule(id).await.unwrap().unwrap();
    assert_eq!(
        (got.last_fired.as_deref(), got.next_due.as_deref()),
        (Some(due1), Some(due2))
    );
    // Comparing with "no next due time" works too.
    assert!(!s.schedule_fired(id, None, Some(due2), None).await.unwrap());
    assert!(
        s.schedule_fired(id, Some(due2), Some(due2), None)
            .await
            .unwrap()
    );
    assert!(
        s.schedule_fired(id, None, Some(due2), Some(due1))
            .await
            .unwrap()
    );
    assert!(
        !s.schedule_fired(id, None, Some(due2), Some(due1))
            .await
            .unwrap()
    );

    let spec = schedule_spec("2h");
    let updated = s
        .update_schedule(id, "twice-hourly", &spec, Some(due2))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.id,
            updated.name.as_str(),
            &updated.spec,
            updated.next_due.as_deref(),
            updated.last_fired.as_deref(),
            &updated.created_at
        ),
        (
            id,
            "twice-hourly",
            &spec,
            Some(due2),
            Some(due2),
            &plain.created_at
        )
    );
    assert_eq!(s.schedule(id).await.unwrap().unwrap(), updated);
    assert!(matches!(
        s.update_schedule(id + 1000, "x", &spec, None).await,
        Err(StoreError::NoSchedule(_))
    ));

    assert!(s.delete_schedule(id).await.unwrap());
    assert!(!s.delete_schedule(id).await.unwrap());
    assert!(s.schedule(id).await.unwrap().is_none());
    assert!(!s.schedule_fired(id, Some(due2), None, None).await.unwrap());
    assert!(s.delete_schedule(default.id).await.unwrap());
    s.add_schedule(&new_schedule("cm1 default", Some("cm1")))
        .await
        .unwrap();
}

fn hits(h: &[SearchHit]) -> Vec<(String, String, String)> {
    h.iter()
        .map(|h| {
            (
                h.element.clone(),
                h.object.id.object_type.clone(),
                h.object.id.key.clone(),
            )
        })
        .collect()
}

fn hit(e: &str, t: &str, k: &str) -> (String, String, String) {
    (e.into(), t.into(), k.into())
}

pub async fn search_finds_key_and_name_prefixes_across_elements(s: &dyn Store) {
    // Added in this order so that the order of names is not that of ids.
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    let a = s.add_element(new_cm("cma")).await.unwrap();
    fill(
        s,
        &b,
        vec![
            staged("1001", "Doe, Jane"),
            staged("1002", "Smith, John"),
            staged_as("vdn", "1003", "Sales"),
            staged_as("vdn", "sales2", "SALES line"),
        ],
    )
    .await;
    fill(
        s,
        &a,
        vec![
            staged("2001", "doe, john"),
            staged("1009", "Other"),
            staged_as("hunt-group", "10", "Doers"),
        ],
    )
    .await;
    let search = |t: &'static str, offset, limit| async move {
        hits(&s.search(t, offset, limit).await.unwrap())
    };
    assert_eq!(
        search("100", 0, 100).await,
        [
            hit("cma", "station", "1009"),
            hit("cmb", "station", "1001"),
            hit("cmb", "station", "1002"),
            hit("cmb", "vdn", "1003"),
        ],
        "key prefix, ordered by element name, type and key"
    );
    assert_eq!(
        search("DOE", 0, 100).await,
        [
            hit("cma", "hunt-group", "10"),
            hit("cma", "station", "2001"),
            hit("cmb", "station", "1001"),
        ],
        "name prefix, whatever the case"
    );
    assert_eq!(
        search("sales", 0, 100).await,
        [hit("cmb", "vdn", "1003"), hit("cmb", "vdn", "sales2")],
        "an object whose key and name both match is found once"
    );
    assert_eq!(search("doe, j", 0, 100).await.len(), 2);
    assert!(search("zzz", 0, 100).await.is_empty());
    assert!(
        search("1_0", 0, 100).await.is_empty(),
        "no wildcard: '_' is only itself"
    );
    assert!(search("%", 0, 100).await.is_empty());
    assert!(
        search("Jane", 0, 100).await.is_empty(),
        "a prefix, not a part"
    );

    let all = search("", 0, 100).await;
    assert_eq!(all.len(), 7);
    let pages = [
        search("", 0, 3).await,
        search("", 3, 3).await,
        search("", 6, 3).await,
    ];
    assert_eq!(pages.concat(), all);
    assert!(search("", 7, 3).await.is_empty());
    assert_eq!(
        search("1", 1, 2).await,
        [hit("cma", "station", "1009"), hit("cmb", "station", "1001")]
    );

    let found = s.search("smith", 0, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].element.as_str(), found[0].name.as_deref()),
        ("cmb", Some("Smith, John"))
    );
    assert_eq!(found[0].object.fields.get("8003ff00"), Some("Smith, John"));
    assert_eq!(found[0].object.hash, staged("1002", "Smith, John").hash);
}

pub async fn counts_objects_and_jobs(s: &dyn Store) {
    assert_eq!(s.counts().await.unwrap(), StoreCounts::default());
    let a = s.add_element(new_cm("cma")).await.unwrap();
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    s.add_element(new_cm("cmc")).await.unwrap();
    fill(
        s,
        &a,
        vec![
            staged("1", "A"),
            staged("2", "B"),
            staged_as("vdn", "3", "C"),
        ],
    )
    .await;
    fill(s, &b, vec![staged("1", "A")]).await;
    request(s, "cma", SyncType::Incremental).await;
    request(s, "cmb", SyncType::Incremental).await;
    claim(s, "n1").await.unwrap();

    let mut c = s.counts().await.unwrap();
    c.objects.sort();
    assert_eq!(
        c.objects,
        [
            ("cma".to_string(), "station".to_string(), 2),
            ("cma".to_string(), "vdn".to_string(), 1),
            ("cmb".to_string(), "station".to_string(), 1),
        ]
    );
    let mut jobs: Vec<(&str, &str, u64)> = c
        .jobs
        .iter()
        .map(|(t, st, n)| (t.as_str(), st.as_str(), *n))
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        [
            ("incremental", "queued", 1),
            ("incremental", "running", 1),
            ("init", "succeeded", 2),
        ]
    );
}

pub async fn object_counts_by_type_of_one_element(s: &dyn Store) {
    let a = s.add_element(new_cm("cma")).await.unwrap();
    let b = s.add_element(new_cm("cmb")).await.unwrap();
    assert!(s.object_counts_by_type(a.id).await.unwrap().is_empty());
    fill(
        s,
        &a,
        vec![
            staged("1", "A"),
            staged("2", "B"),
            staged_as("vdn", "3", "C"),
        ],
    )
    .await;
    fill(s, &b, vec![staged("1", "A")]).await;
    let of = |counts: std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        counts.into_iter().collect()
    };
    assert_eq!(
        of(s.object_counts_by_type(a.id).await.unwrap()),
        [("station".to_string(), 2), ("vdn".to_string(), 1)]
    );
    assert_eq!(
        of(s.object_counts_by_type(b.id).await.unwrap()),
        [("station".to_string(), 1)]
    );
    // What the per-type counts add up to is what the element's count says.
    let total: u64 = s.object_counts_by_type(a.id).await.unwrap().values().sum();
    assert_eq!(total, s.object_count(a.id).await.unwrap());
}

pub async fn notify_applies_changes_without_a_job_and_records_its_rows(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let other = s.add_element(new_cm("cm2")).await.unwrap();
    fill(s, &e, vec![staged("1001", "A"), staged("1002", "B")]).await;
    let x = staged("1001", "A2");
    let changes = vec![
        Change {
            id: x.id,
            upsert: Some((x.fields, x.hash, x.name)),
            by_login: Some("craft".into()),
            at_element: Some("11/25 10:02".into()),
        },
        Change {
            id: ObjectId::new("station", "1002"),
            upsert: None,
            by_login: Some("craft".into()),
            at_element: Some("11/25 10:02".into()),
        },
    ];
    let keys = vec!["k1".to_string(), "k2".to_string(), "k1".to_string()];
    let counts = s.apply_notify(e.id, changes, &keys).await.unwrap();
    assert_eq!((counts.changed, counts.deleted), (1, 1));
    assert_eq!(
        s.notified_rows(e.id).await.unwrap(),
        keys,
        "in order, repeats kept"
    );
    assert!(s.notified_rows(other.id).await.unwrap().is_empty());
    let objs = s.objects(e.id, &ObjectQuery::default()).await.unwrap();
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].fields.get("8003ff00"), Some("A2"));
    // No job: every job's change log is still only the init's.
    let sync = s.element("cm1").await.unwrap().unwrap().sync;
    assert_eq!(sync.sync_point, None, "notify sync does not move the point");
    assert_eq!(sync.last_notify_at, None);

    // The time of the last event only moves forward.
    s.record_notify_event(e.id, at(5)).await.unwrap();
    s.record_notify_event(e.id, at(3)).await.unwrap();
    let last = s.element("cm1").await.unwrap().unwrap().sync.last_notify_at;
    assert_eq!(last.as_deref(), Some("2030-01-01T00:05:00.000Z"));
    assert_eq!(
        s.element("cm2").await.unwrap().unwrap().sync.last_notify_at,
        None
    );

    // Pruning drops what was recorded before the given time only.
    s.prune_notified_rows(e.id, Utc::now() - Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(s.notified_rows(e.id).await.unwrap().len(), 3);
    s.prune_notified_rows(e.id, Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert!(s.notified_rows(e.id).await.unwrap().is_empty());

    // Removing the element removes its rows.
    s.apply_notify(e.id, vec![], &["k3".to_string()])
        .await
        .unwrap();
    assert!(s.remove_element("cm1").await.unwrap());
    assert!(s.notified_rows(e.id).await.unwrap().is_empty());
}
