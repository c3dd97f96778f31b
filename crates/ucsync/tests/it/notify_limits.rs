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
