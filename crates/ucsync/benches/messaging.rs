//! The messaging figures of BENCHMARKS.md: an init of 50,000 mailboxes from
//! the messaging emulator (LDAP, paged), and an incremental of 1,000 changed
//! among them. Run with `cargo bench -p ucsync --bench messaging`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use ldap3::{LdapConnAsync, Mod};
use ucsync_core::{ElementKind, ElementName, JobState, SecretKey, SyncType, Trigger};
use ucsync_engine::{Runner, RunnerSettings, SyncEngine, SyncSettings};
use ucsync_store::{ElementSettings, Job, NewElement, SqliteStore, Store};

const MAILBOXES: usize = 50_000;
const BASE: &str = "ou=subscribers,o=aura-messaging";

/// `ucsync emulate messaging` on a free port, killed when dropped.
struct Emulator {
    child: Child,
    port: u16,
}

impl Emulator {
    fn start() -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ucsync"))
            .args([
                "emulate",
                "messaging",
                "--product",
                "aura",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--subscribers", &MAILBOXES.to_string()])
            .args(["--login", "cn=ucsync,o=aura-messaging:ucsync01"])
            .args(["--login", "cn=admin,o=aura-messaging:admin01"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("emulator output").expect("read");
        let port = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .expect("port");
        std::thread::spawn(move || lines.for_each(drop));
        Emulator { child, port }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn run(runner: &Runner, name: &ElementName, t: SyncType) -> Job {
    let r = runner
        .request(name, t, Trigger::OnDemand, "bench")
        .await
        .expect("request");
    let job = runner.wait(r.job.id).await.expect("wait");
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    job
}

fn seconds(job: &Job) -> f64 {
    let (Some(start), Some(end)) = (job.started_at, job.finished_at) else {
        panic!("job {} has no start or end time", job.id)
    };
    (end - start).as_seconds_f64()
}

#[tokio::main]
async fn main() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = SecretKey::generate();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("ucsync.db"), secret.clone())
            .await
            .expect("store"),
    );
    let runner = Runner::new(
        SyncEngine::new(store.clone(), secret, SyncSettings::default()),
        ucsync::connectors::factory(1, ucsync_core::ElementNetworks::loopback()),
        RunnerSettings::default(),
    );
    let name = ElementName::parse("msg1").expect("name");
    store
        .add_element(NewElement {
            name: name.clone(),
            kind: ElementKind::Messaging,
            host: "127.0.0.1".into(),
            alternate_host: None,
            port: emu.port,
            login: "cn=ucsync,o=aura-messaging".into(),
            password: "ucsync01".into(),
            settings: ElementSettings::default(),
        })
        .await
        .expect("add");
    let t = Instant::now();
    let init = run(&runner, &name, SyncType::Init).await;
    assert_eq!(init.counts.added, MAILBOXES as u64);
    println!(
        "messaging init of {MAILBOXES} mailboxes (LDAP, pages of 1000): {:.2} s (job {:.2} s; target < 5 s)",
        t.elapsed().as_secs_f64(),
        seconds(&init)
    );
    // 1,000 changed the way an administrator does: 600 modified, 200 added, 200 deleted.
    let (conn, mut ldap) = LdapConnAsync::new(&format!("ldap://127.0.0.1:{}", emu.port))
        .await
        .expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind("cn=admin,o=aura-messaging", "admin01")
        .await
        .expect("bind")
        .success()
        .expect("bound");
    for n in 0..600 {
        let dn = format!("mailboxNumber={},{BASE}", 2_000_000 + n * 50);
        let m = vec![Mod::Replace("classOfService", HashSet::from(["9"]))];
        ldap.modify(&dn, m)
            .await
            .expect("modify")
            .success()
            .expect("modified");
    }
    for n in 0..200 {
        let k = (9_000_000 + n).to_string();
        let attrs = vec![
            ("objectClass", HashSet::from(["amSubscriber"])),
            ("mailboxNumber", HashSet::from([k.as_str()])),
            ("sn", HashSet::from(["Bench"])),
            ("cn", HashSet::from(["Bench Mark"])),
        ];
        let dn = format!("mailboxNumber={k},{BASE}");
        ldap.add(&dn, attrs)
            .await
            .expect("add")
            .success()
            .expect("added");
    }
    for n in 0..200 {
        let dn = format!("mailboxNumber={},{BASE}", 2_000_001 + n * 50);
        ldap.delete(&dn)
            .await
            .expect("delete")
            .success()
            .expect("deleted");
    }
    let t = Instant::now();
    let inc = run(&runner, &name, SyncType::Incremental).await;
    assert_eq!(
        inc.sync_type,
        SyncType::Incremental,
        "{:?} {:?}",
        inc.reason,
        inc.error
    );
    assert_eq!(
        (inc.counts.added, inc.counts.changed, inc.counts.deleted),
        (200, 600, 200)
    );
    println!(
        "messaging incremental of 1000 changed among {MAILBOXES}: {:.2} s (job {:.2} s; target < 1 s)",
        t.elapsed().as_secs_f64(),
        seconds(&inc)
    );
    runner.shutdown().await;
}
