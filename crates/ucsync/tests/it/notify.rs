//! CM notify sync end to end, in one process: the service's syslog listener
//! and the CM emulator's sender (UDP, TCP, TLS), the real util-linux
//! `logger`, and what must never happen (a job, a second read, data changed
//! by a bad message, one sender starving the others).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use ucsync::serve::{Listeners, Service, Settings};
use ucsync_core::{ElementName, SyncType, Trigger};
use ucsync_emulator::cm::notify::NotifyTarget;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::SatClient;
use ucsync_store::{Element, ElementSettings, JobId, ObjectQuery};
use ucsync_testkit::emulators;
use ucsync_testkit::pki::{LOOPBACK_NAMES, Pki};
use ucsync_testkit::rig::{self, Added};

pub(crate) use ucsync_testkit::emulators::{OUTSIDE as CRAFT, OWN};

pub(crate) async fn service(tune: impl FnOnce(&mut Settings)) -> (Service, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    tune(&mut settings);
    let listeners = Listeners::loopback().await.unwrap();
    let service = Service::start(settings, listeners, Default::default());
    (service.await.unwrap(), dir)
}

pub(crate) async fn emulator(name: &str, notify: Option<NotifyTarget>) -> CmEmulator {
    start(cm_settings(name, notify)).await
}

/// A CM of 20 stations that sends its events to `notify`.
pub(crate) fn cm_settings(name: &str, notify: Option<NotifyTarget>) -> CmSettings {
    CmSettings {
        name: name.into(),
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (CRAFT.0.into(), CRAFT.1.into()),
            ("tti-m".into(), "tti01".into()),
        ],
        counts: [("station".to_string(), 20)].into(),
        notify,
        ..CmSettings::default()
    }
}

pub(crate) use ucsync_testkit::emulators::cm as start;

pub(crate) fn target(scheme: &str, addr: SocketAddr, ca: Option<&Path>) -> Option<NotifyTarget> {
    Some(NotifyTarget::parse(&format!("{scheme}://127.0.0.1:{}", addr.port()), ca).unwrap())
}

/// Adds the CM (notify sync on) and waits for its first init.
pub(crate) async fn add_cm(s: &Service, name: &str, emu: &CmEmulator) -> Element {
    let e = Added {
        settings: ElementSettings {
            notify_sync: true,
            ..Default::default()
        },
        ..Added::cm(name, emu.addr().port())
    };
    let job = rig::add_and_init(&s.runner, e).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:?}");
    s.runner.store().element(name).await.unwrap().unwrap()
}

pub(crate) async fn sat(emu: &CmEmulator, login: (&str, &str)) -> SatClient {
    emulators::sat(emu.addr().port(), login).await
}

