//! The sync figures of BENCHMARKS.md. Run with `cargo bench -p ucsync --bench sync`
//! (`-- diff`, `-- init`, `-- latency`, `-- incremental`, `-- bulk` or
//! `-- preview` for one part).

use std::time::Instant;

mod support;

use support::{Emulator, cpu_seconds, peak_rss_mb, reset_peak, rss_mb};
use tokio::sync::mpsc;
use ucsync_connect::ReadEvent;
use ucsync_core::{
    ContentHash, Differ, ElementKind, ElementName, Fields, Object, ObjectId, Password, PlanOp,
    SecretKey, SyncType, Trigger,
};
use ucsync_emulator::cm::CmSettings;
use ucsync_engine::RunnerSettings;
use ucsync_engine::hashing::{HashedEvent, spawn_hasher};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{SatClient, SatConfig};
use ucsync_store::{ElementSettings, InitOutcome, NewElement, NewJob, SqliteStore, Staged, Store};
use ucsync_testkit::emulators;
use ucsync_testkit::rig::{Added, Rig};

/// An emulator with ucsync's own login and an outside one.
fn emulate(extra: &[&str]) -> Emulator {
    Emulator::start(
        &[
            &["--login", "ucsync:ucsync01", "--login", "craft:craft01"][..],
            extra,
        ]
        .concat(),
    )
}

/// A rig with the service's connectors: `sessions` SAT sessions per CM,
/// `pool` places for inits.
async fn rig(sessions: usize, pool: usize) -> Rig {
    Rig::with_factory(
        RunnerSettings {
            init_pool: pool,
            ..Default::default()
        },
        ucsync_testkit::service_factory(sessions),
    )
    .await
}

fn object(i: u64, variant: u64) -> Object {
    let key = (1_000_000 + i).to_string();
    let fields = (0..10)
        .map(|f| {
            (
                format!("{:04x}ff00", 0x8000 + f),
                if f == 3 {
                    format!("Name {i} v{variant}")
                } else {
                    format!("value {f} of {i}")
                },
            )
        })
        .collect();
    Object {
        id: ObjectId::new("station", key),
        fields: Fields::new(fields),
    }
}

async fn diff() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    let hash_key = secret.hash_key();
    let store = SqliteStore::open(&dir.path().join("ucsync.db"), secret)
        .await
        .expect("store");
    let e = store
        .add_element(NewElement {
            name: ElementName::parse("big").unwrap(),
            kind: ElementKind::Cm,
            host: "127.0.0.1".into(),
            alternate_host: None,
            port: 1,
            login: "l".into(),
            password: "p".into(),
            settings: ElementSettings::default(),
        })
        .await
        .expect("add");
    let job = store
        .create_job(
            &NewJob {
                element: e.name.clone(),
                requested: SyncType::Init,
                trigger: Trigger::OnDemand,
                requested_by: "bench".into(),
                dry_run: false,
            },
            SyncType::Init,
            None,
        )
        .await
        .expect("job");
    for start in (0..N).step_by(50_000) {
        let batch = (start..start + 50_000).map(|i| {
            let o = object(i, 0);
            Staged {
                hash: ContentHash::of(&hash_key, &o),
                id: o.id,
                op: PlanOp::Add,
                fields: o.fields,
                name: None,
                by_login: None,
                at_element: None,
            }
        });
        store.stage(job.id, batch.collect()).await.expect("stage");
    }
    store
        .commit_init(
            job.id,
            e.id,
            &[],
            &InitOutcome {
                version: "v".into(),
                format: 1,
                sync_point: None,
            },
        )
        .await
        .expect("commit");
    // The records arrive parsed, as from a connector: making them up (and
    // the memory they take) is not part of the figure.
    let records: Vec<Object> = (0..N).map(|i| object(i, u64::from(i % 100 == 0))).collect();
    let cold = diff_once(&store, e.id, hash_key, records).await;
    // The same again in the same process, as a running service diffs: its
    // allocator and the operating system's caches are warm.
    let mut cold = cold;
    let warm = diff_once(&store, e.id, hash_key, std::mem::take(&mut cold.records)).await;
    for (run, d) in [("first in the process", &cold), ("again", &warm)] {
        println!(
            "diff of {N} records (hashing included) against {N} rows in SQLite on disk, 1 % different, {run}: {:.2} s (the stored index loaded after {:.2} s; {:.2} s of CPU)",
            d.took.as_secs_f64(),
            d.loaded.as_secs_f64(),
            d.cpu,
        );
    }
    println!(
        "  peak RSS of the first diff above the records: {:.0} MB",
        cold.peak_mb
    );
}

