//! Schedules that could never fire are refused, naming the field at fault.

use ucsync_schedule::{Schedule, ScheduleError, ScheduleSpec, Tz};

/// A schedule of all elements from 1 March 2026, with `fields` added or replaced.
fn build(fields: &str) -> Result<Schedule, ScheduleError> {
    let target = if fields.contains(r#""target""#) {
        ""
    } else {
        r#""target": "all", "#
    };
    let json = format!(
        r#"{{{target}"sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z", {fields}}}"#
    );
    let spec: ScheduleSpec = serde_json::from_str(&json).unwrap();
    Schedule::new(spec, Tz::UTC)
}

#[test]
fn never_firing_schedules_are_refused() {
    // (fields, field at fault, words the message must hold)
    let cases = [
        (
            r#""repeat": {"every": {"n": 0, "unit": "hours"}}"#,
            "repeat.every.n",
            "every 1 or more hours",
        ),
        (
            r#""repeat": {"every": {"n": 0, "unit": "days"}}"#,
            "repeat.every.n",
            "repeat.every.n is 0",
        ),
        (
            r#""repeat": {"cron": "0 0 30 2 *"}"#,
            "repeat.cron",
            "never matches a date that exists",
        ),
        (
            r#""repeat": {"cron": "0 0 31 4,6,9,11 *"}"#,
            "repeat.cron",
            "never matches",
        ),
        (
            r#""repeat": {"cron": "61 * * * *"}"#,
            "repeat.cron",
            "\"61 * * * *\" is not a valid cron expression (",
        ),
        (
            r#""repeat": {"cron": "0 3 * *"}"#,
            "repeat.cron",
            "must have 5 fields",
        ),
        (
            r#""repeat": {"cron": "0 0 3 * * *"}"#,
            "repeat.cron",
            "must have 5 fields",
        ),
        (
            r#""repeat": {"cron": ""}"#,
            "repeat.cron",
            "not a valid cron expression",
        ),
        (
            r#""repeat": {"cron": "0 3 * * FUNDAY"}"#,
            "repeat.cron",
            "not a valid cron expression",
        ),
        (
            r#""repeat": {"every": {"n": 1, "unit": "days"}}, "end": "2026-02-28T00:00:00Z""#,
            "end",
            "end (2026-02-28 00:00:00 UTC) is before the first run (2026-03-01 00:00:00 UTC)",
        ),
        (r#""end": "2026-02-28T23:59:59Z""#, "end", "would never run"),
        // the first match of the expression, 03:00, is after the end
        (
            r#""repeat": {"cron": "0 3 * * *"}, "end": "2026-03-01T02:00:00Z""#,
            "end",
            "before the first run (2026-03-01 03:00:00 UTC)",
        ),
        (
            r#""target": {"elements": []}"#,
            "target.elements",
            "name at least one element",
        ),
        (
            r#""time_zone": "Mars/Olympus_Mons""#,
            "time_zone",
            "\"Mars/Olympus_Mons\" is not a known time zone",
        ),
    ];
    for (fields, field, words) in cases {
        let error = build(fields).expect_err(fields);
        assert_eq!(error.field(), field, "{fields}");
        let message = error.to_string();
        assert!(message.contains(words), "{fields}: {message}");
        assert!(
            message.contains(field),
            "the message names {field}: {message}"
        );
        assert!(!message.ends_with('.'), "{message}");
    }
}

#[test]
fn disabled_and_edge_schedules_are_accepted() {
    for fields in [
        r#""enabled": false"#,
        r#""end": "2026-03-01T00:00:00Z""#,
        r#""repeat": {"every": {"n": 4294967295, "unit": "weeks"}}"#,
        r#""repeat": {"cron": "0 0 29 2 *"}"#,
        r#""target": {"elements": ["cm1", "cm1"]}"#,
    ] {
        assert!(build(fields).is_ok(), "{fields}");
    }
    let s = build(r#""target": {"elements": ["cm1", "cm2", "cm1"]}"#).unwrap();
    assert_eq!(
        serde_json::to_value(s.target()).unwrap(),
        serde_json::json!({"elements": ["cm1", "cm2"]})
    );
}

#[test]
fn a_refused_schedule_is_refused_when_read_as_json_too() {
    let error = serde_json::from_str::<Schedule>(
        r#"{"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T00:00:00Z", "repeat": {"cron": "0 0 30 2 *"}}"#,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("repeat.cron \"0 0 30 2 *\" never matches"),
        "{error}"
    );
}
