//! Elements: adding checks every field, naming it; changing, removing and
//! the conflicts that refuse them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{App, changed, emulator, redact};

fn valid() -> Value {
    json!({"name": "cm1", "kind": "cm", "host": "127.0.0.31", "port": 5022,
           "login": "ucsync", "password": "pw"})
}

fn with(changes: Value) -> Value {
    changed(valid(), changes)
}

/// Each bad body, the field its error names, and a word of its message.
#[tokio::test]
async fn adding_checks_every_field() {
    let app = App::start().await;
    app.add_messaging("mm1").await;
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            with(json!({"name": null})),
            "invalid-field",
            "name",
            "name is required",
        ),
        (
            with(json!({"name": "-cm"})),
            "invalid-field",
            "name",
            "invalid element name",
        ),
        (
            with(json!({"name": "new"})),
            "invalid-field",
            "name",
            "is the address of a console page",
        ),
        (
            with(json!({"name": "export.csv"})),
            "invalid-field",
            "name",
            "is the address of a console page",
        ),
        (
            with(json!({"name": "a b"})),
            "invalid-field",
            "name",
            "invalid element name",
        ),
        (
            with(json!({"name": 7})),
            "invalid-field",
            "name",
            "invalid type",
        ),
        (
            with(json!({"kind": "pbx"})),
            "invalid-field",
            "kind",
            "unknown variant `pbx`",
        ),
        (
            with(json!({"kind": null})),
            "invalid-field",
            "kind",
            "kind is required",
        ),
        (
            with(json!({"host": ""})),
            "invalid-field",
            "host",
            "must not be empty",
        ),
        (
            with(json!({"host": "a host"})),
            "invalid-field",
            "host",
            "not a host name",
        ),
        (
            with(json!({"alternate_host": ""})),
            "invalid-field",
            "alternate_host",
            "must not be empty",
        ),
        (
            with(json!({"alternate_host": "127.0.0.31"})),
            "invalid-field",
            "alternate_host",
            "same as host",
        ),
        (
            with(json!({"port": 0})),
            "invalid-field",
            "port",
            "from 1 to 65535",
        ),
        (
            with(json!({"port": 65536})),
            "invalid-field",
            "port",
            "from 1 to 65535",
        ),
        (
            with(json!({"port": -1})),
            "invalid-field",
            "port",
            "from 1 to 65535",
        ),
        (
            with(json!({"port": "22"})),
            "invalid-field",
            "port",
            "invalid type",
        ),
        (
            with(json!({"port": null})),
            "invalid-field",
            "port",
            "port is required",
        ),
        (
            with(json!({"login": ""})),
            "invalid-field",
            "login",
            "must not be empty",
        ),
        (
            with(json!({"password": null})),
            "invalid-field",
            "password",
            "password is required",
        ),
        (
            with(json!({"password": ""})),
            "invalid-field",
            "password",
            "must not be empty",
        ),
        (
            with(json!({"tls": true})),
            "invalid-field",
            "tls",
            "does not apply to cm",
        ),
        (
            with(json!({"ca_file": "/ca.pem"})),
            "invalid-field",
            "ca_file",
            "does not apply to cm",
        ),
        (
            with(json!({"own_logins": ["ok", ""]})),
            "invalid-field",
            "own_logins[1]",
            "must not be empty",
        ),
        (
            with(json!({"host_key": " "})),
            "invalid-field",
            "host_key",
            "must not be empty",
        ),
        (
            with(json!({"cm": "cm0"})),
            "invalid-field",
            "cm",
            "applies to messaging",
        ),
        (
            with(json!({"colour": "red"})),
            "invalid-field",
            "colour",
            "unknown field `colour`",
        ),
        (
            with(json!({"kind": "messaging", "notify_sync": true})),
            "invalid-field",
            "notify_sync",
            "cm elements only",
        ),
        (
            with(json!({"kind": "messaging", "own_logins": ["a"]})),
            "invalid-field",
            "own_logins",
            "cm elements only",
        ),
        (
            with(json!({"kind": "ip-office", "cm": "cm0"})),
            "invalid-field",
            "cm",
            "not to ip-office",
        ),
        (
            with(
                json!({"kind": "ip-office", "tls": true, "host_key": "SHA256:AAAAC3NzaC1lZDI1NTE5"}),
            ),
            "invalid-field",
            "host_key",
            "not a SHA-256 certificate fingerprint",
        ),
        (
            with(json!({"kind": "cm-messaging"})),
            "invalid-field",
            "cm",
            "required",
        ),
        (
            with(json!({"kind": "cm-messaging", "cm": "nope"})),
            "invalid-field",
            "cm",
            "no element of that name",
        ),
        (
            with(json!({"kind": "cm-messaging", "cm": "mm1"})),
            "invalid-field",
            "cm",
            "not a cm",
        ),
        (
            with(json!({"kind": "messaging", "tls": false, "ca_file": "/ca.pem"})),
            "invalid-field",
            "ca_file",
            "tls to true",
        ),
        (json!([]), "invalid-body", "", "wrong shape"),
    ];
    for (body, code, field, words) in cases {
        let a = app.post("/api/v1/elements", &body).await;
        assert_eq!(a.status, 400, "{body}: {a:?}");
        assert_eq!((a.code(), a.field()), (code, field), "{body}: {a:?}");
        assert!(
            a.message().contains(words),
            "{body}: {:?} lacks {words:?}",
            a.message()
        );
    }
    // Nothing was added by any of them.
    let list = app.get("/api/v1/elements").await;
    assert_eq!(list.body["total"], 1);
}

