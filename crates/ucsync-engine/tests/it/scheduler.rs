//! The scheduler against the store, on an injected clock: the default
//! schedule, a fixed-time job, repeats, an end, missed runs, a daylight-saving
//! change, and two nodes firing one slot once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use ucsync_core::{ElementName, SyncType, Trigger};
use ucsync_engine::Scheduler;
use ucsync_engine::scheduler::{SCHEDULER, first_due};
use ucsync_schedule::{ManualClock, Schedule, ScheduleSpec, Tz};
use ucsync_store::{NewSchedule, ScheduleId};

use crate::{Rig, cm_settings, emulator};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn add(rig: &Rig, spec: serde_json::Value, now: DateTime<Utc>) -> ScheduleId {
    let spec: ScheduleSpec = serde_json::from_value(spec).unwrap();
    let schedule = Schedule::new(spec.clone(), Tz::UTC).unwrap();
    rig.store
        .add_schedule(&NewSchedule {
            name: "test".into(),
            default_for: None,
            spec,
            next_due: first_due(&schedule, now),
        })
        .await
        .unwrap()
        .id
}

/// Steps the scheduler at each of `times`, returning how many times schedule
/// `id` fired at each. (The CM's first scheduled init, failing, adds its
/// default schedule, which is not the one under test.)
async fn fires_at(
    s: &Scheduler,
    id: ScheduleId,
    clock: &ManualClock,
    times: &[DateTime<Utc>],
) -> Vec<usize> {
    let mut out = Vec::new();
    for t in times {
        clock.set(*t);
        let step = s.step().await.unwrap();
        out.push(step.fired.iter().filter(|(f, _)| *f == id).count());
    }
    out
}

/// An element nobody answers for: the scheduled jobs are requested (and fail
/// to connect), which is all these tests look at.
async fn rig_with_unreachable(name: &str) -> Rig {
    let rig = Rig::new(8).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    rig.add_element_only(name, port).await;
    rig
}

#[tokio::test]
async fn a_cm_gets_its_daily_incremental_after_its_first_init() {
    let emu = emulator(cm_settings()).await;
    // One clock for the runner and the scheduler, standing still.
    let made = Utc::now();
    let clock = Arc::new(ManualClock::new(made));
    let rig = Rig::with_clock(clock.clone()).await;
    rig.add_cm("cm1", &emu).await;
    let schedules = rig.store.schedules().await.unwrap();
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let d = &schedules[0];
    assert_eq!(d.default_for.as_deref(), Some("cm1"));
    let spec = serde_json::to_value(&d.spec).unwrap();
    assert_eq!(spec["sync_type"], "incremental");
    assert_eq!(spec["repeat"], json!({"every": {"n": 1, "unit": "days"}}));
    let due = d.next_due.unwrap();
    // Within a day of when the schedule was made.
    assert!(due > made && due <= made + TimeDelta::days(1), "{due}");

    // A second init does not add another.
    rig.sync("cm1", SyncType::Init).await;
    assert_eq!(rig.store.schedules().await.unwrap().len(), 1);

    clock.set(due - TimeDelta::seconds(1));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    assert!(s.step().await.unwrap().fired.is_empty(), "not due yet");
    clock.set(due);
    let step = s.step().await.unwrap();
    assert_eq!(step.fired.len(), 1);
    let job = rig.runner.wait(step.fired[0].1[0]).await.unwrap();
    assert_eq!(
        (job.requested, job.trigger, job.requested_by.as_str()),
        (SyncType::Incremental, Trigger::Schedule, SCHEDULER)
    );
    assert_eq!(step.next_wake, Some(due + TimeDelta::days(1)));
    assert!(
        s.step().await.unwrap().fired.is_empty(),
        "a slot fires once"
    );
    clock.set(due + TimeDelta::days(1));
    assert_eq!(
        s.step().await.unwrap().fired.len(),
        1,
        "and again a day later"
    );
}

#[tokio::test]
async fn a_fixed_time_job_fires_once() {
    let rig = rig_with_unreachable("cm1").await;
    let t = at("2026-12-01T03:00:00Z");
    let id = add(
        &rig,
        json!({"target": {"elements": ["cm1"]}, "sync_type": "init", "first_run": t, "repeat": "none"}),
        t - TimeDelta::days(1),
    )
    .await;
    let clock = Arc::new(ManualClock::new(t));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let got = fires_at(
        &s,
        id,
        &clock,
        &[
            t - TimeDelta::seconds(1),
            t,
            t + TimeDelta::seconds(1),
            t + TimeDelta::days(1),
        ],
    )
    .await;
    assert_eq!(got, [0, 1, 0, 0]);
}

#[tokio::test]
async fn repeats_stop_at_their_end() {
    let rig = rig_with_unreachable("cm1").await;
    let t = at("2026-12-01T00:00:00Z");
    let id = add(
        &rig,
        json!({"target": "all", "sync_type": "incremental", "first_run": t,
               "repeat": {"every": {"n": 2, "unit": "hours"}}, "end": t + TimeDelta::hours(5)}),
        t - TimeDelta::hours(1),
    )
    .await;
    let clock = Arc::new(ManualClock::new(t));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let times: Vec<_> = (0..8).map(|h| t + TimeDelta::hours(h)).collect();
    // 00:00, 02:00 and 04:00; 06:00 is past the end.
    assert_eq!(
        fires_at(&s, id, &clock, &times).await,
        [1, 0, 1, 0, 1, 0, 0, 0]
    );
    let r = rig.store.schedule(id).await.unwrap().unwrap();
    assert_eq!(r.next_due, None, "an ended schedule is due never");
}

