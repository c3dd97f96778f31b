//! Alarms end to end: the real `ucsync serve` with a webhook in its
//! settings file, a CM emulator stopped and started again on its port, and
//! a webhook receiver on loopback that checks every signature itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_testkit::emulators::{OWN, cm, cm_settings};

use crate::e2e::{cli, json_of, ok};
use crate::service::{Serve, finished};

const SECRET: &str = "a-webhook-secret-of-the-test-0123";

/// What the receiver took: the event header, the delivery id and the body.
#[derive(Debug)]
struct Received {
    event: String,
    delivery: String,
    body: Value,
}

/// A webhook receiver on 127.0.0.1, port 0: answers 204 to a POST whose
/// `X-Ucsync-Signature` is the HMAC-SHA256 of its body under [`SECRET`],
/// 401 to any other (and tells the test of neither).
async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                mac.update(&body);
                let hex: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if header("x-ucsync-signature") != format!("sha256={hex}") {
                    return StatusCode::UNAUTHORIZED;
                }
                let _ = tx.send(Received {
                    event: header("x-ucsync-event"),
                    delivery: header("x-ucsync-delivery"),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a delivery within 30 s")
        .expect("the receiver runs")
}

/// Asks for an incremental of cm1 and waits for its end.
async fn sync(serve: &Serve) -> Value {
    let (status, body) = serve
        .call(
            reqwest::Method::POST,
            "/sync",
            Some(json!({"type": "incremental", "elements": ["cm1"]})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["jobs"][0]["job"]["id"].as_i64().unwrap();
    serve.wait_job(id, finished).await
}

fn settings_with_host_key(dir: &std::path::Path) -> CmSettings {
    CmSettings {
        // The same CM when it starts again: the same host key.
        host_key: Some(dir.join("host_key")),
        profile: "small".into(),
        ..cm_settings()
    }
}

#[tokio::test]
async fn a_stopped_cm_raises_an_alarm_delivered_to_a_webhook_and_cleared_when_it_syncs_again() {
    let (hook, mut received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let emu = cm(settings_with_host_key(dir.path())).await;
    let port = emu.addr().port();
    let config = dir.path().join("ucsync.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"ops\"\nurl = \"http://{hook}/hook\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    // A job connects anew each time: a stopped CM does not answer it.
    let serve = Serve::start_with_config(
        data.path(),
        &config,
        &[("UCSYNC_KEEP_CONNECTIONS", "false")],
    );
    let (status, added) = serve
        .call(
            reqwest::Method::POST,
            "/elements",
            Some(
                json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": port,
                        "login": OWN.0, "password": OWN.1}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let init = serve
        .wait_job(added["job"]["id"].as_i64().unwrap(), finished)
        .await;
    assert_eq!(init["state"], "succeeded", "{init}");

    // The CM stops: the next sync fails, and an alarm is raised and delivered.
    emu.shutdown().await.unwrap();
    let failed_at = Instant::now();
    let job = sync(&serve).await;
    assert_eq!(job["state"], "failed", "{job}");
    let raised = next(&mut received).await;
    let latency = failed_at.elapsed();
    assert_eq!(raised.event, "raised");
    let alarm = &raised.body["alarm"];
    assert_eq!(raised.body["event"], "raised");
    assert_eq!(alarm["element"], "cm1");
    assert_eq!(alarm["condition"], "unreachable");
    assert_eq!(alarm["severity"], "critical");
    assert_eq!(alarm["count"], 1);
    let id = alarm["id"].as_i64().unwrap();
    assert_eq!(raised.delivery, format!("{id}-raised"));
    assert!(latency < Duration::from_secs(30), "{latency:?}");

    // The same condition again: the one alarm counts it; nothing new is sent.
    assert_eq!(sync(&serve).await["state"], "failed");
    let open = serve.get("/alarms?element=cm1").await;
    assert_eq!(open["total"], 1, "{open}");
    assert_eq!(open["items"][0]["id"], id);
    assert_eq!(open["items"][0]["count"], 2);
    assert_eq!(open["items"][0]["state"], "open");
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", serve.url))
        .bearer_auth(&serve.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ucsync_alarms_open{severity=\"critical\"} 1"),
        "{metrics}"
    );

    // An operator acknowledges it with the CLI.
    let acked = json_of(cli(
        &serve,
        data.path(),
        &["alarm", "ack", &id.to_string(), "--output", "json"],
    ));
    assert_eq!(acked["acked_by"], "admin", "{acked}");

    // The CM starts again on its port: the next sync succeeds, the alarm
    // clears by itself, and the clear is delivered.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _emu = CmEmulator::start(settings_with_host_key(dir.path()), listener)
        .await
        .unwrap();
    let job = sync(&serve).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let cleared = next(&mut received).await;
    assert_eq!(cleared.event, "cleared");
    assert_eq!(cleared.body["alarm"]["id"], id);
    assert!(cleared.body["alarm"]["cleared_at"].is_string());
    assert_eq!(serve.get("/alarms").await["total"], 0);
    let all = ok(cli(
        &serve,
        data.path(),
        &["alarm", "list", "--state", "all", "--output", "csv"],
    ));
    assert!(
        all.contains("unreachable") && all.contains("cleared"),
        "{all}"
    );

    // The webhook's delivery log has both, each delivered at once.
    let log = serve.get("/webhooks/ops/deliveries").await;
    assert_eq!(log["total"], 2, "{log}");
    assert_eq!(log["items"][0]["event"], "cleared");
    assert_eq!(log["items"][0]["delivered"], true);
    assert_eq!(log["items"][1]["status"], 204);
    let (status, _) = serve
        .call(reqwest::Method::GET, "/webhooks/nope/deliveries", None)
        .await;
    assert_eq!(status, 404);
    assert!(received.try_recv().is_err(), "one raise, one clear");
}
