//! Alarms from the runner's jobs, and their delivery: a webhook that fails
//! at first is tried again with backoff until it takes the alarm, every
//! attempt in its delivery log; a syslog collector gets each as RFC 5424
//! over UDP and TCP; a pinned host key that changed raises
//! `identity-changed` until the key is accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::{AlarmCondition, Password, SyncType};
use ucsync_engine::alarms::deliver::{self, DeliverySettings, Webhook};
use ucsync_engine::alarms::silence;
use ucsync_engine::alarms::syslog::{self, SyslogTarget, Transport};
use ucsync_schedule::SystemClock;
use ucsync_store::{AlarmQuery, ElementUpdate};
use ucsync_syslog::{Framer, SyslogMessage};

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

/// Starts sending the rig's alarm events to a collector on loopback.
fn syslog_to(rig: &Rig, port: u16, transport: Transport) -> (CancellationToken, TaskTracker) {
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    syslog::spawn(
        rig.runner.subscribe(),
        SyslogTarget {
            host: "127.0.0.1".into(),
            port,
            transport,
            tls: None,
            facility: 16,
            hostname: "node1".into(),
        },
        Arc::new(SystemClock),
        shutdown.clone(),
        &tasks,
    )
    .unwrap();
    (shutdown, tasks)
}

fn alarm_of(msg: &SyslogMessage) -> (String, String) {
    let sd = msg
        .sd_element(syslog::ALARM_SD_ID)
        .expect("the alarm's element");
    (
        sd.param("event").unwrap().to_string(),
        sd.param("condition").unwrap().to_string(),
    )
}

#[tokio::test]
async fn alarms_reach_a_syslog_collector_over_udp_and_tcp() {
    let rig = Rig::new(8).await;
    let alarms = rig.runner.alarms();

    // UDP: one message per datagram.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (stop, tasks) = syslog_to(&rig, udp.local_addr().unwrap().port(), Transport::Udp);
    alarms
        .raise("cm1", AlarmCondition::Unreachable, "no answer")
        .await;
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(10), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let msg = SyslogMessage::decode(&buf[..n]).unwrap();
    assert_eq!(alarm_of(&msg), ("raised".into(), "unreachable".into()));
    assert_eq!((msg.pri(), msg.msg.as_str()), (16 * 8 + 2, "no answer"));
    assert_eq!(msg.hostname.as_deref(), Some("node1"));
    stop.cancel();
    tasks.close();
    tasks.wait().await;

    // TCP: octet-counted frames on one connection.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, tasks) = syslog_to(&rig, tcp.local_addr().unwrap().port(), Transport::Tcp);
    alarms.clear("cm1", &[AlarmCondition::Unreachable]).await;
    alarms
        .raise("cm1", AlarmCondition::SyncFailed, "it failed")
        .await;
    let (mut conn, _) = tcp.accept().await.unwrap();
    let mut framer = Framer::default();
    let mut got = Vec::new();
    while got.len() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the connection closed");
        framer.push(&buf[..n]);
        while let Some(frame) = framer.next_frame() {
            got.push(alarm_of(&SyslogMessage::decode(frame.unwrap()).unwrap()));
        }
    }
    assert_eq!(
        got,
        [
            ("cleared".to_string(), "unreachable".to_string()),
            ("raised".to_string(), "sync-failed".to_string())
        ]
    );
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn alarms_reach_a_syslog_collector_over_tls_checked_by_its_ca() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let pki = ucsync_testkit::pki::Pki::new(&["127.0.0.1"]);
    let certs = CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(ucsync_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();

    let rig = Rig::new(8).await;
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    syslog::spawn(
        rig.runner.subscribe(),
        SyslogTarget {
            host: "127.0.0.1".into(),
            port,
            transport: Transport::Tls,
            tls: Some(ucsync_tls::Check {
                roots: ucsync_tls::Roots::CaFile(pki.ca.clone()),
                pin: None,
                names: true,
            }),
            facility: 16,
            hostname: "node1".into(),
        },
        Arc::new(SystemClock),
        shutdown.clone(),
        &tasks,
    )
    .unwrap();
    rig.runner
        .alarms()
        .raise("cm1", AlarmCondition::LoginRefused, "login refused")
        .await;
    let (conn, _) = tcp.accept().await.unwrap();
    let mut conn = acceptor.accept(conn).await.unwrap();
    let mut framer = Framer::default();
    let mut buf = [0u8; 2048];
    let got = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the connection closed");
        framer.push(&buf[..n]);
        if let Some(frame) = framer.next_frame() {
            break alarm_of(&SyslogMessage::decode(frame.unwrap()).unwrap());
        }
    };
    assert_eq!(got, ("raised".into(), "login-refused".into()));
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn a_silent_notify_sync_raises_an_alarm_until_an_event_comes() {
    let rig = Rig::new(8).await;
    let name = rig.add_element_only("cm1", 1).await;
    let e = rig.store.element(name.as_str()).await.unwrap().unwrap();
    let mut settings = e.settings.clone();
    settings.notify_sync = true;
    rig.store
        .update_element(
            "cm1",
            ElementUpdate {
                settings: Some(settings),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let alarms = rig.runner.alarms();
    let hour = chrono::Duration::minutes(60);
    let now = chrono::Utc::now();
    let open = AlarmQuery {
        open: Some(true),
        ..Default::default()
    };
    // Silent for less than the time: nothing.
    silence::check(rig.store.as_ref(), alarms, hour, now - hour / 2, now).await;
    assert!(rig.store.alarms(&open).await.unwrap().0.is_empty());
    // For longer: an alarm, counted again at the next look.
    for _ in 0..2 {
        silence::check(rig.store.as_ref(), alarms, hour, now - hour * 2, now).await;
    }
    let (found, _) = rig.store.alarms(&open).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].condition, AlarmCondition::NotifySilent);
    assert_eq!(found[0].count, 2);
    // An event came: cleared.
    rig.store.record_notify_event(e.id, now).await.unwrap();
    silence::check(rig.store.as_ref(), alarms, hour, now - hour * 2, now).await;
    assert!(rig.store.alarms(&open).await.unwrap().0.is_empty());
}
