//! The alarm figure of BENCHMARKS.md: how soon an alarm reaches a webhook
//! after the failure that raises it. Run with `cargo bench -p ucsync
//! --bench alarms`.
//!
//! `ucsync serve` (in this process, SQLite, its webhook a receiver on
//! loopback in this process) keeps a CM element whose address answers
//! nothing. Each round asks for an incremental, which fails (connection
//! refused) and raises an `unreachable` alarm; the figure is the time from
//! the job's end (its stored `finished_at`) to the receiver having the
//! signed POST. The alarm is then cleared, and its clear received, before
//! the next round, so that each failure raises a new alarm.

mod support;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use ucsync::serve::settings::WebhookSetting;
use ucsync::serve::{Listeners, Service, Settings};
use ucsync_core::{AlarmCondition, JobState, SyncType, Trigger};
use ucsync_testkit::rig::{self, Added};

const ROUNDS: usize = 300;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A webhook receiver on loopback: each POST's event and when it came.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, DateTime<Utc>)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let at = Utc::now();
            let tx = tx.clone();
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let _ = tx.send((v["event"].as_str().unwrap_or_default().to_string(), at));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn latency() {
    let (url, mut received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().join("data"),
        webhooks: vec![WebhookSetting {
            name: "bench".into(),
            url,
            secret: "a-benchmark-secret-0123456789".into(),
            ca_file: None,
        }],
        ..Settings::default()
    };
    let s = Service::start(
        settings,
        Listeners::loopback().await.unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    // An address where nothing listens: a port taken, then given back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = rig::add(s.runner.store().as_ref(), Added::cm("cm1", port)).await;
    let mut took = Vec::with_capacity(ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let job = s
            .runner
            .request(&name, SyncType::Init, Trigger::OnDemand, "bench")
            .await
            .unwrap()
            .job;
        let job = s.runner.wait(job.id).await.unwrap();
        assert_eq!(job.state, JobState::Failed, "{job:?}");
        let failed = job.finished_at.unwrap();
        let (event, at) = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the alarm within 10 s")
            .unwrap();
        assert_eq!(event, "raised");
        took.push((at - failed).to_std().unwrap_or_default());
        s.runner
            .alarms()
            .clear("cm1", &[AlarmCondition::Unreachable])
            .await;
        let (event, _) = received.recv().await.unwrap();
        assert_eq!(event, "cleared");
    }
    let elapsed = started.elapsed();
    took.sort();
    let p99 = pct(&took, 0.99);
    println!(
        "alarm to webhook over {ROUNDS} failures ({elapsed:.1?}): p50 {:.1?}, p90 {:.1?}, p99 {p99:.1?}, max {:.1?} (target p99 < 1 s)",
        pct(&took, 0.5),
        pct(&took, 0.9),
        took[took.len() - 1]
    );
    s.stop().await;
    assert!(
        p99 < Duration::from_secs(1),
        "p99 {p99:?} over the 1 s target"
    );
}

fn main() {
    let want = support::wanted();
    let rt = tokio::runtime::Runtime::new().unwrap();
    if want("latency") {
        rt.block_on(latency());
    }
}
