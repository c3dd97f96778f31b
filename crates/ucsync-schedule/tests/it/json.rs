//! The JSON of schedules and their state, as the REST API shows them.

use serde_json::json;
use ucsync_schedule::{Schedule, ScheduleSpec, ScheduleState, Tz, parse_time_zone};

use crate::utc;

#[test]
fn a_schedule_reads_and_writes_its_documented_shape() {
    let input = json!({
        "target": {"elements": ["cm-east", "cm-west"]},
        "sync_type": "incremental",
        "first_run": "2026-03-01T03:00:00+01:00",
        "repeat": {"every": {"n": 24, "unit": "hours"}},
        "end": "2026-12-31T00:00:00Z",
        "time_zone": "Europe/Berlin",
        "enabled": false
    });
    let s: Schedule = serde_json::from_value(input).unwrap();
    assert_eq!(s.first_run(), utc("2026-03-01 02:00"));
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({
            "target": {"elements": ["cm-east", "cm-west"]},
            "sync_type": "incremental",
            "first_run": "2026-03-01T02:00:00Z",
            "repeat": {"every": {"n": 24, "unit": "hours"}},
            "end": "2026-12-31T00:00:00Z",
            "time_zone": "Europe/Berlin",
            "enabled": false
        })
    );
    let back: Schedule = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn a_kind_target_reads_and_writes_the_kind() {
    let spec: ScheduleSpec = serde_json::from_value(json!({
        "target": {"kind": "ip-office"}, "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z"
    }))
    .unwrap();
    assert_eq!(
        spec.target,
        ucsync_schedule::Target::Kind(ucsync_core::ElementKind::IpOffice)
    );
    let s = Schedule::new(spec, Tz::UTC).unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap()["target"],
        json!({"kind": "ip-office"})
    );
}

#[test]
fn the_smallest_schedule_takes_the_defaults() {
    let spec: ScheduleSpec = serde_json::from_value(json!({
        "target": "all", "sync_type": "force-init", "first_run": "2026-03-01T03:00:00Z"
    }))
    .unwrap();
    let s = Schedule::new(spec, parse_time_zone("America/New_York").unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({
            "target": "all",
            "sync_type": "force-init",
            "first_run": "2026-03-01T03:00:00Z",
            "repeat": "none",
            "end": null,
            "time_zone": "America/New_York",
            "enabled": true
        })
    );
    let mut edited = s.to_spec();
    edited.repeat = serde_json::from_value(json!({"cron": "0 3 * * *"})).unwrap();
    let edited = Schedule::new(edited, Tz::UTC).unwrap();
    assert_eq!(edited.time_zone().name(), "America/New_York");
    assert_eq!(
        serde_json::to_value(edited.repeat()).unwrap(),
        json!({"cron": "0 3 * * *"})
    );
}

#[test]
fn misspelt_or_unknown_values_are_refused() {
    let cases = [
        (
            json!({"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z", "ends": null}),
            "unknown field `ends`",
        ),
        (
            json!({"target": "some", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z"}),
            "unknown variant `some`",
        ),
        (
            json!({"target": "all", "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z", "repeat": {"every": {"n": 2, "unit": "fortnights"}}}),
            "unknown variant `fortnights`",
        ),
        (
            json!({"target": {"elements": ["bad name"]}, "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z"}),
            "invalid element name",
        ),
        (
            json!({"target": {"kind": "pbx"}, "sync_type": "incremental", "first_run": "2026-03-01T03:00:00Z"}),
            "unknown variant `pbx`",
        ),
        (
            json!({"target": "all", "sync_type": "incremental", "first_run": "tomorrow"}),
            "input contains invalid characters",
        ),
    ];
    for (input, words) in cases {
        let error = serde_json::from_value::<ScheduleSpec>(input.clone())
            .unwrap_err()
            .to_string();
        assert!(error.contains(words), "{input}: {error}");
    }
}

#[test]
fn the_state_has_a_plain_shape() {
    let state = ScheduleState {
        last_fired: Some(utc("2026-03-01 02:00")),
        next_due: None,
    };
    let value = serde_json::to_value(state).unwrap();
    assert_eq!(
        value,
        json!({"last_fired": "2026-03-01T02:00:00Z", "next_due": null})
    );
    assert_eq!(
        serde_json::from_value::<ScheduleState>(value).unwrap(),
        state
    );
}
