//! Every operation of the generated OpenAPI document, walked: without a
//! token each answers 401, with a read-only token each non-GET answers 403,
//! and with an admin token each answers one of its documented statuses with
//! a body that validates against the documented schema.

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_ossi::wellknown::station;

use crate::{Answer, App, emulator};

/// (method, path template) of every operation in the document.
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                ops.push((
                    Method::from_bytes(m.to_uppercase().as_bytes()).unwrap(),
                    path.clone(),
                ));
            }
        }
    }
    ops
}

fn operation<'a>(doc: &'a Value, method: &Method, path: &str) -> &'a Value {
    &doc["paths"][path][method.as_str().to_lowercase()]
}

/// Whether the operation is documented as needing no token.
fn is_public(doc: &Value, method: &Method, path: &str) -> bool {
    operation(doc, method, path)["security"]
        .as_array()
        .is_some_and(|s| s.is_empty())
}

/// The path with its parameters filled in.
fn fill(path: &str, params: &[(&str, String)]) -> String {
    let mut out = path.to_string();
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    assert!(!out.contains('{'), "a parameter of {path} has no value");
    out
}

/// Checks an answer against the document: its status is listed, and its
/// body validates against the schema given for that status.
fn check_documented(doc: &Value, method: &Method, path: &str, a: &Answer) {
    let op = operation(doc, method, path);
    let response = &op["responses"][a.status.as_str()];
    assert!(
        response.is_object(),
        "{method} {path} answered {}, which its document does not list: {}",
        a.status,
        a.text
    );
    let Some(content) = response["content"].as_object() else {
        assert!(
            a.text.is_empty(),
            "{method} {path}: undocumented body {}",
            a.text
        );
        return;
    };
    let content_type = a
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (documented, media) = content
        .iter()
        .find(|(ct, _)| content_type.starts_with(ct.as_str()))
        .unwrap_or_else(|| {
            panic!("{method} {path}: content type {content_type:?} not documented ({content:?})")
        });
    if documented != "application/json" {
        return;
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
    });
    for (k, v) in media["schema"].as_object().unwrap() {
        schema[k] = v.clone();
    }
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{method} {path}: schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&a.body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {} with a body its schema refuses: {errors:?}\n{}",
        a.status,
        a.text
    );
}