#[tokio::test]
async fn bodies_that_are_not_json() {
    let app = App::start().await;
    let cases = [
        (Some("application/json"), "{\"name\": ", 400, "invalid-json"),
        (Some("application/json"), "", 400, "invalid-json"),
        (
            Some("application/json"),
            r#"{"name": "mm1", "kind": "messaging", "host": "127.0.0.1", "port": 1, "login": "l", "password": "p"} {}"#,
            400,
            "invalid-json",
        ),
        (Some("text/plain"), "{}", 415, "unsupported-media-type"),
        (None, "{}", 415, "unsupported-media-type"),
    ];
    for (ct, body, status, code) in cases {
        let a = app
            .send_raw(Method::POST, "/api/v1/elements", ct, body)
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (status, code),
            "{ct:?} {body:?}: {a:?}"
        );
    }
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20));
    let a = app
        .send_raw(
            Method::POST,
            "/api/v1/elements",
            Some("application/json"),
            &big,
        )
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (413, "payload-too-large"));
}

#[tokio::test]
async fn a_cm_is_added_with_its_init_and_shown_without_its_password() {
    let emu = emulator().await;
    let app = App::start().await;
    let a = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.headers["location"], "/api/v1/elements/cm1");
    assert!(
        !a.text.contains(crate::OWN.1),
        "the password is never answered"
    );
    let job = &a.body["job"];
    assert_eq!(
        (&job["requested"], &job["trigger"], &job["requested_by"]),
        (
            &json!("init"),
            &json!("element-added"),
            &json!("admin-test")
        )
    );
    let done = app.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    let e = app.get("/api/v1/elements/cm1").await;
    assert_eq!(e.status, 200);
    assert!(!e.text.contains(crate::OWN.1));
    assert!(e.body["objects"].as_u64().unwrap() > 0);
    assert_eq!(e.body["sync"]["last_init_ok"], true);
    assert!(e.body["sync"]["version"].as_str().unwrap().starts_with('R'));
    assert!(
        e.body["settings"]["host_key"].as_str().is_some(),
        "the host key is pinned by the first connection: {e:?}"
    );
    let by_type = e.body["objects_by_type"].as_object().unwrap();
    assert!(by_type["station"].as_u64().unwrap() > 0, "{e:?}");
    assert_eq!(
        by_type.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        e.body["objects"].as_u64().unwrap(),
        "the types add up to the whole"
    );
    let mut shown = redact(&e.body);
    shown["settings"]["host_key"] = json!("[host_key]");
    shown["objects"] = json!("[objects]");
    // The types are the emulator's; how many of each is its profile's business.
    for n in shown["objects_by_type"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        *n = json!("[n]");
    }
    insta::assert_json_snapshot!("cm_element", shown);

    // Added twice: a conflict, and nothing changes.
    let again = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "element-exists")
    );
}

#[tokio::test]
async fn a_messaging_element_gets_no_job() {
    let app = App::start().await;
    let a = app.add_messaging("mm1").await;
    assert_eq!(a.body["job"], Value::Null);
    insta::assert_json_snapshot!("messaging_created", redact(&a.body));
}

