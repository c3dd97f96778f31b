//! Object keys given through the API are checked against their type's
//! grammar before anything is sent: a key with white space or any other
//! separator in it would change one object on the element and store another.

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_ossi::wellknown::station;

use crate::{App, emulator};

#[tokio::test]
async fn a_key_with_extra_words_is_refused_before_anything_is_sent() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let name = station::NAME.to_string();
    let before_1001 = emu.cm().object("station", Some("1001"));
    let writes = || {
        ["change", "add", "remove"]
            .iter()
            .map(|v| emu.cm().command_count(v, true))
            .sum::<u64>()
    };
    let written = writes();

    let cases: Vec<(Method, &str, Option<Value>, &str)> = vec![
        // Trailing space: the CM would change 1001, the store a phantom "1001 ".
        (
            Method::PATCH,
            "/api/v1/elements/cm1/objects/station/1001%20",
            Some(json!({"fields": {&name: "Phantom, Station"}})),
            "invalid-path",
        ),
        // The CM would remove 1001 while the store kept it.
        (
            Method::DELETE,
            "/api/v1/elements/cm1/objects/station/1001%20zzz",
            None,
            "invalid-path",
        ),
        // Other Unicode white space and separators, and a zero-width space.
        (
            Method::PATCH,
            "/api/v1/elements/cm1/objects/station/1001%C2%A0",
            Some(json!({"fields": {&name: "Phantom, Station"}})),
            "invalid-path",
        ),
        (
            Method::DELETE,
            "/api/v1/elements/cm1/objects/station/1001%E2%80%A8",
            None,
            "invalid-path",
        ),
        (
            Method::DELETE,
            "/api/v1/elements/cm1/objects/station/10%E2%80%8B01",
            None,
            "invalid-path",
        ),
        // Not an extension.
        (
            Method::DELETE,
            "/api/v1/elements/cm1/objects/station/1001x",
            None,
            "invalid-path",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            Some(json!({"key": "1997 ", "fields": {&name: "Phantom, Station"}})),
            "invalid-field",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/station",
            Some(json!({"key": "1997\u{3000}1998"})),
            "invalid-field",
        ),
        (
            Method::POST,
            "/api/v1/elements/cm1/objects/trunk-group",
            Some(json!({"key": "0"})),
            "invalid-field",
        ),
        // A system-wide form has no key.
        (
            Method::DELETE,
            "/api/v1/elements/cm1/objects/system-parameters-features/1",
            None,
            "invalid-path",
        ),
    ];
    for (m, path, body, code) in cases {
        let a = app.call(m.clone(), path, body.as_ref()).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, code, "key"),
            "{m} {path}: {a:?}"
        );
        assert!(
            a.message().contains("key"),
            "the refusal says what a key is: {a:?}"
        );
    }
    // A keyed type changed as if it were a system-wide form.
    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station",
            &json!({"fields": {&name: "Phantom, Station"}}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code(), a.field()),
        (400, "invalid-path", "type"),
        "{a:?}"
    );

    assert_eq!(writes(), written, "no change reached the CM");
    assert_eq!(emu.cm().object("station", Some("1001")), before_1001);
    let stored = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1001")
        .await;
    assert_eq!(stored.body["items"].as_array().unwrap().len(), 1, "kept");
    let phantoms = app.get("/api/v1/search?q=1001&limit=100").await;
    let keys: Vec<&str> = phantoms.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["type"] == "station")
        .map(|h| h["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["1001"], "no phantom stored");

    // A good key still goes through.
    let a = app
        .patch(
            "/api/v1/elements/cm1/objects/station/1001",
            &json!({"fields": {&name: "Kept, Station"}}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
}

#[tokio::test]
async fn add_next_is_refused_with_nothing_made() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let stations = emu.cm().keys("station");
    let stored = app.get("/api/v1/elements/cm1/objects?limit=1").await.body["total"].clone();
    for key in ["next", "NEXT"] {
        // The CM would take its next free extension, which its answer does
        // not name: made there, never stored. Refused instead.
        let a = app
            .post(
                "/api/v1/elements/cm1/objects/station",
                &json!({"key": key, "fields": {station::TYPE.to_string(): "9611SIP"}}),
            )
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", "key"),
            "{a:?}"
        );
        assert!(a.message().contains("\"next\""), "{a:?}");
    }
    assert_eq!(
        emu.cm().keys("station"),
        stations,
        "nothing added on the CM"
    );
    assert_eq!(
        app.get("/api/v1/elements/cm1/objects?limit=1").await.body["total"],
        stored
    );
}
