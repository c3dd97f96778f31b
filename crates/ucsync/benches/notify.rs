//! The notify-sync figures of BENCHMARKS.md. Run with
//! `cargo bench -p ucsync --bench notify` (`-- latency` or `-- listener` for one part).
//!
//! - latency: `ucsync serve` (in this process, SQLite) and a CM emulator
//!   sending its events over UDP; an outside SAT login changes one station
//!   every 10 ms (100 changes/s) and the time from each command's
//!   acknowledgement to the new name being in the database is taken (the
//!   database is polled every 2 ms, so a figure can be up to 2 ms late).
//! - listener: 5,000 events/s for 10 s over UDP on loopback, from one
//!   sender, to a CM whose notify sync is off: every event must be received,
//!   parsed and checked (none lost, none dropped as overloaded).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use ucsync::serve::{Listeners, Service, Settings};
use ucsync_emulator::cm::CmSettings;
use ucsync_emulator::cm::notify::NotifyTarget;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_store::{ElementSettings, ObjectQuery};
use ucsync_testkit::emulators;
use ucsync_testkit::rig::{self, Added};

async fn service(rate: u32) -> (Service, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().join("data"),
        syslog_rate_per_sender: rate,
        syslog_burst_per_sender: rate,
        ..Settings::default()
    };
    let listeners = Listeners::loopback().await.unwrap();
    let s = Service::start(settings, listeners, Default::default())
        .await
        .unwrap();
    (s, dir)
}

async fn add(s: &Service, name: &str, port: u16, notify_sync: bool) -> ucsync_store::Element {
    let e = Added {
        settings: ElementSettings {
            notify_sync,
            ..Default::default()
        },
        ..Added::cm(name, port)
    };
    let job = rig::add_and_init(&s.runner, e).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:?}");
    s.runner.store().element(name).await.unwrap().unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn latency() {
    let (s, _dir) = service(1000).await;
    let emu = emulators::cm(CmSettings {
        name: "cm1".into(),
        counts: [("station".to_string(), 200)].into(),
        notify: Some(
            NotifyTarget::parse(&format!("udp://127.0.0.1:{}", s.syslog_addr.port()), None)
                .unwrap(),
        ),
        ..emulators::cm_settings()
    })
    .await;
    let e = add(&s, "cm1", emu.addr().port(), true).await;
    let sat = emulators::sat(emu.addr().port(), emulators::OUTSIDE).await;
    let keys = emu.cm().keys("station");
    let total = 1000usize;

    // The poller: when each new name is first seen in the database.
    let seen: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = {
        let (seen, stop, store, id) = (seen.clone(), stop.clone(), s.runner.store().clone(), e.id);
        tokio::spawn(async move {
            let q = ObjectQuery {
                object_type: Some("station".into()),
                limit: 10_000,
                ..Default::default()
            };
            let name = station::NAME.to_string();
            while !stop.is_cancelled() {
                let objs = store.objects(id, &q).await.unwrap();
                let now = Instant::now();
                {
                    let mut seen = seen.lock().unwrap();
                    for o in objs {
                        if let Some(n) = o.fields.get(&name).filter(|n| n.starts_with("Bench ")) {
                            seen.entry(n.to_string()).or_insert(now);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut acked: Vec<(String, Instant)> = Vec::with_capacity(total);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let key = &keys[i % keys.len()];
        let name = format!("Bench {i}");
        let r = sat
            .run(
                &Request::write(
                    &format!("change station {key}"),
                    &[(station::NAME, Value::Set(name.clone()))],
                )
                .unwrap(),
            )
            .await
            .unwrap();
        assert!(r.failure().is_none(), "{:?}", r.failure());
        acked.push((name, Instant::now()));
    }
    let sending = started.elapsed();
    // Every change lands (or the bench says which did not).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = seen.lock().unwrap().len();
        if n >= total || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    poller.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let mut delays: Vec<Duration> = acked
        .iter()
        .filter_map(|(n, at)| seen.get(n).map(|t| t.saturating_duration_since(*at)))
        .collect();
    delays.sort();
    let stats = s.runner.notify_stats();
    println!(
        "latency: {} changes in {:.1} s ({:.0}/s); {} seen in the database; events received {}, applied {}, merged {}",
        total,
        sending.as_secs_f64(),
        total as f64 / sending.as_secs_f64(),
        delays.len(),
        stats.received(),
        stats.applied(),
        stats.merged()
    );
    println!(
        "SAT ack -> committed: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (targets: p50 < 50 ms, p99 < 250 ms)",
        pct(&delays, 0.5).as_secs_f64() * 1e3,
        pct(&delays, 0.9).as_secs_f64() * 1e3,
        pct(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    assert_eq!(
        delays.len(),
        total,
        "changes that never reached the database"
    );
    drop(seen);
    s.stop().await;
}

async fn listener() {
    let (s, _dir) = service(100_000).await;
    let emu = emulators::cm(CmSettings {
        counts: [("station".to_string(), 10)].into(),
        logins: vec![(emulators::OWN.0.into(), emulators::OWN.1.into())],
        ..CmSettings::default()
    })
    .await;
    add(&s, "cm1", emu.addr().port(), false).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(s.syslog_addr).await.unwrap();
    let (rate, seconds) = (5_000u64, 10u64);
    let total = rate * seconds;
    let msg = |i: u64| {
        format!(
            "<13>1 2026-11-26T10:02:03.000Z cm1 cm-notify - change [ucsyncNotify@32473 login=\"craft\" action=\"change\" object=\"station\" qualifier=\"{}\" time=\"2026-11-26T10:02:03\"] craft change station {}",
            1001 + i % 1000,
            1001 + i % 1000
        )
    };
    // Paced in 1 ms steps of 5 messages.
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let per_tick = rate / 1000;
    let mut i = 0;
    while i < total {
        tick.tick().await;
        for _ in 0..per_tick {
            sock.send(msg(i).as_bytes()).await.unwrap();
            i += 1;
        }
    }
    let sending = started.elapsed();
    let stats = s.runner.notify_stats();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.ignored("notify-sync-off") < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "listener: sent {total} in {:.2} s ({:.0}/s); received {}, checked {}, overloaded {}, rate-limited {}, malformed {}; lost {}",
        sending.as_secs_f64(),
        total as f64 / sending.as_secs_f64(),
        stats.received(),
        stats.ignored("notify-sync-off"),
        stats.ignored("overloaded"),
        stats.ignored("rate-limited"),
        stats.malformed("malformed"),
        total - stats.received()
    );
    s.stop().await;
}

fn main() {
    let want = support::wanted();
    let rt = tokio::runtime::Runtime::new().unwrap();
    if want("latency") {
        rt.block_on(latency());
    }
    if want("listener") {
        rt.block_on(listener());
    }
}
