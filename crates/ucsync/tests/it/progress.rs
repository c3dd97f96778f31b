//! What the job view shows while an init runs: every total is known before
//! objects are read, so `expected` never grows.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::emulator;
use crate::service::Serve;

fn expected(job: &Value) -> BTreeMap<String, u64> {
    job["progress"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(t, v)| (t.clone(), v["expected"].as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_inits_totals_are_known_before_it_reads_and_never_grow() {
    // Slow enough that the init is seen many times while it runs.
    let cm = emulator(&["--latency-ms", "4"]);
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let (status, created) = serve
        .call(
            Method::POST,
            "/elements",
            Some(
                json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": cm.port,
                        "login": "dadmin", "password": "dadmin01"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["job"]["id"].as_i64().unwrap();
    let mut seen = Vec::new();
    let last = loop {
        let job = serve.get(&format!("/jobs/{id}")).await;
        if !["queued", "waiting", "running"].contains(&job["state"].as_str().unwrap()) {
            break job;
        }
        if !expected(&job).is_empty() {
            seen.push(job);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(last["state"], "succeeded", "{last}");
    let totals = expected(&last);
    assert!(totals.len() > 10, "every type of the catalog: {totals:?}");
    for job in &seen {
        assert_eq!(expected(job), totals, "expected grew: {job}");
    }
}