pub(crate) async fn rename(sat: &SatClient, ext: &str, name: &str) {
    let r = sat
        .run(
            &Request::write(
                &format!("change station {ext}"),
                &[(station::NAME, Value::Set(name.into()))],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(r.failure().is_none(), "{:?}", r.failure());
}

/// The stored name of a station.
pub(crate) async fn stored_name(s: &Service, e: &Element, ext: &str) -> Option<String> {
    let objs = s
        .runner
        .store()
        .objects(
            e.id,
            &ObjectQuery {
                object_type: Some("station".into()),
                key: Some(ext.into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    objs.first()
        .and_then(|o| o.fields.get(&station::NAME.to_string()).map(str::to_string))
}

pub(crate) async fn wait_name(s: &Service, e: &Element, ext: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored_name(s, e, ext).await.as_deref() != Some(want) {
        assert!(
            Instant::now() < deadline,
            "station {ext} of {} never became '{want}'",
            e.name
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn jobs(s: &Service, name: &str) -> usize {
    s.runner
        .store()
        .jobs(Some(name), None, 0, 1000)
        .await
        .unwrap()
        .len()
}

pub(crate) fn displays(emu: &CmEmulator, ext: &str) -> u64 {
    emu.cm()
        .command_count(&format!("display station {ext}"), false)
}

pub(crate) async fn metrics(s: &Service) -> String {
    let token = std::fs::read_to_string(&s.admin_token_file).unwrap();
    reqwest::Client::new()
        .get(format!("http://{}/metrics", s.http_addr))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// The emulator over UDP: a SAT change is in the database with no job and
/// one `display`, and the next incremental skips exactly its history row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sat_change_over_udp_is_stored_with_one_display_and_no_job() {
    let (s, _dir) = service(|_| {}).await;
    let emu = emulator("cm1", target("udp", s.syslog_addr, None)).await;
    let e = add_cm(&s, "cm1", &emu).await;
    let (jobs_before, displays_before) = (jobs(&s, "cm1").await, displays(&emu, "1001"));
    let craft = sat(&emu, CRAFT).await;
    rename(&craft, "1001", "Notified Udp").await;
    wait_name(&s, &e, "1001", "Notified Udp").await;
    assert_eq!(jobs(&s, "cm1").await, jobs_before, "no job ran");
    assert_eq!(displays(&emu, "1001") - displays_before, 1, "one display");
    let stats = s.runner.notify_stats();
    assert_eq!(stats.applied(), 1);
    assert!(stats.last_event("cm1").is_some());
    // Our own change is not read back; the next incremental skips the
    // row notify sync applied and reads nothing again.
    let own = sat(&emu, OWN).await;
    rename(&own, "1002", "By ucsync").await;
    let job = s
        .runner
        .request(&e.name, SyncType::Incremental, Trigger::OnDemand, "test")
        .await
        .unwrap()
        .job;
    let job = s.runner.wait(job.id).await.unwrap();
    assert_eq!(job.state.as_str(), "succeeded", "{job:?}");
    let lines = s.runner.store().job_log_lines(job.id).await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipped 1 history rows that notify sync already applied")),
        "{lines:#?}"
    );
    assert_eq!(
        displays(&emu, "1001") - displays_before,
        1,
        "still one display"
    );
    assert!(
        s.runner
            .store()
            .notified_rows(e.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stats.ignored("own-login"), 1);

    // Per CM, the time of its last event: on the element and in /metrics.
    let e = s.runner.store().element("cm1").await.unwrap().unwrap();
    assert!(e.sync.last_notify_at.is_some(), "{:?}", e.sync);
    let m = metrics(&s).await;
    assert_eq!(metric(&m, "ucsync_notify_events_applied_total"), 1.0);
    assert!(
        m.contains("ucsync_notify_last_event_timestamp_seconds{element=\"cm1\"}"),
        "{m}"
    );
    assert!(m.contains("ucsync_notify_delay_seconds_count 1"), "{m}");

    // A form that needs an init: an init is queued, trigger `notify`, with why.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(
        b"<13>1 2026-11-26T10:02:03Z cm1 cm-notify - change [ucsyncNotify@32473 login=\"craft\" action=\"change\" object=\"system-parameters features\" time=\"2026-11-26T10:02:03\"] x",
        s.syslog_addr,
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let init = loop {
        let all = s
            .runner
            .store()
            .jobs(Some("cm1"), None, 0, 100)
            .await
            .unwrap();
        if let Some(j) = all.into_iter().find(|j| j.trigger == Trigger::Notify) {
            break j;
        }
        assert!(Instant::now() < deadline, "no init queued by notify sync");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(init.requested, SyncType::Init);
    let init = s.runner.wait(init.id).await.unwrap();
    assert!(
        init.reason
            .as_deref()
            .is_some_and(|r| r.contains("system-parameters features")),
        "{init:?}"
    );
    s.stop().await;
}

/// An event that arrives while a job runs on its element waits for the job
/// to end, and is applied then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_during_a_job_waits_for_it() {
    let (s, _dir) = service(|_| {}).await;
    // Only the 20 stations, every command taking 200 ms: an init runs for seconds.
    let emu = start(CmSettings {
        profile: "empty".into(),
        latency: Duration::from_millis(200),
        ..cm_settings("cm1", target("udp", s.syslog_addr, None))
    })
    .await;
    let e = add_cm(&s, "cm1", &emu).await;
    let stats = s.runner.notify_stats();
    // Logged in before the job starts: once it runs, the change is one
    // command (200 ms) against the init's many.
    let craft = sat(&emu, CRAFT).await;
    let job = s
        .runner
        .request(&e.name, SyncType::Init, Trigger::OnDemand, "test")
        .await
        .unwrap()
        .job;
    let store = s.runner.store();
    wait_for_state(&s, job.id, "running").await;
    rename(&craft, "1003", "During A Job").await;
    let state = store.job(job.id).await.unwrap().unwrap().state;
    assert_eq!(
        state.as_str(),
        "running",
        "the change came while the job ran"
    );
    // The applied count is read before the job's state: an event applied
    // while the job still ran would show as applied with the job running.
    loop {
        let applied = stats.applied();
        let state = store.job(job.id).await.unwrap().unwrap().state;
        if state.is_finished() {
            break;
        }
        assert_eq!(applied, 0, "an event was applied while the job ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_name(&s, &e, "1003", "During A Job").await;
    wait_until("the event is applied after the job", || {
        stats.applied() == 1
    })
    .await;
    s.stop().await;
}

async fn wait_for_state(s: &Service, id: JobId, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = s.runner.store().job(id).await.unwrap().unwrap();
        if job.state.as_str() == want {
            return;
        }
        assert!(Instant::now() < deadline, "job {id} never {want}: {job:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two CMs on one address, both over TCP, told apart by their names; a
/// phone's change (the tti-m login) is an event too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cms_on_one_address_over_tcp_are_told_apart_by_name() {
    let (s, _dir) = service(|_| {}).await;
    let a = emulator("cm-a", target("tcp", s.syslog_addr, None)).await;
    let b = emulator("cm-b", target("tcp", s.syslog_addr, None)).await;
    let ea = add_cm(&s, "cm-a", &a).await;
    let eb = add_cm(&s, "cm-b", &b).await;
    let before_b = stored_name(&s, &eb, "1001").await;
    rename(&sat(&a, CRAFT).await, "1001", "Only On A").await;
    wait_name(&s, &ea, "1001", "Only On A").await;
    assert_eq!(stored_name(&s, &eb, "1001").await, before_b);
    rename(&sat(&b, CRAFT).await, "1003", "Only On B").await;
    wait_name(&s, &eb, "1003", "Only On B").await;
    assert_ne!(
        stored_name(&s, &ea, "1003").await.as_deref(),
        Some("Only On B")
    );
    assert_eq!(
        (displays(&a, "1003"), displays(&b, "1001")),
        (1, 1),
        "init only"
    );

    // A phone moves: tti-m changes a station, and the CM says so.
    let tti = sat(&a, ("tti-m", "tti01")).await;
    let r = tti
        .run(
            &Request::write(
                "change station 1005",
                &[(station::NAME, Value::Set("Moved By Phone".into()))],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    if r.failure().is_none() {
        wait_name(&s, &ea, "1005", "Moved By Phone").await;
    }
    assert_eq!(jobs(&s, "cm-a").await, 1);
    s.stop().await;
}

/// TLS with a certificate made here (rcgen), and client certificates
/// required when a client CA is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_sends_over_tls() {
    let pki = Pki::new(LOOPBACK_NAMES);
    let (s, _data) = service(|st| {
        st.syslog_tls_cert = Some(pki.cert.clone());
        st.syslog_tls_key = Some(pki.key.clone());
    })
    .await;
    let emu = emulator("cm1", target("tls", s.syslog_addr, Some(&pki.ca))).await;
    let e = add_cm(&s, "cm1", &emu).await;
    rename(&sat(&emu, CRAFT).await, "1001", "Over Tls").await;
    wait_name(&s, &e, "1001", "Over Tls").await;
    assert_eq!(displays(&emu, "1001"), 2, "the init's and the event's");
    // Plain text on the TLS port is not an event.
    let mut plain = TcpStream::connect(s.syslog_addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut plain, b"12 <13>1 - x y\n")
        .await
        .unwrap();
    drop(plain);
    s.stop().await;

    // With a client CA, a sender without a certificate is refused.
    let (s, _data) = service(|st| {
        st.syslog_tls_cert = Some(pki.cert.clone());
        st.syslog_tls_key = Some(pki.key.clone());
        st.syslog_tls_client_ca = Some(pki.ca.clone());
    })
    .await;
    let emu = emulator("cm2", target("tls", s.syslog_addr, Some(&pki.ca))).await;
    let e = add_cm(&s, "cm2", &emu).await;
    rename(&sat(&emu, CRAFT).await, "1001", "Refused").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ne!(
        stored_name(&s, &e, "1001").await.as_deref(),
        Some("Refused")
    );
    assert_eq!(s.runner.notify_stats().received(), 0);
    s.stop().await;
}

/// The HOSTNAME util-linux `logger` puts in its messages on this machine.
async fn logger_hostname() -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    let out = Command::new("logger")
        .args([
            "-n",
            "127.0.0.1",
            "-P",
            &port,
            "-d",
            "--rfc5424",
            "-t",
            "cm-notify",
            "probe",
        ])
        .output()
        .expect("util-linux logger is installed (.ci/run installs bsdutils)");
    assert!(out.status.success(), "{out:?}");
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let msg = ucsync_syslog::SyslogMessage::decode(&buf[..n]).unwrap();
    msg.hostname.unwrap()
}

fn logger(port: u16, args: &[&str], time: &str, ext: &str) {
    let t = format!("time=\"{time}\"");
    let q = format!("qualifier=\"{ext}\"");
    let port = port.to_string();
    let mut cmd = Command::new("logger");
    cmd.args(["-n", "127.0.0.1", "-P", &port, "-t", "cm-notify"]);
    cmd.args(args);
    if args.contains(&"--rfc5424") {
        cmd.args(["--msgid", "change", "--sd-id", "ucsyncNotify@32473"]);
        for p in [
            "login=\"craft\"",
            "action=\"change\"",
            "object=\"station\"",
            &q,
            &t,
        ] {
            cmd.args(["--sd-param", p]);
        }
        cmd.arg(format!("craft change station {ext}"));
    } else {
        cmd.arg(format!(
            "login=\"craft\" action=\"change\" object=\"station\" {q} {t}"
        ));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The real `logger` over UDP (RFC 5424 and 3164) and TCP (newline and
/// octet-counted frames): each message reads its station once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_the_real_logger_over_udp_and_tcp() {
    let host = logger_hostname().await;
    if ElementName::parse(&host).is_err() {
        eprintln!("skipped: this machine's name '{host}' cannot be an element name");
        return;
    }
    let (s, _dir) = service(|_| {}).await;
    let emu = emulator("whatever", None).await;
    let e = add_cm(&s, &host, &emu).await;
    let port = s.syslog_addr.port();
    let now = emu.cm().now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["-d", "--rfc5424"], "1001"),
        (&["-d", "--rfc3164"], "1002"),
        (&["-T", "--rfc5424"], "1003"),
        (&["-T", "--octet-count", "--rfc5424"], "1004"),
    ];
    let stats = s.runner.notify_stats().clone();
    for (i, (args, ext)) in cases.iter().enumerate() {
        logger(port, args, &now, ext);
        wait_until(&format!("logger {args:?} applied"), || {
            stats.applied() == i as u64 + 1
        })
        .await;
        assert_eq!(
            displays(&emu, ext),
            2,
            "{args:?}: the init's and the event's"
        );
    }
    let rows = s.runner.store().notified_rows(e.id).await.unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(jobs(&s, &host).await, 1);
    s.stop().await;
}

/// Bad messages are counted and dropped, change nothing and do not stop
/// the listener; a flood from one sender is limited while another CM's
/// events still go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_counted_and_a_flood_does_not_starve_others() {
    const RATE: u64 = 20;
    const BURST: u64 = 100;
    let (s, _dir) = service(|st| {
        st.syslog_rate_per_sender = RATE as _;
        st.syslog_burst_per_sender = BURST as _;
    })
    .await;
    let emu = emulator("cm1", target("udp", s.syslog_addr, None)).await;
    let e = add_cm(&s, "cm1", &emu).await;
    let stats = s.runner.notify_stats().clone();
    let stored = s.runner.store().object_hashes(e.id).await.unwrap().len();
    let to = s.syslog_addr;
    let good = |host: &str, ext: &str| {
        format!(
            "<13>1 2026-11-26T10:02:03Z {host} cm-notify - change [ucsyncNotify@32473 login=\"craft\" action=\"change\" object=\"station\" qualifier=\"{ext}\" time=\"2026-11-26T10:02:03\"] x"
        )
    };
    let bad = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    let mut oversized = good("cm1", "1001").into_bytes();
    oversized.extend(std::iter::repeat_n(b'x', 9000));
    for m in [
        b"hello".to_vec(),
        oversized,
        b"<13>1 2026-11-26T10:02:03Z cm1 cm-notify - change [ucsyncNotify@32473 login=\"cr"
            .to_vec(),
        b"<13>1 2026-11-26T10:02:03Z cm1 cm-notify - change - \xff\xfe".to_vec(),
        b"<13>1 2026-11-26T10:02:03Z cm1 sshd - - - accepted".to_vec(),
        good("nosuch", "1001").into_bytes(),
        // The right name from an address that is no CM's.
        good("cm1", "1001").into_bytes(),
    ] {
        bad.send_to(&m, to).await.unwrap();
    }
    // A made-up name from the CM's own address.
    let from_cm = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    from_cm
        .send_to(good("nosuch", "1001").as_bytes(), to)
        .await
        .unwrap();
    // TCP: a frame cut short by the end of the connection.
    let mut tcp = TcpStream::connect(to).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"500 <13>1 2026-11-26T10:02:03Z cm1")
        .await
        .unwrap();
    drop(tcp);
    let expect = [
        ("malformed", 1),
        ("oversized", 1),
        ("truncated", 2),
        ("invalid-utf8", 1),
        ("not-notify", 1),
    ];
    wait_until("every bad message counted", || {
        expect.iter().all(|(k, n)| stats.malformed(k) == *n)
            && stats.ignored("unknown-sender") == 2
            && stats.ignored("unknown-element") == 1
    })
    .await;

    // A flood from 127.0.0.2 of events naming cm1, over TCP so that every
    // one of them reaches the listener (UDP would lose an unknown number
    // to a full socket buffer).
    const FLOOD: u64 = 3000;
    let received = stats.received();
    let started = Instant::now();
    let flood = tokio::net::TcpSocket::new_v4().unwrap();
    flood.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut flood = flood.connect(to).await.unwrap();
    let msg = good("cm1", "1001");
    let frames = format!("{} {msg}", msg.len()).repeat(FLOOD as usize);
    let flooding = tokio::spawn(async move {
        tokio::io::AsyncWriteExt::write_all(&mut flood, frames.as_bytes())
            .await
            .unwrap();
    });
    // Meanwhile cm1 itself is heard.
    rename(&sat(&emu, CRAFT).await, "1002", "Heard Anyway").await;
    wait_name(&s, &e, "1002", "Heard Anyway").await;
    flooding.await.unwrap();
    // Every frame of the flood is either limited or let through (and then
    // ignored: the address is not cm1's); cm1's own event is the one more.
    let passed = || stats.received() - received - 1;
    wait_until("every frame of the flood counted", || {
        stats.ignored("rate-limited") + passed() == FLOOD
    })
    .await;
    let limited = stats.ignored("rate-limited");
    // The bucket let through its burst and what refilled meanwhile, no more.
    let most = BURST + (RATE as f64 * started.elapsed().as_secs_f64()).ceil() as u64;
    assert!(passed() <= most, "{} passed, at most {most}", passed());
    assert!(limited > 0, "the flood was limited");
    let m = metrics(&s).await;
    assert_eq!(
        metric(
            &m,
            "ucsync_notify_events_ignored_total{reason=\"rate-limited\"}"
        ),
        limited as f64
    );
    assert_eq!(
        metric(
            &m,
            "ucsync_notify_messages_malformed_total{kind=\"truncated\"}"
        ),
        2.0
    );
    assert_eq!(stats.applied(), 1, "only cm1's own event");
    assert_eq!(
        displays(&emu, "1001"),
        1,
        "no bad message read station 1001"
    );
    assert_eq!(
        s.runner.store().object_hashes(e.id).await.unwrap().len(),
        stored
    );
    s.stop().await;
}
