//! The service's step: what is due at each tick, once per schedule.

use chrono::{SubsecRound, TimeDelta};
use ucsync_core::SyncType;
use ucsync_schedule::{Clock, ManualClock, ScheduleState, Target, tick};

use crate::{schedule, utc};

#[test]
fn a_tick_starts_each_due_schedule_once_and_says_when_to_wake() {
    let daily = schedule(
        r#"{"target": {"elements": ["cm1"]}, "sync_type": "incremental",
            "first_run": "2026-03-01T03:00:00Z", "repeat": {"every": {"n": 1, "unit": "days"}}}"#,
    );
    let hourly = schedule(
        r#"{"target": "all", "sync_type": "init",
            "first_run": "2026-03-01T00:30:00Z", "repeat": {"every": {"n": 1, "unit": "hours"}}}"#,
    );
    let later = schedule(
        r#"{"target": "all", "sync_type": "force-init", "first_run": "2026-04-01T00:00:00Z"}"#,
    );
    let disabled = schedule(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z",
            "repeat": {"cron": "* * * * *"}, "enabled": false}"#,
    );
    let now = utc("2026-03-04 05:10");
    let stale = ScheduleState {
        last_fired: Some(utc("2026-03-01 03:00")),
        next_due: Some(utc("2026-03-02 03:00")),
    };
    let schedules = [
        ("daily", &daily, stale),
        ("hourly", &hourly, ScheduleState::default()),
        ("later", &later, ScheduleState::default()),
        ("disabled", &disabled, ScheduleState::default()),
    ];
    let result = tick(schedules, now);
    let runs: Vec<_> = result
        .runs
        .iter()
        .map(|r| (r.id, r.slot, r.sync_type))
        .collect();
    assert_eq!(
        runs,
        [
            ("daily", utc("2026-03-02 03:00"), SyncType::Incremental),
            ("hourly", utc("2026-03-01 00:30"), SyncType::Init),
        ]
    );
    assert_eq!(
        result.runs[0].target,
        Target::Elements(vec![ucsync_core::ElementName::parse("cm1").unwrap()])
    );
    let fired = |next: &str| ScheduleState {
        last_fired: Some(now),
        next_due: Some(utc(next)),
    };
    assert_eq!(
        result.states,
        [
            ("daily", fired("2026-03-05 03:00")),
            ("hourly", fired("2026-03-04 05:30")),
            (
                "later",
                ScheduleState {
                    last_fired: None,
                    next_due: Some(utc("2026-04-01 00:00"))
                }
            ),
            ("disabled", ScheduleState::default()),
        ]
    );
    assert_eq!(result.next_wake(), Some(utc("2026-03-04 05:30")));

    // the same tick again, with the stored states: nothing is due
    let stored = |id: &str| result.states.iter().find(|(i, _)| *i == id).unwrap().1;
    let again = tick(
        [
            ("daily", &daily, stored("daily")),
            ("hourly", &hourly, stored("hourly")),
        ],
        now + TimeDelta::seconds(30),
    );
    assert!(again.runs.is_empty(), "{:?}", again.runs);
}

#[test]
fn waking_at_next_wake_fires_every_slot_once() {
    let every_20 = schedule(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z",
            "repeat": {"every": {"n": 20, "unit": "minutes"}}, "end": "2026-03-01T02:00:00Z"}"#,
    );
    let at_quarters = schedule(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z",
            "repeat": {"cron": "*/15 * * * *"}, "end": "2026-03-01T02:00:00Z"}"#,
    );
    let clock = ManualClock::new(utc("2026-02-28 23:00"));
    let mut states = [ScheduleState::default(); 2];
    let mut runs = Vec::new();
    loop {
        let result = tick(
            [(0, &every_20, states[0]), (1, &at_quarters, states[1])],
            clock.now(),
        );
        runs.extend(
            result
                .runs
                .iter()
                .map(|r| (r.id, clock.now().format("%H:%M").to_string())),
        );
        for (id, state) in &result.states {
            states[*id] = *state;
        }
        match result.next_wake() {
            Some(wake) => clock.set(wake),
            None => break,
        }
    }
    let count = |id| runs.iter().filter(|(i, _)| *i == id).count();
    assert_eq!(count(0), 7, "00:00 to 02:00 every 20 minutes: {runs:?}");
    assert_eq!(count(1), 9, "00:00 to 02:00 every 15 minutes: {runs:?}");
    assert_eq!(runs.first(), Some(&(0, "00:00".to_string())));
    assert_eq!(runs.last(), Some(&(1, "02:00".to_string())));
}

/// A one-shot whose first run is given to the nanosecond fires once, though
/// the fire is stored to the millisecond (as the service stores it) and
/// the next tick reads it back so.
#[test]
fn a_first_run_finer_than_a_millisecond_fires_once() {
    let once = schedule(
        r#"{"target": "all", "sync_type": "incremental",
            "first_run": "2026-03-01T03:00:00.708123456Z"}"#,
    );
    let mut state = ScheduleState::default();
    let mut runs = 0;
    let start = utc("2026-03-01 03:00") + TimeDelta::microseconds(708_500);
    for i in 0..10 {
        let now = start + TimeDelta::milliseconds(500 * i);
        let result = tick([((), &once, state)], now);
        runs += result.runs.len();
        let stored = result.states[0].1;
        state = ScheduleState {
            last_fired: stored.last_fired.map(|t| t.trunc_subsecs(3)),
            next_due: stored.next_due.map(|t| t.trunc_subsecs(3)),
        };
    }
    assert_eq!(runs, 1);
}
