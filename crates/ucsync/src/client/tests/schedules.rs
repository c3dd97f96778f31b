//! `ucsync schedule add|edit`: their flags to the request bodies, local
//! times read in the schedule's zone, and the errors naming the flag.

use super::*;

#[test]
fn schedule_add_maps_to_the_body() {
    let ScheduleCmd::Add(a) = schedule_cmd(&[
        "schedule",
        "add",
        "--name",
        "nightly",
        "--element",
        "cm1",
        "--element",
        "cm2",
        "--type",
        "incremental",
        "--first-run",
        "2025-01-31T03:00:00+01:00",
        "--every",
        "6 hours",
        "--end",
        "2026-01-01T00:00:00Z",
        "--time-zone",
        "Europe/Berlin",
        "--disabled",
    ]) else {
        panic!()
    };
    assert_eq!(
        to_json(&a.body().unwrap()),
        json!({
            "name": "nightly", "target": {"elements": ["cm1", "cm2"]},
            "sync_type": "incremental", "first_run": "2025-01-31T02:00:00Z",
            "repeat": {"every": {"n": 6, "unit": "hours"}}, "end": "2026-01-01T00:00:00Z",
            "time_zone": "Europe/Berlin", "enabled": false
        })
    );
    let ScheduleCmd::Add(a) = schedule_cmd(&[
        "schedule",
        "add",
        "--all",
        "--type",
        "init",
        "--first-run",
        "2025-01-31T03:00:00Z",
        "--cron",
        "0 3 * * 1-5",
    ]) else {
        panic!()
    };
    assert_eq!(
        to_json(&a.body().unwrap()),
        json!({
            "name": null, "target": "all", "sync_type": "init",
            "first_run": "2025-01-31T03:00:00Z", "repeat": {"cron": "0 3 * * 1-5"},
            "end": null, "time_zone": null, "enabled": null
        })
    );
    let base = [
        "schedule",
        "add",
        "--all",
        "--type",
        "init",
        "--first-run",
        "2025-01-31T03:00:00Z",
    ];
    let with = |extra: &[&str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        parse_err(&v)
    };
    with(&["--every", "1 day", "--cron", "0 3 * * *"]);
    with(&["--element", "cm1"]);
    with(&["--kind", "cm"]);
    let e = with(&["--every", "fortnightly"]);
    assert!(e.to_string().contains("N minutes|hours|days|weeks"), "{e}");
    let e = parse_err(&[
        "schedule",
        "add",
        "--all",
        "--type",
        "init",
        "--first-run",
        "tomorrow",
    ]);
    assert!(e.to_string().contains("RFC 3339"), "{e}");
    let e = with(&["--time-zone", "Mars/Olympus"]);
    assert!(e.to_string().contains("IANA"), "{e}");
}

#[test]
fn a_local_first_run_is_read_in_the_time_zone() {
    let add = |extra: &[&str]| {
        let mut v = vec!["schedule", "add", "--all", "--type", "init"];
        v.extend_from_slice(extra);
        let ScheduleCmd::Add(a) = schedule_cmd(&v) else {
            panic!()
        };
        a.body().map(|b| to_json(&b))
    };
    let b = add(&[
        "--first-run",
        "2025-01-31T03:00",
        "--end",
        "2025-07-01 03:00",
        "--time-zone",
        "Europe/Berlin",
    ])
    .unwrap();
    assert_eq!(b["first_run"], "2025-01-31T02:00:00Z", "winter: +01:00");
    assert_eq!(b["end"], "2025-07-01T01:00:00Z", "summer: +02:00");
    assert_eq!(b["time_zone"], "Europe/Berlin");
    // Without a zone to read it in, the flag to add is named.
    let e = add(&["--first-run", "2025-01-31T03:00"]).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert!(e.error.to_string().contains("--time-zone"), "{}", e.error);
    // A time the clocks skip does not exist.
    let e = add(&[
        "--first-run",
        "2025-03-30T02:30",
        "--time-zone",
        "Europe/Berlin",
    ])
    .unwrap_err();
    assert!(
        e.error.to_string().contains("does not exist"),
        "{}",
        e.error
    );

    // An edit reads it in the schedule's zone unless --time-zone is given.
    let ScheduleCmd::Edit(a) =
        schedule_cmd(&["schedule", "edit", "3", "--first-run", "2025-06-01T03:00"])
    else {
        panic!()
    };
    assert!(a.has_local_time());
    let p = to_json(&a.patch(Some(chrono_tz::America::New_York)).unwrap());
    assert_eq!(p["first_run"], "2025-06-01T07:00:00Z");
}

#[test]
fn schedule_errors_name_the_flags() {
    let exit = |field: &str, message: &str| {
        super::schedule::in_flags(crate::Exit {
            code: crate::BAD_INPUT,
            error: anyhow::Error::new(ApiFailure {
                message: message.into(),
                field: Some(field.into()),
            }),
        })
        .error
        .to_string()
    };
    assert_eq!(
        exit(
            "repeat.cron",
            "repeat.cron \"x\" is not a valid cron expression (bad)"
        ),
        "--cron \"x\" is not a valid cron expression (bad)"
    );
    assert_eq!(
        exit(
            "end",
            "end (2025) is before the first run (2026), so the schedule would never run; set a later end or an earlier first_run"
        ),
        "--end (2025) is before the first run (2026), so the schedule would never run; set a later end or an earlier --first-run"
    );
    assert_eq!(
        exit("target.elements[0]", "no element named 'cm9'"),
        "--element: no element named 'cm9'"
    );
}

#[test]
fn every_takes_counts_and_units() {
    use ucsync_api::model::Unit::*;
    for (text, n, unit) in [
        ("1 day", 1, Days),
        ("2 days", 2, Days),
        ("30 minutes", 30, Minutes),
        ("30min", 30, Minutes),
        ("12h", 12, Hours),
        (" 1 Week ", 1, Weeks),
    ] {
        let e = schedule::parse_every(text).unwrap();
        assert_eq!((e.n, e.unit), (n, unit), "{text}");
    }
    for bad in ["", "day", "0 days", "1 fortnight", "-1 days", "1.5 hours"] {
        assert!(schedule::parse_every(bad).is_err(), "{bad}");
    }
}

#[test]
fn schedule_edit_maps_to_the_patch() {
    let patch = |args: &[&str]| {
        let mut all = vec!["schedule", "edit", "7"];
        all.extend_from_slice(args);
        let ScheduleCmd::Edit(a) = schedule_cmd(&all) else {
            panic!()
        };
        assert_eq!(a.id, 7);
        a.patch(None).map(|p| to_json(&p))
    };
    assert_eq!(
        patch(&["--no-end", "--disabled", "--once"]).unwrap(),
        json!({"end": null, "enabled": false, "repeat": "none"})
    );
    assert_eq!(
        patch(&[
            "--every",
            "1 week",
            "--no-time-zone",
            "--all",
            "--type",
            "force-init"
        ])
        .unwrap(),
        json!({"repeat": {"every": {"n": 1, "unit": "weeks"}}, "time_zone": null,
               "target": "all", "sync_type": "force-init"})
    );
    assert_eq!(
        patch(&["--kind", "ip-office"]).unwrap(),
        json!({"target": {"kind": "ip-office"}})
    );
    assert_eq!(patch(&[]).unwrap_err().code, crate::BAD_INPUT);
    parse_err(&["schedule", "edit", "7", "--enabled", "--disabled"]);
    parse_err(&[
        "schedule",
        "edit",
        "7",
        "--end",
        "2025-01-01T00:00:00Z",
        "--no-end",
    ]);
}