struct Diffed {
    took: std::time::Duration,
    loaded: std::time::Duration,
    cpu: f64,
    /// Peak RSS above what the process held before (the records among it).
    peak_mb: f64,
    /// The records, given back after the clock stopped.
    records: Vec<Object>,
}

/// One diff as an init does it: the stored index loads on the store's reader
/// threads while the first records are hashed on every core, and the diff
/// looks the hashes up as they come.
async fn diff_once(
    store: &SqliteStore,
    element: i64,
    hash_key: [u8; 32],
    records: Vec<Object>,
) -> Diffed {
    let n = records.len();
    // Where the records go once diffed, so that releasing them (the
    // connector's part, like making them) happens after the clock stops.
    let mut spent: Vec<Option<Object>> = std::iter::repeat_with(|| None).take(n).collect();
    let before = rss_mb();
    reset_peak();
    let cpu = cpu_seconds();
    let t = Instant::now();
    let (tx, rx) = mpsc::channel(4096);
    let mut hashed = spawn_hasher(hash_key, rx);
    let feeding = async move {
        for o in records {
            tx.send(ReadEvent::Object(o)).await.expect("send");
        }
    };
    let diffing = async {
        let stored = store.object_hashes(element).await.expect("hashes");
        let loaded = t.elapsed();
        let mut differ = Differ::new(stored);
        let mut ops = 0;
        let mut i = 0;
        while let Some(events) = hashed.recv().await {
            differ.prefetch(events.iter().filter_map(HashedEvent::digest));
            for ev in events {
                if let HashedEvent::Object(o, h) = ev {
                    if differ.observe(&o.id.object_type, h).is_some() {
                        ops += 1;
                    }
                    spent[i] = Some(o);
                    i += 1;
                }
            }
        }
        (differ.finish(), ops, loaded)
    };
    let ((), (plan, ops, loaded)) = tokio::join!(feeding, diffing);
    let took = t.elapsed();
    let cpu = cpu_seconds() - cpu;
    let peak_mb = peak_rss_mb("/proc/self/status") - before;
    assert_eq!(ops, n / 100);
    assert!(plan.deletes.is_empty() && plan.leftover.is_empty());
    Diffed {
        took,
        loaded,
        cpu,
        peak_mb,
        records: spent
            .into_iter()
            .map(|o| o.expect("every record diffed"))
            .collect(),
    }
}

async fn init_large(latency: bool) {
    let sessions = if latency { 8 } else { 2 };
    let emu = if latency {
        emulate(&["--profile", "large", "--latency-ms", "20"])
    } else {
        emulate(&["--profile", "large"])
    };
    let r = rig(sessions, 8).await;
    reset_peak();
    let t = Instant::now();
    let job = r.queue(Added::cm("large", emu.port)).await;
    let job = r.runner.wait(job.id).await.expect("wait");
    let took = t.elapsed();
    assert_eq!(
        job.state,
        ucsync_core::JobState::Succeeded,
        "{:?}",
        job.error
    );
    let objects = job.counts.added;
    // One `list` per keyed type, one `display` per object, plus the sync point.
    let commands = objects + 14 + 9 + 3;
    if latency {
        let bound = commands as f64 * 0.020 / sessions as f64;
        println!(
            "init of the large profile, --latency-ms 20, {sessions} sessions: {:.1} s for {commands} commands; bound {bound:.1} s; {:+.1} %",
            took.as_secs_f64(),
            (took.as_secs_f64() / bound - 1.0) * 100.0
        );
    } else {
        println!(
            "init of the large profile ({objects} objects) over SSH into SQLite on disk, {sessions} sessions: {:.2} s, peak RSS {:.0} MB",
            took.as_secs_f64(),
            peak_rss_mb("/proc/self/status")
        );
    }
}

