//! `POST /api/v1/import`: 500 rows checked as `POST /elements` checks one,
//! all added or none, every bad row named with its field, and the inits of
//! those added queued.

use serde_json::{Value, json};
use ucsync_core::{ElementKind, SyncType, Trigger};

use crate::{App, changed};

/// Row `i` of a good import: every tenth a CM (whose init is queued and
/// fails, nothing listening), the others messaging elements, every
/// fiftieth of them a cm-messaging element naming a CM of the same import.
fn row(i: usize) -> Value {
    let port = 20000 + i;
    if i % 10 == 0 {
        json!({"name": format!("cm-{i:03}"), "kind": "cm", "host": "127.0.0.1",
               "port": port, "login": "ucsync", "password": "pw"})
    } else if i % 50 == 1 {
        json!({"name": format!("cmm-{i:03}"), "kind": "cm-messaging", "host": "127.0.0.1",
               "port": port, "login": "cn=admin", "password": "pw",
               "cm": format!("cm-{:03}", i + 9)})
    } else {
        json!({"name": format!("mm-{i:03}"), "kind": "messaging", "host": "127.0.0.1",
               "port": port, "login": "cn=admin", "password": "pw", "tls": false})
    }
}

async fn names(app: &App) -> Vec<String> {
    let all = app.store.elements().await.unwrap();
    all.into_iter().map(|e| e.name.to_string()).collect()
}

async fn element_added_inits(app: &App) -> Vec<i64> {
    let jobs = app.store.jobs(None, None, 0, 10_000).await.unwrap();
    jobs.into_iter()
        .filter(|j| j.trigger == Trigger::ElementAdded && j.sync_type == SyncType::Init)
        .map(|j| j.id.0)
        .collect()
}

#[tokio::test]
async fn bad_rows_are_named_and_nothing_is_added() {
    let app = App::start().await;
    app.add_messaging("there").await;
    let there = app.get("/api/v1/elements/there").await.body;
    let mut rows: Vec<Value> = (0..500).map(row).collect();
    // (row from 1, code, field)
    let mut bad = vec![
        (3, "invalid-field", "port"),
        (7, "invalid-field", "hots"),
        (12, "invalid-field", "login"),
        (100, "element-exists", "name"),
        (150, "element-exists", "name"),
        (201, "same-address", "host"),
        (203, "same-address", "host"),
        (300, "invalid-field", "cm"),
        (304, "invalid-field", "cm"),
        (401, "invalid-field", "tls"),
        (450, "invalid-body", ""),
    ];
    rows[2] = changed(rows[2].clone(), json!({"port": 0}));
    rows[6] = changed(rows[6].clone(), json!({"hots": "127.0.0.1"}));
    rows[11] = changed(rows[11].clone(), json!({"login": null}));
    // A name stored, and one an earlier row gives.
    rows[99] = changed(rows[99].clone(), json!({"name": "there"}));
    rows[149] = changed(rows[149].clone(), json!({"name": rows[147]["name"]}));
    // An address stored, and one an earlier row gives.
    rows[200] = changed(
        rows[200].clone(),
        json!({"kind": "messaging", "host": there["host"], "port": there["port"]}),
    );
    rows[202] = changed(rows[202].clone(), json!({"port": rows[198]["port"]}));
    // A cm that is nowhere, and one that is not a cm.
    rows[299] = changed(rows[299].clone(), json!({"cm": "nowhere"}));
    rows[303] = changed(rows[303].clone(), json!({"cm": "mm-302"}));
    rows[400] = changed(rows[400].clone(), json!({"tls": true}));
    rows[449] = json!("mm-450");
    for dry_run in [true, false] {
        let a = app
            .post(
                "/api/v1/import",
                &json!({"elements": rows, "dry_run": dry_run}),
            )
            .await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (400, "invalid-rows"),
            "{a:?}"
        );
        assert!(a.message().contains("11 of 500 rows"), "{}", a.message());
        assert_eq!(a.body["added"], 0);
        assert_eq!(a.body["invalid"], 11);
        let got: Vec<(u64, &str, &str)> = a.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == "invalid")
            .map(|r| {
                (
                    r["row"].as_u64().unwrap(),
                    r["error"]["code"].as_str().unwrap(),
                    r["error"]["field"].as_str().unwrap_or(""),
                )
            })
            .collect();
        bad.sort();
        assert_eq!(got, bad, "{}", a.body["rows"]);
        let good = &a.body["rows"][0];
        assert_eq!(good["outcome"], "would-add", "{good}");
        assert_eq!(good["name"], "cm-000");
        assert_eq!(names(&app).await, ["there"]);
        assert!(element_added_inits(&app).await.is_empty());
    }
}

#[tokio::test]
async fn a_dry_run_adds_nothing_and_a_good_import_adds_all_and_queues_their_inits() {
    let app = App::start().await;
    let rows: Vec<Value> = (0..500).map(row).collect();
    let a = app
        .post(
            "/api/v1/import",
            &json!({"elements": rows, "dry_run": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        (a.body["added"].as_u64(), a.body["invalid"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(a.body.get("error").is_none(), "{}", a.body);
    let outcomes = a.body["rows"].as_array().unwrap();
    assert_eq!(outcomes.len(), 500);
    assert!(
        outcomes
            .iter()
            .all(|r| r["outcome"] == "would-add" && r["job"].is_null())
    );
    assert!(names(&app).await.is_empty());

    let a = app.post("/api/v1/import", &json!({"elements": rows})).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["added"], 500);
    assert_eq!(names(&app).await.len(), 500);
    let mut jobs = Vec::new();
    for (i, r) in a.body["rows"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["row"], i as u64 + 1);
        assert_eq!(r["outcome"], "added", "{r}");
        assert_eq!(r["name"], rows[i]["name"]);
        let kind: ElementKind = rows[i]["kind"].as_str().unwrap().parse().unwrap();
        if kind == ElementKind::Cm {
            assert_eq!(r["job"]["type"], "init", "{r}");
            assert_eq!(r["job"]["element"], rows[i]["name"]);
            jobs.push(r["job"]["id"].as_i64().unwrap());
        } else {
            assert!(r["job"].is_null(), "{r}");
        }
    }
    assert_eq!(jobs.len(), 50);
    let mut queued = element_added_inits(&app).await;
    queued.sort_unstable();
    jobs.sort_unstable();
    assert_eq!(queued, jobs);
    let cmm = app.get("/api/v1/elements/cmm-001").await;
    assert_eq!(cmm.body["settings"]["cm"], "cm-010", "{cmm:?}");

    // Again: every name is taken now.
    let a = app.post("/api/v1/import", &json!({"elements": rows})).await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "invalid-rows"));
    assert_eq!(a.body["invalid"], 500);
}

#[tokio::test]
async fn the_number_of_rows_is_bounded() {
    let app = App::start().await;
    let a = app.post("/api/v1/import", &json!({"elements": []})).await;
    assert_eq!(
        (a.status.as_u16(), a.code(), a.field()),
        (400, "invalid-field", "elements")
    );
    let many = vec![json!({}); ucsync_api::model::MAX_IMPORT_ROWS + 1];
    let a = app.post("/api/v1/import", &json!({"elements": many})).await;
    assert_eq!(
        (a.status.as_u16(), a.code(), a.field()),
        (400, "invalid-field", "elements")
    );
    assert!(a.message().contains("at most 10000"), "{}", a.message());
    let reader = app
        .call_as(
            Some(&app.reader),
            reqwest::Method::POST,
            "/api/v1/import",
            Some(&json!({"elements": [row(1)]})),
        )
        .await;
    assert_eq!(reader.status, 403);
}
