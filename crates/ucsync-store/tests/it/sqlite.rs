use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, Object, ObjectId, PlanOp, SecretKey,
    SyncType, Trigger, key_digest,
};
use ucsync_store::*;

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(
        &dir.path().join("ucsync.db"),
        SecretKey::from_bytes([9; 32]),
    )
    .await
    .unwrap()
}

fn new_cm(name: &str) -> NewElement {
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

fn staged(key: &str, name: &str) -> Staged {
    let o = Object {
        id: ObjectId::new("station", key),
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

#[tokio::test]
async fn elements_passwords_encrypted_and_removed_with_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    assert_eq!(
        e.own_logins(),
        vec!["init".to_string(), "ucsync".to_string()]
    );
    assert!(matches!(
        s.add_element(new_cm("cm1")).await,
        Err(StoreError::Exists(_))
    ));
    assert_eq!(s.element_password("cm1").await.unwrap(), "S3cret-pass");
    let raw = std::fs::read(dir.path().join("ucsync.db")).unwrap();
    let wal = std::fs::read(dir.path().join("ucsync.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes.windows(11).any(|w| w == b"S3cret-pass"),
            "the password is not stored in clear"
        );
    }
    let job = s
        .create_job(
            &NewJob {
                element: e.name.clone(),
                requested: SyncType::Init,
                trigger: Trigger::ElementAdded,
                requested_by: "test".into(),
            },
            SyncType::Init,
            None,
        )
        .await
        .unwrap();
    s.stage(job.id, vec![staged("1001", "Doe, Jane")])
        .await
        .unwrap();
    s.commit_init(
        job.id,
        e.id,
        &[],
        &InitOutcome {
            version: "R1".into(),
            format: 1,
            sync_point: Some("p".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(s.object_count(e.id).await.unwrap(), 1);
    assert!(s.remove_element("cm1").await.unwrap());
    assert_eq!(s.object_count(e.id).await.unwrap(), 0);
    assert!(s.element("cm1").await.unwrap().is_none());
    // Reopening runs no migration twice and keeps nothing of the removed element.
    drop(s);
    let s = store(&dir).await;
    assert!(s.elements().await.unwrap().is_empty());
}

#[tokio::test]
async fn init_commits_in_one_step_and_refused_inits_keep_their_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let nj = NewJob {
        element: e.name.clone(),
        requested: SyncType::Init,
        trigger: Trigger::OnDemand,
        requested_by: "test".into(),
    };
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
}

#[tokio::test]
async fn changes_are_logged_with_login_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
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
    let nj = NewJob {
        element: e.name.clone(),
        requested: SyncType::Incremental,
        trigger: Trigger::OnDemand,
        requested_by: "t".into(),
    };
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

#[tokio::test]
async fn jobs_state_progress_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    let e = s.add_element(new_cm("cm1")).await.unwrap();
    let nj = NewJob {
        element: e.name.clone(),
        requested: SyncType::Incremental,
        trigger: Trigger::Schedule,
        requested_by: "scheduler".into(),
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
}

/// The stored index comes back whole from its parallel digest ranges, and a
/// database of schema 2 (before digests were stored) gets them on opening.
#[tokio::test]
async fn stored_index_is_whole_and_digests_are_filled_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ucsync.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../migrations/sqlite/001_initial.sql"))
            .unwrap();
        c.execute_batch(include_str!("../../migrations/sqlite/002_hash_index.sql"))
            .unwrap();
        c.execute_batch(
            "PRAGMA user_version = 2; \
             INSERT INTO elements (name, kind, host, port, login, password_enc, settings, created_at) \
             VALUES ('cm1', 'cm', 'h', 5022, 'l', 'x', '{}', '2026-01-01T00:00:00Z'); \
             INSERT INTO sync_state (element_id) VALUES (1);",
        )
        .unwrap();
        let mut st = c
            .prepare("INSERT INTO objects (element_id, object_type, object_key, fields, hash, updated_at) VALUES (1, ?1, ?2, '[]', ?3, 'now')")
            .unwrap();
        for i in 0..3000u32 {
            let t = if i % 10 == 0 { "vdn" } else { "station" };
            st.execute(rusqlite::params![
                t,
                i.to_string(),
                &[(i % 200) as u8; 16][..]
            ])
            .unwrap();
        }
    }
    let s = store(&dir).await;
    let idx = s.object_hashes(1).await.unwrap();
    assert_eq!(idx.len(), 3000);
    assert_eq!(idx.type_counts()["vdn"], 300);
    for i in 0..3000u32 {
        let t = if i % 10 == 0 { "vdn" } else { "station" };
        assert_eq!(
            idx.get(&ObjectId::new(t, i.to_string())),
            Some(ContentHash([(i % 200) as u8; 16])),
            "{t} {i}"
        );
    }
    // Objects written after the upgrade are found by digest too.
    let e = s.element("cm1").await.unwrap().unwrap();
    let j = s
        .create_job(
            &NewJob {
                element: e.name.clone(),
                requested: SyncType::Init,
                trigger: Trigger::OnDemand,
                requested_by: "test".into(),
            },
            SyncType::Init,
            None,
        )
        .await
        .unwrap();
    let new = staged("99999", "New");
    s.stage(j.id, vec![new.clone()]).await.unwrap();
    let gone = [ObjectId::new("station", "1"), ObjectId::new("vdn", "10")];
    let out = InitOutcome {
        version: "R1".into(),
        format: 1,
        sync_point: None,
    };
    s.commit_init(j.id, e.id, &gone, &out).await.unwrap();
    let idx = s.object_hashes(e.id).await.unwrap();
    assert_eq!(idx.len(), 2999);
    assert_eq!(idx.get(&new.id), Some(new.hash));
    assert_eq!(idx.get(&gone[0]), None);
    let mut ids = s
        .object_ids(
            e.id,
            vec![key_digest("station", "99999"), key_digest("vdn", "20")],
        )
        .await
        .unwrap();
    ids.sort();
    assert_eq!(ids, vec![new.id.clone(), ObjectId::new("vdn", "20")]);
}