/// A dry run of the `large` profile's init against the init itself, each
/// into a fresh database (the init first, so the emulator is as warm for
/// the dry run), then applying the dry run's plan.
async fn preview() {
    let emu = emulate(&["--profile", "large"]);
    let real = rig(2, 8).await;
    let t = Instant::now();
    let job = real.queue(Added::cm("large", emu.port)).await;
    let job = real.runner.wait(job.id).await.expect("wait");
    let init = t.elapsed();
    assert_eq!(
        job.state,
        ucsync_core::JobState::Succeeded,
        "{:?}",
        job.error
    );
    let dry = rig(2, 8).await;
    let name = dry.add(Added::cm("large", emu.port)).await;
    let t = Instant::now();
    let r = dry
        .runner
        .request_job(NewJob {
            element: name,
            requested: SyncType::Init,
            trigger: Trigger::OnDemand,
            requested_by: "bench".into(),
            dry_run: true,
        })
        .await
        .expect("queued");
    let planned = dry.runner.wait(r.job.id).await.expect("wait");
    let preview = t.elapsed();
    assert_eq!(
        planned.state,
        ucsync_core::JobState::Succeeded,
        "{:?}",
        planned.error
    );
    assert_eq!(planned.counts.would_add, job.counts.added);
    let t = Instant::now();
    let applied = dry
        .runner
        .apply_plan(planned.id, "bench")
        .await
        .expect("applied");
    let apply = t.elapsed();
    assert_eq!(applied.counts.added, job.counts.added);
    println!(
        "large profile ({} objects), 2 sessions: init {:.2} s; dry run of the init {:.2} s ({:+.1} %); applying its plan {:.2} s",
        job.counts.added,
        init.as_secs_f64(),
        preview.as_secs_f64(),
        (preview.as_secs_f64() / init.as_secs_f64() - 1.0) * 100.0,
        apply.as_secs_f64()
    );
}

async fn incremental() {
    let emu = emulators::cm(CmSettings {
        counts: [("station".to_string(), 1000)].into(),
        ..emulators::cm_settings()
    })
    .await;
    let r = rig(2, 8).await;
    let j = r.queue(Added::cm("cm", emu.addr().port())).await;
    r.runner.wait(j.id).await.expect("wait");
    let mut c = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        "craft",
        Password::new("craft01"),
    );
    c.sessions = 2;
    let craft = SatClient::connect(c).await.expect("connect");
    for i in 0..1000 {
        craft
            .run(
                &Request::write(
                    &format!("change station {}", 1001 + i),
                    &[(station::NAME, Value::Set(format!("Changed, {i}")))],
                )
                .expect("request"),
            )
            .await
            .expect("change");
    }
    let t = Instant::now();
    let job = r.sync("cm", SyncType::Incremental).await;
    assert_eq!(
        (job.sync_type, job.counts.changed),
        (SyncType::Incremental, 1000),
        "{:?}",
        job.error
    );
    println!(
        "incremental applying 1000 history rows (1000 stations read again): {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

async fn bulk() {
    let emus: Vec<Emulator> = (0..50)
        .map(|i| {
            emulate(&[
                "--profile",
                "small",
                "--stations",
                "2000",
                "--seed",
                &i.to_string(),
            ])
        })
        .collect();
    let r = rig(2, 8).await;
    let t = Instant::now();
    let mut jobs = Vec::new();
    for (i, e) in emus.iter().enumerate() {
        jobs.push(r.queue(Added::cm(&format!("cm{i:02}"), e.port)).await);
    }
    for j in jobs {
        let j = r.runner.wait(j.id).await.expect("wait");
        assert_eq!(
            j.state,
            ucsync_core::JobState::Succeeded,
            "{}: {:?}",
            j.element,
            j.error
        );
    }
    println!(
        "bulk init of 50 CMs of 2,000 stations each, pool 8: {:.1} s (at most {} at once)",
        t.elapsed().as_secs_f64(),
        r.runner.peak_inits()
    );
}

#[tokio::main]
async fn main() {
    let want = support::wanted();
    if want("diff") {
        diff().await;
    }
    if want("init") {
        init_large(false).await;
    }
    if want("incremental") {
        incremental().await;
    }
    if want("bulk") {
        bulk().await;
    }
    if want("latency") {
        init_large(true).await;
    }
    if want("preview") {
        preview().await;
    }
}
