//! The service figures of BENCHMARKS.md: `ucsync serve` run as its own
//! process from the built binary, on SQLite on disk, driven over HTTP.
//! Run with `cargo bench -p ucsync --bench service` (`-- search`, `-- jobs`,
//! `-- dispatch`, `-- schedule` or `-- retention` for one part; `-- tls`, HTTP against
//! HTTPS, runs only when named). The latency parts need
//! `wrk` (Debian's package).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use chrono::{DateTime, Utc};
use serde_json::json;
use support::Emulator;
use support::service::{Load, Server, wrk};
use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, Object, ObjectId, PlanOp, SecretKey,
    SyncType, Trigger,
};
use ucsync_engine::{Retention, RetentionSettings};
use ucsync_ossi::wellknown::station;
use ucsync_store::{
    ElementSettings, InitOutcome, Job, JobCounts, NewElement, NewJob, Progress, SqliteStore,
    Staged, Store,
};

/// Concurrent clients of the latency figures.
const CLIENTS: u32 = 50;
/// Seconds of load per figure, after a warm-up of `WARM_UP` seconds.
const SECONDS: u32 = 10;
const WARM_UP: u32 = 2;

const ELEMENTS: usize = 100;

/// One element's objects, as a CM of a hundred sites might hold them: mostly
/// stations, then agents, VDNs, hunt groups and vectors (10,000 in all).
const TYPES: [(&str, usize); 5] = [
    ("station", 8_000),
    ("agent-loginID", 1_000),
    ("vdn", 500),
    ("hunt-group", 300),
    ("vector", 200),
];

const SURNAMES: [&str; 64] = [
    "Adams",
    "Baker",
    "Bakker",
    "Becker",
    "Brown",
    "Campbell",
    "Clark",
    "Collins",
    "Davis",
    "de Jong",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Green",
    "Hall",
    "Harris",
    "Hoffmann",
    "Jansen",
    "Johnson",
    "Jones",
    "King",
    "Klein",
    "Koch",
    "Lambert",
    "Laurent",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Martinez",
    "Mason",
    "Meyer",
    "Miller",
    "Moore",
    "Morris",
    "Muller",
    "Murphy",
    "Nelson",
    "Novak",
    "Parker",
    "Peeters",
    "Perez",
    "Petit",
    "Roberts",
    "Robinson",
    "Rossi",
    "Schmidt",
    "Schneider",
    "Scott",
    "Smith",
    "Taylor",
    "Thomas",
    "Thompson",
    "Turner",
    "van Dijk",
    "Visser",
    "Wagner",
    "Walker",
    "Weber",
    "White",
    "Williams",
    "Wilson",
    "Wright",
];

const GIVEN: [&str; 32] = [
    "Alice", "Anna", "Ben", "Carla", "Chris", "David", "Emma", "Eva", "Frank", "Grace", "Hans",
    "Ines", "Jan", "Julia", "Karl", "Laura", "Lucas", "Maria", "Mark", "Nina", "Omar", "Paul",
    "Petra", "Quinn", "Rosa", "Sam", "Sara", "Tom", "Ute", "Victor", "Wim", "Zoe",
];

/// A deterministic spread of names (splitmix64), so runs are comparable.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn person(seed: u64) -> String {
    let r = mix(seed);
    format!(
        "{}, {}",
        SURNAMES[(r % SURNAMES.len() as u64) as usize],
        GIVEN[((r >> 32) % GIVEN.len() as u64) as usize]
    )
}

fn element_name(e: usize) -> String {
    format!("cm-{e:03}")
}

