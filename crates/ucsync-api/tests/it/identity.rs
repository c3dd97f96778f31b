//! The same failure answers the same code whatever the element's kind: an
//! IP Office whose certificate is not the pinned one answers as a CM whose
//! host key is not.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;
use ucsync_emulator::ipo::{IpoEmulator, IpoSettings};
use ucsync_testkit::pki::Leaf;

use crate::{Answer, App, OWN, emulator};

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files, and
/// its fingerprint.
fn certificate(dir: &Path, name: &str) -> ((PathBuf, PathBuf), String) {
    let c = Leaf::self_signed(&["127.0.0.1"]);
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    c.write(&cert, &key);
    ((cert, key), c.fingerprint())
}

async fn check(app: &App, name: &str) -> Answer {
    app.call(
        Method::POST,
        &format!("/api/v1/elements/{name}/check"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_changed_certificate_answers_as_a_changed_host_key() {
    let dir = tempfile::tempdir().unwrap();
    let ipo = IpoEmulator::start(
        IpoSettings {
            logins: vec![(OWN.0.into(), OWN.1.into())],
            tls: Some(certificate(dir.path(), "now").0),
            ..IpoSettings::default()
        },
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let cm = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &cm).await;
    let a = app
        .post(
            "/api/v1/elements",
            &json!({"name": "ipo1", "kind": "ip-office", "host": "127.0.0.1",
                    "port": ipo.addr().port(), "login": OWN.0, "password": OWN.1,
                    "tls": true, "host_key": ipo.certificate_fingerprint()}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    for name in ["cm1", "ipo1"] {
        let a = check(&app, name).await;
        assert_eq!(
            (a.status.as_u16(), &a.body["pinned"]),
            (200, &json!(true)),
            "{name}: {a:?}"
        );
    }

    // Each presents another identity than the one pinned: the CM's host
    // key, the IP Office's certificate (pinned from another certificate,
    // as if it had been replaced since).
    let (_, pinned) = certificate(dir.path(), "before");
    for (name, host_key) in [
        (
            "cm1",
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        ),
        ("ipo1", pinned.clone()),
    ] {
        let a = app
            .patch(
                &format!("/api/v1/elements/{name}"),
                &json!({"host_key": host_key}),
            )
            .await;
        assert_eq!(a.status, 200, "{name}: {a:?}");
    }
    let cm = check(&app, "cm1").await;
    let ipo = check(&app, "ipo1").await;
    assert_eq!(
        (cm.status.as_u16(), cm.code()),
        (502, "host-key-mismatch"),
        "{cm:?}"
    );
    assert_eq!((ipo.status, ipo.code()), (cm.status, cm.code()), "{ipo:?}");
    assert!(ipo.message().contains(&pinned), "{ipo:?}");
}
