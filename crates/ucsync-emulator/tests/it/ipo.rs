//! The IP Office emulator over HTTP, as any client of the documented model
//! sees it: rights groups, the configuration version, and changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucsync_emulator::ipo::{IpoEmulator, IpoSettings};
use ucsync_testkit::emulators;

const RW: (&str, &str) = ("admin", "admin01");
const RO: (&str, &str) = ("reader", "reader01");

async fn start() -> IpoEmulator {
    emulators::ipo(IpoSettings {
        logins: vec![(RW.0.into(), RW.1.into())],
        read_logins: vec![(RO.0.into(), RO.1.into())],
        ..IpoSettings::default()
    })
    .await
}

async fn call(
    emu: &IpoEmulator,
    login: Option<(&str, &str)>,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}/{path}", emu.url()));
    if let Some((n, p)) = login {
        req = req.basic_auth(n, Some(p));
    }
    for (h, v) in headers {
        req = req.header(*h, v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, etag, body)
}

#[tokio::test]
async fn reading_needs_a_service_user_and_the_version_is_the_etag() {
    let emu = start().await;
    let (s, _, body) = call(&emu, None, Method::GET, "system", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (s, _, _) = call(
        &emu,
        Some(("reader", "nope")),
        Method::GET,
        "system",
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, etag, config) = call(&emu, Some(RO), Method::GET, "configuration", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    let etag = etag.unwrap();
    assert_eq!(etag, format!("\"{}\"", emu.config_version()));
    assert_eq!(config["system"]["config_version"], emu.config_version());
    assert_eq!(config["users"].as_array().unwrap().len(), 20);
    let (s, _, system) = call(&emu, Some(RO), Method::GET, "system", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(system, config["system"]);
    // The version it was read at is still current: 304, no body.
    let (s, again, body) = call(
        &emu,
        Some(RO),
        Method::GET,
        "configuration",
        &[("if-none-match", etag.clone())],
        None,
    )
    .await;
    assert_eq!(
        (s, again.as_deref(), body),
        (StatusCode::NOT_MODIFIED, Some(etag.as_str()), Value::Null)
    );
}

#[tokio::test]
async fn every_change_makes_a_new_version_and_writing_needs_the_write_group() {
    let emu = start().await;
    let v0 = emu.config_version();
    let user = emu.data().users.keys().next().unwrap().clone();
    let patch = json!({"full_name": "Someone New", "email": null});
    let (s, _, body) = call(
        &emu,
        Some(RO),
        Method::PATCH,
        &format!("users/{user}"),
        &[],
        Some(patch.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("configuration-write")
    );
    assert_eq!(emu.config_version(), v0, "a refused write changes nothing");
    let (s, etag, body) = call(
        &emu,
        Some(RW),
        Method::PATCH,
        &format!("users/{user}"),
        &[],
        Some(patch),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["full_name"].as_str(), body["email"].as_str()),
        (Some("Someone New"), None)
    );
    let v1 = emu.config_version();
    assert_ne!(v1, v0);
    assert_eq!(etag, Some(format!("\"{v1}\"")));
    // A write based on an old version is refused.
    let (s, _, _) = call(
        &emu,
        Some(RW),
        Method::DELETE,
        "extensions/8001",
        &[("if-match", format!("\"{v0}\""))],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call(
        &emu,
        Some(RW),
        Method::DELETE,
        "extensions/8001",
        &[("if-match", format!("\"{v1}\""))],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_ne!(emu.config_version(), v1);
    // The model's rules hold.
    let (s, _, body) = call(
        &emu,
        Some(RW),
        Method::POST,
        "hunt-groups",
        &[],
        Some(
            json!({"name": "G", "extension": "7999", "ring_mode": "rotary", "members": ["Nobody"]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Nobody"),
        "{body}"
    );
    let (s, _, _) = call(
        &emu,
        Some(RW),
        Method::POST,
        "users",
        &[],
        Some(json!({"name": "X"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(&emu, Some(RW), Method::GET, "users/Nobody", &[], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Putting a change back puts the version back: it is the content's.
    let v2 = emu.config_version();
    let route = emu
        .data()
        .incoming_call_routes
        .values()
        .next()
        .unwrap()
        .clone();
    let key = format!("{}:{}", route.line_group_id, route.incoming_number);
    let original = serde_json::to_value(&route).unwrap();
    let mut changed = original.clone();
    changed["destination"] = json!("*17");
    let (s, _, _) = call(
        &emu,
        Some(RW),
        Method::PUT,
        &format!("incoming-call-routes/{key}"),
        &[],
        Some(changed),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(emu.config_version(), v2);
    call(
        &emu,
        Some(RW),
        Method::PUT,
        &format!("incoming-call-routes/{key}"),
        &[],
        Some(original),
    )
    .await;
    assert_eq!(emu.config_version(), v2);
}

#[tokio::test]
async fn the_state_file_keeps_changes_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ipo.json");
    let settings = IpoSettings {
        logins: vec![(RW.0.into(), RW.1.into())],
        state_file: Some(state.clone()),
        ..IpoSettings::default()
    };
    let emu = emulators::ipo(settings.clone()).await;
    let (s, _, _) = call(
        &emu,
        Some(RW),
        Method::POST,
        "short-codes",
        &[],
        Some(json!({"code": "*88", "feature": "park-call"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (data, version) = (emu.data(), emu.config_version());
    emu.shutdown().await.unwrap();
    let again = emulators::ipo(settings).await;
    assert_eq!((again.data(), again.config_version()), (data, version));
}
