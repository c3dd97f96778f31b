//! Health, metrics, the event stream, and the error shape of
//! routes and methods that do not exist.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use ucsync_testkit::sse::read_events;

use crate::{App, emulator};

#[tokio::test]
async fn health_needs_no_token() {
    let app = App::start().await;
    let a = app.call_as(None, Method::GET, "/healthz", None).await;
    assert_eq!(
        (a.status.as_u16(), &a.body),
        (200, &json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = App::start().await;
    let a = app.get("/api/v1/nothing").await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "not-found"));
    let a = app.call_as(None, Method::GET, "/nothing", None).await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "not-found"));
    let a = app.call(Method::PUT, "/api/v1/elements", None).await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (405, "method-not-allowed"),
        "{a:?}"
    );
    let a = app.call(Method::DELETE, "/api/v1/jobs", None).await;
    assert_eq!(
        (a.status.as_u16(), a.code()),
        (405, "method-not-allowed"),
        "{a:?}"
    );
    insta::assert_json_snapshot!("not_found", app.get("/api/v1/nothing").await.body);
}

#[tokio::test]
async fn metrics_count_jobs_objects_and_sync_age() {
    let emu = emulator().await;
    let app = App::start().await;
    app.add_cm("cm1", &emu).await;
    // The histogram is fed by the finished-job event, which may trail the
    // job's state by a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let a = app.get("/metrics").await;
        assert_eq!(a.status, 200, "{a:?}");
        assert!(
            a.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        if a.text
            .contains("ucsync_sync_duration_seconds_count{type=\"init\",state=\"succeeded\"} 1")
            || std::time::Instant::now() >= deadline
        {
            break a.text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in [
        "# TYPE ucsync_jobs gauge",
        "ucsync_jobs{type=\"init\",state=\"succeeded\"} 1",
        "ucsync_jobs{type=\"incremental\",state=\"queued\"} 0",
        "# TYPE ucsync_sync_duration_seconds histogram",
        "ucsync_sync_duration_seconds_bucket{type=\"init\",state=\"succeeded\",le=\"+Inf\"} 1",
        "ucsync_sync_duration_seconds_count{type=\"init\",state=\"succeeded\"} 1",
        "ucsync_objects{element=\"cm1\",type=\"station\"} ",
        "ucsync_elements 1",
        "ucsync_last_successful_sync_age_seconds{element=\"cm1\"} ",
        "# TYPE ucsync_retention_removed_jobs_total counter",
        "ucsync_retention_runs_total 0",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    // Every sample line is `name{labels} number`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{l}");
    }
    let a = app.call_as(None, Method::GET, "/metrics", None).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn events_tell_of_elements_and_jobs() {
    let emu = emulator().await;
    let app = App::start().await;
    let mut resp = app
        .client
        .get(format!("{}/api/v1/events", app.url))
        .bearer_auth(&app.reader)
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
    let a = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    let id = a.body["job"]["id"].clone();
    let events = read_events(&mut resp, |evs| {
        evs.iter()
            .any(|(n, d)| n == "job" && d["job"]["id"] == id && d["job"]["state"] == "succeeded")
    })
    .await;
    let added = events
        .iter()
        .find(|(n, _)| n == "element")
        .expect("an element event");
    assert_eq!(
        added.1,
        json!({"kind": "element", "name": "cm1", "change": "added"})
    );
    let states: Vec<&str> = events
        .iter()
        .filter(|(n, d)| n == "job" && d["job"]["id"] == id)
        .map(|(_, d)| d["job"]["state"].as_str().unwrap())
        .collect();
    assert!(
        ["queued", "waiting", "running"]
            .iter()
            .any(|s| states.contains(s)),
        "{states:?}"
    );
    assert_eq!(states.last(), Some(&"succeeded"));
    for (_, d) in &events {
        assert!(
            !d.to_string().contains(crate::OWN.1),
            "no password in events"
        );
    }
}

#[tokio::test]
async fn an_idle_event_stream_is_kept_alive() {
    let app = App::start().await;
    let mut resp = app
        .client
        .get(format!("{}/api/v1/events", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .expect("a keep-alive within the interval")
        .unwrap()
        .unwrap();
    assert!(
        std::str::from_utf8(&chunk).unwrap().starts_with(':'),
        "a comment"
    );
}

#[tokio::test]
async fn a_graceful_shutdown_ends_open_event_streams() {
    let app = App::start().await;
    let mut resp = app
        .client
        .get(format!("{}/api/v1/events", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    app.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await
    .expect("the stream ends");
    tokio::time::timeout(Duration::from_secs(5), app.server)
        .await
        .expect("the server stops though a client was listening")
        .unwrap();
}

/// Past `max_event_streams` open streams, another is refused (503
/// `too-many-streams`); a stream closed gives its place back.
#[tokio::test]
async fn event_streams_are_capped() {
    let app = App::start_with(|s| s.max_event_streams = 2).await;
    let open = || {
        app.client
            .get(format!("{}/api/v1/events", app.url))
            .bearer_auth(&app.reader)
            .send()
    };
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await.unwrap();
    assert_eq!(third.status(), 503);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too-many-streams", "{body}");
    drop(first);
    // The service sees the stream closed at its next keep-alive.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let again = open().await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no place given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(second);
}

#[tokio::test]
async fn the_catalogue_in_effect_is_read_with_any_token() {
    let app = App::start().await;
    let reader = app.reader.clone();
    let a = app
        .call_as(Some(&reader), Method::GET, "/api/v1/catalog", None)
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let cm = &a.body["cm"];
    assert_eq!(cm["site_file"], Value::Null, "the built-in catalogue alone");
    let types = cm["types"].as_array().unwrap();
    let station = types
        .iter()
        .find(|t| t["object_type"] == "station")
        .expect("station");
    assert_eq!(
        station,
        &json!({"object_type": "station", "words": "station", "key": "8005ff00",
                "key_kind": "extension", "name": "8003ff00", "secret": ["0016ff00"],
                "site": []})
    );
    let features = types
        .iter()
        .find(|t| t["object_type"] == "system-parameters-features")
        .expect("a system-wide form");
    assert_eq!(
        (&features["key"], &features["key_kind"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(cm["version"]["field"], "a901ff00");
    assert!(
        cm["init_forms"]
            .as_array()
            .unwrap()
            .contains(&json!("dialplan"))
    );
}