/// Every `$ref` of the document, where it is.
fn refs<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push((at.to_string(), r)),
                    _ => refs(v, &format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_of_the_document_resolves() {
    let app = App::start().await;
    let doc = app.get("/api/v1/openapi.json").await.body;
    let mut found = Vec::new();
    refs(&doc, "", &mut found);
    assert!(found.len() > 50, "{} references", found.len());
    let dangling: Vec<_> = found
        .iter()
        .filter(|(_, r)| {
            r.strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[tokio::test]
async fn every_operation_needs_a_token() {
    let app = App::start().await;
    let doc = app.get("/api/v1/openapi.json").await.body;
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "{} operations", ops.len());
    let params = [
        ("name", "cm1".to_string()),
        ("id", "1".to_string()),
        ("type", "station".to_string()),
        ("key", "1001".to_string()),
    ];
    for (method, path) in &ops {
        let url = fill(path, &params);
        let a = app.call_as(None, method.clone(), &url, None).await;
        if is_public(&doc, method, path) {
            assert_eq!(a.status, 200, "{method} {path} is public: {a:?}");
            continue;
        }
        assert_eq!(a.status, 401, "{method} {path} without a token: {a:?}");
        assert_eq!(a.code(), "missing-token");
        assert!(
            a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{method} {path}"
        );
        check_documented(&doc, method, path, &a);
        let a = app
            .call_as(Some("ucs_not-a-token"), method.clone(), &url, None)
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (401, "invalid-token"),
            "{method} {path}"
        );
        if method != Method::GET {
            let a = app
                .call_as(Some(&app.reader), method.clone(), &url, Some(&json!({})))
                .await;
            assert_eq!(
                a.status, 403,
                "{method} {path} with a read-only token: {a:?}"
            );
            assert_eq!(a.code(), "read-only-token");
            check_documented(&doc, method, path, &a);
        }
    }
}

/// One request per operation, as a user would make it, with the status
/// expected. A new route without an entry here fails the walk.
fn sample(method: &Method, path: &str, ids: &Ids) -> (String, Option<Value>, u16) {
    let m = method.as_str();
    let name = |n: &str| ("name", n.to_string());
    let (params, body, status): (Vec<(&str, String)>, Option<Value>, u16) = match (m, path) {
        ("GET", "/api/v1/elements") => (vec![], None, 200),
        ("POST", "/api/v1/elements") => (
            vec![],
            Some(
                json!({"name": "mm2", "kind": "modular-messaging", "host": "127.0.0.20",
                        "port": 443, "login": "admin", "password": "pw", "tls": true,
                        "ca_file": "/etc/ucsync/ca.pem", "cm": "cm1"}),
            ),
            201,
        ),
        ("GET", "/api/v1/elements/{name}") => (vec![name("cm1")], None, 200),
        ("PATCH", "/api/v1/elements/{name}") => (
            vec![name("mm1")],
            Some(json!({"alternate_host": "127.0.0.11", "port": 2222, "password": "p2"})),
            200,
        ),
        ("DELETE", "/api/v1/elements/{name}") => (vec![name("gone")], None, 204),
        ("POST", "/api/v1/elements/{name}/check") => (vec![name("cm1")], None, 200),
        ("GET", "/api/v1/elements/{name}/objects") => (vec![name("cm1")], None, 200),
        ("POST", "/api/v1/elements/{name}/objects/{type}") => (
            vec![name("cm1"), ("type", "station".into())],
            Some(json!({"key": "1999", "fields": {
                station::TYPE.to_string(): "9611SIP",
                station::NAME.to_string(): "Walk, Through"}})),
            201,
        ),
        ("PATCH", "/api/v1/elements/{name}/objects/{type}") => (
            vec![name("cm1"), ("type", "system-parameters-features".into())],
            Some(json!({"fields": {"a701ff00": "y"}})),
            200,
        ),
        ("PATCH", "/api/v1/elements/{name}/objects/{type}/{key}") => (
            vec![
                name("cm1"),
                ("type", "station".into()),
                ("key", "1999".into()),
            ],
            Some(json!({"fields": {station::NAME.to_string(): "Walk, Changed"}})),
            200,
        ),
        ("GET", "/api/v1/elements/{name}/objects/{type}/{key}/history") => (
            vec![
                name("cm1"),
                ("type", "station".into()),
                ("key", "1001".into()),
            ],
            None,
            200,
        ),
        ("DELETE", "/api/v1/elements/{name}/objects/{type}/{key}") => (
            vec![
                name("cm1"),
                ("type", "station".into()),
                ("key", "1999".into()),
            ],
            None,
            204,
        ),
        ("GET", "/api/v1/events") => (vec![], None, 200),
        ("POST", "/api/v1/import") => (
            vec![],
            Some(json!({"elements": [
                {"name": "mm3", "kind": "messaging", "host": "127.0.0.21", "port": 636,
                 "login": "admin", "password": "pw", "cm": "cm1"},
                {"name": "cm3", "kind": "cm", "host": "127.0.0.21", "port": 5022,
                 "login": "ucsync", "password": "pw"}]})),
            201,
        ),
        ("GET", "/api/v1/jobs") => (vec![], None, 200),
        ("GET", "/api/v1/jobs/{id}") => (vec![("id", ids.job.to_string())], None, 200),
        ("GET", "/api/v1/jobs/{id}/changes") => (vec![("id", ids.job.to_string())], None, 200),
        // The init has finished: nothing to stop.
        ("POST", "/api/v1/jobs/{id}/stop") => (vec![("id", ids.job.to_string())], None, 409),
        // The init keeps no plan: both answer `no-plan`.
        ("GET", "/api/v1/jobs/{id}/plan") => (vec![("id", ids.job.to_string())], None, 409),
        ("POST", "/api/v1/jobs/{id}/apply") => (vec![("id", ids.job.to_string())], None, 409),
        ("GET", "/api/v1/openapi.json") => (vec![], None, 200),
        ("GET", "/api/v1/schedules") => (vec![], None, 200),
        ("POST", "/api/v1/schedules") => (
            vec![],
            Some(
                json!({"target": {"elements": ["cm1"]}, "sync_type": "incremental",
                        "first_run": "2030-01-01T03:00:00Z",
                        "repeat": {"every": {"n": 1, "unit": "days"}}}),
            ),
            201,
        ),
        ("GET", "/api/v1/schedules/{id}") => (vec![("id", ids.schedule.to_string())], None, 200),
        ("PATCH", "/api/v1/schedules/{id}") => (
            vec![("id", ids.schedule.to_string())],
            Some(json!({"enabled": false})),
            200,
        ),
        ("DELETE", "/api/v1/schedules/{id}") => (vec![("id", ids.schedule.to_string())], None, 204),
        ("GET", "/api/v1/search") => (vec![], None, 200),
        ("POST", "/api/v1/sync") => (
            vec![],
            Some(json!({"type": "incremental", "elements": ["cm1"]})),
            202,
        ),
        ("GET", "/api/v1/tokens") => (vec![], None, 200),
        ("GET", "/api/v1/nodes") => (vec![], None, 200),
        ("GET", "/api/v1/catalog") => (vec![], None, 200),
        ("POST", "/api/v1/tokens") => (
            vec![],
            Some(json!({"name": "walker", "role": "read-only"})),
            201,
        ),
        ("DELETE", "/api/v1/tokens/{id}") => (vec![("id", ids.token.to_string())], None, 204),
        ("GET", "/api/v1/users") => (vec![], None, 200),
        ("POST", "/api/v1/users") => (
            vec![],
            Some(json!({"name": "walker", "role": "read-only", "password": "walking all the way"})),
            201,
        ),
        ("PATCH", "/api/v1/users/{name}") => (
            vec![name("walker")],
            Some(json!({"password": "walking back again"})),
            200,
        ),
        ("DELETE", "/api/v1/users/{name}") => (vec![name("walker")], None, 204),
        ("GET", "/healthz") => (vec![], None, 200),
        ("GET", "/metrics") => (vec![], None, 200),
        ("GET", "/api/v1/alarms") => (vec![], None, 200),
        ("GET", "/api/v1/alarms/{id}") => (vec![("id", ids.alarm.to_string())], None, 200),
        ("POST", "/api/v1/alarms/{id}/ack") => (vec![("id", ids.alarm.to_string())], None, 200),
        ("GET", "/api/v1/webhooks/{name}/deliveries") => (vec![name("ops")], None, 200),
        _ => panic!("{m} {path} has no sample in the walk: add one"),
    };
    let mut url = fill(path, &params);
    if path == "/api/v1/search" {
        url.push_str("?q=10");
    }
    (url, body, status)
}

struct Ids {
    alarm: i64,
    job: i64,
    schedule: i64,
    token: i64,
}

#[tokio::test]
async fn every_operation_answers_as_documented() {
    let emu = emulator().await;
    let app = App::start_with(|s| s.webhooks = vec!["ops".into()]).await;
    let init = app.add_cm("cm1", &emu).await;
    let alarm = app
        .store
        .raise_alarm(
            "cm1",
            ucsync_core::AlarmCondition::SyncFailed,
            ucsync_core::Severity::Major,
            "walked",
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .alarm;
    assert_eq!(init["state"], "succeeded", "{init}");
    app.add_messaging("mm1").await;
    app.add_messaging("gone").await;
    let schedule = app
        .post(
            "/api/v1/schedules",
            &json!({"target": "all", "sync_type": "init", "first_run": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(schedule.status, 201, "{schedule:?}");
    let token = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "doomed", "role": "admin"}),
        )
        .await;
    let ids = Ids {
        alarm: alarm.id,
        job: init["id"].as_i64().unwrap(),
        schedule: schedule.body["id"].as_i64().unwrap(),
        token: token.body["token"]["id"].as_i64().unwrap(),
    };

    let doc = app.get("/api/v1/openapi.json").await.body;
    let mut ops = operations(&doc);
    // Removals last, so each request finds what it needs; paths in order,
    // so an object is added before it is changed and removed.
    ops.sort_by_key(|(m, p)| (*m == Method::DELETE, p.clone()));
    for (method, path) in &ops {
        let (url, body, expected) = sample(method, path, &ids);
        if path == "/api/v1/events" {
            // A stream that does not end: the status and type are what can be checked.
            let resp = app
                .client
                .get(format!("{}{url}", app.url))
                .bearer_auth(&app.admin)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/event-stream")
            );
            continue;
        }
        // Administering waits for no job: let the one /sync queued end first.
        app.idle().await;
        let a = app.call(method.clone(), &url, body.as_ref()).await;
        assert_eq!(a.status.as_u16(), expected, "{method} {url}: {a:?}");
        check_documented(&doc, method, path, &a);
    }
}

#[tokio::test]
async fn documented_errors_validate_too() {
    // Error answers of each kind, checked against the document like the rest.
    let app = App::start().await;
    let doc = app.get("/api/v1/openapi.json").await.body;
    let cases: Vec<(Method, &str, &str, Option<Value>)> = vec![
        (
            Method::GET,
            "/api/v1/elements/{name}",
            "/api/v1/elements/nope",
            None,
        ),
        (Method::GET, "/api/v1/jobs/{id}", "/api/v1/jobs/99", None),
        (Method::GET, "/api/v1/jobs/{id}", "/api/v1/jobs/x", None),
        (Method::GET, "/api/v1/jobs", "/api/v1/jobs?limit=0", None),
        (Method::GET, "/api/v1/jobs", "/api/v1/jobs?state=done", None),
        (
            Method::POST,
            "/api/v1/elements",
            "/api/v1/elements",
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            "/api/v1/sync",
            "/api/v1/sync",
            Some(json!({"type": "init", "elements": ["nope"]})),
        ),
        (
            Method::DELETE,
            "/api/v1/schedules/{id}",
            "/api/v1/schedules/5",
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/tokens/{id}",
            "/api/v1/tokens/999",
            None,
        ),
        (Method::GET, "/api/v1/search", "/api/v1/search", None),
        (
            Method::DELETE,
            "/api/v1/users/{name}",
            "/api/v1/users/nobody",
            None,
        ),
        (
            Method::POST,
            "/api/v1/users",
            "/api/v1/users",
            Some(json!({"name": "x", "role": "admin", "password": "short"})),
        ),
        (
            Method::PATCH,
            "/api/v1/users/{name}",
            "/api/v1/users/nobody",
            Some(json!({"role": "admin"})),
        ),
        (
            Method::POST,
            "/api/v1/import",
            "/api/v1/import",
            Some(json!({"elements": [{"name": "x"}], "dry_run": true})),
        ),
        (
            Method::POST,
            "/api/v1/import",
            "/api/v1/import",
            Some(json!({"elements": []})),
        ),
    ];
    for (method, path, url, body) in cases {
        let a = app.call(method.clone(), url, body.as_ref()).await;
        assert!(a.status.is_client_error(), "{method} {url}: {a:?}");
        check_documented(&doc, &method, path, &a);
    }
}

#[test]
fn the_served_document_is_the_generated_one() {
    let doc = ucsync_api::openapi();
    let json = serde_json::to_value(doc.as_ref()).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    // Every error code of the table is in the document's ErrorCode schema.
    let codes = &json["components"]["schemas"]["ErrorCode"];
    let listed = serde_json::to_string(codes).unwrap();
    for c in ucsync_api::model::ErrorCode::ALL {
        assert!(listed.contains(c.as_str()), "{c} not in {listed}");
    }
}
