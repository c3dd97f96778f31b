//! Previews through the API: `"dry_run": true` on `/sync`, the plan at
//! `/jobs/{id}/plan` and `/jobs/{id}/changes`, and `/jobs/{id}/apply` —
//! once, and refused as stale when the element changed since.

use serde_json::json;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{SatClient, SatConfig};

use crate::{App, OUTSIDE, emulator};
use ucsync_core::Password;

async fn outside(port: u16) -> SatClient {
    let mut cfg = SatConfig::new("127.0.0.1", port, OUTSIDE.0, Password::new(OUTSIDE.1));
    cfg.sessions = 1;
    SatClient::connect(cfg).await.unwrap()
}

async fn rename(craft: &SatClient, name: &str) {
    let r = Request::write(
        "change station 1001",
        &[(station::NAME, Value::Set(name.into()))],
    )
    .unwrap();
    craft.run(&r).await.unwrap();
}

/// A finished dry run of `cm1`.
async fn preview(app: &App, t: &str) -> serde_json::Value {
    let a = app
        .post(
            "/api/v1/sync",
            &json!({"type": t, "elements": ["cm1"], "dry_run": true}),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(a.body["jobs"][0]["job"]["dry_run"], true);
    app.wait_job(a.body["jobs"][0]["job"]["id"].as_i64().unwrap())
        .await
}

#[tokio::test]
async fn a_dry_run_keeps_its_plan_and_applies_it_once() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let craft = outside(emu.addr().port()).await;
    rename(&craft, "Previewed, Change").await;

    let job = preview(&app, "incremental").await;
    assert_eq!(
        (&job["state"], &job["dry_run"], &job["applied_at"]),
        (&json!("succeeded"), &json!(true), &json!(null)),
        "{job}"
    );
    assert_eq!(
        (&job["counts"]["would_change"], &job["counts"]["changed"]),
        (&json!(1), &json!(0))
    );
    let id = job["id"].as_i64().unwrap();
    let changes = app.get(&format!("/api/v1/jobs/{id}/changes")).await;
    assert_eq!(changes.body["total"], 1, "{changes:?}");
    let c = &changes.body["items"][0];
    assert_eq!(
        (&c["key"], &c["op"], &c["applied"], &c["by_login"]),
        (
            &json!("1001"),
            &json!("change"),
            &json!(false),
            &json!(OUTSIDE.0)
        )
    );
    let fields = c["fields"].as_array().expect("field by field");
    assert!(
        fields
            .iter()
            .any(|f| f["field"] == station::NAME.to_string() && f["after"] == "Previewed, Change"),
        "{c}"
    );
    let plan = app.get(&format!("/api/v1/jobs/{id}/plan")).await;
    assert_eq!(plan.status, 200, "{plan:?}");
    assert_eq!(
        plan.body,
        json!({"job": id, "element": "cm1", "type": "incremental",
               "types": {"station": {"add": 0, "change": 1, "delete": 0, "first_deleted": []}}})
    );
    let found = app.get("/api/v1/search?q=previewed").await;
    assert_eq!(found.body["items"], json!([]), "nothing applied");

    let applied = app
        .post(&format!("/api/v1/jobs/{id}/apply"), &json!({}))
        .await;
    assert_eq!(applied.status, 200, "{applied:?}");
    assert_eq!(applied.body["applied_by"], "admin-test");
    assert!(applied.body["applied_at"].is_string());
    assert_eq!(applied.body["counts"]["changed"], 1);
    let found = app.get("/api/v1/search?q=previewed").await;
    assert_eq!(found.body["items"][0]["key"], "1001", "{found:?}");
    let changes = app.get(&format!("/api/v1/jobs/{id}/changes")).await;
    assert_eq!(changes.body["items"][0]["applied"], true);

    let twice = app
        .post(&format!("/api/v1/jobs/{id}/apply"), &json!({}))
        .await;
    assert_eq!((twice.status.as_u16(), twice.code()), (409, "plan-applied"));
    let gone = app.get(&format!("/api/v1/jobs/{id}/plan")).await;
    assert_eq!((gone.status.as_u16(), gone.code()), (409, "plan-applied"));
    // A job that keeps no plan, and one that does not exist.
    let init = app.get("/api/v1/jobs?element=cm1&state=succeeded").await;
    let plain = init.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["dry_run"] == false)
        .unwrap()["id"]
        .clone();
    let none = app
        .post(&format!("/api/v1/jobs/{plain}/apply"), &json!({}))
        .await;
    assert_eq!((none.status.as_u16(), none.code()), (409, "no-plan"));
    let missing = app.post("/api/v1/jobs/4242/apply", &json!({})).await;
    assert_eq!((missing.status.as_u16(), missing.code()), (404, "no-job"));
}

#[tokio::test]
async fn a_stale_plan_is_refused_and_nothing_is_applied() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let job = preview(&app, "init").await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["type"], "init");
    // Someone changes the CM after the preview.
    let craft = outside(emu.addr().port()).await;
    rename(&craft, "After, Preview").await;
    let id = job["id"].as_i64().unwrap();
    let stale = app
        .post(&format!("/api/v1/jobs/{id}/apply"), &json!({}))
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.code()),
        (409, "plan-stale"),
        "{stale:?}"
    );
    assert!(
        stale
            .message()
            .starts_with("the plan is stale: run the preview again"),
        "{stale:?}"
    );
    let j = app.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(j.body["applied_at"], json!(null));
    // A preview of it, then a sync that applies it first: stale too.
    let again = preview(&app, "incremental").await;
    let real = app
        .post(
            "/api/v1/sync",
            &json!({"type": "incremental", "elements": ["cm1"]}),
        )
        .await;
    assert_eq!(
        real.body["jobs"][0]["joined"], false,
        "a sync joins no preview"
    );
    app.wait_job(real.body["jobs"][0]["job"]["id"].as_i64().unwrap())
        .await;
    let stale = app
        .post(&format!("/api/v1/jobs/{}/apply", again["id"]), &json!({}))
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.code()),
        (409, "plan-stale"),
        "{stale:?}"
    );
}
