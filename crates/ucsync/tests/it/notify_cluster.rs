//! Notify sync on two nodes sharing one PostgreSQL database: a CM sends its
//! events to one address, a load balancer that hands them to the nodes in
//! turn. Each event is applied once, by the node that received it, and the
//! next incremental skips every one of them, whichever node runs it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::UdpSocket;
use ucsync::serve::Service;
use ucsync_core::{SyncType, Trigger};

use crate::notify::{
    CRAFT, add_cm, displays, emulator, jobs, rename, sat, service, target, wait_name,
};
use crate::service::fresh_postgres;

/// A UDP load balancer on loopback: each datagram goes to the next of
/// `nodes`, in turn; counts what it forwarded to each.
pub(crate) async fn balancer(nodes: Vec<SocketAddr>) -> (SocketAddr, Arc<Vec<AtomicUsize>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let sent: Arc<Vec<AtomicUsize>> = Arc::new(nodes.iter().map(|_| AtomicUsize::new(0)).collect());
    let counts = sent.clone();
    tokio::spawn(async move {
        // Sent from a socket of the balancer's own, bound to 127.0.0.1 as
        // the CM is: the nodes take events from the element's address.
        let out = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = vec![0u8; 65_536];
        let mut next = 0;
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            let _ = out.send_to(&buf[..n], nodes[next]).await;
            sent[next].fetch_add(1, Ordering::SeqCst);
            next = (next + 1) % nodes.len();
        }
    });
    (addr, counts)
}

async fn node(
    url: &str,
    name: &str,
    key: Option<&std::path::Path>,
) -> (Service, tempfile::TempDir) {
    let (url, name) = (url.to_string(), name.to_string());
    let key = key.map(std::path::Path::to_path_buf);
    let dir = tempfile::tempdir().unwrap();
    // One installation: the nodes share the key of device passwords.
    if let Some(key) = &key {
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(key, data.join("secret.key")).unwrap();
    }
    let data_dir = dir.path().join("data");
    let (s, _) = service(move |s| {
        s.data_dir = data_dir;
        s.database_url = Some(url);
        s.node = Some(name);
    })
    .await;
    (s, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_split_between_two_nodes_are_each_applied_once_and_skipped_by_the_next_incremental()
{
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let (a, _dir_a) = node(&url, "a", None).await;
    let key = a.data_dir.join("secret.key");
    let (b, _dir_b) = node(&url, "b", Some(&key)).await;
    let (lb, forwarded) = balancer(vec![a.syslog_addr, b.syslog_addr]).await;
    let emu = emulator("cm1", target("udp", lb, None)).await;
    let e = add_cm(&a, "cm1", &emu).await;
    let jobs_before = jobs(&a, "cm1").await;

    // Six changes at the CM, one after another, each seen stored before
    // the next: the balancer hands three to each node.
    let craft = sat(&emu, CRAFT).await;
    let exts = ["1001", "1002", "1003", "1004", "1005", "1006"];
    let before: Vec<u64> = exts.iter().map(|x| displays(&emu, x)).collect();
    for (i, ext) in exts.iter().enumerate() {
        let name = format!("Split {i}");
        rename(&craft, ext, &name).await;
        // Either node's store: it is the same database.
        wait_name(if i % 2 == 0 { &b } else { &a }, &e, ext, &name).await;
    }
    let sent: Vec<usize> = forwarded.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(sent, [3, 3], "the balancer split the events");
    let (on_a, on_b) = (
        a.runner.notify_stats().applied(),
        b.runner.notify_stats().applied(),
    );
    assert_eq!((on_a, on_b), (3, 3), "each node applied what it received");
    for (ext, was) in exts.iter().zip(&before) {
        assert_eq!(displays(&emu, ext) - was, 1, "station {ext} read once");
    }
    assert_eq!(jobs(&a, "cm1").await, jobs_before, "no job ran");

    // The next incremental, on whichever node runs it, skips all six rows
    // and reads nothing again.
    let job = b
        .runner
        .request(&e.name, SyncType::Incremental, Trigger::OnDemand, "test")
        .await
        .unwrap()
        .job;
    let job = b.runner.wait(job.id).await.unwrap();
    assert_eq!(job.state.as_str(), "succeeded", "{job:?}");
    assert_eq!(job.counts.changed, 0, "{job:?}");
    let lines = b.runner.store().job_log_lines(job.id).await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipped 6 history rows that notify sync already applied")),
        "{lines:#?}"
    );
    for (ext, was) in exts.iter().zip(&before) {
        assert_eq!(
            displays(&emu, ext) - was,
            1,
            "station {ext} still read once"
        );
    }
    a.stop().await;
    b.stop().await;
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}
