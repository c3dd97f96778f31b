//! Three `ucsync serve` processes on one PostgreSQL database, as an
//! operator runs a cluster: twelve CMs added at once never have more than
//! `init_pool` inits running, whichever node is asked; a schedule due while
//! all three run fires once; a CM's events, handed to each node in turn,
//! are each applied once; and the node running an init killed with SIGKILL
//! has it failed as interrupted within its lease and 5 s, nothing applied,
//! the element free for the next job.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_testkit::emulators::OUTSIDE as CRAFT;

use crate::cli::emulator;
use crate::cluster::twelve_inits_at_once;
use crate::notify::rename;
use crate::notify_cluster::balancer;
use crate::service::{SLOW_MS, Serve, add_cm, done, finished, fresh_postgres};

const LEASE_SECONDS: u64 = 3;

#[tokio::test]
async fn three_nodes_on_one_database_run_as_one_system_manager() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6f".repeat(32);
    let lease = LEASE_SECONDS.to_string();
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_INIT_POOL", "8"),
        ("UCSYNC_JOB_LEASE_SECONDS", lease.as_str()),
    ];
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    let mut nodes: Vec<Serve> = ["a", "b", "c"]
        .iter()
        .zip(&dirs)
        .map(|(n, d)| Serve::start_with(d.path(), &[&env[..], &[("UCSYNC_NODE", n)]].concat()))
        .collect();
    let token = nodes[0].token.clone();
    for n in &mut nodes[1..] {
        n.token = token.clone();
    }

    let all: Vec<&Serve> = nodes.iter().collect();
    let _cms = twelve_inits_at_once(&all, 8).await;
    a_schedule_fires_once(&all).await;
    events_handed_to_each_node_are_applied_once(&all).await;
    a_killed_nodes_init_is_failed_within_its_lease(nodes).await;

    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

/// A schedule of one incremental, due in 3 s, asked of node b: exactly one
/// job comes of it, though every node's scheduler looks.
async fn a_schedule_fires_once(nodes: &[&Serve]) {
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (status, schedule) = nodes[1]
        .call(
            Method::POST,
            "/schedules",
            Some(
                json!({"target": {"elements": ["cm0"]}, "sync_type": "incremental",
                        "first_run": due.to_rfc3339()}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{schedule}");
    let scheduled = |jobs: &Value| -> usize {
        jobs["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|j| j["trigger"] == "schedule")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while scheduled(&nodes[2].get("/jobs?element=cm0&limit=100").await) == 0 {
        assert!(Instant::now() < deadline, "the schedule never fired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several steps of every node's scheduler later, still one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for node in nodes {
        let jobs = node.get("/jobs?element=cm0&limit=100").await;
        assert_eq!(scheduled(&jobs), 1, "{jobs}");
    }
    let id = nodes[0].get("/jobs?element=cm0&limit=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let j = nodes[0].wait_job(id, finished).await;
    assert_eq!(j["state"], "succeeded", "{j}");
}

/// A CM's events go to a balancer that hands them to the nodes in turn:
/// three changes, one applied by each node, and the next incremental skips
/// all three.
async fn events_handed_to_each_node_are_applied_once(nodes: &[&Serve]) {
    let (lb, _) = balancer(nodes.iter().map(|n| n.syslog).collect()).await;
    let craft = format!("{}:{}", CRAFT.0, CRAFT.1);
    let target = format!("udp://{lb}");
    let emu = emulator(&[
        "--name",
        "cmn",
        "--login",
        &craft,
        "--notify-syslog",
        &target,
    ]);
    let mut body = add_cm("cmn", emu.port);
    body["notify_sync"] = json!(true);
    let (status, created) = nodes[0].call(Method::POST, "/elements", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let init = created["job"]["id"].as_i64().unwrap();
    let j = nodes[0].wait_job(init, finished).await;
    assert_eq!(j["state"], "succeeded", "{j}");
    let stations = nodes[0]
        .get("/elements/cmn/objects?type=station&limit=3")
        .await;
    let keys: Vec<String> = stations["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3, "{stations}");
    let sat = ucsync_testkit::emulators::sat(emu.port, CRAFT).await;
    for (i, ext) in keys.iter().enumerate() {
        let name = format!("Node turn {i}");
        rename(&sat, ext, &name).await;
        let path = format!("/elements/cmn/objects?type=station&key={ext}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !nodes[i].get(&path).await["items"]
            .to_string()
            .contains(&name)
        {
            assert!(
                Instant::now() < deadline,
                "station {ext} never became '{name}'"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for node in nodes {
        let (_, text) = node.metrics().await;
        assert!(
            text.lines()
                .any(|l| l == "ucsync_notify_events_applied_total 1"),
            "one event applied by each node:\n{text}"
        );
    }
    let (status, sync) = nodes[2]
        .call(
            Method::POST,
            "/sync",
            Some(json!({"type": "incremental", "elements": ["cmn"]})),
        )
        .await;
    assert_eq!(status, 202, "{sync}");
    let id = sync["jobs"][0]["job"]["id"].as_i64().unwrap();
    let j = nodes[2].wait_job(id, finished).await;
    assert_eq!(j["state"], "succeeded", "{j}");
    assert_eq!(j["counts"]["changed"], 0, "{j}");
    let log = j["log"].to_string();
    assert!(
        log.contains("skipped 3 history rows that notify sync already applied"),
        "{j}"
    );
}

/// The node that runs a slow init is killed: another fails the job as
/// interrupted within the lease and 5 s, nothing of it applied, and the
/// next init of the element runs.
async fn a_killed_nodes_init_is_failed_within_its_lease(mut nodes: Vec<Serve>) {
    let slow = emulator(&["--latency-ms", SLOW_MS]);
    let (status, created) = nodes[0]
        .call(Method::POST, "/elements", Some(add_cm("slow", slow.port)))
        .await;
    assert_eq!(status, 201, "{created}");
    let init = created["job"]["id"].as_i64().unwrap();
    let running = nodes[0]
        .wait_job(init, |j| done(j) > 50 || finished(j))
        .await;
    assert_eq!(running["state"], "running", "{running}");
    let on = running["node"].as_str().expect("a node").to_string();
    let at = ["a", "b", "c"].iter().position(|n| *n == on).unwrap();
    nodes.remove(at).kill();
    let killed = Instant::now();
    let failed = nodes[0].wait_job(init, |j| j["state"] != "running").await;
    let took = killed.elapsed();
    assert_eq!(
        (failed["state"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("interrupted")),
        "{failed}"
    );
    assert!(
        took <= Duration::from_secs(LEASE_SECONDS + 5),
        "failed {took:?} after the kill"
    );
    let element = nodes[1].get("/elements/slow").await;
    assert_eq!(element["objects"], 0, "nothing applied: {element}");
    let (_, again) = nodes[1]
        .call(
            Method::POST,
            "/sync",
            Some(json!({"type": "init", "elements": ["slow"]})),
        )
        .await;
    let id = again["jobs"][0]["job"]["id"].as_i64().unwrap();
    let j = nodes[0].wait_job(id, finished).await;
    assert_eq!(j["state"], "succeeded", "{j}");
    assert_ne!(j["node"], on.as_str(), "{j}");
}
