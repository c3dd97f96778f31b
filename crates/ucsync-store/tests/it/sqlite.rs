//! The SQLite backend: the contract, and what only a file on disk shows.

use std::sync::Arc;

use ucsync_core::{ContentHash, JobState, ObjectId, SecretKey, SyncType, key_digest};
use ucsync_store::*;

use crate::contract::{TestStore, at, contract_tests, new_cm, new_job, running_on_a_lease, staged};

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(
        &dir.path().join("ucsync.db"),
        SecretKey::from_bytes([9; 32]),
    )
    .await
    .unwrap()
}

async fn fresh() -> Option<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    Some(TestStore::new(Arc::new(s), dir))
}

contract_tests!(fresh);

#[tokio::test]
async fn passwords_are_not_stored_in_clear_and_reopening_migrates_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.add_element(new_cm("cm1")).await.unwrap();
    s.update_element(
        "cm1",
        ElementUpdate {
            password: Some("N3w-secret!".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.add_element(new_cm("cm2")).await.unwrap();
    let raw = std::fs::read(dir.path().join("ucsync.db")).unwrap();
    let wal = std::fs::read(dir.path().join("ucsync.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        for secret in [&b"S3cret-pass"[..], b"N3w-secret!"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "the password is not stored in clear"
            );
        }
    }
    assert!(s.remove_element("cm2").await.unwrap());
    drop(s);
    let s = store(&dir).await;
    let names: Vec<String> = s
        .elements()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["cm1"]);
    assert_eq!(s.element_password("cm1").await.unwrap(), "N3w-secret!");
}

/// Two processes on one file, each with several workers: every job is
/// claimed exactly once, and never while another job of its element runs.
/// Which store wins each contended claim is up to the scheduler, so that
/// both stores can claim is shown first, without contention: while one
/// store's job holds its element, the other store takes the next element's.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_stores_on_one_file_claim_each_job_once() {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ELEMENTS: usize = 6;
    const PER_ELEMENT: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir).await;
    let b = store(&dir).await;
    for e in 0..ELEMENTS {
        let name = format!("cm{e}");
        a.add_element(new_cm(&name)).await.unwrap();
        for _ in 0..PER_ELEMENT {
            // create_job, not request_job: equal requests would join.
            b.create_job(&new_job(&name, SyncType::Init), SyncType::Init, None)
                .await
                .unwrap();
        }
    }
    let total = ELEMENTS * PER_ELEMENT;
    let first = a.claim_job("node0", at(10)).await.unwrap().unwrap();
    let second = b.claim_job("node1", at(10)).await.unwrap().unwrap();
    assert_eq!(first.element, "cm0");
    assert_eq!(
        second.element, "cm1",
        "the other store skips the busy element for the next one's job"
    );
    for j in [&first, &second] {
        a.set_job_state(j.id, JobState::Succeeded, None)
            .await
            .unwrap();
    }
    let done = Arc::new(AtomicUsize::new(2));
    let busy = Arc::new(Mutex::new(HashSet::<String>::new()));
    let claimed = Arc::new(Mutex::new(HashMap::<JobId, String>::from([
        (first.id, "node0".to_string()),
        (second.id, "node1".to_string()),
    ])));
    let workers = (0..16).map(|w| {
        let s = if w % 2 == 0 { a.clone() } else { b.clone() };
        let (done, busy, claimed) = (done.clone(), busy.clone(), claimed.clone());
        tokio::spawn(async move {
            let node = format!("node{}", w % 2);
            while done.load(Ordering::SeqCst) < total {
                let Some(j) = s.claim_job(&node, at(10)).await.unwrap() else {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    continue;
                };
                assert!(
                    busy.lock().unwrap().insert(j.element.clone()),
                    "{} claimed while its element is busy",
                    j.id
                );
                let before = claimed.lock().unwrap().insert(j.id, node.clone());
                assert!(before.is_none(), "job {} claimed twice", j.id);
                tokio::task::yield_now().await;
                // Free the element before the job finishes: once it has,
                // another worker may rightly claim the element's next job.
                busy.lock().unwrap().remove(&j.element);
                s.set_job_state(j.id, JobState::Succeeded, None)
                    .await
                    .unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    for w in futures::future::join_all(workers).await {
        w.unwrap();
    }
    let claimed = std::mem::take(&mut *claimed.lock().unwrap());
    assert_eq!(claimed.len(), total, "every job claimed exactly once");
    assert!(b.claim_job("node1", at(10)).await.unwrap().is_none());
    assert_eq!(
        a.jobs(None, Some(JobState::Succeeded), 0, 0)
            .await
            .unwrap()
            .len(),
        total
    );
}

/// A database of schema 2 (before digests were stored, before the queue) gets
/// digests on opening, and jobs a dead process left running are failed so
/// that the one-running-job-per-element index can hold.
#[tokio::test]
async fn upgrade_from_schema_2_fills_digests_and_fails_orphaned_jobs() {
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
             INSERT INTO sync_state (element_id) VALUES (1); \
             INSERT INTO jobs (element_id, element, requested, type, trigger, requested_by, state, created_at) VALUES \
               (1, 'cm1', 'init', 'init', 'on-demand', 't', 'running', '2026-01-01T00:00:00Z'), \
               (1, 'cm1', 'init', 'init', 'on-demand', 't', 'stopping', '2026-01-01T00:00:00Z'), \
               (1, 'cm1', 'init', 'init', 'on-demand', 't', 'queued', '2026-01-01T00:00:00Z'); \
             INSERT INTO staged (job_id, object_type, object_key, op) VALUES (1, 'station', '1', 'add');",
        )
        .unwrap();
        // One transaction, not one sync to disk per row.
        let tx = c.unchecked_transaction().unwrap();
        let mut st = tx
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
        drop(st);
        tx.commit().unwrap();
    }
    let s = store(&dir).await;
    for id in [JobId(1), JobId(2)] {
        let j = s.job(id).await.unwrap().unwrap();
        assert_eq!(
            (j.state, j.error.as_deref()),
            (JobState::Failed, Some("interrupted"))
        );
        assert!(j.finished_at.is_some());
        assert!(s.changes(id).await.unwrap().is_empty(), "staged rows gone");
    }
    let queued = s.claim_job("n1", at(1)).await.unwrap().unwrap();
    assert_eq!(
        (queued.id, queued.state),
        (JobId(3), JobState::Waiting),
        "an init, claimed, waits for its place in the pool"
    );
    s.set_job_state(JobId(3), JobState::Succeeded, None)
        .await
        .unwrap();
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
        .create_job(&new_job("cm1", SyncType::Init), SyncType::Init, None)
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

/// A renewal that waits for the writer (another connection holds the write
/// lock longer than the lease) still gives the lease its full length from
/// when it is written: the job does not look dead right after.
#[tokio::test]
async fn a_renewal_held_up_by_a_slow_writer_keeps_the_job_alive() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    let lease = chrono::Duration::seconds(1);
    let job = running_on_a_lease(&s, lease).await;

    let path = dir.path().join("ucsync.db");
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked.send(()).unwrap();
        // The slow writer: the write lock held for twice the lease.
        std::thread::sleep(std::time::Duration::from_secs(2));
        c.execute_batch("COMMIT").unwrap();
    });
    is_locked.recv().unwrap();
    s.renew_leases("n1", chrono::Utc::now() + lease)
        .await
        .unwrap();
    let failed = s.fail_interrupted(None, chrono::Utc::now()).await.unwrap();
    holder.join().unwrap();
    assert!(failed.is_empty(), "failed as interrupted: {failed:?}");
    assert_eq!(
        s.job(job.id).await.unwrap().unwrap().state,
        JobState::Running
    );
}

