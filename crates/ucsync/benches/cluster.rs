//! The figures of several nodes on PostgreSQL (BENCHMARKS.md): run with
//! `cargo bench -p ucsync --bench cluster` (`-- init`, `-- dispatch`,
//! `-- latency` or `-- retention` for one part). Each part makes a database
//! of its own on the server at `CLUSTER_BENCH_DATABASE_URL` (default the
//! local `postgres://postgres@127.0.0.1:5432/test`) and drops it after;
//! `CLUSTER_BENCH_KEEP=1` keeps the latency part's 4.1 million objects
//! (database `ucsync_bench_latency`) for the next run, since filling it
//! takes minutes. The latency part needs `wrk` (Debian's package).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::data::{self, TYPES, new_cm, peak_running, span, verify_ran_once};
use support::service::{Server, wrk};
use support::{Emulator, peak_rss_mb, reset_peak};
use ucsync_core::{JobState, SecretKey, SyncType};
use ucsync_engine::RunnerSettings;
use ucsync_store::{PgStore, Store};
use ucsync_testkit::rig::{self, Added, Rig};

/// The bench's installation key: fixed, so a kept database stays readable.
fn key() -> SecretKey {
    SecretKey::from_hex(&"5a".repeat(32)).expect("a key")
}

/// A database of the bench's own on the PostgreSQL server.
struct Database {
    admin: tokio_postgres::Client,
    name: String,
    url: String,
    keep: bool,
}

impl Database {
    /// `ucsync_bench_{what}`, new; or, kept, as the last run left it.
    async fn make(what: &str, keep: bool) -> (Database, bool) {
        let base = std::env::var("CLUSTER_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
        tokio::spawn(conn);
        let name = format!("ucsync_bench_{what}");
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .expect("pg_database")
            .is_some();
        let reused = keep && exists;
        if !reused {
            // One statement each: neither runs in a transaction block.
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                admin
                    .batch_execute(&sql)
                    .await
                    .expect("a database of the bench's own");
            }
        }
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => panic!("no database in {base}"),
        };
        let db = Database {
            admin,
            name,
            url,
            keep,
        };
        (db, reused)
    }

    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(
            PgStore::connect(&self.url, key())
                .await
                .expect("the bench's database"),
        )
    }

    /// `ucsync serve` as node `node` of this database, with its own data
    /// directory; `init_pool` 8.
    fn serve(&self, dir: &Path, node: &str) -> Server {
        let hex = key().to_hex();
        Server::start_env(
            dir,
            None,
            &[
                ("UCSYNC_DATABASE_URL", self.url.as_str()),
                ("UCSYNC_SECRET_KEY", hex.as_str()),
                ("UCSYNC_NODE", node),
                ("UCSYNC_INIT_POOL", "8"),
                ("UCSYNC_SYSLOG_LISTEN", "127.0.0.1:0"),
            ],
        )
    }

    /// What autovacuum does after a load, where the server runs without
    /// it (as a server set up for tests may): the planner's statistics, and
    /// the map of pages visible to all, without which reading from an
    /// index alone reads each row too. Quick once done.
    async fn vacuum(&self) {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("the bench's database");
        tokio::spawn(conn);
        client
            .batch_execute("VACUUM (ANALYZE)")
            .await
            .expect("vacuum the bench's database");
    }

    async fn done(self) {
        if !self.keep {
            self.admin
                .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
                .await
                .expect("drop the bench's database");
        }
    }
}

/// The `large` profile's init over SSH into PostgreSQL on loopback, in this
/// process (its RSS is the engine's), 2 SAT sessions.
async fn init() {
    let emu = Emulator::start(&["--login", "ucsync:ucsync01", "--profile", "large"]);
    let (db, _) = Database::make("init", false).await;
    let store = db.store().await;
    let runner = Rig::runner_with(
        &store,
        &key(),
        RunnerSettings::default(),
        ucsync_testkit::service_factory(2),
    );
    reset_peak();
    let t = Instant::now();
    let job = rig::queue(&runner, Added::cm("large", emu.port)).await;
    let job = runner.wait(job.id).await.expect("wait");
    let took = t.elapsed().as_secs_f64();
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let rss = peak_rss_mb("/proc/self/status");
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "init of the large profile ({} objects) over SSH into PostgreSQL on loopback, 2 sessions: {took:.2} s (target < 15 s: {}), peak RSS {rss:.0} MB (target < 300 MB: {})",
        job.counts.added,
        met(took < 15.0),
        met(rss < 300.0)
    );
    drop((runner, store));
    db.done().await;
}

