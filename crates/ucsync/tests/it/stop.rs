//! Stopping jobs through the REST API and the CLI of the real service: a
//! running init that is reading, one waiting for a place in the init pool,
//! and a job that has already finished.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{BIN, Emulated, emulator};
use crate::service::Serve;

fn add_cm(name: &str, port: u16) -> Value {
    json!({"name": name, "kind": "cm", "host": "127.0.0.1", "port": port,
           "login": "dadmin", "password": "dadmin01"})
}

fn done(job: &Value) -> u64 {
    job["progress"]
        .as_object()
        .map(|p| p.values().map(|v| v["done"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

fn state(job: &Value) -> &str {
    job["state"].as_str().unwrap_or_default()
}

async fn add(serve: &Serve, name: &str, port: u16) -> i64 {
    let (status, created) = serve
        .call(Method::POST, "/elements", Some(add_cm(name, port)))
        .await;
    assert_eq!(status, 201, "{created}");
    created["job"]["id"].as_i64().expect("the automatic init")
}

async fn stop(serve: &Serve, id: i64) -> (u16, Value) {
    serve
        .call(Method::POST, &format!("/jobs/{id}/stop"), None)
        .await
}

#[tokio::test]
async fn a_stop_ends_a_reading_init_and_one_waiting_for_the_pool_and_frees_both() {
    // This CM stops answering after 700 records on a session: with one
    // session, after the lists of every type (534 records) and before the
    // end of the displays; until then it answers slowly. Its init is still
    // running whenever the stop comes.
    let stalling = emulator(&["--latency-ms", "10", "--stall-after-records", "700"]);
    let healthy = emulator(&[]);
    let data = tempfile::tempdir().unwrap();
    // One init at a time: the second CM's init waits for the first's place.
    let serve = Serve::start_with(
        data.path(),
        &[("UCSYNC_INIT_POOL", "1"), ("UCSYNC_SESSIONS", "1")],
    );
    let reading = add(&serve, "cm1", stalling.port).await;
    serve
        .wait_job(reading, |j| {
            done(j) > 20 || !matches!(state(j), "queued" | "waiting" | "running")
        })
        .await;
    let waiting = add(&serve, "cm2", healthy.port).await;
    serve.wait_job(waiting, |j| state(j) == "waiting").await;

    // The one waiting for a place.
    let (status, asked) = stop(&serve, waiting).await;
    assert_eq!(status, 200, "{asked}");
    let ended = serve.wait_job(waiting, |j| state(j) != "stopping").await;
    assert_eq!(state(&ended), "stopped", "{ended}");

    // The one reading from a CM that no longer answers.
    let job = serve.get(&format!("/jobs/{reading}")).await;
    assert_eq!(state(&job), "running", "still reading: {job}");
    let (status, asked) = stop(&serve, reading).await;
    assert_eq!(status, 200, "{asked}");
    assert!(["stopping", "stopped"].contains(&state(&asked)), "{asked}");
    let ended = serve.wait_job(reading, |j| state(j) != "stopping").await;
    assert_eq!(state(&ended), "stopped", "{ended}");
    assert_eq!(
        ended["error"],
        "stopped before it finished; nothing it had not committed was changed"
    );

    // Nothing was applied, and both elements are free again.
    for name in ["cm1", "cm2"] {
        let element = serve.get(&format!("/elements/{name}")).await;
        assert_eq!(element["objects"], 0, "nothing half-written: {element}");
    }
    let (status, body) = serve.call(Method::DELETE, "/elements/cm1", None).await;
    assert_eq!(status, 204, "the stopped init no longer holds cm1: {body}");
    // The pool's one place is free: cm2's init runs to its end.
    let (status, queued) = serve
        .call(
            Method::POST,
            "/sync",
            Some(json!({"type": "init", "elements": ["cm2"]})),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let init = queued["jobs"][0]["job"]["id"].as_i64().unwrap();
    let ended = serve
        .wait_job(init, |j| {
            !["queued", "waiting", "running"].contains(&state(j))
        })
        .await;
    assert_eq!(state(&ended), "succeeded", "{ended}");

    // A finished job is not stopped again: 409, saying how it ended, and
    // the CLI says so with exit status 1.
    let (status, refused) = stop(&serve, init).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "job-finished", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("succeeded"), "{message}");
    let out = Command::new(BIN)
        .args(["job", "stop", &init.to_string(), "--server", &serve.url])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("UCSYNC_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("job {init} has already finished (succeeded)")),
        "{stderr}"
    );
    let job = serve.get(&format!("/jobs/{init}")).await;
    assert_eq!(state(&job), "succeeded", "left as it was: {job}");
}

/// An IP Office whose configuration read never answers, and a directory
/// that stops answering in the middle of its subscribers: each init is
/// stopped while it waits on its element (the requests' own timeouts are
/// far away), ends `stopped` rather than failed, and frees its element.
#[tokio::test]
async fn a_stop_ends_an_ip_office_and_a_messaging_init_waiting_on_their_element() {
    let ipo = Emulated::start(
        BIN,
        "ip-office",
        &["--login", "ucsync:secret", "--stall"],
        1,
    );
    let directory = Emulated::start(
        BIN,
        "messaging",
        &[
            "--product",
            "aura",
            "--login",
            "cn=ucsync,o=aura-messaging:secret",
            "--subscribers",
            "200",
            "--stall-after-records",
            "20",
        ],
        1,
    );
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let (status, created) = serve
        .call(
            Method::POST,
            "/elements",
            Some(
                json!({"name": "ipo1", "kind": "ip-office", "host": "127.0.0.1",
                        "port": ipo.port, "login": "ucsync", "password": "secret",
                        "tls": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let ipo_job = created["job"]["id"].as_i64().unwrap();
    let (status, created) = serve
        .call(
            Method::POST,
            "/elements",
            Some(
                json!({"name": "mm1", "kind": "messaging", "host": "127.0.0.1",
                        "port": directory.port, "login": "cn=ucsync,o=aura-messaging",
                        "password": "secret", "tls": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, asked) = serve
        .call(
            Method::POST,
            "/sync",
            Some(json!({"type": "init", "elements": ["mm1"]})),
        )
        .await;
    assert_eq!(status, 202, "{asked}");
    let mm_job = asked["jobs"][0]["job"]["id"].as_i64().unwrap();

    for (name, id) in [("ipo1", ipo_job), ("mm1", mm_job)] {
        let running = serve
            .wait_job(id, |j| !matches!(state(j), "queued" | "waiting"))
            .await;
        assert_eq!(state(&running), "running", "{name}: {running}");
        let (status, body) = stop(&serve, id).await;
        assert_eq!(status, 200, "{name}: {body}");
        let job = serve
            .wait_job(id, |j| !matches!(state(j), "running" | "stopping"))
            .await;
        assert_eq!(state(&job), "stopped", "{name}: {job}");
        let (status, counts) = serve
            .call(Method::GET, &format!("/elements/{name}"), None)
            .await;
        assert_eq!(status, 200, "{counts}");
        assert_eq!(counts["objects"], 0, "{name}: nothing applied: {counts}");
        let (status, body) = serve
            .call(Method::DELETE, &format!("/elements/{name}"), None)
            .await;
        assert_eq!(status, 204, "{name} is free again: {body}");
    }
}
