//! The OSSI figures of BENCHMARKS.md: the `large` emulator's start and memory,
//! `list` of every object type, and `display` of every station, with no
//! latency and with `--latency-ms 20`.
//!
//! Run with `cargo bench -p ucsync --bench ossi` (add `-- --quick` to skip the
//! latency run, which takes about 41,000 × 20 ms ÷ sessions).

use std::time::{Duration, Instant};

mod support;

use support::{Emulator, peak_rss_mb};

use futures::StreamExt;
use ucsync_core::Password;
use ucsync_emulator::cm::Model;
use ucsync_sat::{SatClient, SatConfig};

fn config(port: u16, sessions: usize) -> SatConfig {
    let mut c = SatConfig::new("127.0.0.1", port, "bench", Password::new("bench01"));
    c.sessions = sessions;
    c.window = 32;
    c
}

async fn display_all(client: &SatClient, keys: &[String], in_flight: usize) -> Duration {
    let t = Instant::now();
    let mut fields = 0usize;
    let mut answers = futures::stream::iter(keys)
        .map(|k| async move { client.command(&format!("display station {k}")).await })
        .buffer_unordered(in_flight);
    while let Some(r) = answers.next().await {
        fields += r.expect("display").records[0].len();
    }
    assert!(fields >= keys.len() * 30);
    t.elapsed()
}

const LARGE: [&str; 4] = ["--profile", "large", "--login", "bench:bench01"];

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let model = Model::builtin().expect("forms");
    let types: Vec<String> = model
        .forms
        .iter()
        .filter(|f| f.is_keyed())
        .map(|f| f.words.join(" "))
        .collect();

    let emu = Emulator::start(&LARGE);
    println!(
        "emulator, large profile: listening after {:.2} s",
        emu.started_in.as_secs_f64()
    );
    let sessions = 2;
    let client = SatClient::connect(config(emu.port, sessions))
        .await
        .expect("connect");

    let t = Instant::now();
    let lists: Vec<_> = futures::future::join_all(types.iter().map(|ty| {
        let client = &client;
        async move {
            (
                ty,
                client
                    .command(&format!("list {ty}"))
                    .await
                    .expect("list")
                    .records
                    .len(),
            )
        }
    }))
    .await;
    let list_time = t.elapsed();
    let records: usize = lists.iter().map(|(_, n)| n).sum();
    println!(
        "list of every object type ({} types, {records} records, {sessions} sessions): {:.2} s",
        types.len(),
        list_time.as_secs_f64()
    );
    let keys: Vec<String> = client
        .command("list station")
        .await
        .expect("list station")
        .records
        .iter()
        .map(|r| {
            r.get(ucsync_ossi::wellknown::station::EXTENSION)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    println!(
        "client peak RSS after the lists: {:.0} MB",
        peak_rss_mb("/proc/self/status")
    );

    let d = display_all(&client, &keys, sessions * 32).await;
    println!(
        "display of {} stations, all fields, no latency, {sessions} sessions: {:.2} s",
        keys.len(),
        d.as_secs_f64()
    );
    println!(
        "client peak RSS: {:.0} MB",
        peak_rss_mb("/proc/self/status")
    );
    println!("emulator peak RSS: {:.0} MB", emu.peak_rss_mb());
    client.close().await;
    drop(emu);

    if quick {
        return;
    }
    let sessions = 10;
    let emu =
        Emulator::start(&[&LARGE[..], &["--latency-ms", "20", "--max-sessions", "10"]].concat());
    let client = SatClient::connect(config(emu.port, sessions))
        .await
        .expect("connect");
    let d = display_all(&client, &keys, sessions * 32).await;
    let bound = keys.len() as f64 * 0.020 / sessions as f64;
    println!(
        "display of {} stations with --latency-ms 20, {sessions} sessions: {:.1} s; bound {:.1} s; {:+.1} %",
        keys.len(),
        d.as_secs_f64(),
        bound,
        (d.as_secs_f64() / bound - 1.0) * 100.0
    );
    client.close().await;
}