/// 10,000 jobs queued in the database (every tenth an init), then three
/// nodes started on it: none lost, none run twice, never more than 8 inits
/// at once over the three.
async fn dispatch() {
    const PER_ELEMENT: usize = 100;
    // Three nodes keep three times the SAT sessions one does: three times
    // the CMs of the one-node figure, so none runs out.
    let emus = support::empty_cms(12);
    let (db, _) = Database::make("dispatch", false).await;
    let store = db.store().await;
    for e in 0..data::ELEMENTS {
        store
            .add_element(new_cm(&data::element_name(e), emus[e % emus.len()].port))
            .await
            .expect("add");
    }
    let queued = data::queue_jobs(store.as_ref(), PER_ELEMENT).await;
    let dirs = [(); 3].map(|_| tempfile::tempdir().expect("tempdir"));
    let first = db.serve(dirs[0].path(), "a");
    let mut nodes = vec![first];
    for (dir, name) in dirs[1..].iter().zip(["b", "c"]) {
        let mut node = db.serve(dir.path(), name);
        node.token = nodes[0].token.clone();
        nodes.push(node);
    }
    nodes[0].wait_idle(Duration::from_secs(900)).await;
    let rss: Vec<String> = nodes
        .iter()
        .map(|n| format!("{:.0}", n.peak_rss_mb()))
        .collect();
    for n in nodes {
        n.stop();
    }
    let jobs = verify_ran_once(store.as_ref(), &queued).await;
    let (from, to) = span(&jobs);
    let seconds = (to - from).as_seconds_f64();
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &jobs {
        *per_node
            .entry(j.node.as_deref().unwrap_or("none"))
            .or_default() += 1;
    }
    let inits: Vec<_> = jobs
        .iter()
        .filter(|j| j.sync_type != SyncType::Incremental)
        .cloned()
        .collect();
    let peak_inits = peak_running(&inits);
    println!(
        "10,000 queued jobs on three nodes: all succeeded, each ran once, never two at once on an element; {seconds:.1} s from the first start to the last end ({:.0} jobs/s), per node {per_node:?}; at most {} jobs and {peak_inits} inits at once (init_pool 8: {}); peak RSS per node {} MB",
        jobs.len() as f64 / seconds,
        peak_running(&jobs),
        if peak_inits <= 8 { "held" } else { "EXCEEDED" },
        rss.join(", ")
    );
    drop(store);
    db.done().await;
}

/// Search and the job list at 50 clients on 100 CMs of 41,000 stations
/// (4.1 million objects) and 20,100 finished jobs.
async fn latency() {
    let keep = std::env::var_os("CLUSTER_BENCH_KEEP").is_some();
    let (db, reused) = Database::make("latency", keep).await;
    let store = db.store().await;
    if reused && !store.elements().await.expect("elements").is_empty() {
        println!("the data filled before in {}", db.name);
    } else {
        data::fill(store.as_ref(), &key(), &[("station", 41_000)], 200).await;
    }
    drop(store);
    db.vacuum().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = db.serve(dir.path(), "a");
    if server.token.is_empty() {
        // A kept database: its first admin token was written by an
        // earlier run. One more, for this run.
        server.token = new_admin_token(&db).await;
    }
    for (q, what) in [
        ("3451", "key prefix: 10,000 stations of one CM"),
        ("34", "key prefix: the stations of ten CMs, 410,000"),
        ("miller", "name prefix: about 1 in 64 stations"),
        ("ma", "name prefix: three surnames in 64"),
    ] {
        let path = format!("/api/v1/search?q={q}");
        let page = server.get(&path).await;
        assert_eq!(page["items"].as_array().map_or(0, Vec::len), 50, "{q}");
        measure(&server, &format!("GET {path} ({what})"), &path);
    }
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs?element=cm-042",
        "/api/v1/jobs?state=succeeded",
    ] {
        measure(&server, &format!("GET {path} (20,100 jobs)"), path);
    }
    println!("  service peak RSS: {:.0} MB", server.peak_rss_mb());
    server.stop();
    db.done().await;
}

/// An admin token made straight in the database, as `ucsync token create`
/// would make it.
async fn new_admin_token(db: &Database) -> String {
    let store = db.store().await;
    let name = format!("bench-{}", std::process::id());
    let (_, secret) =
        ucsync_api::auth::create_token(store.as_ref(), &name, ucsync_core::Role::Admin)
            .await
            .expect("token");
    secret
}

fn measure(server: &Server, what: &str, path: &str) {
    let url = server.url(path);
    wrk(&url, &server.token, 50, 2);
    let l = wrk(&url, &server.token, 50, 10);
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms (target < 50 ms: {}), {:.0} requests/s",
        l.p50_ms,
        l.p99_ms,
        if l.p99_ms < 50.0 { "met" } else { "MISSED" },
        l.rps
    );
    assert!(l.all_ok(), "{what}: not every answer was 200");
}

/// Job retention on PostgreSQL, on a year of daily jobs: 100 CMs of 10,000
/// objects, their inits and 365 incrementals each.
async fn retention() {
    let (db, _) = Database::make("retention", false).await;
    let store = db.store().await;
    data::fill(store.as_ref(), &key(), &TYPES, 365).await;
    let (removed, jobs, left, took) = data::retention_run(store.clone()).await;
    println!(
        "retention on PostgreSQL: {} of {jobs} jobs removed ({} change records) in {took:.1} s (target < 10 s: {}), {left} left",
        removed.jobs,
        removed.changes,
        if took < 10.0 { "met" } else { "MISSED" },
    );
    drop(store);
    db.done().await;
}

#[tokio::main]
async fn main() {
    let want = support::wanted();
    if want("init") {
        init().await;
    }
    if want("dispatch") {
        dispatch().await;
    }
    if want("latency") {
        latency().await;
    }
    if want("retention") {
        retention().await;
    }
}
