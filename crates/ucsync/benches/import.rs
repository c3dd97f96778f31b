//! The import figure of BENCHMARKS.md: 1,000 elements imported through
//! `POST /api/v1/import` into `ucsync serve` run as its own process (SQLite
//! on disk) — every row validated, all stored in one transaction, and each
//! CM's initializing sync queued — in under 2 s. The inits then run and
//! fail (nothing listens at the elements' ports): the figure is the
//! import's answer, not the syncs.
//! Run with `cargo bench -p ucsync --bench import`.

use std::time::{Duration, Instant};

mod support;

use serde_json::{Value, json};
use support::service::Server;

const ROWS: usize = 1_000;
const RUNS: usize = 3;
/// What the issue asks of an import of 1,000 elements.
const TARGET: Duration = Duration::from_secs(2);

/// Run `run`'s rows: CMs at ports of their own (one element per address).
fn rows(run: usize) -> Vec<Value> {
    (0..ROWS)
        .map(|i| {
            json!({"name": format!("cm-{run}-{i:04}"), "kind": "cm", "host": "127.0.0.1",
                   "port": 10_000 + run * ROWS + i, "login": "ucsync", "password": "ucsync01"})
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a data directory");
    let server = Server::start(dir.path());
    let mut checked = Vec::new();
    let mut imported = Vec::new();
    for run in 0..RUNS {
        let elements = rows(run);
        let t = Instant::now();
        let r = server
            .post(
                "/api/v1/import",
                json!({"elements": elements, "dry_run": true}),
            )
            .await;
        checked.push(t.elapsed());
        assert_eq!(r["invalid"], 0, "{r}");
        let t = Instant::now();
        let r = server
            .post("/api/v1/import", json!({"elements": elements}))
            .await;
        imported.push(t.elapsed());
        assert_eq!(r["added"], ROWS, "{r}");
        let queued = r["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|row| row["job"]["type"] == "init")
            .count();
        assert_eq!(queued, ROWS, "every CM's init queued");
    }
    checked.sort();
    imported.sort();
    let median = |d: &[Duration]| d[d.len() / 2];
    println!(
        "import {ROWS} elements (validated, stored, inits queued): median {:.0} ms of {RUNS} (each {}); a dry run: {:.0} ms",
        median(&imported).as_secs_f64() * 1e3,
        imported
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", "),
        median(&checked).as_secs_f64() * 1e3,
    );
    let ok = median(&imported) < TARGET;
    println!(
        "target < {} s: {}",
        TARGET.as_secs(),
        if ok { "met" } else { "NOT met" }
    );
    server.stop();
    if !ok {
        std::process::exit(1);
    }
}
