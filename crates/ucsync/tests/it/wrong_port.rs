//! An element added at a port where another kind of server listens: the
//! error names the cause and the usual port, for each kind.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::emulator;
use crate::service::Serve;

fn finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("succeeded" | "failed" | "stopped")
    )
}

async fn add(serve: &Serve, body: Value) -> Value {
    let (status, created) = serve.call(Method::POST, "/elements", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

#[tokio::test]
async fn a_port_of_another_kind_of_server_is_named_as_the_cause() {
    let cm = emulator(&["--profile", "empty"]);
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    // The service's own port answers HTTP.
    let http: u16 = serve.url.rsplit(':').next().unwrap().parse().unwrap();

    // A CM at an HTTP port.
    let created = add(
        &serve,
        json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": http,
               "login": "dadmin", "password": "dadmin01"}),
    )
    .await;
    let job = serve
        .wait_job(created["job"]["id"].as_i64().unwrap(), finished)
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "127.0.0.1:{http} did not answer as an SSH server (it sent \"HTTP/1.1 400 Bad Request\"); CM SAT is usually on port 5022"
        )),
        "{error}"
    );

    // An IP Office at a CM's SSH port.
    let created = add(
        &serve,
        json!({"name": "ipo1", "kind": "ip-office", "host": "127.0.0.1", "port": cm.port,
               "login": "ucsync", "password": "secret", "tls": false}),
    )
    .await;
    let job = serve
        .wait_job(created["job"]["id"].as_i64().unwrap(), finished)
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "the IP Office at 127.0.0.1:{} did not answer as an HTTP server",
            cm.port
        )) && error.contains("usually on port 50804 (50805 with TLS)"),
        "{error}"
    );

    // A messaging directory at an HTTP port: the connection check says so.
    add(
        &serve,
        json!({"name": "mm1", "kind": "messaging", "host": "127.0.0.1", "port": http,
               "login": "cn=ucsync,o=aura-messaging", "password": "secret", "tls": false}),
    )
    .await;
    let (status, refused) = serve.call(Method::POST, "/elements/mm1/check", None).await;
    assert_eq!(status, 502, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "ldap://127.0.0.1:{http} did not answer as an LDAP server"
        )) && message.contains("usually on port 389 (636 with TLS)"),
        "{message}"
    );
}