/// A rolling upgrade: an older ucsync that finds the schema a newer one
/// migrated refuses to open it, saying what to do, and changes nothing.
#[tokio::test]
async fn an_older_ucsync_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.add_element(new_cm("cm1")).await.unwrap();
    drop(s);
    let path = dir.path().join("ucsync.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    c.execute_batch(&format!("PRAGMA user_version = {}", v + 1))
        .unwrap();
    drop(c);
    let err = SqliteStore::open(&path, SecretKey::from_bytes([9; 32]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("newer than this ucsync") && err.contains("run that newer ucsync"),
        "{err}"
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(&format!("PRAGMA user_version = {v}"))
        .unwrap();
    drop(c);
    assert_eq!(store(&dir).await.elements().await.unwrap().len(), 1);
}

/// The file gives the space of removed jobs back: a database made before
/// retention is switched once to give free pages back on request
/// (`auto_vacuum = INCREMENTAL`, a new one is made so), and a retention
/// run leaves no free page behind.
#[tokio::test]
async fn removed_jobs_give_their_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ucsync.db");
    let pragma = |c: &rusqlite::Connection, name: &str| -> i64 {
        c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    };
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../migrations/sqlite/001_initial.sql"))
            .unwrap();
        c.execute_batch("PRAGMA user_version = 1").unwrap();
        assert_eq!(pragma(&c, "auto_vacuum"), 0, "no auto-vacuum before");
    }
    let s = store(&dir).await;
    s.add_element(new_cm("cm1")).await.unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(pragma(&c, "auto_vacuum"), 2, "incremental");
    // A few megabytes of old jobs and their logs, written at once.
    let tx = c.unchecked_transaction().unwrap();
    let line = "x".repeat(1000);
    for id in 1..=300i64 {
        tx.execute(
            "INSERT INTO jobs (id, element, requested, type, trigger, requested_by, state, created_at, started_at, finished_at) \
             VALUES (?1, 'cm1', 'incremental', 'incremental', 'schedule', 'scheduler', 'succeeded', \
             '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z')",
            [id],
        )
        .unwrap();
        for seq in 1..=10 {
            tx.execute(
                "INSERT INTO job_log (job_id, seq, at, line) VALUES (?1, ?2, '2026-01-01T00:00:00.000Z', ?3)",
                rusqlite::params![id, seq, line],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
    let full = pragma(&c, "page_count");
    let removed = s.remove_finished_jobs(at(0), 50).await.unwrap();
    assert_eq!(
        (removed.jobs, removed.log_lines),
        (299, 2990),
        "the newest is kept"
    );
    assert_eq!(pragma(&c, "freelist_count"), 0);
    let after = pragma(&c, "page_count");
    assert!(after * 4 < full, "{full} pages before, {after} after");
}
