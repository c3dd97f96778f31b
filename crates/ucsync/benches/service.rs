//! The service figures of BENCHMARKS.md: `ucsync serve` run as its own
//! process from the built binary, on SQLite on disk, driven over HTTP.
//! Run with `cargo bench -p ucsync --bench service` (`-- search`, `-- jobs`,
//! `-- dispatch`, `-- schedule` or `-- retention` for one part; `-- tls`, HTTP against
//! HTTPS, runs only when named). The latency parts need
//! `wrk` (Debian's package).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use chrono::{DateTime, Utc};
use serde_json::json;
use support::data::{self, ELEMENTS, element_name, new_cm, peak_running, span, verify_ran_once};
use support::service::{Load, Server, wrk};
use ucsync_core::SecretKey;
use ucsync_store::Store;

/// Concurrent clients of the latency figures.
const CLIENTS: u32 = 50;
/// Seconds of load per figure, after a warm-up of `WARM_UP` seconds.
const SECONDS: u32 = 10;
const WARM_UP: u32 = 2;

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

/// What TLS costs: search's p99 at 50 keep-alive clients over plain HTTP
/// and over HTTPS, the two alternating (ABBA) so a busy machine weighs on
/// both alike; the medians of the rounds are compared.
async fn tls() {
    const ROUNDS: usize = 7;
    let (_temp, dir) = data::filled().await;
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
    let (_temp, dir) = data::filled().await;
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

/// 10,000 jobs queued in the database, then the service started on it; and
/// 10,000 more requested through the API while it serves.
async fn dispatch() {
    const PER_ELEMENT: usize = 100;
    let emus = support::empty_cms(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    let store = data::open(dir.path(), &secret).await;
    for e in 0..ELEMENTS {
        store
            .add_element(new_cm(&element_name(e), emus[e % emus.len()].port))
            .await
            .expect("add");
    }
    let t = Instant::now();
    let queued = data::queue_jobs(store.as_ref(), PER_ELEMENT).await;
    println!(
        "queued {} jobs on {ELEMENTS} elements ({} emulated CMs, empty) in {:.1} s",
        queued.len(),
        emus.len(),
        t.elapsed().as_secs_f64()
    );
    drop(store);
    data::give_key(dir.path(), &secret);

    let spawned = Utc::now();
    let server = Server::start(dir.path());
    server.wait_idle(Duration::from_secs(900)).await;
    let rss = server.peak_rss_mb();
    server.stop();
    let store = data::open(dir.path(), &secret).await;
    let jobs = verify_ran_once(store.as_ref(), &queued).await;
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
    let store = data::open(dir.path(), &secret).await;
    let all: HashSet<i64> = answered.iter().map(|(id, _)| *id).collect();
    let jobs = verify_ran_once(store.as_ref(), &all).await;
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
    let emus = support::empty_cms(N);
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
    data::fill_dir(dir.path(), &secret, DAYS).await;
    let db = dir.path().join("ucsync.db");
    let mb = |p: &Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6);
    let before = mb(&db);
    let store: Arc<dyn Store> = data::open(dir.path(), &secret).await;
    let (removed, jobs, left, took) = data::retention_run(store).await;
    println!(
        "retention: {} of {} jobs removed ({} change records) in {took:.1} s (target < 10 s: {}), {left} left; the database {before:.0} MB before, {:.0} MB after",
        removed.jobs,
        jobs,
        removed.changes,
        if took < 10.0 { "met" } else { "MISSED" },
        mb(&db)
    );
}
