//! Never locked out: the last admin token cannot be deleted, and
//! `ucsync token reset-admin` makes a new one on the server, with the
//! service running or stopped.

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::BIN;
use crate::service::Serve;

/// `ucsync token reset-admin --data-dir DIR`: its standard output.
fn reset_admin(dir: &Path) -> String {
    let out = Command::new(BIN)
        .args(["token", "reset-admin", "--data-dir"])
        .arg(dir)
        .env_remove("UCSYNC_DATABASE_URL")
        .env_remove("UCSYNC_SECRET_KEY")
        .env_remove("UCSYNC_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn token_file(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

fn admin_ids(tokens: &Value) -> Vec<i64> {
    tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "admin")
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_last_admin_token_stays_and_reset_admin_makes_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(dir.path());
    let first = admin_ids(&serve.get("/tokens").await);
    assert_eq!(first.len(), 1);

    // Deleting the only admin token would lock everyone out: refused.
    let (status, body) = serve
        .call(Method::DELETE, &format!("/tokens/{}", first[0]), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last-admin-token")),
        "{body}"
    );
    let (status, made) = serve
        .call(
            Method::POST,
            "/tokens",
            Some(json!({"name": "viewer", "role": "read-only"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let viewer = made["token"]["id"].as_i64().unwrap();
    let (status, _) = serve
        .call(Method::DELETE, &format!("/tokens/{viewer}"), None)
        .await;
    assert_eq!(status, 204, "other tokens go as before");

    // While the service runs: a new admin token, written where the CLI reads it.
    let said = reset_admin(dir.path());
    assert!(said.contains("admin.token"), "{said}");
    let old = std::mem::replace(&mut serve.token, token_file(dir.path()));
    assert_ne!(serve.token, old);
    let admins = admin_ids(&serve.get("/tokens").await);
    assert_eq!(admins.len(), 2, "{admins:?}");
    let (status, _) = serve
        .call(Method::DELETE, &format!("/tokens/{}", first[0]), None)
        .await;
    assert_eq!(status, 204, "no longer the last one");
    assert!(serve.terminate().success());

    // With the service stopped, the same.
    reset_admin(dir.path());
    let mut again = Serve::start(dir.path());
    again.token = token_file(dir.path());
    let admins = admin_ids(&again.get("/tokens").await);
    assert_eq!(admins.len(), 2, "{admins:?}");
}

#[test]
fn reset_admin_wants_the_service_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["token", "reset-admin", "--data-dir"])
        .arg(dir.path())
        .env_remove("UCSYNC_DATABASE_URL")
        .env_remove("UCSYNC_SECRET_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("installation key"), "{stderr}");
    assert!(
        !dir.path().join("secret.key").exists(),
        "no key made up here"
    );
}
