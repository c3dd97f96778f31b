//! Several nodes as one System Manager: the init pool bounds the inits
//! reading at once across every node sharing the database, each node is
//! listed with what it is and does, and a client of any node sees every
//! node's jobs.

use serde_json::Value;
use ucsync_testkit::sse::read_events;

use crate::cli::{Emulated, emulator};
use crate::service::{SLOW_MS, Serve, add_cm, done, finished, fresh_postgres};

/// Adds twelve small CMs at once, spread over the nodes, and watches every
/// node's running jobs until all twelve inits have ended: never more than
/// `pool` are running, whichever node is asked, and all succeed. Returns
/// the CMs, which run until dropped.
pub(crate) async fn twelve_inits_at_once(nodes: &[&Serve], pool: usize) -> Vec<Emulated> {
    let emus: Vec<Emulated> = (0..12)
        .map(|i| {
            let seed = (i + 1).to_string();
            emulator(&["--stations", "40", "--seed", &seed, "--latency-ms", "2"])
        })
        .collect();
    let adds = emus.iter().enumerate().map(|(i, emu)| {
        let node = nodes[i % nodes.len()];
        let body = add_cm(&format!("cm{i}"), emu.port);
        async move {
            node.call(reqwest::Method::POST, "/elements", Some(body))
                .await
        }
    });
    let mut inits = Vec::new();
    for (status, created) in futures::future::join_all(adds).await {
        assert_eq!(status, 201, "{created}");
        inits.push(created["job"]["id"].as_i64().unwrap());
    }
    let mut waiting_seen = false;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        for node in nodes {
            let running = node.get("/jobs?state=running&limit=100").await;
            let n = running["items"].as_array().expect("items").len();
            assert!(n <= pool, "{n} jobs running in a pool of {pool}: {running}");
        }
        let mut left = 0;
        for id in &inits {
            let job = nodes[0].get(&format!("/jobs/{id}")).await;
            waiting_seen |= job["state"] == "waiting";
            if job["state"] == "waiting" {
                assert_eq!(job["started_at"], Value::Null, "{job}");
            }
            if !finished(&job) {
                left += 1;
            } else {
                assert_eq!(job["state"], "succeeded", "{job}");
                assert!(job["node"].is_string(), "named by its node: {job}");
            }
        }
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} inits still not finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Whether any init had to wait depends on timing: only said.
    eprintln!("an init was seen waiting: {waiting_seen}");
    emus
}

#[tokio::test]
async fn two_nodes_on_postgres_share_one_init_pool() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6c".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_INIT_POOL", "8"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Serve::start_with(dir_a.path(), &env);
    let mut b = Serve::start_with(dir_b.path(), &env);
    b.token = a.token.clone();
    twelve_inits_at_once(&[&a, &b], 8).await;
    drop((a, b));
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn one_node_on_sqlite_keeps_the_same_pool() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &[("UCSYNC_INIT_POOL", "8")]);
    twelve_inits_at_once(&[&serve], 8).await;
    let nodes = serve.get("/nodes").await;
    let items = nodes["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{nodes}");
    assert_node(&items[0], &serve);
}

/// The node as `serve` is: its addresses, alive, a version.
fn assert_node(node: &Value, serve: &Serve) {
    let http = node["http"].as_str().expect("http");
    assert!(serve.url.ends_with(http), "{node} is not {}", serve.url);
    assert_eq!(node["syslog"], serve.syslog.to_string(), "{node}");
    assert_eq!(node["lost"], false, "{node}");
    assert!(
        node["version"].is_string() && node["started_at"].is_string(),
        "{node}"
    );
}

