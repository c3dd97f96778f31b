//! The console's schedules: the list with next runs in each schedule's
//! zone, adding and editing through the API's own checks (errors beside
//! their fields), enabling, disabling and removing; a read-only user sees
//! the list only.

use serde_json::{Value, json};
use ucsync_testkit::Page;

use crate::{App, emulator};

/// The schedule of that name, read back through the API.
async fn schedule(app: &App, name: &str) -> Option<Value> {
    let all = app.get("/api/v1/schedules").await;
    assert_eq!(all.status, 200, "{all:?}");
    all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

fn every_two_hours<'a>(name: &'a str, cron: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("target", "elements"),
        ("elements", "cm1"),
        ("sync_type", "incremental"),
        ("time_zone", "Europe/Berlin"),
        ("first_run", "2030-01-01T08:00"),
        ("repeat", if cron.is_empty() { "every" } else { "cron" }),
        ("every_n", "2"),
        ("every_unit", "hours"),
        ("cron", cron),
        ("end", ""),
        ("enabled", "on"),
    ]
}

fn id_of(s: &Value) -> i64 {
    s["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn schedules_are_added_listed_disabled_enabled_and_removed() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let (admin, reader) = app.consoles().await;

    let form = admin.get("/schedules/new").await;
    assert_eq!(form.status, 200, "{}", form.html);
    insta::assert_snapshot!("schedule_form", form.stable());

    // Every two hours on one CM, from 08:00 in Berlin.
    let added = admin
        .submit(
            "/schedules/new",
            "/schedules",
            &every_two_hours("Two-hourly cm1", ""),
        )
        .await;
    assert_eq!(
        (added.status.as_u16(), added.location()),
        (303, Some("/schedules")),
        "{}",
        added.html
    );
    let s = schedule(&app, "Two-hourly cm1").await.expect("added");
    assert_eq!(s["target"], json!({"elements": ["cm1"]}));
    assert_eq!(s["repeat"], json!({"every": {"n": 2, "unit": "hours"}}));
    assert_eq!(s["time_zone"], "Europe/Berlin");
    assert_eq!(s["first_run"], "2030-01-01T07:00:00Z", "08:00 in Berlin");
    let list = admin.get("/schedules").await;
    assert_eq!(list.status, 200);
    assert!(list.has("Every 2 hours"), "{}", list.html);
    assert!(
        list.has("<td>2030-01-01 08:00 CET</td>"),
        "the next run in the schedule's zone: {}",
        list.html
    );
    assert!(list.has("Incremental sync of cm1"));
    assert!(list.has("default of cm1"), "the default one is marked");
    insta::assert_snapshot!("schedules_admin", list.stable());

    // The same form with a cron that cannot be: 400, the error beside it.
    let bad = admin
        .submit(
            "/schedules/new",
            "/schedules",
            &every_two_hours("Bad cron", "61 * * * *"),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    assert!(
        bad.has("<span class=\"field-error\" id=\"cron-error\">"),
        "{}",
        bad.html
    );
    assert!(bad.has("aria-describedby=\"cron-hint cron-error\""));
    assert!(
        bad.has("value=\"61 * * * *\""),
        "the form keeps what was typed"
    );
    assert!(schedule(&app, "Bad cron").await.is_none());
    let unknown = admin
        .submit(
            "/schedules/new",
            "/schedules",
            &[
                ("target", "elements"),
                ("elements", "cm9"),
                ("sync_type", "init"),
                ("first_run", "2030-01-01T08:00"),
                ("repeat", "once"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.html);
    assert!(unknown.has("id=\"elements-error\""), "{}", unknown.html);

    // Every element of a kind, whichever there are when it fires.
    let kind = admin
        .submit(
            "/schedules/new",
            "/schedules",
            &[
                ("name", "Every CM"),
                ("target", "kind"),
                ("kind", "cm"),
                ("sync_type", "incremental"),
                ("first_run", "2030-01-01T08:00"),
                ("repeat", "once"),
            ],
        )
        .await;
    assert_eq!(kind.status, 303, "{}", kind.html);
    let every_cm = schedule(&app, "Every CM").await.expect("added");
    assert_eq!(every_cm["target"], json!({"kind": "cm"}));
    assert!(
        admin
            .get("/schedules")
            .await
            .has("Incremental sync of every Communication Manager element")
    );
    let edit = admin
        .get(&format!("/schedules/{}/edit", id_of(&every_cm)))
        .await;
    assert!(
        edit.has("id=\"target-kind\" name=\"target\" value=\"kind\" checked"),
        "{}",
        edit.html
    );
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/schedules/{}", id_of(&every_cm)),
        None,
    )
    .await;

    // Edited: every three hours.
    let id = id_of(&s);
    let edit = admin.get(&format!("/schedules/{id}/edit")).await;
    assert_eq!(edit.status, 200, "{}", edit.html);
    assert!(edit.has("value=\"2030-01-01T08:00\""), "{}", edit.html);
    let mut fields = every_two_hours("Three-hourly cm1", "");
    fields[7] = ("every_n", "3");
    let edited = admin
        .submit(
            &format!("/schedules/{id}/edit"),
            &format!("/schedules/{id}"),
            &fields,
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.html);
    let s = schedule(&app, "Three-hourly cm1").await.expect("renamed");
    assert_eq!(s["repeat"], json!({"every": {"n": 3, "unit": "hours"}}));

    // Disabled, enabled again.
    let off = admin
        .submit("/schedules", &format!("/schedules/{id}/disable"), &[])
        .await;
    assert_eq!(off.status, 303, "{}", off.html);
    assert_eq!(
        schedule(&app, "Three-hourly cm1").await.unwrap()["enabled"],
        false
    );
    assert!(admin.get("/schedules").await.has("Disabled"));
    let on = admin
        .submit("/schedules", &format!("/schedules/{id}/enable"), &[])
        .await;
    assert_eq!(on.status, 303, "{}", on.html);
    assert_eq!(
        schedule(&app, "Three-hourly cm1").await.unwrap()["enabled"],
        true
    );

    // A reader sees the list, no action, and is refused every action.
    let read = reader.get("/schedules").await;
    assert_eq!(read.status, 200);
    for action in ["New schedule", "/edit", "/disable", "/remove"] {
        assert!(!read.has(action), "{action}: {}", read.html);
    }
    insta::assert_snapshot!("schedules_reader", read.stable());
    let token = read.csrf();
    for path in [
        "/schedules".to_string(),
        format!("/schedules/{id}"),
        format!("/schedules/{id}/disable"),
        format!("/schedules/{id}/remove"),
    ] {
        let p = reader.post(&path, &[("csrf", &token)]).await;
        assert_eq!(p.status, 403, "{path}: {}", p.html);
    }
    assert_eq!(reader.get("/schedules/new").await.status, 403);
    // And an admin's form without the session's token.
    let p = admin.post(&format!("/schedules/{id}/disable"), &[]).await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert_eq!(
        schedule(&app, "Three-hourly cm1").await.unwrap()["enabled"],
        true
    );

    // Removed after its confirmation page; a default one cannot be.
    let confirm = admin.get(&format!("/schedules/{id}/remove")).await;
    assert_eq!(confirm.status, 200, "{}", confirm.html);
    insta::assert_snapshot!("schedule_remove", confirm.stable());
    let gone = admin
        .submit(
            &format!("/schedules/{id}/remove"),
            &format!("/schedules/{id}/remove"),
            &[],
        )
        .await;
    assert_eq!(gone.status, 303, "{}", gone.html);
    assert!(schedule(&app, "Three-hourly cm1").await.is_none());
    let default = app.get("/api/v1/schedules").await.body["items"][0].clone();
    assert!(default["default_for"].is_string(), "{default}");
    let refused: Page = admin
        .get(&format!("/schedules/{}/remove", id_of(&default)))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.html);
    assert!(refused.has("disable it instead"));
}
