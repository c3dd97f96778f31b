//! The runner as a service uses it: the queue in the database across
//! restarts, stopping, the alternate host, and the pinned host key. Tests
//! wait on the event stream (or paused time), never for a while.

use std::time::Duration;

use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_engine::{Event, RunnerSettings};
use ucsync_store::{ElementUpdate, Job};

use crate::{Rig, claimed, cm_settings, emulator, until};

fn name(s: &str) -> ElementName {
    ElementName::parse(s).unwrap()
}

/// A CM that answers each command after 5 ms, and a rig with it added as
/// `cm1`, not synced.
async fn slow_cm() -> (CmEmulator, Rig, ElementName) {
    let emu = emulator(CmSettings {
        latency: Duration::from_millis(5),
        ..cm_settings()
    })
    .await;
    let rig = Rig::new(8).await;
    let cm1 = rig.add_element_only("cm1", emu.addr().port()).await;
    (emu, rig, cm1)
}

/// Asks for a `t` sync of `cm1` and waits until this node runs it.
async fn running(rig: &Rig, t: SyncType) -> Job {
    let job = rig
        .runner
        .request(&name("cm1"), t, Trigger::OnDemand, "t")
        .await
        .unwrap()
        .job;
    claimed(&rig.runner, job.id).await
}

#[tokio::test]
async fn queued_jobs_survive_a_restart_and_run_after_it() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    // The node stops; jobs requested meanwhile (by another node, or before
    // it died) wait in the database.
    rig.runner.shutdown().await;
    let queued = rig
        .runner
        .request(&name("cm1"), SyncType::Incremental, Trigger::OnDemand, "t")
        .await
        .unwrap();
    assert_eq!(queued.job.state, JobState::Queued);
    // Many polls of the queue go by: time is paused and moved on, as
    // nothing of the stopped runner is left to run.
    tokio::time::pause();
    tokio::time::advance(RunnerSettings::default().poll * 10).await;
    tokio::time::resume();
    assert_eq!(
        rig.store.job(queued.job.id).await.unwrap().unwrap().state,
        JobState::Queued,
        "nothing runs while no node is up"
    );
    let again = Rig::runner(&rig.store, &rig.secret, RunnerSettings::default());
    let done = again.wait(queued.job.id).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    again.shutdown().await;
}

#[tokio::test]
async fn stopping_a_queued_job_and_a_running_one() {
    let (_emu, rig, cm1) = slow_cm().await;
    let mut events = rig.runner.subscribe();
    let running = rig
        .runner
        .request(&cm1, SyncType::Init, Trigger::OnDemand, "t")
        .await
        .unwrap();
    let queued = rig
        .runner
        .request(&cm1, SyncType::ForceInit, Trigger::OnDemand, "t")
        .await
        .unwrap();
    assert!(
        !queued.joined,
        "a stronger request queues after the running one"
    );
    let stopped = rig.runner.stop(queued.job.id).await.unwrap().unwrap();
    assert_eq!(stopped.state, JobState::Stopped);
    // Wait until the init reads, then stop it.
    until("the init reads", || async {
        let j = rig.store.job(running.job.id).await.unwrap().unwrap();
        assert!(
            !j.state.is_finished(),
            "the init ended before it could be stopped"
        );
        j.progress.values().map(|p| p.0).sum::<u64>() > 20
    })
    .await;
    rig.runner.stop(running.job.id).await.unwrap();
    let j = rig.runner.wait(running.job.id).await.unwrap();
    assert_eq!(j.state, JobState::Stopped, "{:?}", j.error);
    let element = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(
        rig.store.object_count(element.id).await.unwrap(),
        0,
        "nothing committed"
    );
    // The stream told of each change of state, up to the last (told
    // before the wait ends).
    let mut states = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while states.last() != Some(&JobState::Stopped) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event of the job stopping: {states:?}"))
            .unwrap();
        if let Event::Job { job } = ev {
            if job.id == running.job.id {
                states.push(job.state);
            }
        }
    }
    assert_eq!(states.first(), Some(&JobState::Queued), "{states:?}");
}

#[tokio::test]
async fn shutdown_stops_running_jobs_cleanly() {
    let (_emu, rig, _) = slow_cm().await;
    let job = running(&rig, SyncType::Init).await;
    rig.runner.shutdown().await;
    let j = rig.store.job(job.id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Stopped, "{:?}", j.error);
}

