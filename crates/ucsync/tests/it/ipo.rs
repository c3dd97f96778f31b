//! An IP Office end to end: `ucsync emulate ip-office` over HTTPS, `ucsync
//! serve`, and the CLI, as an administrator would use them.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::cli::{BIN, Emulated};
use crate::service::Serve;
use ucsync_testkit::pki::Pki;

fn cli(serve: &Serve, data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--server", &serve.url, "--data-dir"])
        .arg(data)
        .env_remove("UCSYNC_TOKEN")
        .env("UCSYNC_ELEMENT_PASSWORD", "ucsync01")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn an_administrator_adds_an_ip_office_over_tls_and_keeps_it_in_sync() {
    let certs = Pki::new(&["127.0.0.1"]);
    let file = |n: &str| certs.dir.path().join(n).to_str().unwrap().to_string();
    // Its banner: where it listens, then the certificate's fingerprint.
    let ipo = Emulated::start(
        BIN,
        "ip-office",
        &[
            "--login",
            "ucsync:ucsync01",
            "--login",
            "craft:craft01",
            "--users",
            "60",
            "--tls-cert",
            &file("cert.pem"),
            "--tls-key",
            &file("key.pem"),
        ],
        2,
    );
    let fingerprint = ipo.banner[1]
        .strip_prefix("certificate ")
        .expect("the banner shows the certificate")
        .to_string();
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let port = ipo.port.to_string();

    // Added with TLS checked against the CA: its init starts by itself.
    ok(cli(
        &serve,
        data.path(),
        &[
            "element",
            "add",
            "ipo1",
            "--kind",
            "ip-office",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--login",
            "ucsync",
            "--tls",
            "--ca-file",
            &file("ca.pem"),
            "--wait",
        ],
    ));
    let jobs = serve.get("/jobs?element=ipo1").await;
    let init = &jobs["items"][0];
    assert_eq!(
        (
            init["type"].as_str(),
            init["trigger"].as_str(),
            init["state"].as_str()
        ),
        (Some("init"), Some("element-added"), Some("succeeded")),
        "{jobs}"
    );
    let users = serve
        .get("/elements/ipo1/objects?type=user&limit=1000")
        .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 60, "{users}");
    assert_eq!(
        users["items"][0]["secret_fields"],
        json!(["voicemail_code"])
    );

    // `check` reports the certificate's fingerprint.
    let (status, check) = serve
        .call(reqwest::Method::POST, "/elements/ipo1/check", None)
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(
        check["fingerprint"].as_str(),
        Some(fingerprint.as_str()),
        "{check}"
    );

    // Another administrator renames a user through the IP Office's own service.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(file("ca.pem")).unwrap()).unwrap();
    let ipo_http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let user = users["items"][0]["key"].as_str().unwrap().to_string();
    let resp = ipo_http
        .patch(format!("https://127.0.0.1:{port}/config/v1/users/{user}"))
        .basic_auth("craft", Some("craft01"))
        .json(&json!({"full_name": "Zebulon Outside"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The incremental pulls it, and says how it works on an IP Office.
    ok(cli(
        &serve,
        data.path(),
        &["sync", "incremental", "ipo1", "--wait"],
    ));
    let jobs = serve.get("/jobs?element=ipo1").await;
    let id = jobs["items"][0]["id"].as_i64().unwrap();
    let job = serve.get(&format!("/jobs/{id}")).await;
    assert_eq!(job["type"], "incremental", "{job}");
    assert_eq!(job["counts"]["changed"], 1, "{job}");
    let log: Vec<&str> = job["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        log.iter().any(|l| l.contains("version-checked full read")),
        "{log:?}"
    );
    let found = serve.get("/search?q=Zebulon").await;
    assert_eq!(
        found["items"][0]["key"].as_str(),
        Some(user.as_str()),
        "{found}"
    );

    // A user added through ucsync is on the IP Office too.
    let (status, added) = serve
        .call(
            reqwest::Method::POST,
            "/elements/ipo1/objects/user",
            Some(json!({"key": "NewHire", "fields": {"extension": "2999", "profile": "basic"}})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let on_ipo: Value = ipo_http
        .get(format!("https://127.0.0.1:{port}/config/v1/users/NewHire"))
        .basic_auth("craft", Some("craft01"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(on_ipo["extension"], "2999", "{on_ipo}");
}
