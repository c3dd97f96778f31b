//! The PostgreSQL backend: the contract, on a schema of its own per test,
//! and what only several nodes on one database show.
//!
//! The database is `UCSYNC_TEST_DATABASE_URL`, by default the local `test`
//! database. Where it cannot be reached a test says so on stderr and passes
//! (a contract test, which must be handed a store, runs on SQLite instead),
//! except in CI (`CI=true`), where PostgreSQL is part of the environment.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;
use ucsync_core::{JobState, SecretKey, SyncType};
use ucsync_store::*;

use crate::contract::{
    TestStore, at, contract_tests, fill, new_cm, new_job, running_on_a_lease, staged,
};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("UCSYNC_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn secret() -> SecretKey {
    SecretKey::from_bytes([9; 32])
}

/// The URL of a reachable database, or `None` after saying that PostgreSQL
/// is skipped and what happens `instead`; in CI an unreachable database
/// fails the test.
async fn database(instead: &str) -> Option<String> {
    let url = url();
    let reached =
        tokio::time::timeout(Duration::from_secs(5), tokio_postgres::connect(&url, NoTls))
            .await
            .map_err(|_| "timed out".to_string())
            .and_then(|r| {
                r.map(drop)
                    .map_err(|e| match std::error::Error::source(&e) {
                        Some(cause) => format!("{e}: {cause}"),
                        None => e.to_string(),
                    })
            });
    let reached = reached.map_err(|e| format!("not reachable at {url} ({e}): {instead}"));
    ucsync_testkit::require("PostgreSQL", reached).map(|()| url)
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// A schema name no other test, run or process uses. The creation time in
/// it lets a later run drop what a killed run left behind.
fn unique_schema() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "ucsync_t_{secs}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops test schemas older than an hour: those of runs that were killed
/// before their guards ran.
async fn sweep(client: &tokio_postgres::Client) {
    let cutoff = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ucsync\\_t\\_%'",
            &[],
        )
        .await
        .unwrap();
    for r in rows {
        let name: String = r.get(0);
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|c| c < cutoff) {
            // Another run may be dropping the same one.
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .await;
        }
    }
}

/// Drops its schema when the test is done with it.
struct SchemaGuard {
    url: String,
    schema: String,
}

