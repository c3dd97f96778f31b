//! Runs missed while the service was down make one run when it is back.

use chrono::TimeDelta;
use ucsync_schedule::{ManualClock, Tz};

use crate::{schedule, show, simulate, utc};

fn fired(json: &str, start: &str, until: &str, down: (&str, &str), step: TimeDelta) -> Vec<String> {
    let s = schedule(json);
    let clock = ManualClock::new(utc(start));
    simulate(
        &s,
        &clock,
        utc(until),
        step,
        Some((utc(down.0), utc(down.1))),
    )
    .into_iter()
    .map(|t| show(Tz::UTC, t))
    .collect()
}

#[test]
fn three_days_down_make_one_run_at_start_then_the_grid_resumes() {
    let runs = fired(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z",
            "repeat": {"every": {"n": 1, "unit": "days"}}}"#,
        "2026-03-01 00:00",
        "2026-03-07 12:00",
        ("2026-03-02 10:00", "2026-03-05 15:07"),
        TimeDelta::minutes(1),
    );
    assert_eq!(
        runs,
        [
            "2026-03-01 03:00 UTC",
            "2026-03-02 03:00 UTC",
            // 3, 4 and 5 March were missed: one run when the service is back
            "2026-03-05 15:07 UTC",
            "2026-03-06 03:00 UTC",
            "2026-03-07 03:00 UTC",
        ]
    );
}

#[test]
fn a_missed_interval_and_cron_schedule_run_once_and_realign() {
    let cases: [(&str, &[&str]); 2] = [
        (
            r#"{"every": {"n": 15, "unit": "minutes"}}"#,
            &[
                "2026-03-04 09:41 UTC",
                "2026-03-04 09:45 UTC",
                "2026-03-04 10:00 UTC",
            ],
        ),
        (
            r#"{"cron": "0 */2 * * *"}"#,
            &["2026-03-04 09:41 UTC", "2026-03-04 10:00 UTC"],
        ),
    ];
    for (repeat, expected) in cases {
        let runs = fired(
            &format!(
                r#"{{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z", "repeat": {repeat}}}"#
            ),
            "2026-03-01 00:30",
            "2026-03-04 10:00",
            ("2026-03-01 00:30", "2026-03-04 09:41"),
            TimeDelta::minutes(1),
        );
        assert_eq!(runs, expected, "{repeat}");
    }
}

#[test]
fn a_one_shot_missed_while_down_runs_at_start() {
    let runs = fired(
        r#"{"target": "all", "sync_type": "init", "first_run": "2026-03-02T03:00:00Z"}"#,
        "2026-03-01 00:00",
        "2026-03-08 00:00",
        ("2026-03-01 12:00", "2026-03-05 08:00"),
        TimeDelta::minutes(5),
    );
    assert_eq!(runs, ["2026-03-05 08:00 UTC"]);
}

#[test]
fn a_slot_missed_before_the_end_does_not_run_after_it() {
    let runs = fired(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z",
            "repeat": {"every": {"n": 1, "unit": "days"}}, "end": "2026-03-03T12:00:00Z"}"#,
        "2026-03-01 00:00",
        "2026-03-08 00:00",
        ("2026-03-02 00:00", "2026-03-04 00:00"),
        TimeDelta::minutes(5),
    );
    assert_eq!(runs, ["2026-03-01 03:00 UTC"]);
}

#[test]
fn the_status_names_the_earliest_missed_slot() {
    let s = schedule(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z",
            "repeat": {"every": {"n": 6, "unit": "hours"}}}"#,
    );
    let status = s.status(Some(utc("2026-03-01 03:00")), utc("2026-03-04 04:10"));
    assert_eq!(status.due, Some(utc("2026-03-01 09:00")));
    assert_eq!(status.next, Some(utc("2026-03-04 09:00")));
    // after that run, nothing is due until the next slot
    let status = s.status(Some(utc("2026-03-04 04:10")), utc("2026-03-04 08:59"));
    assert_eq!(status.due, None);
    assert_eq!(status.next, Some(utc("2026-03-04 09:00")));
}