/// Object `n` of type `t` on element `e`: key, name and fields. Extensions
/// are seven digits with a three-digit site prefix per element and type
/// (stations of element 45 are 345xxxx), as on a network of CMs with one
/// dial plan; hunt groups and vectors are numbered from 1 on every CM.
fn object(e: usize, t: &str, n: usize) -> (Object, Option<String>) {
    let seed = ((e as u64) << 32) ^ (n as u64) ^ (t.len() as u64) << 24;
    let (key, name) = match t {
        "station" => (format!("{}{n:04}", 300 + e), Some(person(seed))),
        "agent-loginID" => (format!("{}{n:04}", 500 + e), Some(person(seed))),
        "vdn" => (
            format!("{}{n:04}", 700 + e),
            Some(format!(
                "Queue {} {}",
                ["Sales", "Support", "Billing"][n % 3],
                n
            )),
        ),
        "hunt-group" => (
            (n + 1).to_string(),
            Some(format!(
                "Group {} {}",
                ["Sales", "Support", "Billing"][n % 3],
                n
            )),
        ),
        _ => ((n + 1).to_string(), Some(format!("Vector {n}"))),
    };
    let mut fields = vec![
        (station::EXTENSION.to_string(), key.clone()),
        (station::NAME.to_string(), name.clone().unwrap_or_default()),
        (station::TYPE.to_string(), "9608".to_string()),
        (station::COR.to_string(), (1 + n % 5).to_string()),
        (station::COS.to_string(), (1 + n % 3).to_string()),
        (
            station::PORT.to_string(),
            format!("S{:05}", (seed % 100_000) as u32),
        ),
    ];
    for (i, f) in station::LIST.iter().enumerate().skip(6) {
        fields.push((f.to_string(), format!("v{i}-{}", seed % 997)));
    }
    (
        Object {
            id: ObjectId::new(t, key),
            fields: Fields::new(fields),
        },
        name,
    )
}

fn new_cm(name: &str, port: u16) -> NewElement {
    NewElement {
        name: ElementName::parse(name).expect("name"),
        kind: ElementKind::Cm,
        host: "127.0.0.1".into(),
        alternate_host: None,
        port,
        login: "ucsync".into(),
        password: "ucsync01".into(),
        settings: ElementSettings {
            own_logins: vec!["ucsync".into()],
            ..ElementSettings::default()
        },
    }
}

async fn open(dir: &Path, secret: &SecretKey) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(&dir.join("ucsync.db"), secret.clone())
            .await
            .expect("store"),
    )
}

/// The service takes the installation key from its data directory: the
/// one the bench filled the database with.
fn give_key(dir: &Path, secret: &SecretKey) {
    ucsync::serve::write_private(&dir.join("secret.key"), &secret.to_hex()).expect("secret.key");
}

/// A job recorded as it would be after it ran: claimed, progress, counts, done.
async fn finish(store: &SqliteStore, job: &Job, counts: JobCounts, progress: &Progress) {
    store
        .set_job_state(job.id, JobState::Running, None)
        .await
        .expect("running");
    store
        .set_job_progress(job.id, progress, &counts)
        .await
        .expect("progress");
    store
        .set_job_state(job.id, JobState::Succeeded, None)
        .await
        .expect("succeeded");
}

