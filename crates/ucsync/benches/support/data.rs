//! The data of the service and cluster figures: CMs of stations, agents,
//! VDNs, hunt groups and vectors with names from a fixed spread, stored as
//! their inits store them, with finished jobs after; and the checks of a
//! run of many jobs (each ran once, never two at once on an element).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ucsync_core::{
    ContentHash, ElementKind, ElementName, Fields, JobState, Object, ObjectId, PlanOp, SecretKey,
    SyncType, Trigger,
};
use ucsync_engine::{Retention, RetentionSettings};
use ucsync_ossi::wellknown::station;
use ucsync_store::{
    ElementSettings, InitOutcome, Job, JobCounts, NewElement, NewJob, Progress, Removed,
    SqliteStore, Staged, Store,
};

pub(crate) const ELEMENTS: usize = 100;

/// One element's objects, as a CM of a hundred sites might hold them: mostly
/// stations, then agents, VDNs, hunt groups and vectors (10,000 in all).
pub(crate) const TYPES: [(&str, usize); 5] = [
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
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub(crate) fn person(seed: u64) -> String {
    let r = mix(seed);
    format!(
        "{}, {}",
        SURNAMES[(r % SURNAMES.len() as u64) as usize],
        GIVEN[((r >> 32) % GIVEN.len() as u64) as usize]
    )
}

pub(crate) fn element_name(e: usize) -> String {
    format!("cm-{e:03}")
}

/// Object `n` of type `t` on element `e`: key, name and fields. Extensions
/// are seven digits with a three-digit site prefix per element and type
/// (stations of element 45 are 345xxxx), as on a network of CMs with one
/// dial plan (eight digits where a type has more than 10,000 of them on a
/// CM, `of`); hunt groups and vectors are numbered from 1 on every CM.
pub(crate) fn object(e: usize, t: &str, n: usize, of: usize) -> (Object, Option<String>) {
    let seed = ((e as u64) << 32) ^ (n as u64) ^ (t.len() as u64) << 24;
    let w = if of > 10_000 { 5 } else { 4 };
    let (key, name) = match t {
        "station" => (format!("{}{n:0w$}", 300 + e), Some(person(seed))),
        "agent-loginID" => (format!("{}{n:0w$}", 500 + e), Some(person(seed))),
        "vdn" => (
            format!("{}{n:0w$}", 700 + e),
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

pub(crate) fn new_cm(name: &str, port: u16) -> NewElement {
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

/// A job recorded as it would be after it ran: claimed, progress, counts, done.
pub(crate) async fn finish(store: &dyn Store, job: &Job, counts: JobCounts, progress: &Progress) {
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

/// `ELEMENTS` CMs of `types` objects each, stored as their inits store
/// them (staged in batches, applied by `commit_init` with a change-log row
/// per object), and `history` finished incrementals per element after
/// that. The elements point at a port nothing listens on: nothing here runs
/// a job.
pub(crate) async fn fill(
    store: &dyn Store,
    secret: &SecretKey,
    types: &[(&str, usize)],
    history: usize,
) {
    let t = Instant::now();
    let hash_key = secret.hash_key();
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
        let mut all = 0;
        for &(t, count) in types {
            // Staged a slice at a time, as an init stages what it reads.
            for from in (0..count).step_by(10_000) {
                let batch: Vec<Staged> = (from..count.min(from + 10_000))
                    .map(|n| {
                        let (o, name) = object(e, t, n, count);
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
            }
            progress.insert(t.to_string(), (count as u64, count as u64));
            objects += count;
            all += count as u64;
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
            added: all,
            ..JobCounts::default()
        };
        finish(store, &job, counts, &progress).await;
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
            finish(store, &job, counts, &progress).await;
        }
    }
    println!(
        "filled: {ELEMENTS} elements, {objects} objects in {:.1} s; {} jobs in {:.1} s more",
        objects_in.as_secs_f64(),
        ELEMENTS * (history + 1),
        (t.elapsed() - objects_in).as_secs_f64()
    );
}

/// When a job started and when it ended.
pub(crate) type Run = (DateTime<Utc>, DateTime<Utc>);

/// Checks from the database that each of `ids` ran once to success, and
/// that no element ever had two jobs running at once; returns the jobs.
pub(crate) async fn verify_ran_once(store: &dyn Store, ids: &HashSet<i64>) -> Vec<Job> {
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
pub(crate) fn peak_running(jobs: &[Job]) -> usize {
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

pub(crate) fn span(jobs: &[Job]) -> (DateTime<Utc>, DateTime<Utc>) {
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

/// `per_element` jobs queued on each of the `ELEMENTS` elements, straight
/// in the database; returns their ids.
pub(crate) async fn queue_jobs(store: &dyn Store, per_element: usize) -> HashSet<i64> {
    // A request joins an open job of the same or greater strength, so the
    // API never holds more than a few queued jobs per element: a queue of
    // 10,000 is one that was there when the service started (queued before
    // a restart, or by another node). Round by round, so that the oldest
    // jobs are always those of elements that are busy. Each element's first
    // job is an init, as adding it queues; every tenth job after is one too.
    let mut queued = HashSet::new();
    for k in 0..per_element {
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
    queued
}

/// The retention task's run with the default 90 days on a store of jobs
/// that finished in the order they were made (a year of days in a few
/// seconds): the cut-off is when the job a quarter of the way through
/// finished, as if its day were 90 days ago. Returns what it removed, the
/// jobs before and after, and the seconds it took.
pub(crate) async fn retention_run(store: Arc<dyn Store>) -> (Removed, usize, usize, f64) {
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
    (removed, jobs.len(), left, took)
}

/// 100 CMs of 10,000 objects each and `history` finished incrementals per
/// element after their inits, in the data directory `dir`.
pub(crate) async fn fill_dir(dir: &Path, secret: &SecretKey, history: usize) {
    let store = open(dir, secret).await;
    fill(store.as_ref(), secret, &TYPES, history).await;
    give_key(dir, secret);
}

pub(crate) async fn open(dir: &Path, secret: &SecretKey) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(&dir.join("ucsync.db"), secret.clone())
            .await
            .expect("store"),
    )
}

/// The service takes the installation key from its data directory: the
/// one the bench filled the database with.
pub(crate) fn give_key(dir: &Path, secret: &SecretKey) {
    ucsync::serve::write_private(&dir.join("secret.key"), &secret.to_hex()).expect("secret.key");
}

/// The data directory of the latency figures: filled (most of a minute),
/// or kept from before in `SERVICE_BENCH_DATA`.
pub(crate) async fn filled() -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().expect("tempdir");
    let kept = std::env::var_os("SERVICE_BENCH_DATA").map(std::path::PathBuf::from);
    let dir = kept.unwrap_or_else(|| temp.path().to_path_buf());
    if dir.join("secret.key").exists() {
        println!("the data filled before in {}", dir.display());
    } else {
        std::fs::create_dir_all(&dir).expect("data directory");
        fill_dir(&dir, &SecretKey::generate(), 200).await;
    }
    (temp, dir)
}
