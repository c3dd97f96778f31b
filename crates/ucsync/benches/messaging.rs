//! The messaging figures of BENCHMARKS.md: an init of 50,000 mailboxes from
//! the messaging emulator (LDAP, paged), and an incremental of 1,000 changed
//! among them. Run with `cargo bench -p ucsync --bench messaging`.

use std::collections::HashSet;
use std::time::Instant;

use ldap3::{LdapConnAsync, Mod};
use ucsync_core::{ElementKind, ElementName, JobState, SyncType, Trigger};
use ucsync_engine::{Runner, RunnerSettings};
use ucsync_store::{ElementSettings, Job};
use ucsync_testkit::rig::{Added, Rig};

mod support;

use support::Emulator;

const MAILBOXES: usize = 50_000;
const BASE: &str = "ou=subscribers,o=aura-messaging";

/// `ucsync emulate messaging` on a free port, killed when dropped.
fn emulate() -> Emulator {
    let subscribers = MAILBOXES.to_string();
    Emulator::start_kind(
        "messaging",
        &[
            "--product",
            "aura",
            "--subscribers",
            &subscribers,
            "--login",
            "cn=ucsync,o=aura-messaging:ucsync01",
            "--login",
            "cn=admin,o=aura-messaging:admin01",
        ],
    )
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
    let emu = emulate();
    let rig = Rig::with_factory(
        RunnerSettings::default(),
        ucsync_testkit::service_factory(1),
    )
    .await;
    let runner = &rig.runner;
    let name = rig
        .add(Added {
            name: "msg1",
            kind: ElementKind::Messaging,
            port: emu.port,
            login: "cn=ucsync,o=aura-messaging".into(),
            password: "ucsync01".into(),
            settings: ElementSettings::default(),
        })
        .await;
    let t = Instant::now();
    let init = run(runner, &name, SyncType::Init).await;
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
    let inc = run(runner, &name, SyncType::Incremental).await;
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