/// 100 CMs of 10,000 objects each, stored as their inits store them (staged
/// in batches, applied by `commit_init` with a change-log row per object),
/// and `history` finished incrementals per element after that. The elements
/// point at a port nothing listens on: nothing here runs a job.
async fn fill(dir: &Path, secret: &SecretKey, history: usize) {
    let t = Instant::now();
    let hash_key = secret.hash_key();
    let store = open(dir, secret).await;
    let mut objects = 0;
    for e in 0..ELEMENTS {
        let name = element_name(e);
        let el = store.add_element(new_cm(&name, 9)).await.expect("add");
        let job = store
            .create_job(
                &NewJob {
                    element: el.name.clone(),
                    requested: SyncType::Init,
                    trigger: Trigger::ElementAdded,
                    requested_by: "admin".into(),
                    dry_run: false,
                },
                SyncType::Init,
                None,
            )
            .await
            .expect("job");
        store
            .set_job_state(job.id, JobState::Running, None)
            .await
            .expect("running");
        let mut progress = Progress::new();
        for (t, count) in TYPES {
            let batch: Vec<Staged> = (0..count)
                .map(|n| {
                    let (o, name) = object(e, t, n);
                    Staged {
                        hash: ContentHash::of(&hash_key, &o),
                        id: o.id,
                        op: PlanOp::Add,
                        fields: o.fields,
                        name,
                        by_login: None,
                        at_element: None,
                    }
                })
                .collect();
            store.stage(job.id, batch).await.expect("stage");
            progress.insert(t.to_string(), (count as u64, count as u64));
            objects += count;
        }
        store
            .commit_init(
                job.id,
                el.id,
                &[],
                &InitOutcome {
                    version: "R018x.01.0.890.0".into(),
                    format: 1,
                    sync_point: Some("2026-11-27T03:00:00Z".into()),
                },
            )
            .await
            .expect("commit");
        let counts = JobCounts {
            added: 10_000,
            ..JobCounts::default()
        };
        finish(&store, &job, counts, &progress).await;
    }
    let objects_in = t.elapsed();
    for _ in 0..history {
        for e in 0..ELEMENTS {
            let job = store
                .create_job(
                    &NewJob {
                        element: ElementName::parse(&element_name(e)).expect("name"),
                        requested: SyncType::Incremental,
                        trigger: Trigger::Schedule,
                        requested_by: "scheduler".into(),
                        dry_run: false,
                    },
                    SyncType::Incremental,
                    None,
                )
                .await
                .expect("job");
            let counts = JobCounts {
                changed: 3,
                unchanged: 1,
                ..JobCounts::default()
            };
            let progress = Progress::from([("station".to_string(), (4, 4))]);
            finish(&store, &job, counts, &progress).await;
        }
    }
    println!(
        "filled: {ELEMENTS} elements, {objects} objects in {:.1} s; {} jobs in {:.1} s more",
        objects_in.as_secs_f64(),
        ELEMENTS * (history + 1),
        (t.elapsed() - objects_in).as_secs_f64()
    );
    give_key(dir, secret);
}

fn report(what: &str, l: &Load) {
    let mark = if l.p99_ms < 50.0 { "met" } else { "MISSED" };
    println!(
        "{what}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms (target < 50 ms: {mark}), max {:.0} ms, {:.0} requests/s, {} requests{}",
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.max_ms,
        l.rps,
        l.requests,
        if l.all_ok() {
            String::new()
        } else {
            format!(", {} answers not 2xx", l.failed)
        }
    );
}

/// One latency figure: a warm-up, then `SECONDS` of `CLIENTS` clients.
fn measure(server: &Server, what: &str, path: &str) -> Load {
    let url = server.url(path);
    wrk(&url, &server.token, CLIENTS, WARM_UP);
    let l = wrk(&url, &server.token, CLIENTS, SECONDS);
    report(what, &l);
    assert!(l.all_ok(), "{what}: not every answer was 200");
    l
}

/// The data directory of the latency figures: filled (most of a minute),
/// or kept from before in `SERVICE_BENCH_DATA`.
async fn filled() -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().expect("tempdir");
    let kept = std::env::var_os("SERVICE_BENCH_DATA").map(std::path::PathBuf::from);
    let dir = kept.unwrap_or_else(|| temp.path().to_path_buf());
    if dir.join("secret.key").exists() {
        println!("the data filled before in {}", dir.display());
    } else {
        std::fs::create_dir_all(&dir).expect("data directory");
        fill(&dir, &SecretKey::generate(), 200).await;
    }
    (temp, dir)
}