/// Two nodes list each other; one killed is shown lost once its heartbeat
/// has run out, and one stopped cleanly is no longer listed.
#[tokio::test]
async fn nodes_are_listed_and_a_dead_one_is_lost() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6d".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_JOB_LEASE_SECONDS", "3"),
    ];
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    let a = Serve::start_with(
        dirs[0].path(),
        &[&env[..], &[("UCSYNC_NODE", "a")]].concat(),
    );
    let mut b = Serve::start_with(
        dirs[1].path(),
        &[&env[..], &[("UCSYNC_NODE", "b")]].concat(),
    );
    let mut c = Serve::start_with(
        dirs[2].path(),
        &[&env[..], &[("UCSYNC_NODE", "c")]].concat(),
    );
    b.token = a.token.clone();
    c.token = a.token.clone();
    let nodes = b.get("/nodes").await;
    let items = nodes["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["a", "b", "c"], "{nodes}");
    for (n, s) in items.iter().zip([&a, &b, &c]) {
        assert_node(n, s);
    }
    c.kill();
    assert!(b.terminate().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let nodes = a.get("/nodes").await;
        let items = nodes["items"].as_array().expect("items").clone();
        let names: Vec<&str> = items.iter().filter_map(|n| n["name"].as_str()).collect();
        assert_eq!(names, ["a", "c"], "b stopped cleanly: {nodes}");
        if items[1]["lost"] == true {
            assert_eq!(items[0]["lost"], false, "{nodes}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed node is not shown lost: {nodes}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(a);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

/// A client of one node sees the jobs of another as they happen: node b
/// runs an init (it was alone when the CM was added), a client of node a
/// sees its progress and, once it asks a to stop it, its end.
#[tokio::test]
async fn a_client_of_one_node_sees_the_progress_of_a_job_on_another() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6e".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let b = Serve::start_with(dir_b.path(), &[&env[..], &[("UCSYNC_NODE", "b")]].concat());
    let slow = emulator(&["--latency-ms", SLOW_MS]);
    let (status, created) = b
        .call(
            reqwest::Method::POST,
            "/elements",
            Some(add_cm("cm1", slow.port)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["job"]["id"].as_i64().unwrap();
    b.wait_job(id, |j| j["state"] == "running" && done(j) > 0)
        .await;
    let mut a = Serve::start_with(dir_a.path(), &[&env[..], &[("UCSYNC_NODE", "a")]].concat());
    a.token = b.token.clone();
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/events", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let of_job = |(name, data): &(String, Value), kind: &str| {
        name == kind
            && match kind {
                "progress" => data["job"] == id,
                _ => data["job"]["id"] == id,
            }
    };
    let told = read_events(&mut stream, |evs| {
        evs.iter().filter(|e| of_job(e, "progress")).count() >= 2
    })
    .await;
    let done_told: Vec<u64> = told
        .iter()
        .filter(|e| of_job(e, "progress"))
        .map(|(_, d)| {
            d["progress"]
                .as_object()
                .unwrap()
                .values()
                .map(|p| p["done"].as_u64().unwrap())
                .sum()
        })
        .collect();
    assert!(
        done_told.windows(2).all(|w| w[0] <= w[1]),
        "progress goes on: {done_told:?}"
    );
    let (status, stopping) = a
        .call(reqwest::Method::POST, &format!("/jobs/{id}/stop"), None)
        .await;
    assert_eq!(status, 200, "{stopping}");
    let told = read_events(&mut stream, |evs| {
        evs.iter()
            .any(|e| of_job(e, "job") && e.1["job"]["state"] == "stopped")
    })
    .await;
    let end = &told.iter().rev().find(|e| of_job(e, "job")).unwrap().1["job"];
    assert_eq!(end["node"], "b", "run by b, told by a: {end}");
    drop((a, b));
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

/// The connections of database `db` listening for the nodes' events.
async fn listeners(admin: &tokio_postgres::Client, db: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND query LIKE 'LISTEN ucsync_events_%'",
            &[&db],
        )
        .await
        .unwrap()
        .get(0)
}

/// A node that lost its connection for the other nodes' events listens
/// again and tells its clients to read again (`lagged`, `missed` 0): what
/// the others told meanwhile was not heard.
#[tokio::test]
async fn a_node_that_lost_the_other_nodes_events_tells_its_clients_to_read_again() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6f".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_NODE", "a"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let a = Serve::start_with(dir.path(), &env);
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/events", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while listeners(&admin, &db).await == 0 {
        assert!(std::time::Instant::now() < deadline, "the node listens");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND query LIKE 'LISTEN ucsync_events_%'",
            &[&db],
        )
        .await
        .unwrap();
    let told = read_events(&mut stream, |evs| evs.iter().any(|(n, _)| n == "lagged")).await;
    let lagged = &told.iter().find(|(n, _)| n == "lagged").unwrap().1;
    assert_eq!(lagged["missed"], 0, "{lagged}");
    // And it listens again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while listeners(&admin, &db).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the node listens again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(a);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}
