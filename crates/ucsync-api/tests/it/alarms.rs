//! `/alarms`: listed with filters and paging, acknowledged once; raised by
//! a failed sync and cleared by the next that succeeds; `/webhooks`.

use serde_json::json;
use ucsync_core::{AlarmCondition, Severity};

use crate::{App, OWN, emulator};

#[tokio::test]
async fn alarms_are_listed_filtered_and_acknowledged() {
    let app = App::start_with(|s| s.webhooks = vec!["ops".into()]).await;
    let raise = |element: &'static str, c: AlarmCondition| {
        let store = app.store.clone();
        async move {
            store
                .raise_alarm(element, c, c.severity(), "seen", chrono::Utc::now())
                .await
                .unwrap()
                .alarm
        }
    };
    let down = raise("cm1", AlarmCondition::Unreachable).await;
    raise("cm2", AlarmCondition::SyncFailed).await;
    let old = raise("cm2", AlarmCondition::HistoryWrapped).await;
    app.store
        .clear_alarms("cm2", &[AlarmCondition::HistoryWrapped], chrono::Utc::now())
        .await
        .unwrap();

    let open = app.get("/api/v1/alarms").await;
    assert_eq!(open.status, 200, "{open:?}");
    assert_eq!(open.body["total"], 2, "open ones by default: {}", open.body);
    let all = app.get("/api/v1/alarms?state=all&limit=1").await;
    assert_eq!(
        (
            all.body["total"].as_u64(),
            all.body["items"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    let cleared = app.get("/api/v1/alarms?state=cleared").await;
    assert_eq!(cleared.body["items"][0]["id"], old.id);
    assert_eq!(cleared.body["items"][0]["state"], "cleared");
    let critical = app.get("/api/v1/alarms?severity=critical").await;
    assert_eq!(critical.body["total"], 1);
    assert_eq!(critical.body["items"][0]["condition"], "unreachable");
    let of_cm2 = app
        .get("/api/v1/alarms?element=cm2&condition=sync-failed")
        .await;
    assert_eq!(of_cm2.body["total"], 1);
    let bad = app.get("/api/v1/alarms?state=gone").await;
    assert_eq!(
        (bad.status.as_u16(), bad.code(), bad.field()),
        (400, "invalid-query", "state")
    );
    let bad = app.get("/api/v1/alarms?severity=grave").await;
    assert_eq!(bad.status.as_u16(), 400, "{bad:?}");

    // Acknowledged by the token's name; a read-only token may not.
    let path = format!("/api/v1/alarms/{}/ack", down.id);
    let refused = app
        .call_as(Some(&app.reader), reqwest::Method::POST, &path, None)
        .await;
    assert_eq!(refused.status.as_u16(), 403);
    let acked = app.post(&path, &json!({})).await;
    assert_eq!(acked.status, 200, "{acked:?}");
    assert_eq!(acked.body["acked_by"], "admin-test");
    assert!(acked.body["acked_at"].is_string());
    let unacked = app.get("/api/v1/alarms?acked=false").await;
    assert_eq!(unacked.body["total"], 1);
    let none = app.post("/api/v1/alarms/999999/ack", &json!({})).await;
    assert_eq!((none.status.as_u16(), none.code()), (404, "no-alarm"));
    assert_eq!(app.get("/api/v1/alarms/999999").await.code(), "no-alarm");

    // Delivery logs exist for the configured webhooks only.
    let log = app.get("/api/v1/webhooks/ops/deliveries").await;
    assert_eq!((log.status.as_u16(), &log.body["total"]), (200, &json!(0)));
    let other = app.get("/api/v1/webhooks/other/deliveries").await;
    assert_eq!((other.status.as_u16(), other.code()), (404, "no-webhook"));

    let metrics = app.get("/metrics").await.text;
    for line in [
        "ucsync_alarms_open{severity=\"critical\"} 1",
        "ucsync_alarms_open{severity=\"major\"} 1",
        "ucsync_alarms_open{severity=\"minor\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn a_refused_login_raises_an_alarm_and_the_next_good_sync_clears_it() {
    let emu = emulator().await;
    let app = App::start().await;
    let mut body = crate::cm_body("cm1", &emu);
    body["password"] = json!("not-the-password");
    let added = app.post("/api/v1/elements", &body).await;
    assert_eq!(added.status, 201, "{added:?}");
    let init = app
        .wait_job(added.body["job"]["id"].as_i64().unwrap())
        .await;
    assert_eq!(init["state"], "failed", "{init}");
    let open = app.get("/api/v1/alarms?element=cm1").await;
    assert_eq!(open.body["total"], 1, "{}", open.body);
    let alarm = &open.body["items"][0];
    assert_eq!(alarm["condition"], "login-refused");
    assert_eq!(alarm["severity"], "critical");
    assert_eq!(alarm["count"], 1);

    let fixed = app
        .patch("/api/v1/elements/cm1", &json!({"password": OWN.1}))
        .await;
    assert_eq!(fixed.status, 200, "{fixed:?}");
    let job = app.sync_one("cm1", "init").await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(app.get("/api/v1/alarms").await.body["total"], 0);
    let all = app.get("/api/v1/alarms?state=all").await;
    assert_eq!(all.body["items"][0]["state"], "cleared");
    assert!(all.body["items"][0]["cleared_at"].is_string());

    // An element removed takes its open alarms with it: they are cleared.
    app.store
        .raise_alarm(
            "cm1",
            AlarmCondition::SyncFailed,
            Severity::Major,
            "x",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(app.get("/api/v1/alarms").await.body["total"], 1);
    assert_eq!(app.delete("/api/v1/elements/cm1").await.status, 204);
    assert_eq!(app.get("/api/v1/alarms").await.body["total"], 0);
}
