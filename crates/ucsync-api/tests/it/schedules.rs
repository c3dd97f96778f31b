//! `/schedules`: adding checks that a schedule can fire and names its
//! elements; changing and removing.

use serde_json::{Value, json};

use crate::{App, changed, redact};

fn valid() -> Value {
    json!({"target": {"elements": ["mm1"]}, "sync_type": "incremental",
           "first_run": "2030-03-01T03:00:00+01:00",
           "repeat": {"every": {"n": 1, "unit": "days"}}, "time_zone": "Europe/Berlin"})
}

fn with(changes: Value) -> Value {
    changed(valid(), changes)
}

#[tokio::test]
async fn adding_checks_every_field() {
    let app = App::start().await;
    app.add_messaging("mm1").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            with(json!({"repeat": {"every": {"n": 0, "unit": "days"}}})),
            400,
            "invalid-field",
            "repeat.every.n",
        ),
        (
            with(json!({"repeat": {"every": {"n": 1, "unit": "fortnights"}}})),
            400,
            "invalid-field",
            "repeat.every.unit",
        ),
        (
            with(json!({"repeat": {"cron": "every day"}})),
            400,
            "invalid-field",
            "repeat.cron",
        ),
        (
            with(json!({"repeat": {"cron": "0 0 30 2 *"}})),
            400,
            "invalid-field",
            "repeat.cron",
        ),
        (
            with(json!({"repeat": "sometimes"})),
            400,
            "invalid-field",
            "repeat",
        ),
        (
            with(json!({"end": "2030-02-01T00:00:00Z"})),
            400,
            "invalid-field",
            "end",
        ),
        (
            with(json!({"first_run": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"})),
            400,
            "invalid-field",
            "end",
        ),
        (
            with(json!({"target": {"elements": []}})),
            400,
            "invalid-field",
            "target.elements",
        ),
        (
            with(json!({"target": {"elements": ["bad name"]}})),
            400,
            "invalid-field",
            "target.elements[0]",
        ),
        (
            with(json!({"target": {"kind": "pbx"}})),
            400,
            "invalid-field",
            "target.kind",
        ),
        (
            with(json!({"target": "some"})),
            400,
            "invalid-field",
            "target",
        ),
        (
            with(json!({"time_zone": "Mars/Olympus"})),
            400,
            "invalid-field",
            "time_zone",
        ),
        (
            with(json!({"sync_type": "full"})),
            400,
            "invalid-field",
            "sync_type",
        ),
        (
            with(json!({"first_run": "tomorrow"})),
            400,
            "invalid-field",
            "first_run",
        ),
        (
            with(json!({"first_run": null})),
            400,
            "invalid-field",
            "first_run",
        ),
        (with(json!({"name": " "})), 400, "invalid-field", "name"),
        (
            with(json!({"ends": "2031-01-01T00:00:00Z"})),
            400,
            "invalid-field",
            "ends",
        ),
        (
            with(json!({"target": {"elements": ["mm1", "nope"]}})),
            404,
            "no-element",
            "target.elements[1]",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = app.post("/api/v1/schedules", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (status, code, field),
            "{body}: {a:?}"
        );
    }
    assert_eq!(app.get("/api/v1/schedules").await.body["total"], 0);
}

#[tokio::test]
async fn a_kind_target_is_kept_and_named() {
    let app = App::start().await;
    let a = app
        .post(
            "/api/v1/schedules",
            &with(json!({"target": {"kind": "messaging"}})),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["target"], json!({"kind": "messaging"}));
    assert_eq!(a.body["name"], "incremental of every messaging element");
    let id = a.body["id"].as_i64().unwrap();
    let got = app.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(got.body["target"], json!({"kind": "messaging"}));
}

#[tokio::test]
async fn adding_changing_and_removing() {
    let app = App::start().await;
    app.add_messaging("mm1").await;
    let a = app.post("/api/v1/schedules", &valid()).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["name"], "incremental of mm1");
    assert_eq!(a.body["next_due"], "2030-03-01T02:00:00.000Z", "{a:?}");
    assert_eq!(a.body["first_run"], "2030-03-01T02:00:00Z");
    insta::assert_json_snapshot!("schedule", redact(&a.body));
    let id = a.body["id"].as_i64().unwrap();

    // The service's zone applies when none is named.
    let b = app
        .post(
            "/api/v1/schedules",
            &with(json!({"time_zone": null, "name": "utc"})),
        )
        .await;
    assert_eq!(b.body["time_zone"], "UTC");

    let p = app
        .patch(
            &format!("/api/v1/schedules/{id}"),
            &json!({"repeat": {"cron": "30 4 * * 1-5"}, "name": "weekdays", "end": "2031-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(
        (&p.body["name"], &p.body["repeat"]),
        (&json!("weekdays"), &json!({"cron": "30 4 * * 1-5"}))
    );
    assert_eq!(
        p.body["next_due"], "2030-03-01T03:30:00.000Z",
        "the first weekday 04:30 in Berlin"
    );
    let p = app
        .patch(
            &format!("/api/v1/schedules/{id}"),
            &json!({"end": null, "enabled": false}),
        )
        .await;
    assert_eq!(
        (&p.body["end"], &p.body["enabled"], &p.body["next_due"]),
        (&Value::Null, &json!(false), &Value::Null)
    );
    let bad = app
        .patch(
            &format!("/api/v1/schedules/{id}"),
            &json!({"repeat": {"every": {"n": 0, "unit": "hours"}}}),
        )
        .await;
    assert_eq!((bad.status.as_u16(), bad.field()), (400, "repeat.every.n"));
    let got = app.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(got.body, p.body, "a refused change changes nothing");

    let list = app.get("/api/v1/schedules?limit=1").await;
    assert_eq!(
        (
            &list.body["total"],
            list.body["items"].as_array().unwrap().len()
        ),
        (&json!(2), 1)
    );
    assert_eq!(
        app.delete(&format!("/api/v1/schedules/{id}")).await.status,
        204
    );
    for a in [
        app.delete(&format!("/api/v1/schedules/{id}")).await,
        app.get(&format!("/api/v1/schedules/{id}")).await,
        app.patch(
            &format!("/api/v1/schedules/{id}"),
            &json!({"enabled": true}),
        )
        .await,
    ] {
        assert_eq!((a.status.as_u16(), a.code()), (404, "no-schedule"), "{a:?}");
    }
}

/// An element's default schedule is a system schedule: edited, disabled and
/// enabled, but not removed (it goes with its element).
#[tokio::test]
async fn a_default_schedule_is_disabled_not_removed() {
    let app = App::start().await;
    let emu = crate::emulator().await;
    app.add_cm("cm1", &emu).await;
    let list = app.get("/api/v1/schedules").await;
    let default = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["default_for"] == "cm1")
        .unwrap_or_else(|| panic!("no default schedule: {list:?}"))
        .clone();
    let path = format!("/api/v1/schedules/{}", default["id"]);

    let refused = app.delete(&path).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (409, "system-schedule"),
        "{refused:?}"
    );
    assert!(
        refused.message().contains("disable it instead"),
        "{refused:?}"
    );
    assert_eq!(app.get(&path).await.status, 200, "still there");

    let off = app.patch(&path, &json!({"enabled": false})).await;
    assert_eq!(
        (off.status.as_u16(), &off.body["enabled"]),
        (200, &json!(false))
    );
    assert_eq!(off.body["next_due"], Value::Null, "{off:?}");
    let on = app.patch(&path, &json!({"enabled": true})).await;
    assert_eq!(
        (on.status.as_u16(), &on.body["enabled"]),
        (200, &json!(true))
    );

    // Removed with its element.
    app.idle().await;
    assert_eq!(app.delete("/api/v1/elements/cm1").await.status, 204);
    assert_eq!(app.get(&path).await.status, 404);
}