/// What TLS costs: search's p99 at 50 keep-alive clients over plain HTTP
/// and over HTTPS, the two alternating (ABBA) so a busy machine weighs on
/// both alike; the medians of the rounds are compared.
async fn tls() {
    const ROUNDS: usize = 7;
    let (_temp, dir) = filled().await;
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (pki.path().join("api.pem"), pki.path().join("api.key"));
    ucsync_testkit::pki::Leaf::self_signed(&["127.0.0.1"]).write(&cert, &key);
    let path = "/api/v1/search?q=3451";
    let (mut plain, mut https) = (Vec::new(), Vec::new());
    let (mut plain_rps, mut https_rps) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let order = if round % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for tls in order {
            let server = Server::start_with(&dir, tls.then_some((&*cert, &*key)));
            let scheme = if tls { "HTTPS" } else { "HTTP" };
            let l = measure(
                &server,
                &format!("round {round}, {scheme}: GET {path}"),
                path,
            );
            if tls { &mut https } else { &mut plain }.push(l.p99_ms);
            if tls { &mut https_rps } else { &mut plain_rps }.push(l.rps);
            server.stop();
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, t) = (median(&mut plain), median(&mut https));
    let cost = (t / p - 1.0) * 100.0;
    let mark = if cost < 10.0 { "met" } else { "MISSED" };
    println!(
        "search p99, median of {ROUNDS}: HTTP {p:.1} ms, HTTPS {t:.1} ms: TLS costs {cost:+.1} % (target < 10 %: {mark}); requests/s, median: HTTP {:.0}, HTTPS {:.0}",
        median(&mut plain_rps),
        median(&mut https_rps)
    );
}

/// Search and the jobs list on 1,000,000 objects, at 50 clients.
async fn latency(search: bool, jobs: bool) {
    let (_temp, dir) = filled().await;
    let dir = dir.as_path();
    let server = Server::start(dir);
    println!(
        "service started in {:.2} s",
        server.started_in.as_secs_f64()
    );
    if search {
        // What each query matches, to show which of search's plans it takes.
        for (q, what) in [
            ("3451", "key prefix: 1,000 stations of one CM"),
            (
                "34",
                "key prefix: 80,200 objects, the stations of ten CMs and hunt group and vector 34 of each",
            ),
            ("miller", "name prefix: 14,002 objects on every CM"),
            ("ma", "name prefix: 41,933 objects, three surnames in 64"),
        ] {
            let page = server.get(&format!("/api/v1/search?q={q}")).await;
            let n = page["items"].as_array().map_or(0, Vec::len);
            assert_eq!(n, 50, "{q}: a full first page");
            measure(
                &server,
                &format!("GET /api/v1/search?q={q} ({what})"),
                &format!("/api/v1/search?q={q}"),
            );
        }
    }
    if jobs {
        measure(&server, "GET /api/v1/jobs (20,100 jobs)", "/api/v1/jobs");
        measure(
            &server,
            "GET /api/v1/jobs?element=cm-042 (201 of 20,100 jobs)",
            "/api/v1/jobs?element=cm-042",
        );
        measure(
            &server,
            "GET /api/v1/jobs?state=succeeded",
            "/api/v1/jobs?state=succeeded",
        );
    }
    println!("  service peak RSS: {:.0} MB", server.peak_rss_mb());
    server.stop();
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 time")
        .to_utc()
}

/// When a job started and when it ended.
type Run = (DateTime<Utc>, DateTime<Utc>);

/// Checks from the database that each of `ids` ran once to success, and
/// that no element ever had two jobs running at once; returns the jobs.
async fn verify_ran_once(store: &SqliteStore, ids: &HashSet<i64>) -> Vec<Job> {
    let all = store.jobs(None, None, 0, 0).await.expect("jobs");
    let jobs: Vec<Job> = all.into_iter().filter(|j| ids.contains(&j.id.0)).collect();
    assert_eq!(jobs.len(), ids.len(), "every job is in the database");
    let mut by_element: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    for j in &jobs {
        assert_eq!(j.state, JobState::Succeeded, "job {}: {:?}", j.id, j.error);
        let started = j.started_at.expect("started");
        let finished = j.finished_at.expect("finished");
        // A job run twice would have ended twice: one final line per run.
        let ends = store
            .job_log_lines(j.id)
            .await
            .expect("log")
            .iter()
            .filter(|l| {
                ["succeeded", "failed", "stopped"]
                    .iter()
                    .any(|s| l.starts_with(s))
            })
            .count();
        assert_eq!(ends, 1, "job {} ended {ends} times", j.id);
        by_element
            .entry(&j.element)
            .or_default()
            .push((started, finished));
    }
    for (element, runs) in &mut by_element {
        runs.sort();
        for w in runs.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "{element}: a job started at {} while another ran until {}",
                w[1].0,
                w[0].1
            );
        }
    }
    jobs
}

