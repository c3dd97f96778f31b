//! The IP Office figures of BENCHMARKS.md. Run with `cargo bench -p ucsync --bench ipo`
//! (`-- big`, `-- nochange` or `-- bulk` for one part). The emulators run in
//! this process, on the same runtime as the service's engine.

use std::time::{Duration, Instant};

mod support;

use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_emulator::ipo::{IpoEmulator, IpoSettings, Sizes};
use ucsync_engine::RunnerSettings;
use ucsync_store::Job;
use ucsync_testkit::Rig;
use ucsync_testkit::emulators::OWN;
use ucsync_testkit::rig::Added;

/// A rig with the service's defaults.
async fn rig() -> Rig {
    Rig::with_factory(
        RunnerSettings::default(),
        ucsync_testkit::service_factory(4),
    )
    .await
}

async fn emulator(sizes: Sizes, seed: u64) -> IpoEmulator {
    ucsync_testkit::emulators::ipo(IpoSettings {
        logins: vec![(OWN.0.into(), OWN.1.into())],
        sizes,
        seed,
        ..IpoSettings::default()
    })
    .await
}

fn ok(job: &Job) {
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One IP Office at the size of a full Server Edition: 2,000 users and 2,000 extensions.
async fn big() {
    let sizes = Sizes {
        users: 2000,
        extensions: 2000,
        hunt_groups: 100,
        short_codes: 200,
        incoming_call_routes: 200,
    };
    let emu = emulator(sizes, 1).await;
    let rig = rig().await;
    let t = Instant::now();
    let job = rig.queue(Added::ipo("big", emu.addr().port(), OWN.1)).await;
    let job = rig.runner.wait(job.id).await.expect("wait");
    ok(&job);
    let first = t.elapsed();
    let objects = rig
        .store
        .object_count(rig.store.element("big").await.unwrap().unwrap().id)
        .await
        .unwrap();
    let t = Instant::now();
    ok(&rig.sync("big", SyncType::Init).await);
    let again = t.elapsed();
    // Another administrator changes one user: the incremental reads it all and applies one change.
    let user = emu.data().users.keys().next().cloned().expect("a user");
    let resp = reqwest::Client::new()
        .patch(format!("{}/users/{user}", emu.url()))
        .basic_auth("ucsync", Some("ucsync01"))
        .json(&serde_json::json!({"full_name": "Changed Name"}))
        .send()
        .await
        .expect("patch");
    assert!(resp.status().is_success());
    let t = Instant::now();
    let inc = rig.sync("big", SyncType::Incremental).await;
    ok(&inc);
    let changed = t.elapsed();
    assert_eq!(inc.counts.changed, 1);
    println!(
        "ip office 2,000 users + 2,000 extensions ({objects} objects): first init {:.0} ms, init again (all unchanged) {:.0} ms, incremental after one change {:.0} ms",
        ms(first),
        ms(again),
        ms(changed)
    );
}

/// An incremental on an unchanged IP Office, from request to finished job.
async fn nochange() {
    let sizes = Sizes {
        users: 2000,
        extensions: 2000,
        ..Sizes::default()
    };
    let emu = emulator(sizes, 2).await;
    let rig = rig().await;
    let job = rig.queue(Added::ipo("ipo", emu.addr().port(), OWN.1)).await;
    ok(&rig.runner.wait(job.id).await.expect("wait"));
    let mut times = Vec::new();
    for _ in 0..100 {
        emu.clear_served();
        let t = Instant::now();
        let job = rig.sync("ipo", SyncType::Incremental).await;
        times.push(t.elapsed());
        ok(&job);
        assert_eq!(emu.served().len(), 1, "one request");
    }
    times.sort();
    println!(
        "ip office no-change incremental (2,000 users), request to finished job: median {:.1} ms, 90th percentile {:.1} ms, max {:.1} ms over {} jobs, one request each",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(*times.last().expect("times")),
        times.len()
    );
}

/// 200 IP Offices added at once: each queues its init, the runner works through them.
async fn bulk() {
    const N: usize = 200;
    let sizes = Sizes {
        users: 250,
        extensions: 260,
        hunt_groups: 10,
        short_codes: 30,
        incoming_call_routes: 20,
    };
    let mut emus = Vec::with_capacity(N);
    for i in 0..N {
        emus.push(emulator(sizes, i as u64).await);
    }
    let rig = rig().await;
    let t = Instant::now();
    let mut jobs = Vec::with_capacity(N);
    for (i, emu) in emus.iter().enumerate() {
        jobs.push(
            rig.queue(Added::ipo(&format!("ipo{i:03}"), emu.addr().port(), OWN.1))
                .await
                .id,
        );
    }
    for id in &jobs {
        ok(&rig.runner.wait(*id).await.expect("wait"));
    }
    let inits = t.elapsed();
    let t = Instant::now();
    let mut again = Vec::with_capacity(N);
    for i in 0..N {
        let r = rig
            .runner
            .request(
                &ElementName::parse(&format!("ipo{i:03}")).expect("name"),
                SyncType::Incremental,
                Trigger::OnDemand,
                "bench",
            )
            .await
            .expect("request");
        again.push(r.job.id);
    }
    for id in &again {
        ok(&rig.runner.wait(*id).await.expect("wait"));
    }
    let incrementals = t.elapsed();
    let counts = rig.store.counts().await.expect("counts");
    let objects: u64 = counts.objects.iter().map(|(_, _, n)| n).sum();
    println!(
        "{N} ip offices in bulk ({} users + {} extensions + … each, {objects} objects in all): all inits {:.1} s, then all no-change incrementals {:.2} s",
        sizes.users,
        sizes.extensions,
        inits.as_secs_f64(),
        incrementals.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let want = support::wanted();
    if want("big") {
        big().await;
    }
    if want("nochange") {
        nochange().await;
    }
    if want("bulk") {
        bulk().await;
    }
}