#[tokio::test]
async fn editing_an_element() {
    let app = App::start().await;
    app.add_messaging("mm1").await;
    let a = app
        .patch(
            "/api/v1/elements/mm1",
            &json!({"alternate_host": "127.0.0.99", "port": 2222, "tls": true,
                    "ca_file": "/ca.pem", "password": "new"}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        (
            &a.body["alternate_host"],
            &a.body["port"],
            &a.body["settings"]["tls"]
        ),
        (&json!("127.0.0.99"), &json!(2222), &json!(true))
    );
    assert_eq!(app.store.element_password("mm1").await.unwrap(), "new");
    // null clears; absent keeps.
    let a = app
        .patch(
            "/api/v1/elements/mm1",
            &json!({"alternate_host": null, "password": "new"}),
        )
        .await;
    assert_eq!(
        (&a.body["alternate_host"], &a.body["port"]),
        (&Value::Null, &json!(2222))
    );
    // Where the password goes changes only with the password given again.
    for body in [
        json!({"host": "127.0.0.98"}),
        json!({"alternate_host": "127.0.0.97"}),
        json!({"port": 2223}),
        json!({"tls": false, "ca_file": null}),
    ] {
        let a = app.patch("/api/v1/elements/mm1", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", "password"),
            "{body}: {a:?}"
        );
        assert!(a.message().contains("password again"), "{a:?}");
    }
    // The same value again moves nothing.
    let a = app
        .patch("/api/v1/elements/mm1", &json!({"port": 2222}))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["settings"]["plain_text"], false);
    // Plain, asked for with the password: flagged.
    let a = app
        .patch(
            "/api/v1/elements/mm1",
            &json!({"tls": false, "ca_file": null, "password": "new"}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["settings"]["plain_text"], true, "{a:?}");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"port": 0, "password": "new"}), "port"),
        (json!({"host": "", "password": "new"}), "host"),
        (json!({"login": ""}), "login"),
        (json!({"password": ""}), "password"),
        (json!({"notify_sync": true}), "notify_sync"),
        (json!({"kind": "cm"}), "kind"),
        (json!({"name": "other"}), "name"),
        (json!({"cm": "nope"}), "cm"),
        (json!({"ca_file": "/ca.pem"}), "ca_file"),
    ];
    for (body, field) in cases {
        let a = app.patch("/api/v1/elements/mm1", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", field),
            "{body}: {a:?}"
        );
    }
    let a = app
        .patch("/api/v1/elements/nope", &json!({"port": 1}))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "no-element"));
}

