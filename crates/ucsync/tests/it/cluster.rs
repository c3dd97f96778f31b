//! Several nodes as one System Manager: the init pool bounds the inits
//! reading at once across every node sharing the database.

use serde_json::Value;

use crate::cli::Emulator;
use crate::service::{Serve, add_cm, finished, fresh_postgres};

/// Adds twelve small CMs at once, spread over the nodes, and watches every
/// node's running jobs until all twelve inits have ended: never more than
/// `pool` are running, whichever node is asked, and all succeed.
async fn twelve_inits_at_once(nodes: &[&Serve], pool: usize) {
    let emus: Vec<Emulator> = (0..12)
        .map(|i| {
            let seed = (i + 1).to_string();
            Emulator::start(&["--stations", "40", "--seed", &seed, "--latency-ms", "2"])
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
}