#[tokio::test]
async fn runs_missed_while_down_run_once() {
    let rig = rig_with_unreachable("cm1").await;
    let t = at("2026-12-01T01:00:00Z");
    add(
        &rig,
        json!({"target": {"elements": ["cm1"]}, "sync_type": "incremental", "first_run": t,
               "repeat": {"every": {"n": 1, "unit": "days"}}}),
        t - TimeDelta::hours(1),
    )
    .await;
    // The service was down for five days and starts at 12:00.
    let back = t + TimeDelta::days(5) + TimeDelta::hours(11);
    let clock = Arc::new(ManualClock::new(back));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let step = s.step().await.unwrap();
    assert_eq!(step.fired.len(), 1);
    assert_eq!(step.fired[0].1.len(), 1, "one job, not one per missed day");
    assert_eq!(
        step.next_wake,
        Some(t + TimeDelta::days(6)),
        "back on the grid"
    );
    assert!(s.step().await.unwrap().fired.is_empty());
}

#[tokio::test]
async fn a_daily_run_neither_skips_nor_doubles_across_daylight_saving() {
    let rig = rig_with_unreachable("cm1").await;
    // 01:30 in New York: on 2026-11-01 that local time happens twice (fall
    // back); on 2027-03-14 02:30 does not exist, 01:30 does.
    let first = at("2026-10-30T05:30:00Z");
    let id = add(
        &rig,
        json!({"target": {"elements": ["cm1"]}, "sync_type": "incremental", "first_run": first,
               "repeat": {"every": {"n": 1, "unit": "days"}}, "time_zone": "America/New_York"}),
        first - TimeDelta::hours(1),
    )
    .await;
    let clock = Arc::new(ManualClock::new(first));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    // Every 10 minutes over four days around the change.
    let times: Vec<_> = (0..4 * 24 * 6)
        .map(|i| first + TimeDelta::minutes(10 * i))
        .collect();
    let fired: usize = fires_at(&s, id, &clock, &times).await.iter().sum();
    assert_eq!(fired, 4, "one run a day, four days");
}

#[tokio::test]
async fn of_two_nodes_one_fires_a_slot() {
    let rig = rig_with_unreachable("cm1").await;
    let t = at("2026-12-01T03:00:00Z");
    add(
        &rig,
        json!({"target": {"elements": ["cm1"]}, "sync_type": "incremental", "first_run": t,
               "repeat": {"every": {"n": 1, "unit": "days"}}}),
        t - TimeDelta::hours(1),
    )
    .await;
    let clock = Arc::new(ManualClock::new(t));
    let a = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let b = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let (x, y) = tokio::join!(a.step(), b.step());
    assert_eq!(x.unwrap().fired.len() + y.unwrap().fired.len(), 1);
}

/// A default schedule lost to an older version (which let it be deleted)
/// is made again when the scheduler starts; one that exists is left alone.
#[tokio::test]
async fn a_lost_default_schedule_is_made_again() {
    let emu = emulator(cm_settings()).await;
    let rig = Rig::new(8).await;
    rig.add_cm("cm1", &emu).await;
    rig.add_element_only("never-synced", 1).await;
    let s = Scheduler::new(
        rig.runner.queue().clone(),
        Arc::new(ManualClock::new(Utc::now())),
        Tz::UTC,
    );
    assert_eq!(
        s.restore_defaults().await.unwrap(),
        Vec::<ElementName>::new()
    );

    let lost = rig.store.schedules().await.unwrap()[0].id;
    assert!(rig.store.delete_schedule(lost).await.unwrap());
    let restored = s.restore_defaults().await.unwrap();
    assert_eq!(restored, vec![ElementName::parse("cm1").unwrap()]);
    let schedules = rig.store.schedules().await.unwrap();
    assert_eq!(
        schedules.len(),
        1,
        "none for an element never synced: {schedules:?}"
    );
    assert_eq!(schedules[0].default_for.as_deref(), Some("cm1"));
    assert_eq!(
        s.restore_defaults().await.unwrap(),
        Vec::<ElementName>::new()
    );
}

#[tokio::test]
async fn a_kind_target_syncs_every_element_of_the_kind_there_is_when_it_fires() {
    let rig = rig_with_unreachable("cm1").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    rig.add(ucsync_testkit::rig::Added::ipo("ipo1", port, "S3cret-pass"))
        .await;
    let t = at("2026-12-01T03:00:00Z");
    let id = add(
        &rig,
        json!({"target": {"kind": "cm"}, "sync_type": "incremental", "first_run": t, "repeat": "none"}),
        t - TimeDelta::days(1),
    )
    .await;
    // A CM added after the schedule is one of its kind when it fires.
    rig.add_element_only("cm2", port).await;
    let clock = Arc::new(ManualClock::new(t));
    let s = Scheduler::new(rig.runner.queue().clone(), clock.clone(), Tz::UTC);
    let step = s.step().await.unwrap();
    let jobs = &step.fired.iter().find(|(f, _)| *f == id).expect("fired").1;
    let mut elements = Vec::new();
    for j in jobs {
        elements.push(rig.store.job(*j).await.unwrap().unwrap().element);
    }
    elements.sort();
    assert_eq!(elements, ["cm1", "cm2"], "no IP Office");
}