impl SchemaGuard {
    async fn new(url: &str) -> SchemaGuard {
        static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        SWEPT
            .get_or_init(|| async { sweep(&admin(url).await).await })
            .await;
        SchemaGuard {
            url: url.to_string(),
            schema: unique_schema(),
        }
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        // Dropped inside the test's runtime, which cannot be blocked on: a
        // thread of its own with a runtime of its own does the work.
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await?;
                let conn = tokio::spawn(conn);
                let r = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
                drop(client);
                let _ = conn.await;
                r
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

async fn store_on(url: &str, schema: &str) -> PgStore {
    PgStore::connect_with_schema(url, schema, secret())
        .await
        .unwrap()
}

/// A new store on a schema of its own, for the contract tests.
async fn fresh() -> Option<TestStore> {
    let url = database("test not run").await?;
    let guard = SchemaGuard::new(&url).await;
    let s = store_on(&url, &guard.schema).await;
    Some(TestStore::new(Arc::new(s), guard))
}

contract_tests!(fresh);

/// Two stores (two pools: two nodes) on one new schema, and its guard.
async fn two_nodes() -> Option<(PgStore, PgStore, SchemaGuard)> {
    let url = database("test not run").await?;
    let guard = SchemaGuard::new(&url).await;
    let a = store_on(&url, &guard.schema).await;
    let b = store_on(&url, &guard.schema).await;
    Some((a, b, guard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_claim_every_job_once_and_never_two_on_one_element() {
    let Some((a, b, _guard)) = two_nodes().await else {
        return;
    };
    const ELEMENTS: usize = 6;
    const JOBS_PER_ELEMENT: usize = 12;
    const TASKS_PER_NODE: usize = 6;
    for e in 0..ELEMENTS {
        a.add_element(new_cm(&format!("cm{e}"))).await.unwrap();
    }
    let mut queued = Vec::new();
    for i in 0..JOBS_PER_ELEMENT {
        for e in 0..ELEMENTS {
            let s = if i % 2 == 0 { &a } else { &b };
            let j = s
                .create_job(
                    &new_job(&format!("cm{e}"), SyncType::Incremental),
                    SyncType::Incremental,
                    None,
                )
                .await
                .unwrap();
            queued.push(j.id);
        }
    }
    let total = queued.len();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let claimed: Arc<Mutex<Vec<(String, JobId)>>> = Arc::default();
    let mut tasks = Vec::new();
    for t in 0..2 * TASKS_PER_NODE {
        let (s, node) = if t % 2 == 0 {
            (a.clone(), "node-a")
        } else {
            (b.clone(), "node-b")
        };
        let (running, claimed) = (running.clone(), claimed.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                assert!(tokio::time::Instant::now() < deadline, "claims stalled");
                if claimed.lock().unwrap().len() == total {
                    return;
                }
                let Some(job) = s.claim_job(node, at(60)).await.unwrap() else {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                assert_eq!(job.state, JobState::Running);
                assert!(
                    running.lock().unwrap().insert(job.element.clone()),
                    "two jobs of {} running at once",
                    job.element
                );
                claimed.lock().unwrap().push((job.element.clone(), job.id));
                tokio::task::yield_now().await;
                // Off the list before the job ends in the database: after
                // that, another claim on the element is allowed.
                running.lock().unwrap().remove(&job.element);
                s.set_job_state(job.id, JobState::Succeeded, None)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    let ids: HashSet<JobId> = claimed.iter().map(|(_, id)| *id).collect();
    assert_eq!(claimed.len(), total, "every job claimed exactly once");
    assert_eq!(ids, queued.iter().copied().collect());
    // Per element, jobs ran oldest first.
    let mut per_element: BTreeMap<String, Vec<JobId>> = BTreeMap::new();
    for (e, id) in claimed {
        per_element.entry(e).or_default().push(id);
    }
    for (e, ids) in per_element {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{e}: {ids:?}");
    }
    assert!(a.claim_job("node-a", at(60)).await.unwrap().is_none());
    assert!(
        a.jobs(None, Some(JobState::Succeeded), 0, 0)
            .await
            .unwrap()
            .len()
            == total
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_from_two_nodes_keep_the_join_rule() {
    let Some((a, b, _guard)) = two_nodes().await else {
        return;
    };
    a.add_element(new_cm("cm1")).await.unwrap();
    let types = [SyncType::Incremental, SyncType::Init, SyncType::ForceInit];
    for round in 0..3 {
        let requests = (0..24).map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            // Round 0: all incremental; then mixed strengths.
            let ty = if round == 0 {
                types[0]
            } else {
                types[(i * 7 + round) % 3]
            };
            tokio::spawn(async move {
                let r = s.request_job(&new_job("cm1", ty)).await.unwrap();
                assert!(r.job.requested.strength() >= ty.strength(), "{r:?}");
                r
            })
        });
        let results: Vec<Requested> = futures::future::join_all(requests)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let queued = a
            .jobs(Some("cm1"), Some(JobState::Queued), 0, 0)
            .await
            .unwrap();
        let running = a
            .jobs(Some("cm1"), Some(JobState::Running), 0, 0)
            .await
            .unwrap();
        // Oldest first: running, then each queued job stronger than all
        // before it; otherwise a request should have joined one of them.
        let mut open: Vec<&Job> = running.iter().chain(queued.iter().rev()).collect();
        open.sort_by_key(|j| (j.state != JobState::Running, j.id));
        let strengths: Vec<u8> = open.iter().map(|j| j.requested.strength()).collect();
        let queued_strengths = &strengths[running.len()..];
        assert!(
            queued_strengths.windows(2).all(|w| w[0] < w[1]),
            "round {round}: {strengths:?}"
        );
        let created: HashSet<JobId> = results
            .iter()
            .filter(|r| !r.joined)
            .map(|r| r.job.id)
            .collect();
        let joined: HashSet<JobId> = results
            .iter()
            .filter(|r| r.joined)
            .map(|r| r.job.id)
            .collect();
        assert_eq!(
            created.len(),
            results.iter().filter(|r| !r.joined).count(),
            "each new job is new once"
        );
        let open_ids: HashSet<JobId> = open.iter().map(|j| j.id).collect();
        assert!(created.is_subset(&open_ids) && joined.is_subset(&open_ids));
        if round == 0 {
            assert_eq!(open.len(), 1, "incremental requests all join one job");
        }
        // The oldest starts running; the next round joins or queues after it.
        if let Some(j) = a.claim_job("node-a", at(60)).await.unwrap() {
            if round == 2 {
                a.set_job_state(j.id, JobState::Succeeded, None)
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opening_at_once_migrate_once() {
    let Some(url) = database("test not run").await else {
        return;
    };
    let guard = SchemaGuard::new(&url).await;
    let opens = (0..6).map(|_| {
        let (url, schema) = (url.clone(), guard.schema.clone());
        tokio::spawn(async move { PgStore::connect_with_schema(&url, &schema, secret()).await })
    });
    let stores: Vec<PgStore> = futures::future::join_all(opens)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    stores[0].add_element(new_cm("cm1")).await.unwrap();
    for s in &stores {
        assert_eq!(s.elements().await.unwrap().len(), 1);
    }
    let client = admin(&url).await;
    let rows = client
        .query(
            &format!(
                "SELECT version FROM \"{}\".ucsync_schema_version ORDER BY version",
                guard.schema
            ),
            &[],
        )
        .await
        .unwrap();
    let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert!(!applied.is_empty());
    assert_eq!(
        applied,
        (1..=applied.len() as i32).collect::<Vec<_>>(),
        "each migration applied once"
    );
    // Opening again applies nothing and keeps the data.
    drop(stores);
    let s = store_on(&url, &guard.schema).await;
    assert_eq!(s.elements().await.unwrap().len(), 1);
    let again: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{}\".ucsync_schema_version",
                guard.schema
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(again, applied.len() as i64);
}

/// A rolling upgrade: a node of an older ucsync that finds the schema a
/// newer one migrated refuses to open it, saying what to do, and changes
/// nothing; the data stays for the newer nodes.
#[tokio::test]
async fn an_older_node_refuses_a_newer_schema() {
    let Some(url) = database("test not run").await else {
        return;
    };
    let guard = SchemaGuard::new(&url).await;
    let s = store_on(&url, &guard.schema).await;
    s.add_element(new_cm("cm1")).await.unwrap();
    drop(s);
    let client = admin(&url).await;
    let table = format!("\"{}\".ucsync_schema_version", guard.schema);
    client
        .batch_execute(&format!(
            "INSERT INTO {table} (version) SELECT max(version) + 1 FROM {table}"
        ))
        .await
        .unwrap();
    let err = PgStore::connect_with_schema(&url, &guard.schema, secret())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("newer than this ucsync") && err.contains("run that newer ucsync"),
        "{err}"
    );
    client
        .batch_execute(&format!(
            "DELETE FROM {table} WHERE version = (SELECT max(version) FROM {table})"
        ))
        .await
        .unwrap();
    let s = store_on(&url, &guard.schema).await;
    assert_eq!(s.elements().await.unwrap().len(), 1, "nothing was changed");
}

#[tokio::test]
async fn passwords_are_not_stored_in_clear() {
    let Some((a, _, guard)) = two_nodes().await else {
        return;
    };
    a.add_element(new_cm("cm1")).await.unwrap();
    let client = admin(&url()).await;
    let stored: String = client
        .query_one(
            &format!("SELECT password_enc FROM \"{}\".elements", guard.schema),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains("S3cret-pass"));
    assert!(SecretKey::is_encrypted(&stored));
    assert_eq!(a.element_password("cm1").await.unwrap(), "S3cret-pass");
}

/// Whatever a caller does, the database holds one running job per element.
#[tokio::test]
async fn the_database_refuses_a_second_running_job_on_an_element() {
    let Some((a, b, _guard)) = two_nodes().await else {
        return;
    };
    a.add_element(new_cm("cm1")).await.unwrap();
    let nj = new_job("cm1", SyncType::Incremental);
    let j1 = a
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    let j2 = b
        .create_job(&nj, SyncType::Incremental, None)
        .await
        .unwrap();
    a.set_job_state(j1.id, JobState::Running, None)
        .await
        .unwrap();
    let refused = b.set_job_state(j2.id, JobState::Running, None).await;
    assert!(
        matches!(&refused, Err(StoreError::Database(m)) if m.contains("another job")),
        "{refused:?}"
    );
    // Nor is it claimable while the first runs.
    assert!(b.claim_job("node-b", at(5)).await.unwrap().is_none());
    a.set_job_state(j1.id, JobState::Succeeded, None)
        .await
        .unwrap();
    let j = b.claim_job("node-b", at(5)).await.unwrap().unwrap();
    assert_eq!(j.id, j2.id);
}

/// The indexes the design depends on serve the store's statements: the
/// stored index loads from the digest index alone, in order; search reads
/// the prefix indexes as ranges, in order, and each element's own prefix
/// range from the index alone. At a few thousand rows a plain
/// scan would cost less, so the planner is told to prefer indexes: what is
/// shown is that they fit the statements, not what it picks at this size.
#[tokio::test]
async fn loads_and_searches_fit_their_indexes() {
    let Some((a, _, guard)) = two_nodes().await else {
        return;
    };
    let e = a.add_element(new_cm("cm1")).await.unwrap();
    let objects: Vec<Staged> = (0..5000u32)
        .map(|i| staged(&format!("{}", 10000 + i), &format!("Doe, Jane {i}")))
        .collect();
    fill(&a, &e, objects).await;
    let client = admin(&url()).await;
    for sql in [
        format!("SET search_path = \"{}\"", guard.schema),
        "SET enable_seqscan = off".into(),
        "SET enable_bitmapscan = off".into(),
    ] {
        client.batch_execute(&sql).await.unwrap();
    }
    let plan = |sql: String| {
        let client = &client;
        async move {
            let rows = client.query(&format!("EXPLAIN {sql}"), &[]).await.unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let load = plan(format!(
        "SELECT digest, hash, object_type FROM objects WHERE element_id = {} \
         AND digest >= '\\x00'::bytea AND digest <= '\\x7f'::bytea ORDER BY digest",
        e.id
    ))
    .await;
    assert!(
        load.contains("Index Only Scan using objects_digests") && !load.contains("Sort"),
        "{load}"
    );
    // Search's ranges, as its statement has them (with the text a value
    // here: the statement's are parameters).
    let range = |column: &str| {
        format!(
            "lower({column} COLLATE \"default\") ~>=~ lower('doe, jane 12') \
             AND lower({column} COLLATE \"default\") ~<~ (lower('doe, jane 12') || chr(1114111))"
        )
    };
    // Whether any object matches: the first of the range across elements.
    for (index, column) in [
        ("objects_key_prefix", "object_key"),
        ("objects_name_prefix", "name"),
    ] {
        let any = plan(format!(
            "SELECT lower({column} COLLATE \"default\") FROM objects WHERE {} \
             ORDER BY lower({column} COLLATE \"default\") USING ~<~ LIMIT 1",
            range(column)
        ))
        .await;
        assert!(
            any.contains(&format!("Index Scan using {index}"))
                && any.contains("~>=~")
                && !any.contains("Sort"),
            "{any}"
        );
    }
    // An element's matches (and the probe of whether it has any): its own
    // prefix range, from the index alone (migration 011), once the table's
    // pages are known to be visible to all, as they are once vacuumed.
    client
        .batch_execute("VACUUM ANALYZE objects")
        .await
        .unwrap();
    for (index, column) in [
        ("objects_element_key_prefix", "object_key"),
        ("objects_element_name_prefix", "name"),
    ] {
        let matches = plan(format!(
            "SELECT object_type, object_key FROM objects WHERE element_id = {} AND {} \
             ORDER BY object_type, object_key LIMIT 50",
            e.id,
            range(column)
        ))
        .await;
        assert!(
            matches.contains(&format!("Index Only Scan using {index}")) && matches.contains("~>=~"),
            "{matches}"
        );
    }
    // A text without letters: each type's range of keys, in order.
    let keys = plan(format!(
        "SELECT object_type, object_key FROM objects WHERE element_id = {} \
         AND object_type = 'station' AND object_key >= '1200' AND object_key < ('1200' || chr(1114111)) \
         ORDER BY object_key LIMIT 50",
        e.id
    ))
    .await;
    assert!(
        keys.contains("Index Only Scan using objects_pkey") && !keys.contains("Sort"),
        "{keys}"
    );
    let hits = a.search("DOE, jane 12", 0, 0).await.unwrap();
    assert_eq!(hits.len(), 111, "12, 120-129, 1200-1299");
    assert!(
        a.search("1000_", 0, 0).await.unwrap().is_empty(),
        "_ is no wildcard"
    );
    assert!(
        a.search("%", 0, 0).await.unwrap().is_empty(),
        "% is no wildcard"
    );
    assert_eq!(a.search("1000", 0, 0).await.unwrap().len(), 10);
}

#[tokio::test]
async fn schema_names_are_checked() {
    for bad in ["", "Upper", "1abc", "a-b", "a;drop", &"x".repeat(64)] {
        assert!(
            matches!(
                PgStore::connect_with_schema(&url(), bad, secret()).await,
                Err(StoreError::Database(m)) if m.contains("schema name")
            ),
            "{bad:?}"
        );
    }
}

/// Search reads few matches and many in different ways (see `PgStore`):
/// both give the same order and pages.
#[tokio::test]
async fn search_pages_alike_for_few_and_many_matches() {
    let Some((s, _, _guard)) = two_nodes().await else {
        return;
    };
    // Added first, listed second: results go by element name.
    let b = s.add_element(new_cm("cm-b")).await.unwrap();
    let a = s.add_element(new_cm("cm-a")).await.unwrap();
    let many: Vec<Staged> = (10000..16000)
        .map(|i| staged(&i.to_string(), &format!("Doe, Jane {i}")))
        .collect();
    fill(&s, &b, many).await;
    let mut few: Vec<Staged> = (0..100)
        .map(|i| staged(&(10000 + i).to_string(), &format!("Doe, John {i}")))
        .collect();
    few.push(crate::contract::staged_as("vdn", "doe-1", "doe-1 desk"));
    fill(&s, &a, few).await;

    let key = |h: &SearchHit| (h.element.clone(), h.object.id.key.clone());
    // Many matches: more than 5,000 names start with "doe".
    let all: Vec<(String, String)> = s
        .search("DOE", 0, 0)
        .await
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert_eq!(all.len(), 6101);
    let mut expected: Vec<(String, String)> = (10000..10100)
        .map(|i| ("cm-a".to_string(), i.to_string()))
        .collect();
    expected.push(("cm-a".into(), "doe-1".into()));
    expected.extend((10000..16000).map(|i| ("cm-b".to_string(), i.to_string())));
    // Types in order too: "station" before "vdn".
    expected.sort_by(|x, y| {
        let t = |k: &str| if k == "doe-1" { "vdn" } else { "station" };
        (&x.0, t(&x.1), &x.1).cmp(&(&y.0, t(&y.1), &y.1))
    });
    assert_eq!(all, expected);
    let mut paged = Vec::new();
    for page in 0..9 {
        let hits = s.search("doe", page * 700, 700).await.unwrap();
        paged.extend(hits.iter().map(key));
    }
    assert_eq!(paged, expected, "pages of many matches");
    // Few matches: sorted and paged here.
    let hits: Vec<_> = s
        .search("1000", 0, 0)
        .await
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let want: Vec<_> = ["cm-a", "cm-b"]
        .iter()
        .flat_map(|e| (10000..10010).map(move |i| (e.to_string(), i.to_string())))
        .collect();
    assert_eq!(hits, want);
    let page: Vec<_> = s
        .search("1000", 8, 4)
        .await
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert_eq!(page, want[8..12]);
    assert!(s.search("1000", 20, 5).await.unwrap().is_empty());
    // A match by key and by name is one hit.
    let both = s.search("Doe-1", 0, 0).await.unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(
        (
            both[0].object.id.object_type.as_str(),
            both[0].name.as_deref()
        ),
        ("vdn", Some("doe-1 desk"))
    );
    assert_eq!(
        s.search("doe, john 5", 0, 0).await.unwrap().len(),
        11,
        "5 and 50 to 59"
    );
    // Nothing typed: everything, in the same order.
    let first: Vec<_> = s.search("", 0, 3).await.unwrap().iter().map(key).collect();
    assert_eq!(first, expected[..3]);
}

/// A renewal that waits for a lock another session holds longer than the
/// lease still gives the lease its full length from when it is written.
#[tokio::test]
async fn a_renewal_held_up_by_a_slow_database_keeps_the_job_alive() {
    let Some(url) = database("the lease test is skipped").await else {
        return;
    };
    let guard = SchemaGuard::new(&url).await;
    let s = store_on(&url, &guard.schema).await;
    let lease = chrono::Duration::seconds(1);
    let job = running_on_a_lease(&s, lease).await;

    let mut other = admin(&url).await;
    let tx = other.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "LOCK TABLE \"{}\".jobs IN EXCLUSIVE MODE",
        guard.schema
    ))
    .await
    .unwrap();
    let renewal = tokio::spawn({
        let s = s.clone();
        async move { s.renew_leases("n1", chrono::Utc::now() + lease).await }
    });
    // The slow database: the lock held for twice the lease.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tx.commit().await.unwrap();
    renewal.await.unwrap().unwrap();
    let failed = s.fail_interrupted(None, chrono::Utc::now()).await.unwrap();
    assert!(failed.is_empty(), "failed as interrupted: {failed:?}");
    assert_eq!(
        s.job(job.id).await.unwrap().unwrap().state,
        JobState::Running
    );
}
