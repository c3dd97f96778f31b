//! Alarms from the runner's jobs, and their delivery: a webhook that fails
//! at first is tried again with backoff until it takes the alarm, every
//! attempt in its delivery log; a pinned host key that changed raises
//! `identity-changed` until the key is accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::{AlarmCondition, Password, SyncType};
use ucsync_engine::alarms::deliver::{self, DeliverySettings, Webhook};
use ucsync_schedule::SystemClock;
use ucsync_store::{AlarmQuery, ElementUpdate};

use crate::{Rig, cm_settings, emulator, until};

/// An HTTP server on 127.0.0.1 port 0 that answers 503 to the first
/// `failures` requests and 200 to the others; counts them.
async fn flaky(failures: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                // One request per connection: read the head and the body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let n = count.fetch_add(1, Ordering::SeqCst);
                let status = if n < failures {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_and_every_attempt_logged() {
    let rig = Rig::new(8).await;
    let (url, seen) = flaky(2).await;
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    deliver::spawn(
        rig.store.clone(),
        rig.runner.subscribe(),
        vec![Webhook {
            name: "ops".into(),
            url,
            secret: Arc::new(Password::new("0123456789abcdef")),
            tls: None,
        }],
        DeliverySettings {
            backoff: Duration::from_millis(50),
            ..DeliverySettings::default()
        },
        Arc::new(SystemClock),
        shutdown.clone(),
        &tasks,
    )
    .unwrap();
    let alarms = rig.runner.alarms();
    alarms
        .raise("cm1", AlarmCondition::SyncFailed, "it failed")
        .await;
    // Raised again while open: counted, not delivered again.
    alarms
        .raise("cm1", AlarmCondition::SyncFailed, "it failed again")
        .await;
    until("three attempts", || async {
        rig.store.deliveries("ops", 0, 10).await.unwrap().1 >= 3
    })
    .await;
    let (log, total) = rig.store.deliveries("ops", 0, 10).await.unwrap();
    assert_eq!(total, 3, "{log:?}");
    assert_eq!(
        log.iter()
            .map(|d| (d.attempt, d.delivered, d.status))
            .collect::<Vec<_>>(),
        vec![
            (3, true, Some(200)),
            (2, false, Some(503)),
            (1, false, Some(503))
        ]
    );
    assert!(log[1].error.as_deref().unwrap().contains("503"));
    // The retries waited: 50 ms, then 100 ms.
    assert!(log[0].at - log[2].at >= chrono::Duration::milliseconds(150));
    alarms.clear("cm1", &[AlarmCondition::SyncFailed]).await;
    until("the clear delivered", || async {
        rig.store.deliveries("ops", 0, 10).await.unwrap().1 >= 4
    })
    .await;
    let (log, _) = rig.store.deliveries("ops", 0, 1).await.unwrap();
    assert_eq!((log[0].event.as_str(), log[0].delivered), ("cleared", true));
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn a_changed_host_key_raises_an_alarm_until_it_is_accepted() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    let pinned = e.settings.host_key.clone().unwrap();
    let mut settings = e.settings.clone();
    settings.host_key = Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let update = |settings| ElementUpdate {
        settings: Some(settings),
        ..Default::default()
    };
    rig.store
        .update_element("cm1", update(settings.clone()))
        .await
        .unwrap();
    rig.sync("cm1", SyncType::Incremental).await;
    rig.sync("cm1", SyncType::Incremental).await;
    let open = AlarmQuery {
        open: Some(true),
        ..Default::default()
    };
    let (alarms, _) = rig.store.alarms(&open).await.unwrap();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].condition, AlarmCondition::IdentityChanged);
    assert_eq!(alarms[0].count, 2);
    assert!(alarms[0].cause.contains(&pinned), "{}", alarms[0].cause);

    settings.host_key = Some(pinned);
    rig.store
        .update_element("cm1", update(settings))
        .await
        .unwrap();
    rig.sync("cm1", SyncType::Incremental).await;
    assert!(rig.store.alarms(&open).await.unwrap().0.is_empty());
}
