//! `/sync` and `/jobs`: requests, joins, unknown elements, filters, stop
//! and changes.

use reqwest::Method;
use serde_json::json;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{SatClient, SatConfig};

use crate::{App, OUTSIDE, emulator, redact};
use ucsync_core::Password;

#[tokio::test]
async fn sync_requests_are_checked() {
    let app = App::start().await;
    app.add_messaging("mm1").await;
    let cases = [
        (json!({"type": "init"}), 400, "invalid-field", "elements"),
        (
            json!({"type": "init", "elements": []}),
            400,
            "invalid-field",
            "elements",
        ),
        (
            json!({"type": "init", "elements": ["mm1"], "all": true}),
            400,
            "invalid-field",
            "all",
        ),
        (
            json!({"type": "init", "all": false}),
            400,
            "invalid-field",
            "elements",
        ),
        (
            json!({"type": "full", "all": true}),
            400,
            "invalid-field",
            "type",
        ),
        (json!({"all": true}), 400, "invalid-field", "type"),
        (
            json!({"type": "init", "elements": ["a b"]}),
            400,
            "invalid-field",
            "elements[0]",
        ),
        (
            json!({"type": "init", "elements": "mm1"}),
            400,
            "invalid-field",
            "elements",
        ),
        (
            json!({"type": "init", "all": true, "wait": true}),
            400,
            "invalid-field",
            "wait",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = app.post("/api/v1/sync", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (status, code, field),
            "{body}: {a:?}"
        );
    }
    // An unknown element among known ones: 404 naming it, and nothing queued.
    let a = app
        .post(
            "/api/v1/sync",
            &json!({"type": "init", "elements": ["mm1", "nope"]}),
        )
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "no-element"));
    assert!(a.message().contains("'nope'"), "{a:?}");
    let jobs = app.get("/api/v1/jobs").await;
    assert_eq!(jobs.body["items"], json!([]));
}

#[tokio::test]
async fn syncs_join_and_are_listed() {
    let emu = emulator().await;
    let app = App::start().await;
    let init = app.add_cm("cm1", &emu).await;
    assert_eq!(init["state"], "succeeded");
    // Two requests at once: the second joins the first.
    let a = app
        .post(
            "/api/v1/sync",
            &json!({"type": "init", "elements": ["cm1", "cm1"]}),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(
        a.body["jobs"].as_array().unwrap().len(),
        1,
        "names once each"
    );
    let first = &a.body["jobs"][0];
    assert_eq!(first["joined"], false);
    assert_eq!(first["job"]["requested_by"], "admin-test");
    assert_eq!(first["job"]["trigger"], "on-demand");
    let b = app
        .post("/api/v1/sync", &json!({"type": "incremental", "all": true}))
        .await;
    let second = &b.body["jobs"][0];
    let id = first["job"]["id"].as_i64().unwrap();
    if app.get(&format!("/api/v1/jobs/{id}")).await.body["state"] != "succeeded" {
        assert_eq!(second["joined"], true, "{b:?}");
        assert_eq!(second["job"]["id"], id);
    }
    let done = app.wait_job(id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    if let Some(other) = second["job"]["id"].as_i64().filter(|o| *o != id) {
        app.wait_job(other).await;
    }

    let all = app.get("/api/v1/jobs?element=cm1").await;
    assert!(all.body["items"].as_array().unwrap().len() >= 2, "{all:?}");
    let ok = app.get("/api/v1/jobs?state=succeeded&limit=1").await;
    assert_eq!(ok.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ok.body["limit"], 1);
    assert_eq!(ok.body["items"][0]["state"], "succeeded");
    let none = app.get("/api/v1/jobs?element=other").await;
    assert_eq!(none.body["items"], json!([]));
    let bad = app.get("/api/v1/jobs?state=finished").await;
    assert_eq!(
        (bad.status.as_u16(), bad.code(), bad.field()),
        (400, "invalid-query", "state")
    );

    // The log is in the view of one job, and only there.
    assert!(
        ok.body["items"][0].get("log").is_none(),
        "a list shows no logs: {ok:?}"
    );
    let job = app.get(&format!("/api/v1/jobs/{}", init["id"])).await;
    let log = job.body["log"].as_array().expect("the job's log");
    assert!(!log.is_empty(), "an init logs what it did: {job:?}");
    assert!(log.iter().all(|l| l.is_string()));
    let mut shown = redact(&job.body);
    shown["counts"]["added"] = json!("[added]");
    shown["progress"] = json!("[progress]");
    shown["log"] = json!("[log]");
    insta::assert_json_snapshot!("init_job", shown);
    assert!(job.body["counts"]["added"].as_u64().unwrap() > 0);
    let (done, expected) =
        job.body["progress"]
            .as_object()
            .unwrap()
            .values()
            .fold((0, 0), |(d, e), p| {
                (
                    d + p["done"].as_u64().unwrap(),
                    e + p["expected"].as_u64().unwrap(),
                )
            });
    assert_eq!(done, expected);
}

#[tokio::test]
async fn jobs_that_do_not_exist() {
    let app = App::start().await;
    for (m, path) in [
        (Method::GET, "/api/v1/jobs/42"),
        (Method::GET, "/api/v1/jobs/42/changes"),
        (Method::POST, "/api/v1/jobs/42/stop"),
    ] {
        let a = app.call(m.clone(), path, None).await;
        assert_eq!((a.status.as_u16(), a.code()), (404, "no-job"), "{m} {path}");
    }
    let a = app.get("/api/v1/jobs/forty-two").await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (400, "invalid-path"),
        "{a:?}"
    );
}

#[tokio::test]
async fn an_incremental_shows_its_changes() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    // Someone else changes a station on the CM.
    let mut cfg = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        OUTSIDE.0,
        Password::new(OUTSIDE.1),
    );
    cfg.sessions = 1;
    let craft = SatClient::connect(cfg).await.unwrap();
    let rename = Request::write(
        "change station 1001",
        &[(station::NAME, Value::Set("Outside, Change".into()))],
    )
    .unwrap();
    craft.run(&rename).await.unwrap();
    let a = app
        .post(
            "/api/v1/sync",
            &json!({"type": "incremental", "elements": ["cm1"]}),
        )
        .await;
    let job = app
        .wait_job(a.body["jobs"][0]["job"]["id"].as_i64().unwrap())
        .await;
    assert_eq!(
        (&job["type"], &job["state"]),
        (&json!("incremental"), &json!("succeeded")),
        "{job}"
    );
    let changes = app
        .get(&format!("/api/v1/jobs/{}/changes", job["id"]))
        .await;
    assert_eq!(changes.status, 200);
    assert_eq!(changes.body["total"], 1, "{changes:?}");
    let c = &changes.body["items"][0];
    assert_eq!(
        (
            &c["type"],
            &c["key"],
            &c["op"],
            &c["by_login"],
            &c["applied"]
        ),
        (
            &json!("station"),
            &json!("1001"),
            &c["op"],
            &json!(OUTSIDE.0),
            &json!(true)
        )
    );
    let found = app.get("/api/v1/search?q=outside").await;
    assert_eq!(found.status, 200, "{found:?}");
    assert_eq!(found.body["items"][0]["key"], "1001", "{found:?}");
    assert_eq!(found.body["items"][0]["name"], "Outside, Change");
}
