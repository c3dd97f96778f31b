//! Notify sync under senders that mean harm: connections held open,
//! events naming made-up CMs, forged events that would start inits. The
//! CM's own events still go through.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::notify::{CRAFT, add_cm, emulator, rename, sat, service, target, wait_name};

/// A TCP connection from `from` (another loopback address than the CM's).
pub(crate) async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// More idle connections from one address than the listener has places
/// for: the CM, connecting afterwards, is heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tcp_connections_from_one_sender_do_not_shut_out_the_cm() {
    let (s, _dir) = service(|_| {}).await;
    let emu = emulator("cm1", target("tcp", s.syslog_addr, None)).await;
    let e = add_cm(&s, "cm1", &emu).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(connect_from("127.0.0.2", s.syslog_addr).await);
    }
    // The CM's first event opens its connection now.
    rename(&sat(&emu, CRAFT).await, "1002", "Heard Anyway").await;
    wait_name(&s, &e, "1002", "Heard Anyway").await;
    assert!(
        s.runner.notify_stats().ignored("too-many-connections") >= 300 - 16,
        "the connections past the cap from 127.0.0.2 were closed"
    );
    drop(held);
    s.stop().await;
}

/// A connection that sends nothing is closed after
/// `syslog_first_message_seconds`, not kept for the idle time of minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tcp_connection_is_closed_within_seconds() {
    let (s, _dir) = service(|st| st.syslog_first_message_seconds = 1).await;
    let mut silent = connect_from("127.0.0.2", s.syslog_addr).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), silent.read_to_end(&mut rest))
        .await
        .expect("the listener closes a silent connection");
    assert!(read.is_ok_and(|n| n == 0));
    s.stop().await;
}

/// Events naming made-up CMs from many addresses are dropped as
/// `unknown-sender` before anything is looked up for them, and take none of
/// the known senders' places: the CM's own events are applied meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_names_from_unknown_senders_are_dropped_first() {
    let (s, _dir) = service(|_| {}).await;
    let emu = emulator("cm1", target("udp", s.syslog_addr, None)).await;
    let e = add_cm(&s, "cm1", &emu).await;
    let stats = s.runner.notify_stats().clone();
    let to = s.syslog_addr;
    let flooding = tokio::spawn(async move {
        let mut sent = 0u64;
        for a in 10..60u8 {
            let socket = tokio::net::UdpSocket::bind(format!("127.0.0.{a}:0"))
                .await
                .unwrap();
            for i in 0..100u32 {
                let msg = format!(
                    "<13>1 2026-11-26T10:02:03Z made-up-{a}-{i} cm-notify - change [ucsyncNotify@32473 login=\"craft\" action=\"change\" object=\"station\" qualifier=\"1001\" time=\"2026-11-26T10:02:03\"] x"
                );
                if socket.send_to(msg.as_bytes(), to).await.is_ok() {
                    sent += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        sent
    });
    rename(&sat(&emu, CRAFT).await, "1002", "Heard Anyway").await;
    wait_name(&s, &e, "1002", "Heard Anyway").await;
    let sent = flooding.await.unwrap();
    // UDP may lose some in the kernel; most arrive on loopback.
    crate::notify::wait_until("the made-up events counted", || {
        stats.ignored("unknown-sender") >= sent / 2
    })
    .await;
    assert_eq!(stats.ignored("unknown-element"), 0, "none was looked up");
    assert_eq!(stats.ignored("overloaded"), 0);
    let m = crate::notify::metrics(&s).await;
    assert!(
        crate::notify::metric(
            &m,
            "ucsync_notify_events_ignored_total{reason=\"unknown-sender\"}"
        ) > 0.0
    );
    s.stop().await;
}

/// The init jobs notify sync queued for `name`.
async fn notify_inits(s: &ucsync::serve::Service, name: &str) -> Vec<ucsync_store::Job> {
    s.runner
        .store()
        .jobs(Some(name), None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.trigger == ucsync_core::Trigger::Notify)
        .collect()
}

/// Ten datagrams naming a form that needs an init, from the CM's address,
/// one after the other's init ended: one init runs, the nine others are
/// refused with a warning in its job log and a count in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_events_start_one_init_per_interval() {
    let (s, _dir) = service(|_| {}).await;
    let emu = emulator("cm1", target("udp", s.syslog_addr, None)).await;
    add_cm(&s, "cm1", &emu).await;
    let stats = s.runner.notify_stats().clone();
    let from_cm = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let forged = "<13>1 2026-11-26T10:02:03Z cm1 cm-notify - change [ucsyncNotify@32473 login=\"craft\" action=\"change\" object=\"system-parameters features\" time=\"2026-11-26T10:02:03\"] x";
    for i in 0..10u64 {
        from_cm
            .send_to(forged.as_bytes(), s.syslog_addr)
            .await
            .unwrap();
        // Each waits for what the one before did: an init that ended, or
        // a refusal.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let inits = notify_inits(&s, "cm1").await;
            let ended = inits.iter().filter(|j| j.state.is_finished()).count() as u64;
            if ended + stats.ignored("init-too-soon") == i + 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "event {i}: {inits:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let inits = notify_inits(&s, "cm1").await;
    let ids: Vec<_> = inits.iter().map(|j| j.id).collect();
    assert_eq!(ids.len(), 1, "notify inits: {ids:?}");
    assert_eq!(stats.ignored("init-too-soon"), 9);
    let log = s.runner.store().job_log_lines(inits[0].id).await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("another init") && l.contains("not queued"))
            .count(),
        9,
        "{log:?}"
    );
    let m = crate::notify::metrics(&s).await;
    assert_eq!(
        crate::notify::metric(
            &m,
            "ucsync_notify_events_ignored_total{reason=\"init-too-soon\"}"
        ),
        9.0
    );
    s.stop().await;
}
