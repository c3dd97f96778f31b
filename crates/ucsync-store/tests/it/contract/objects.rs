//! The contract: objects stored by an init, changed outside one (by an
//! incremental or notify sync), and the change log.

use chrono::{Duration, Utc};
use ucsync_core::{ObjectId, SyncType, key_digest};
use ucsync_store::*;

use super::*;

pub(crate) async fn init_commits_in_one_step_and_refused_inits_keep_their_proposal(s: &dyn Store) {
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
    s.keep_plan(
        j2.id,
        e.id,
        &[ObjectId::new("station", "1001")],
        &plan_base(SyncType::Init, 1),
    )
    .await
    .unwrap();
    s.record_init_failure(e.id, "too many deletions")
        .await
        .unwrap();
    let proposal = s.changes(j2.id).await.unwrap();
    assert_eq!(proposal.len(), 1);
    assert!(
        !proposal[0].applied && proposal[0].op.as_str() == "delete" && proposal[0].key == "1001"
    );
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

pub(crate) async fn stored_index_is_whole_and_found_by_digest(s: &dyn Store) {
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

pub(crate) async fn changes_are_read_a_page_at_a_time(s: &dyn Store) {
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
    assert!(page.iter().all(|c| c.applied && c.op.as_str() == "add"));
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
        s.changes_page(JobId(j2.id.0 + 1000), 0, 1).await,
        Err(StoreError::NoJob(_))
    ));
}

pub(crate) async fn changes_are_logged_with_login_and_idempotent(s: &dyn Store) {
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

pub(crate) async fn notify_applies_changes_without_a_job_and_records_its_rows(s: &dyn Store) {
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
    let before = revision(s, &e).await;
    let counts = s
        .apply_notify(e.id, changes, &keys, before)
        .await
        .unwrap()
        .expect("nothing written in between");
    assert_eq!((counts.changed, counts.deleted), (1, 1));
    assert_eq!(revision(s, &e).await, before + 1);
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
    assert_eq!(
        last.map(time_text).as_deref(),
        Some("2030-01-01T00:05:00.000Z")
    );
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
    let before = revision(s, &e).await;
    s.apply_notify(e.id, vec![], &["k3".to_string()], before)
        .await
        .unwrap()
        .expect("applied");
    assert!(s.remove_element("cm1").await.unwrap());
    assert!(s.notified_rows(e.id).await.unwrap().is_empty());
}

/// A batch of notify sync read before another write of the element's
/// objects (a sync's commit, another node's batch) is refused, with
/// nothing applied: what it read may be older than what is stored.
pub(crate) async fn notify_read_before_another_write_is_refused(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let before = revision(s, &e).await;
    fill(s, &e, vec![staged("1001", "A")]).await;
    let after_init = revision(s, &e).await;
    assert!(after_init > before, "an init's commit counts");
    let change = |name: &str| {
        let x = staged("1001", name);
        vec![Change {
            id: x.id,
            upsert: Some((x.fields, x.hash, x.name)),
            by_login: Some("craft".into()),
            at_element: None,
        }]
    };
    // Two readers at one revision: the first to write wins.
    let first = s
        .apply_notify(e.id, change("new"), &["k1".into()], after_init)
        .await
        .unwrap();
    assert_eq!(first.map(|c| c.changed), Some(1));
    let second = s
        .apply_notify(e.id, change("old"), &["k2".into()], after_init)
        .await
        .unwrap();
    assert_eq!(second, None, "read before the first wrote");
    assert_eq!(
        s.notified_rows(e.id).await.unwrap(),
        ["k1"],
        "k2 not recorded"
    );
    let objs = s.objects(e.id, &ObjectQuery::default()).await.unwrap();
    assert_eq!(objs[0].fields.get("8003ff00"), Some("new"));
    // A job's apply counts too.
    let at = revision(s, &e).await;
    s.apply_changes(None, e.id, change("job"), None)
        .await
        .unwrap();
    assert_eq!(
        s.apply_notify(e.id, change("late"), &[], at).await.unwrap(),
        None
    );
}

pub(crate) async fn an_objects_history_spans_jobs_and_notify_newest_first(s: &dyn Store) {
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let other = s.add_element(new_cm("cm2")).await.unwrap();
    fill(s, &e, vec![staged("1001", "A"), staged("1002", "B")]).await;
    fill(s, &other, vec![staged("1001", "X")]).await;
    let change = |name: &str, login: &str| {
        let x = staged("1001", name);
        Change {
            id: x.id,
            upsert: Some((x.fields, x.hash, x.name)),
            by_login: Some(login.into()),
            at_element: Some("11/25 10:02".into()),
        }
    };
    let nj = new_job("cm1", SyncType::Incremental);
    let j = s
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    s.apply_changes(Some(j.id), e.id, vec![change("A2", "craft")], Some("p1"))
        .await
        .unwrap();
    let before = revision(s, &e).await;
    s.apply_notify(e.id, vec![change("A3", "dadmin")], &["k1".into()], before)
        .await
        .unwrap()
        .expect("nothing written in between");

    let (all, total) = s
        .object_history(e.id, "station", "1001", 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let seen: Vec<(Option<JobId>, &str, Option<&str>)> = all
        .iter()
        .map(|h| (h.job, h.change.op.as_str(), h.change.by_login.as_deref()))
        .collect();
    let init = all[2].job.expect("the init's job");
    assert_eq!(
        seen,
        vec![
            (None, "change", Some("dadmin")),
            (Some(j.id), "change", Some("craft")),
            (Some(init), "add", None),
        ],
        "newest first, notify's without a job"
    );
    assert!(
        all.iter()
            .all(|h| h.change.key == "1001" && h.change.applied)
    );
    let (page, total) = s
        .object_history(e.id, "station", "1001", 1, 1)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(page[0].job, Some(j.id));
    let (page, total) = s
        .object_history(e.id, "station", "1001", 3, 10)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (0, 3));
    // Another object, another element, an object never stored: their own.
    let (page, total) = s
        .object_history(e.id, "station", "1002", 0, 10)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 1));
    let (page, _) = s
        .object_history(other.id, "station", "1001", 0, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_ne!(page[0].job, Some(init));
    let (page, total) = s.object_history(e.id, "vdn", "1001", 0, 10).await.unwrap();
    assert_eq!((page.len(), total), (0, 0));
}