#[tokio::test]
async fn removing_is_refused_while_an_element_depends_on_it() {
    let app = App::start().await;
    // A CM that does not answer: its init fails, and it is still a CM.
    let a = app
        .post(
            "/api/v1/elements",
            &json!({"name": "cm9", "kind": "cm", "host": "127.0.0.1", "port": 1,
                    "login": "u", "password": "p"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let init = app.wait_job(a.body["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(init["state"], "failed", "no CM answers on port 1: {init}");

    let mm = app
        .post(
            "/api/v1/elements",
            &json!({"name": "cmm", "kind": "cm-messaging", "host": "127.0.0.33", "port": 443,
                    "login": "u", "password": "p", "cm": "cm9"}),
        )
        .await;
    assert_eq!(mm.status, 201, "{mm:?}");
    let a = app.delete("/api/v1/elements/cm9").await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (409, "element-in-use"),
        "{a:?}"
    );
    assert!(a.message().contains("'cmm'"), "{a:?}");
    assert_eq!(app.delete("/api/v1/elements/cmm").await.status, 204);

    assert_eq!(app.delete("/api/v1/elements/cm9").await.status, 204);
    assert_eq!(app.get("/api/v1/elements/cm9").await.status, 404);
    assert_eq!(
        app.delete("/api/v1/elements/cm9").await.code(),
        "no-element"
    );
}

#[tokio::test]
async fn checking_an_element() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    let a = app
        .call(Method::POST, "/api/v1/elements/cm1/check", None)
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["version"], "R020x.01.0.974.0");
    assert_eq!(a.body["pinned"], true);
    assert_eq!(a.body["host"], "127.0.0.1");

    // A wrong password: the element refuses the login.
    app.patch("/api/v1/elements/cm1", &json!({"password": "wrong"}))
        .await;
    let a = app
        .call(Method::POST, "/api/v1/elements/cm1/check", None)
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (502, "element-login-failed"),
        "{a:?}"
    );

    // Another host key pinned: refused, naming both.
    app.patch(
        "/api/v1/elements/cm1",
        &json!({"password": crate::OWN.1, "host_key": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await;
    let a = app
        .call(Method::POST, "/api/v1/elements/cm1/check", None)
        .await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (502, "host-key-mismatch"),
        "{a:?}"
    );
    assert!(a.message().contains("SHA256:AAAA"), "{a:?}");

    let a = app
        .call(Method::POST, "/api/v1/elements/nope/check", None)
        .await;
    assert_eq!(a.code(), "no-element");
}

#[tokio::test]
async fn listing_is_paged() {
    let app = App::start().await;
    for i in 0..5 {
        app.add_messaging(&format!("mm{i}")).await;
    }
    let a = app.get("/api/v1/elements?offset=1&limit=2").await;
    assert_eq!(
        (&a.body["offset"], &a.body["limit"], &a.body["total"]),
        (&json!(1), &json!(2), &json!(5))
    );
    let names: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mm1", "mm2"]);
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("limit=x", "limit"),
    ] {
        let a = app.get(&format!("/api/v1/elements?{q}")).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-query", field),
            "{q}: {a:?}"
        );
    }
}

#[tokio::test]
async fn removing_is_refused_while_a_job_runs_and_stopping_it_frees_the_element() {
    // A slow CM, so that its init is still running when the removal comes.
    let emu = crate::emulator_with(|s| s.latency = std::time::Duration::from_millis(20)).await;
    let app = App::start().await;
    let a = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    let id = a.body["job"]["id"].as_i64().unwrap();
    let busy = app.delete("/api/v1/elements/cm1").await;
    assert_eq!(
        (busy.status.as_u16(), busy.code()),
        (409, "element-busy"),
        "{busy:?}"
    );
    assert!(busy.message().contains(&format!("job {id}")), "{busy:?}");

    let stop = app
        .call(Method::POST, &format!("/api/v1/jobs/{id}/stop"), None)
        .await;
    assert_eq!(stop.status, 200, "{stop:?}");
    assert!(
        ["stopping", "stopped"].contains(&stop.body["state"].as_str().unwrap()),
        "{stop:?}"
    );
    let done = app.wait_job(id).await;
    assert_eq!(done["state"], "stopped", "{done}");
    assert_eq!(app.delete("/api/v1/elements/cm1").await.status, 204);
    assert_eq!(app.get("/api/v1/elements/cm1").await.code(), "no-element");
}

/// The element's `state` reads its last job of any type, not only its last
/// init: an incremental refused after an upgrade is `needs-init`, one that
/// cannot reach the CM is `failing` — though the last init succeeded.
#[tokio::test]
async fn the_state_tells_an_element_whose_incrementals_fail_from_one_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("cm.json");
    let key_file = dir.path().join("host_key");
    let before = |s: &mut ucsync_emulator::cm::CmSettings| {
        s.state_file = Some(state_file.clone());
        s.host_key = Some(key_file.clone());
        s.version = "R018x.00.0.822.0".into();
    };
    let emu = crate::emulator_with(before).await;
    let port = emu.addr().port();
    let app = App::start().await;
    let init = app.add_cm("cm1", &emu).await;
    assert_eq!(init["state"], "succeeded", "{init}");
    let e = app.get("/api/v1/elements/cm1").await.body;
    assert_eq!(
        (e["state"].as_str(), &e["state_reason"]),
        (Some("in-sync"), &json!(null)),
        "{e}"
    );
    assert_eq!(e["sync"]["last_job"]["type"], "init", "{e}");
    assert_eq!(e["sync"]["last_job"]["state"], "succeeded", "{e}");

    // The same CM, upgraded.
    let mut cfg = ucsync_sat::SatConfig::new(
        "127.0.0.1",
        port,
        crate::OUTSIDE.0,
        ucsync_core::Password::new(crate::OUTSIDE.1),
    );
    cfg.sessions = 1;
    let craft = ucsync_sat::SatClient::connect(cfg).await.unwrap();
    craft.command("save translation").await.unwrap();
    craft.close().await;
    emu.shutdown().await.unwrap();
    let mut settings = ucsync_emulator::cm::CmSettings {
        logins: vec![
            (crate::OWN.0.into(), crate::OWN.1.into()),
            (crate::OUTSIDE.0.into(), crate::OUTSIDE.1.into()),
        ],
        ..Default::default()
    };
    before(&mut settings);
    settings.version = "R020x.01.0.974.0".into();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let emu = ucsync_emulator::cm::CmEmulator::start(settings, listener)
        .await
        .unwrap();
    let job = app.sync_one("cm1", "incremental").await;
    assert_eq!(job["state"], "failed", "{job}");
    let e = app.get("/api/v1/elements/cm1").await.body;
    assert_eq!(
        e["sync"]["last_init_ok"], true,
        "the init is what is ok: {e}"
    );
    assert_eq!(e["state"], "needs-init", "{e}");
    let why = e["state_reason"].as_str().unwrap();
    assert!(
        why.starts_with(
            "the last incremental failed: the element was upgraded from R018x.00.0.822.0"
        ),
        "{why}"
    );
    assert_eq!(
        (
            &e["sync"]["last_job"]["type"],
            &e["sync"]["last_job"]["state"],
            &e["sync"]["last_job"]["id"]
        ),
        (&json!("incremental"), &json!("failed"), &job["id"]),
        "{e}"
    );
    let listed = app.get("/api/v1/elements").await.body;
    assert_eq!(listed["items"][0]["state"], "needs-init", "{listed}");

    // An init brings it back in sync; a CM that stops answering makes it failing.
    assert_eq!(app.sync_one("cm1", "init").await["state"], "succeeded");
    assert_eq!(
        app.get("/api/v1/elements/cm1").await.body["state"],
        "in-sync"
    );
    emu.shutdown().await.unwrap();
    let job = app.sync_one("cm1", "incremental").await;
    assert_eq!(job["state"], "failed", "{job}");
    let e = app.get("/api/v1/elements/cm1").await.body;
    assert_eq!(e["state"], "failing", "{e}");
    assert!(
        e["state_reason"]
            .as_str()
            .unwrap()
            .starts_with("the last incremental failed: "),
        "{e}"
    );
}

