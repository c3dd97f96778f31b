//! An element's objects, search, and administering objects through ucsync.

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_emulator::cm::Faults;
use ucsync_ossi::wellknown::station;

use crate::{App, emulator, emulator_with};

const SECURITY_CODE: &str = "0016ff00";

#[tokio::test]
async fn objects_are_listed_without_their_secrets() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let all = app.get("/api/v1/elements/cm1/objects?limit=1000").await;
    assert_eq!(all.status, 200, "{all:?}");
    let total = all.body["total"].as_u64().unwrap();
    assert!(total > 300, "{total}");
    assert_eq!(
        all.body["items"].as_array().unwrap().len(),
        1000.min(total as usize)
    );
    let stations = app
        .get("/api/v1/elements/cm1/objects?type=station&limit=1000")
        .await;
    let items = stations.body["items"].as_array().unwrap();
    assert!(items.iter().all(|o| o["type"] == "station"));
    assert_eq!(
        stations.body["total"],
        Value::Null,
        "no total when filtered"
    );
    let with_code: Vec<&Value> = items
        .iter()
        .filter(|o| {
            o["secret_fields"]
                .as_array()
                .unwrap()
                .contains(&json!(SECURITY_CODE))
        })
        .collect();
    assert!(
        !with_code.is_empty(),
        "the emulator gives half its stations a code"
    );
    for o in items {
        // An empty code is no secret; a set one is never shown.
        let shown = o["fields"].get(SECURITY_CODE);
        assert!(shown.is_none() || shown == Some(&json!("")), "{o}");
    }
    assert!(!stations.text.contains("enc1:"), "not even encrypted");

    let one = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1001")
        .await;
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(one.body["items"][0]["key"], "1001");
    assert_eq!(
        app.get("/api/v1/elements/nope/objects").await.code(),
        "no-element"
    );
}

#[tokio::test]
async fn administering_a_station() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let name = station::NAME.to_string();

    let a = app
        .post(
            "/api/v1/elements/cm1/objects/station",
            &json!({"key": "1998", "fields": {station::TYPE.to_string(): "9611SIP", &name: "New, Station"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(
        (&a.body["key"], &a.body["fields"][&name]),
        (&json!("1998"), &json!("New, Station"))
    );
    assert!(
        emu.cm().object("station", Some("1998")).is_some(),
        "made on the CM"
    );

    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station/1998",
            &json!({"fields": {&name: "Changed, Station"}}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["fields"][&name], "Changed, Station");
    let stored = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1998")
        .await;
    assert_eq!(stored.body["items"][0]["fields"][&name], "Changed, Station");

    // A value the CM refuses: 422 with its words, and nothing stored.
    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station/1998",
            &json!({"fields": {station::TYPE.to_string(): "toaster"}}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (422, "element-refused"),
        "{a:?}"
    );
    let after = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1998")
        .await;
    assert_eq!(after.body["items"], stored.body["items"]);

    let a = app
        .call(
            Method::DELETE,
            "/api/v1/elements/cm1/objects/station/1998",
            None,
        )
        .await;
    assert_eq!(a.status, 204, "{a:?}");
    assert!(emu.cm().object("station", Some("1998")).is_none());
    let gone = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1998")
        .await;
    assert_eq!(gone.body["items"], json!([]));

    let cases: Vec<(Method, &str, Value, u16, &str, &str)> = vec![
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            json!({"fields": {}}),
            400,
            "invalid-field",
            "key",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            json!({"key": ""}),
            400,
            "invalid-field",
            "key",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            json!({"key": "1", "fields": {"": "x"}}),
            400,
            "invalid-field",
            "fields",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            json!({"key": "1", "fields": {"a": 1}}),
            400,
            "invalid-field",
            "fields.a",
        ),
        (
            Method::PATCH,
            "/api/v1/elements/cm1/objects/station/1001",
            json!({"fields": {}}),
            400,
            "invalid-field",
            "fields",
        ),
        (
            Method::PATCH,
            "/api/v1/elements/cm1/objects/station/1001",
            json!({}),
            400,
            "invalid-field",
            "fields",
        ),
        (
            Method::PATCH,
            "/api/v1/elements/cm1/objects/toaster/1",
            json!({"fields": {"8003ff00": "x"}}),
            404,
            "unknown-object-type",
            "",
        ),
        (
            Method::PATCH,
            "/api/v1/elements/nope/objects/station/1",
            json!({"fields": {"8003ff00": "x"}}),
            404,
            "no-element",
            "",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/%20",
            json!({"key": "1"}),
            400,
            "invalid-path",
            "type",
        ),
    ];
    for (m, path, body, status, code, field) in cases {
        let a = app.call(m.clone(), path, Some(&body)).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (status, code, field),
            "{m} {path} {body}: {a:?}"
        );
    }
}

#[tokio::test]
async fn administering_waits_for_no_job() {
    let emu = emulator_with(|s| s.latency = std::time::Duration::from_millis(20)).await;
    let app = App::start().await;
    let a = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    let id = a.body["job"]["id"].as_i64().unwrap();
    // The init runs for a while on this slow CM: seconds, at 20 ms a
    // command.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = app.get(&format!("/api/v1/jobs/{id}")).await.body["state"].clone();
        if state == "running" {
            break;
        }
        assert!(
            state == "queued" || state == "waiting",
            "the init ended before the change came: {state}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the init never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station/1001",
            &json!({"fields": {station::NAME.to_string(): "Too, Early"}}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (409, "element-busy"),
        "{a:?}"
    );
    app.call(Method::POST, &format!("/api/v1/jobs/{id}/stop"), None)
        .await;
    app.wait_job(id).await;
}

#[tokio::test]
async fn search_is_checked_and_paged() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let a = app.get("/api/v1/search?q=100&limit=5").await;
    assert_eq!(a.status, 200, "{a:?}");
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|h| h["element"] == "cm1"));
    let next = app.get("/api/v1/search?q=100&limit=5&offset=5").await;
    assert_ne!(next.body["items"][0], items[0]);
    for q in ["", "q=", "q=%20%20"] {
        let a = app.get(&format!("/api/v1/search?{q}")).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-query", "q"),
            "{q}"
        );
    }
    let long = "x".repeat(300);
    let a = app.get(&format!("/api/v1/search?q={long}")).await;
    assert_eq!(a.field(), "q");
    let a = app.get("/api/v1/search?q=zzzzzz").await;
    assert_eq!(a.body["items"], json!([]));
}