#[tokio::test]
async fn the_alternate_host_is_tried_when_the_host_does_not_answer() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    let cm1 = rig.add_element_only("cm1", emu.addr().port()).await;
    // 127.0.0.2 is loopback too, but nothing listens there.
    rig.store
        .update_element(
            "cm1",
            ElementUpdate {
                host: Some("127.0.0.2".into()),
                alternate_host: Some(Some("127.0.0.1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let job = rig
        .runner
        .request(&cm1, SyncType::Init, Trigger::OnDemand, "t")
        .await
        .unwrap();
    let job = rig.runner.wait(job.job.id).await.unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    let report = rig.runner.check(&e).await.unwrap();
    assert_eq!(report.host, "127.0.0.1");
}

/// A check or an object administered before any job reached the CM pins
/// its host key, as the first job would.
#[tokio::test]
async fn the_first_connection_pins_the_host_key_whatever_made_it() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_element_only("cm1", emu.addr().port()).await;
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(e.settings.host_key, None, "no job has run");
    let report = rig.runner.check(&e).await.unwrap();
    let pinned = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(pinned.settings.host_key, report.fingerprint);
    assert!(report.fingerprint.is_some_and(|f| f.starts_with("SHA256:")));
}

#[tokio::test]
async fn the_host_key_is_pinned_and_a_new_one_fails_jobs_until_accepted() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    let e = rig.store.element("cm1").await.unwrap().unwrap();
    let pinned = e
        .settings
        .host_key
        .clone()
        .expect("pinned by the first init");
    assert!(pinned.starts_with("SHA256:"), "{pinned}");
    let report = rig.runner.check(&e).await.unwrap();
    assert_eq!(report.fingerprint.as_deref(), Some(pinned.as_str()));
    assert_eq!(report.version, "R020x.01.0.974.0");

    // The CM is replaced: same address, another key.
    let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let mut settings = e.settings.clone();
    settings.host_key = Some(other.into());
    rig.store
        .update_element(
            "cm1",
            ElementUpdate {
                settings: Some(settings.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Failed);
    let error = job.error.unwrap();
    assert!(error.contains(other) && error.contains(&pinned), "{error}");
    // The administrator accepts the key the CM has.
    settings.host_key = Some(pinned);
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
    let job = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
}

#[tokio::test]
async fn administering_waits_for_no_job() {
    let (_emu, rig, cm1) = slow_cm().await;
    let job = running(&rig, SyncType::Init).await;
    let op = ucsync_connect::WriteOp::Remove {
        id: ucsync_core::ObjectId::new("station", "1001"),
    };
    let err = rig.runner.administer(&cm1, op).await.unwrap_err();
    assert!(matches!(err, ucsync_engine::RunnerError::Busy(_)), "{err}");
    rig.runner.wait(job.id).await.unwrap();
}

/// Several nodes on one database run each job once, one per element at a time.
#[tokio::test]
async fn two_nodes_share_the_queue() {
    let emus = [emulator(cm_settings()).await, emulator(cm_settings()).await];
    let rig = Rig::new(8).await;
    let other = Rig::runner(
        &rig.store,
        &rig.secret,
        RunnerSettings {
            node: "other".into(),
            ..Default::default()
        },
    );
    let mut ids = Vec::new();
    for (i, emu) in emus.iter().enumerate() {
        let n = rig
            .add_element_only(&format!("cm{i}"), emu.addr().port())
            .await;
        for t in [SyncType::Init, SyncType::Incremental, SyncType::ForceInit] {
            let r = if ids.len() % 2 == 0 {
                &rig.runner
            } else {
                &other
            };
            ids.push(
                r.request(&n, t, Trigger::OnDemand, "t")
                    .await
                    .unwrap()
                    .job
                    .id,
            );
        }
    }
    for id in ids {
        let j = rig.runner.wait(id).await.unwrap();
        assert_eq!(j.state, JobState::Succeeded, "{:?}", j.error);
    }
    other.shutdown().await;
}

#[tokio::test]
async fn stopping_an_incremental_that_waits_on_a_cm_that_stopped_answering() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    let init = rig.add_cm("cm1", &emu).await;
    assert_eq!(init.state, JobState::Succeeded, "{:?}", init.error);
    let element = rig.store.element("cm1").await.unwrap().unwrap();
    // New sessions stop answering after two records: in the middle of the
    // incremental's reading of the history, for longer than any timeout here.
    emu.set_faults(ucsync_emulator::cm::Faults {
        stall_after_records: Some(2),
        ..Default::default()
    });
    let job = running(&rig, SyncType::Incremental).await;
    rig.runner.stop(job.id).await.unwrap();
    let j = rig.runner.wait(job.id).await.unwrap();
    assert_eq!(
        (j.state, j.error.as_deref()),
        (
            JobState::Stopped,
            Some("stopped before it finished; nothing it had not committed was changed")
        )
    );
    let after = rig.store.element("cm1").await.unwrap().unwrap();
    assert_eq!(after.sync, element.sync, "the sync point did not move");
    // The element is free: the next incremental runs.
    emu.set_faults(ucsync_emulator::cm::Faults::default());
    let next = rig.sync("cm1", SyncType::Incremental).await;
    assert_eq!(next.state, JobState::Succeeded, "{:?}", next.error);
}

#[tokio::test]
async fn a_stop_asked_on_another_node_reaches_the_running_one() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    assert_eq!(rig.add_cm("cm1", &emu).await.state, JobState::Succeeded);
    emu.set_faults(ucsync_emulator::cm::Faults {
        stall_after_records: Some(2),
        ..Default::default()
    });
    let job = running(&rig, SyncType::Incremental).await;
    // Another node, sharing the database, started after the job was claimed here.
    let other = Rig::runner(
        &rig.store,
        &rig.secret,
        RunnerSettings {
            node: "other".into(),
            ..Default::default()
        },
    );
    let asked = other.stop(job.id).await.unwrap().unwrap();
    assert_eq!(asked.state, JobState::Stopping);
    let j = rig.runner.wait(job.id).await.unwrap();
    assert_eq!(j.state, JobState::Stopped, "{:?}", j.error);
    other.shutdown().await;
}