/// The most jobs that ran at once, from their start and end times.
fn peak_running(jobs: &[Job]) -> usize {
    let mut edges: Vec<(DateTime<Utc>, i32)> = jobs
        .iter()
        .flat_map(|j| {
            [
                (j.started_at.expect("started"), 1),
                (j.finished_at.expect("finished"), -1),
            ]
        })
        .collect();
    // Ends before starts at the same millisecond: one job ending as the next
    // starts is not two at once.
    edges.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

fn span(jobs: &[Job]) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = jobs
        .iter()
        .filter_map(|j| j.started_at)
        .min()
        .expect("a start");
    let last = jobs
        .iter()
        .filter_map(|j| j.finished_at)
        .max()
        .expect("an end");
    (first, last)
}

/// Emulated CMs with nothing configured: each job's work is the protocol and
/// the database, not the data.
fn emulators(n: usize) -> Vec<Emulator> {
    (0..n)
        .map(|_| {
            Emulator::start(&[
                "--profile",
                "empty",
                "--max-sessions",
                "64",
                "--login",
                "ucsync:ucsync01",
            ])
        })
        .collect()
}

/// 10,000 jobs queued in the database, then the service started on it; and
/// 10,000 more requested through the API while it serves.
async fn dispatch() {
    const PER_ELEMENT: usize = 100;
    let emus = emulators(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    let store = open(dir.path(), &secret).await;
    for e in 0..ELEMENTS {
        store
            .add_element(new_cm(&element_name(e), emus[e % emus.len()].port))
            .await
            .expect("add");
    }
    // A request joins an open job of the same or greater strength, so the
    // API never holds more than a few queued jobs per element: a queue of
    // 10,000 is one that was there when the service started (queued before
    // a restart, or by another node). Round by round, so that the oldest
    // jobs are always those of elements that are busy. Each element's first
    // job is an init, as adding it queues; every tenth job after is one too.
    let t = Instant::now();
    let mut queued = HashSet::new();
    for k in 0..PER_ELEMENT {
        for e in 0..ELEMENTS {
            let ty = if k % 10 == 0 {
                SyncType::Init
            } else {
                SyncType::Incremental
            };
            let j = store
                .create_job(
                    &NewJob {
                        element: ElementName::parse(&element_name(e)).expect("name"),
                        requested: ty,
                        trigger: if k == 0 {
                            Trigger::ElementAdded
                        } else {
                            Trigger::OnDemand
                        },
                        requested_by: "bench".into(),
                        dry_run: false,
                    },
                    ty,
                    None,
                )
                .await
                .expect("job");
            queued.insert(j.id.0);
        }
    }
    println!(
        "queued {} jobs on {ELEMENTS} elements ({} emulated CMs, empty) in {:.1} s",
        queued.len(),
        emus.len(),
        t.elapsed().as_secs_f64()
    );
    drop(store);
    give_key(dir.path(), &secret);

    let spawned = Utc::now();
    let server = Server::start(dir.path());
    server.wait_idle(Duration::from_secs(900)).await;
    let rss = server.peak_rss_mb();
    server.stop();
    let store = open(dir.path(), &secret).await;
    let jobs = verify_ran_once(&store, &queued).await;
    let (first, last) = span(&jobs);
    let drained = (last - spawned).as_seconds_f64();
    println!(
        "10,000 queued jobs dispatched: all succeeded, each ran once, never two at once on an element; {drained:.1} s from the service's start to the last job's end ({:.1} s from the first job's start: {:.0} jobs/s), at most {} at once; service peak RSS {rss:.0} MB",
        (last - first).as_seconds_f64(),
        jobs.len() as f64 / (last - first).as_seconds_f64(),
        peak_running(&jobs),
    );
    drop(store);

    // Through the API: 50 clients, each asking for incrementals of its two
    // elements and waiting for them, a hundred times.
    let server = Arc::new(Server::start(dir.path()));
    let t = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS as usize {
        let server = server.clone();
        clients.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for _ in 0..PER_ELEMENT {
                let mut ids = Vec::new();
                for e in [c, c + CLIENTS as usize] {
                    let r = server
                        .post(
                            "/api/v1/sync",
                            json!({"type": "incremental", "elements": [element_name(e)]}),
                        )
                        .await;
                    let job = &r["jobs"][0];
                    let id = job["job"]["id"].as_i64().expect("id");
                    answered.push((id, job["joined"].as_bool().expect("joined")));
                    ids.push(id);
                }
                for id in ids {
                    loop {
                        let j = server.get(&format!("/api/v1/jobs/{id}")).await;
                        let state = j["state"].as_str().unwrap_or_default().to_string();
                        if ["succeeded", "failed", "stopped"].contains(&state.as_str()) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            answered
        }));
    }
    let mut answered = Vec::new();
    for c in clients {
        answered.extend(c.await.expect("client"));
    }
    let took = t.elapsed();
    let server = Arc::into_inner(server).expect("clients done");
    server.stop();
    let new: HashSet<i64> = answered
        .iter()
        .filter(|(_, joined)| !joined)
        .map(|(id, _)| *id)
        .collect();
    let joined = answered.len() - new.len();
    let store = open(dir.path(), &secret).await;
    let all: HashSet<i64> = answered.iter().map(|(id, _)| *id).collect();
    let jobs = verify_ran_once(&store, &all).await;
    let mut per_element: HashMap<&str, usize> = HashMap::new();
    for j in &jobs {
        *per_element.entry(&j.element).or_default() += 1;
    }
    println!(
        "10,000 incrementals requested through the API by {CLIENTS} clients, each waiting for its job: {} new jobs, {joined} requests joined one; all succeeded, each ran once, never two at once on an element; {:.1} s ({:.0} jobs/s), at most {} at once",
        new.len(),
        took.as_secs_f64(),
        new.len() as f64 / took.as_secs_f64(),
        peak_running(&jobs),
    );
}

/// Schedules created through the API with their first run a few seconds
/// ahead: how late their jobs are created, on an idle service and on one
/// answering 50 clients.
async fn schedule() {
    const N: usize = 10;
    // One emulated CM per element: the service takes one element per address.
    let emus = emulators(N);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    for (i, emu) in emus.iter().enumerate() {
        server.add_cm(&format!("s-{i}"), emu.port).await;
    }
    server.wait_idle(Duration::from_secs(120)).await;
    let idle = fire_round(&server, "idle", N).await;
    // The same again while 50 clients read the jobs list as fast as they can.
    let url = server.url("/api/v1/jobs");
    let token = server.token.clone();
    let load = std::thread::spawn(move || wrk(&url, &token, CLIENTS, 12));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy = fire_round(&server, "busy", N).await;
    let l = load.join().expect("load");
    report("  (the load meanwhile) GET /api/v1/jobs", &l);
    println!(
        "a due schedule fires: the latest {:.0} ms after its time (idle {:.0} ms, under load {:.0} ms; target < 1 s: {})",
        idle.max(busy),
        idle,
        busy,
        if idle.max(busy) < 1000.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    server.stop();
}

/// Creates `n` one-off schedules, one element each, due 3 s from now and
/// spread over the next 3 s at odd milliseconds; returns the largest delay
/// from a first run to its job's creation, in ms.
async fn fire_round(server: &Server, what: &str, n: usize) -> f64 {
    let start = Utc::now() + chrono::Duration::seconds(3);
    let mut due = Vec::new();
    for i in 0..n {
        let first_run = start + chrono::Duration::milliseconds(317 * i as i64);
        server
            .post(
                "/api/v1/schedules",
                json!({"name": format!("{what} {i}"), "target": {"elements": [format!("s-{i}")]},
                       "sync_type": "incremental", "first_run": first_run.to_rfc3339()}),
            )
            .await;
        due.push(first_run);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut delays = vec![None; n];
    while delays.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "schedules did not fire");
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..n {
            if delays[i].is_some() {
                continue;
            }
            let page = server
                .get(&format!("/api/v1/jobs?element=s-{i}&limit=5"))
                .await;
            let fired = page["items"].as_array().and_then(|items| {
                items.iter().find(|j| {
                    j["trigger"] == "schedule"
                        && j["created_at"]
                            .as_str()
                            .is_some_and(|c| time(c) >= due[i] - chrono::Duration::seconds(1))
                })
            });
            if let Some(j) = fired {
                let created = time(j["created_at"].as_str().expect("created_at"));
                delays[i] = Some((created - due[i]).as_seconds_f64() * 1000.0);
            }
        }
    }
    let delays: Vec<f64> = delays.into_iter().map(Option::unwrap_or_default).collect();
    let max = delays.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "schedules, {what}: job created {} ms after the due time (max {max:.0} ms)",
        delays
            .iter()
            .map(|d| format!("{d:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    max
}

#[tokio::main]
async fn main() {
    let want = support::wanted();
    if want("search") || want("jobs") {
        latency(want("search"), want("jobs")).await;
    }
    // Not part of a plain run: it starts the service six times.
    if support::named().iter().any(|a| a == "tls") {
        tls().await;
    }
    if want("dispatch") {
        dispatch().await;
    }
    if want("schedule") {
        schedule().await;
    }
    if want("retention") {
        retention().await;
    }
}

/// Job retention on a year of daily jobs: 100 CMs of 10,000 objects, their
/// inits and 365 incrementals each, and the retention task's run with the
/// default 90 days that removes three quarters of them, the inits' change
/// logs (a million records) with them — what the first start of a version
/// with retention does to an installation a year old; a day's run after it
/// removes a hundred jobs.
async fn retention() {
    const DAYS: usize = 365;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    fill(dir.path(), &secret, DAYS).await;
    let db = dir.path().join("ucsync.db");
    let mb = |p: &Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6);
    let before = mb(&db);
    let store: Arc<dyn Store> = open(dir.path(), &secret).await;
    // The jobs finished in the order they were made, a year of days in a
    // few seconds: the cut-off is when the job three quarters of the way
    // through finished, as if its day were 90 days ago.
    let jobs = store.jobs(None, None, 0, 0).await.expect("jobs");
    let cut = jobs[jobs.len() / 4].finished_at.expect("finished");
    let clock = Arc::new(ucsync_schedule::ManualClock::new(
        cut + chrono::Duration::days(90),
    ));
    let task = Retention::new(
        store.clone(),
        clock,
        RetentionSettings::default(),
        Arc::default(),
    );
    let t = Instant::now();
    let removed = task
        .step()
        .await
        .expect("retention")
        .expect("the day's run");
    let took = t.elapsed().as_secs_f64();
    let left = store.jobs(None, None, 0, 0).await.expect("jobs").len();
    drop((task, store));
    println!(
        "retention: {} of {} jobs removed ({} change records) in {took:.1} s (target < 10 s: {}), {left} left; the database {before:.0} MB before, {:.0} MB after",
        removed.jobs,
        jobs.len(),
        removed.changes,
        if took < 10.0 { "met" } else { "MISSED" },
        mb(&db)
    );
}
