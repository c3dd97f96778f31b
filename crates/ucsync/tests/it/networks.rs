//! `element_networks` through the real binary: with the service allowed only
//! 127.0.0.1, an element at 127.0.0.2 — given as an address, or as a name
//! that resolves there — is refused and never connected to, while an
//! element at 127.0.0.1 synchronizes; notify messages from 127.0.0.2 are
//! dropped and counted.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::emulator;
use crate::service::Serve;

/// A listener at the address the service must not reach: every connection
/// made to it waits in its backlog, to be counted at the end.
struct Witness(TcpListener);

impl Witness {
    fn start() -> Witness {
        let l = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback");
        l.set_nonblocking(true).unwrap();
        Witness(l)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

fn cm(name: &str, host: &str, port: u16) -> Value {
    json!({"name": name, "kind": "cm", "host": host, "port": port,
           "login": "dadmin", "password": "dadmin01"})
}

fn refused(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "host-not-allowed", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("127.0.0.1/32"),
        "names the networks: {message}"
    );
}

async fn metrics(serve: &Serve) -> String {
    reqwest::Client::new()
        .get(format!("{}/metrics", serve.url))
        .bearer_auth(&serve.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn elements_outside_the_networks_are_refused_and_never_reached() {
    let witness = Witness::start();
    let emu = emulator(&["--profile", "empty"]);
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(
        &dir.path().join("data"),
        &[("UCSYNC_ELEMENT_NETWORKS", "127.0.0.1/32")],
    );
    let port = witness.port();

    // An address outside: refused when added, and when changed to.
    let (status, body) = serve
        .call(
            Method::POST,
            "/elements",
            Some(cm("out", "127.0.0.2", port)),
        )
        .await;
    refused(status, &body, "host");
    let mut with_alternate = cm("alt", "127.0.0.1", emu.port);
    with_alternate["alternate_host"] = json!("127.0.0.2");
    let (status, body) = serve
        .call(Method::POST, "/elements", Some(with_alternate))
        .await;
    refused(status, &body, "alternate_host");

    // An address inside: added, and its init reads the CM.
    let (status, body) = serve
        .call(
            Method::POST,
            "/elements",
            Some(cm("in", "127.0.0.1", emu.port)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let job = serve
        .wait_job(body["job"]["id"].as_i64().unwrap(), |j| {
            !matches!(j["state"].as_str(), Some("queued" | "waiting" | "running"))
        })
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (status, body) = serve
        .call(
            Method::PATCH,
            "/elements/in",
            Some(json!({"host": "127.0.0.2"})),
        )
        .await;
    refused(status, &body, "host");

    // A name is looked up at each connection: `127.2` is not an address
    // literal, but the resolver reads it as 127.0.0.2 (and asks no server).
    let (status, body) = serve
        .call(Method::POST, "/elements", Some(cm("named", "127.2", port)))
        .await;
    assert_eq!(status, 201, "a name passes when added: {body}");
    let job = serve
        .wait_job(body["job"]["id"].as_i64().unwrap(), |j| {
            !matches!(j["state"].as_str(), Some("queued" | "waiting" | "running"))
        })
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.starts_with("host-not-allowed: host 127.2 resolves to 127.0.0.2, which is outside the element networks (127.0.0.1/32)"),
        "{error}"
    );
    let (status, body) = serve
        .call(Method::POST, "/elements/named/check", None)
        .await;
    refused(status, &body, "host");

    // Notify messages from outside the networks are dropped before parsing.
    let sender = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    sender
        .send_to(b"<13>1 - cm1 ucsync - - - event", serve.syslog)
        .unwrap();
    let counted = "ucsync_notify_events_ignored_total{reason=\"outside-element-networks\"} 1";
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics(&serve).await.lines().any(|l| l == counted) {
        assert!(Instant::now() < deadline, "no '{counted}' in /metrics");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(
        witness.connections(),
        0,
        "nothing may connect to an address outside the networks"
    );
}
