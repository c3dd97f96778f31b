//! The HTTP service under clients that hold connections open: half a
//! request, or nothing at all, from one address must not lock out
//! `/healthz` and the API for everyone else.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::service::Serve;

/// A connection from `from` (another loopback address than the client's).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

fn http_addr(serve: &Serve) -> SocketAddr {
    serve
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("the HTTP address")
}

#[tokio::test]
async fn half_open_connections_do_not_lock_out_healthz_and_the_api() {
    let data = tempfile::tempdir().unwrap();
    // 300 held connections are more than the service's 256 descriptors,
    // and more than the cap from one address (64).
    let serve = Serve::start_with_files_limit(data.path(), &[], 256);
    let addr = http_addr(&serve);
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut c = connect_from("127.0.0.2", addr).await;
        // Half a request, and then nothing.
        let _ = c
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await;
        held.push(c);
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/healthz", serve.url))
        .send()
        .await
        .expect("/healthz answers under the attack");
    assert_eq!(health.status(), 200);
    let sync = client
        .post(format!("{}/api/v1/sync", serve.url))
        .bearer_auth(&serve.token)
        .json(&json!({"type": "sync", "elements": ["no-such-cm"]}))
        .send()
        .await
        .expect("an authorised POST /sync answers under the attack");
    let status = sync.status().as_u16();
    let body = sync.text().await.unwrap();
    assert!(
        status == 404 || status == 400,
        "an unknown element: {status} {body}"
    );
    drop(held);
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_after_the_header_timeout() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(data.path(), &[("UCSYNC_HTTP_HEADER_TIMEOUT_SECONDS", "1")]);
    let addr = http_addr(&serve);
    let wait_closed = |mut c: TcpStream| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut rest))
            .await
            .expect("the service closes the connection")
            .map(|_| rest)
    };

    // Half a request head.
    let mut half = connect_from("127.0.0.1", addr).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    if let Ok(rest) = wait_closed(half).await {
        let text = String::from_utf8_lossy(&rest);
        assert!(!text.contains("200 OK"), "{text}");
    }

    // A kept-alive connection after its answer.
    let mut idle = connect_from("127.0.0.1", addr).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let rest = wait_closed(idle).await.unwrap();
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}