#[tokio::test]
async fn a_second_element_at_the_same_address_is_refused_naming_the_first() {
    let app = App::start().await;
    let body = |name: &str, kind: &str, host: &str, port: u16| {
        json!({"name": name, "kind": kind, "host": host, "port": port,
               "login": "ucsync", "password": "pw"})
    };
    let a = app
        .post(
            "/api/v1/elements",
            &body("mm1", "messaging", "127.0.0.12", 389),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = app
        .post(
            "/api/v1/elements",
            &body("mm2", "messaging", "LOCALHOST", 389),
        )
        .await;
    assert_eq!(a.status, 201, "another host: {a:?}");
    let twice = app
        .post(
            "/api/v1/elements",
            &body("mm3", "messaging", "127.0.0.12", 389),
        )
        .await;
    assert_eq!(
        (twice.status.as_u16(), twice.code(), twice.field()),
        (409, "same-address", "host"),
        "{twice:?}"
    );
    assert_eq!(
        twice.message(),
        "messaging element 'mm1' is already at 127.0.0.12:389: one element per address; change the host or port, or use 'mm1'"
    );
    // Another kind may share the address; another port is another element.
    let a = app
        .post(
            "/api/v1/elements",
            &body("ipo1", "ip-office", "127.0.0.12", 389),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = app
        .post(
            "/api/v1/elements",
            &body("mm3", "messaging", "127.0.0.12", 636),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    // Moving one onto another's address is refused too; a change that
    // keeps its own address is not.
    let moved = app
        .patch(
            "/api/v1/elements/mm3",
            &json!({"port": 389, "password": "p"}),
        )
        .await;
    assert_eq!(
        (moved.status.as_u16(), moved.code()),
        (409, "same-address"),
        "{moved:?}"
    );
    assert!(moved.message().contains("'mm1'"), "{moved:?}");
    let a = app
        .patch("/api/v1/elements/mm1", &json!({"login": "other"}))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(app.get("/api/v1/elements/mm3").await.body["port"], 636);
}

/// An IP Office or messaging element is reached over TLS unless plain is
/// asked for, and plain is flagged in its view.
#[tokio::test]
async fn tls_is_the_default_and_plain_is_flagged() {
    let app = App::start().await;
    // One element per address: each at a port of its own.
    let body = |name: &str, kind: &str, tls: Option<bool>, port: u16| {
        let mut b = json!({"name": name, "kind": kind, "host": "127.0.0.12", "port": port,
                           "login": "u", "password": "p"});
        if let Some(t) = tls {
            b["tls"] = json!(t);
        }
        b
    };
    for (port, (name, kind, tls, want_tls, plain)) in (1..).zip([
        ("ipo1", "ip-office", None, true, false),
        ("ipo2", "ip-office", Some(false), false, true),
        ("mm1", "messaging", None, true, false),
        ("mm2", "modular-messaging", Some(false), false, true),
    ]) {
        let a = app
            .post("/api/v1/elements", &body(name, kind, tls, port))
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        let settings = &a.body["element"]["settings"];
        let settings = if settings.is_null() {
            &a.body["settings"]
        } else {
            settings
        };
        assert_eq!(
            (settings["tls"].as_bool(), settings["plain_text"].as_bool()),
            (Some(want_tls), Some(plain)),
            "{name}: {a:?}"
        );
    }
}
