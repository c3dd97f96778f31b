//! Each kind of repeat, and the end: the first fires of a schedule.

use ucsync_schedule::Tz;

use crate::{schedule, show};

/// The first `n` fires of the schedule in `json`, as local times in its zone.
fn check(json: &str, n: usize, expected: &[&str]) {
    let s = schedule(json);
    let fires: Vec<String> = s
        .fires_after(None)
        .take(n)
        .map(|t| show(s.time_zone(), t))
        .collect();
    assert_eq!(fires, expected, "{json}");
}

#[test]
fn a_one_shot_fires_once_at_its_time() {
    check(
        r#"{"target": "all", "sync_type": "init", "first_run": "2026-03-01T03:00:00Z"}"#,
        5,
        &["2026-03-01 03:00 UTC"],
    );
}

#[test]
fn every_unit_repeats_from_the_first_run() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"every": {"n": 90, "unit": "minutes"}}"#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-01 04:30 UTC",
                "2026-03-01 06:00 UTC",
            ],
        ),
        (
            r#"{"every": {"n": 24, "unit": "hours"}}"#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-02 03:00 UTC",
                "2026-03-03 03:00 UTC",
            ],
        ),
        (
            r#"{"every": {"n": 2, "unit": "days"}}"#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-03 03:00 UTC",
                "2026-03-05 03:00 UTC",
            ],
        ),
        (
            r#"{"every": {"n": 1, "unit": "weeks"}}"#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-08 03:00 UTC",
                "2026-03-15 03:00 UTC",
            ],
        ),
    ];
    for (repeat, expected) in cases {
        check(
            &format!(
                r#"{{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z", "repeat": {repeat}}}"#
            ),
            3,
            expected,
        );
    }
}

#[test]
fn hours_are_exact_intervals_but_days_keep_the_local_time() {
    // Berlin springs forward on 29 March 2026: 24 hours after 03:00 CET is
    // 04:00 CEST, one day after is 03:00 CEST.
    let base = r#""target": "all", "sync_type": "incremental", "first_run": "2026-03-28T03:00:00+01:00", "time_zone": "Europe/Berlin""#;
    check(
        &format!(r#"{{{base}, "repeat": {{"every": {{"n": 24, "unit": "hours"}}}}}}"#),
        3,
        &[
            "2026-03-28 03:00 CET",
            "2026-03-29 04:00 CEST",
            "2026-03-30 04:00 CEST",
        ],
    );
    check(
        &format!(r#"{{{base}, "repeat": {{"every": {{"n": 1, "unit": "days"}}}}}}"#),
        3,
        &[
            "2026-03-28 03:00 CET",
            "2026-03-29 03:00 CEST",
            "2026-03-30 03:00 CEST",
        ],
    );
}

#[test]
fn a_cron_expression_fires_on_its_matches_from_the_first_run() {
    let cases: &[(&str, &[&str])] = &[
        // 03:00 on weekdays; 1 March 2026 is a Sunday
        (
            "0 3 * * MON-FRI",
            &[
                "2026-03-02 03:00 UTC",
                "2026-03-03 03:00 UTC",
                "2026-03-04 03:00 UTC",
            ],
        ),
        // every 20 minutes past 03:00: the first run (03:00) is a match
        (
            "*/20 * * * *",
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-01 03:20 UTC",
                "2026-03-01 03:40 UTC",
            ],
        ),
        // either day field matches, as in Vixie cron: the 15th or a Monday
        (
            "30 1 15 * 1",
            &[
                "2026-03-02 01:30 UTC",
                "2026-03-09 01:30 UTC",
                "2026-03-15 01:30 UTC",
            ],
        ),
        // only on leap days
        (
            "0 0 29 2 *",
            &[
                "2028-02-29 00:00 UTC",
                "2032-02-29 00:00 UTC",
                "2036-02-29 00:00 UTC",
            ],
        ),
        (
            "@monthly",
            &[
                "2026-04-01 00:00 UTC",
                "2026-05-01 00:00 UTC",
                "2026-06-01 00:00 UTC",
            ],
        ),
    ];
    for (cron, expected) in cases {
        check(
            &format!(
                r#"{{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z", "repeat": {{"cron": "{cron}"}}}}"#
            ),
            3,
            expected,
        );
    }
}

#[test]
fn a_cron_expression_reads_local_time() {
    check(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-07-01T00:00:00Z",
            "repeat": {"cron": "0 3 * * *"}, "time_zone": "America/New_York"}"#,
        2,
        &["2026-07-01 03:00 EDT", "2026-07-02 03:00 EDT"],
    );
}

#[test]
fn nothing_fires_after_the_end() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"every": {"n": 1, "unit": "days"}}, "end": "2026-03-03T03:00:00Z""#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-02 03:00 UTC",
                "2026-03-03 03:00 UTC",
            ],
        ),
        (
            r#"{"every": {"n": 1, "unit": "days"}}, "end": "2026-03-03T02:59:00Z""#,
            &["2026-03-01 03:00 UTC", "2026-03-02 03:00 UTC"],
        ),
        (
            r#"{"cron": "0 * * * *"}, "end": "2026-03-01T05:30:00Z""#,
            &[
                "2026-03-01 03:00 UTC",
                "2026-03-01 04:00 UTC",
                "2026-03-01 05:00 UTC",
            ],
        ),
        // an end at the first run still lets it fire
        (
            r#"{"every": {"n": 5, "unit": "minutes"}}, "end": "2026-03-01T03:00:00Z""#,
            &["2026-03-01 03:00 UTC"],
        ),
    ];
    for (repeat_and_end, expected) in cases {
        check(
            &format!(
                r#"{{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z", "repeat": {repeat_and_end}}}"#
            ),
            10,
            expected,
        );
    }
}

#[test]
fn the_grid_continues_from_any_instant() {
    let s = schedule(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z",
            "repeat": {"every": {"n": 7, "unit": "hours"}}}"#,
    );
    let cases = [
        ("2026-02-01 00:00", "2026-03-01 03:00"),
        ("2026-03-01 03:00", "2026-03-01 10:00"),
        ("2026-03-01 09:59", "2026-03-01 10:00"),
        // 30 days and 9 hours after the first run; 735 hours is the 105th slot
        ("2026-03-31 12:00", "2026-03-31 18:00"),
    ];
    for (after, next) in cases {
        let after = crate::utc(after);
        assert_eq!(
            s.fires_after(Some(after)).next(),
            Some(crate::utc(next)),
            "after {after}"
        );
    }
    assert_eq!(s.time_zone(), Tz::UTC);
}