#[tokio::test]
async fn a_change_whose_answer_is_lost_is_read_again() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let name = station::NAME.to_string();
    // From now on every session is cut once it has made a change, before
    // the CM answers it: the change is made, ucsync never hears so.
    emu.set_faults(Faults {
        cut_after_changes: Some(1),
        ..Faults::default()
    });
    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station/1001",
            &json!({"fields": {&name: "Cut, Station"}}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (502, "element-error"),
        "{a:?}"
    );
    assert!(a.message().contains("read station 1001 again"), "{a:?}");
    let on_cm = emu.cm().object("station", Some("1001")).unwrap();
    assert!(
        on_cm
            .iter()
            .any(|(f, v)| *f == station::NAME && v == "Cut, Station"),
        "the CM made the change"
    );
    let stored = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1001")
        .await;
    assert_eq!(
        stored.body["items"][0]["fields"][&name], "Cut, Station",
        "stored as the CM has it, not taken as unchanged"
    );

    // An addition, then a removal, whose answers are lost: stored, then
    // gone from the store, as on the CM.
    let a = app
        .post(
            "/api/v1/elements/cm1/objects/station",
            &json!({"key": "1998", "fields": {station::TYPE.to_string(): "9611SIP", &name: "New, Station"}}),
        )
        .await;
    assert_eq!(a.status.as_u16(), 502, "{a:?}");
    assert!(emu.cm().object("station", Some("1998")).is_some());
    let added = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1998")
        .await;
    assert_eq!(added.body["items"][0]["fields"][&name], "New, Station");
    let a = app
        .delete("/api/v1/elements/cm1/objects/station/1998")
        .await;
    assert_eq!(a.status.as_u16(), 502, "{a:?}");
    assert!(emu.cm().object("station", Some("1998")).is_none());
    let gone = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1998")
        .await;
    assert_eq!(gone.body["items"], json!([]));
}
