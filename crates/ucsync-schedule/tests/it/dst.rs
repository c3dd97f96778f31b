//! Daylight-saving changes neither skip nor double a daily or weekly run.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta, TimeZone};
use chrono_tz::{America, Australia, Europe, Pacific};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use ucsync_core::SyncType;
use ucsync_schedule::{Every, ManualClock, Repeat, Schedule, ScheduleSpec, Target, Tz, Unit};

use crate::{at, show, simulate};

fn daily(zone: Tz, first_run: &str, repeat: Repeat) -> Schedule {
    let spec = ScheduleSpec {
        target: Target::All,
        sync_type: SyncType::Incremental,
        first_run: at(zone, first_run),
        repeat,
        end: None,
        time_zone: Some(zone.name().to_string()),
        enabled: true,
    };
    Schedule::new(spec, Tz::UTC).unwrap()
}

fn every_day() -> Repeat {
    Repeat::Every(Every {
        n: 1,
        unit: Unit::Days,
    })
}

/// Ticks every minute over the three and a half days after the first run
/// and returns the local times of the runs; checks that each local day had
/// exactly one.
fn runs(schedule: &Schedule) -> Vec<String> {
    let zone = schedule.time_zone();
    let start = schedule.first_run() - TimeDelta::hours(1);
    let clock = ManualClock::new(start);
    let fired = simulate(
        schedule,
        &clock,
        schedule.first_run() + TimeDelta::hours(3 * 24 + 12),
        TimeDelta::minutes(1),
        None,
    );
    let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for t in &fired {
        *per_day
            .entry(t.with_timezone(&zone).date_naive())
            .or_default() += 1;
    }
    assert!(per_day.values().all(|n| *n == 1), "{per_day:?}");
    fired.iter().map(|t| show(zone, *t)).collect()
}

#[test]
fn a_daily_run_is_neither_skipped_nor_doubled() {
    let cases: &[(Tz, &str, &str, &[&str])] = &[
        // Berlin springs forward at 02:00 on 29 March 2026: 02:30 does not
        // exist that day and fires at the end of the gap.
        (
            Europe::Berlin,
            "2026-03-27 02:30",
            "30 2 * * *",
            &[
                "2026-03-27 02:30 CET",
                "2026-03-28 02:30 CET",
                "2026-03-29 03:00 CEST",
                "2026-03-30 02:30 CEST",
            ],
        ),
        (
            Europe::Berlin,
            "2026-03-27 03:00",
            "0 3 * * *",
            &[
                "2026-03-27 03:00 CET",
                "2026-03-28 03:00 CET",
                "2026-03-29 03:00 CEST",
                "2026-03-30 03:00 CEST",
            ],
        ),
        // Berlin falls back at 03:00 on 25 October 2026: 02:30 happens twice
        // and fires the first time.
        (
            Europe::Berlin,
            "2026-10-23 02:30",
            "30 2 * * *",
            &[
                "2026-10-23 02:30 CEST",
                "2026-10-24 02:30 CEST",
                "2026-10-25 02:30 CEST",
                "2026-10-26 02:30 CET",
            ],
        ),
        (
            Europe::Berlin,
            "2026-10-23 03:00",
            "0 3 * * *",
            &[
                "2026-10-23 03:00 CEST",
                "2026-10-24 03:00 CEST",
                "2026-10-25 03:00 CET",
                "2026-10-26 03:00 CET",
            ],
        ),
        // New York springs forward at 02:00 on 8 March 2026.
        (
            America::New_York,
            "2026-03-06 02:30",
            "30 2 * * *",
            &[
                "2026-03-06 02:30 EST",
                "2026-03-07 02:30 EST",
                "2026-03-08 03:00 EDT",
                "2026-03-09 02:30 EDT",
            ],
        ),
        (
            America::New_York,
            "2026-03-06 03:00",
            "0 3 * * *",
            &[
                "2026-03-06 03:00 EST",
                "2026-03-07 03:00 EST",
                "2026-03-08 03:00 EDT",
                "2026-03-09 03:00 EDT",
            ],
        ),
        // New York falls back at 02:00 on 1 November 2026: 02:30 and 03:00
        // happen once; 01:30 happens twice and fires the first time.
        (
            America::New_York,
            "2026-10-30 02:30",
            "30 2 * * *",
            &[
                "2026-10-30 02:30 EDT",
                "2026-10-31 02:30 EDT",
                "2026-11-01 02:30 EST",
                "2026-11-02 02:30 EST",
            ],
        ),
        (
            America::New_York,
            "2026-10-30 03:00",
            "0 3 * * *",
            &[
                "2026-10-30 03:00 EDT",
                "2026-10-31 03:00 EDT",
                "2026-11-01 03:00 EST",
                "2026-11-02 03:00 EST",
            ],
        ),
        (
            America::New_York,
            "2026-10-30 01:30",
            "30 1 * * *",
            &[
                "2026-10-30 01:30 EDT",
                "2026-10-31 01:30 EDT",
                "2026-11-01 01:30 EDT",
                "2026-11-02 01:30 EST",
            ],
        ),
    ];
    for (zone, first_run, cron, expected) in cases {
        for repeat in [every_day(), Repeat::Cron(cron.to_string())] {
            let s = daily(*zone, first_run, repeat.clone());
            assert_eq!(runs(&s), *expected, "{zone} {first_run} {repeat:?}");
        }
    }
}

/// The first three fires in Berlin of a weekly run starting at `first`.
fn weekly_in_berlin(first: &str) -> Vec<String> {
    daily(
        Europe::Berlin,
        first,
        Repeat::Every(Every {
            n: 1,
            unit: Unit::Weeks,
        }),
    )
    .fires_after(None)
    .take(3)
    .map(|t| show(Europe::Berlin, t))
    .collect()
}

#[test]
fn a_weekly_run_keeps_its_local_time_across_both_changes() {
    assert_eq!(
        weekly_in_berlin("2026-03-22 02:30"),
        [
            "2026-03-22 02:30 CET",
            "2026-03-29 03:00 CEST",
            "2026-04-05 02:30 CEST"
        ]
    );
    assert_eq!(
        weekly_in_berlin("2026-10-18 02:30"),
        [
            "2026-10-18 02:30 CEST",
            "2026-10-25 02:30 CEST",
            "2026-11-01 02:30 CET"
        ]
    );
}

#[test]
fn a_cron_expression_fires_each_local_time_once_around_the_changes() {
    // every 15 minutes from 01:30 to 03:45: in the spring gap the skipped
    // times (02:00..02:45) make one run at 03:00; in the fall-back hour the
    // repeated times run the first time only.
    let s = daily(
        Europe::Berlin,
        "2026-03-29 01:30",
        Repeat::Cron("*/15 1-3 * * *".to_string()),
    );
    let spring: Vec<String> = s
        .fires_after(None)
        .take(8)
        .map(|t| show(Europe::Berlin, t))
        .collect();
    assert_eq!(
        spring,
        [
            "2026-03-29 01:30 CET",
            "2026-03-29 01:45 CET",
            "2026-03-29 03:00 CEST",
            "2026-03-29 03:15 CEST",
            "2026-03-29 03:30 CEST",
            "2026-03-29 03:45 CEST",
            "2026-03-30 01:00 CEST",
            "2026-03-30 01:15 CEST",
        ]
    );
    let s = daily(
        Europe::Berlin,
        "2026-10-25 02:30",
        Repeat::Cron("*/15 1-3 * * *".to_string()),
    );
    let fall: Vec<String> = s
        .fires_after(None)
        .take(7)
        .map(|t| show(Europe::Berlin, t))
        .collect();
    assert_eq!(
        fall,
        [
            "2026-10-25 02:30 CEST",
            "2026-10-25 02:45 CEST",
            "2026-10-25 03:00 CET",
            "2026-10-25 03:15 CET",
            "2026-10-25 03:30 CET",
            "2026-10-25 03:45 CET",
            "2026-10-26 01:00 CET",
        ]
    );
}

/// Over more than a year, in zones with ordinary, southern, half-hour and
/// whole-day changes, a daily schedule fires once for every local day, at its
/// time of day (the first of two), or right after the gap when a change skips
/// that time; and the
/// cron expression of the same time fires at the same instants.
#[test]
fn one_fire_per_local_day_in_any_zone() {
    let zones = [
        Europe::Berlin,
        America::New_York,
        Australia::Sydney,
        Australia::Lord_Howe,
        Pacific::Apia,
        Europe::London,
    ];
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[42; 32]),
    );
    let inputs = (0..zones.len(), 0u32..24 * 60, 0i64..365 * 6);
    runner
        .run(&inputs, |(zone, minute, day)| {
            let zone = zones[zone];
            let (hour, minute) = (minute / 60, minute % 60);
            let mut date = NaiveDate::from_ymd_opt(2011, 1, 1).unwrap() + TimeDelta::days(day);
            // a first run is an instant: start on a day where the time exists
            while zone
                .from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
                .earliest()
                .is_none()
            {
                date = date.succ_opt().unwrap();
            }
            let first_run = format!("{date} {hour:02}:{minute:02}");
            let by_days = daily(zone, &first_run, every_day());
            let by_cron = daily(
                zone,
                &first_run,
                Repeat::Cron(format!("{minute} {hour} * * *")),
            );
            let fires: Vec<_> = by_days.fires_after(None).take(400).collect();
            let cron_fires: Vec<_> = by_cron.fires_after(None).take(400).collect();
            prop_assert_eq!(&fires, &cron_fires);
            prop_assert!(fires.windows(2).all(|w| w[0] < w[1]));
            // the n-th fire is for the n-th day after the first run
            for (t, day) in fires.iter().zip(date.iter_days()) {
                let local = t.with_timezone(&zone).naive_local();
                let wanted = day.and_hms_opt(hour, minute, 0).unwrap();
                if let Some(first) = zone.from_local_datetime(&wanted).earliest() {
                    // the time itself; its first occurrence when it falls twice
                    prop_assert_eq!(*t, first.to_utc(), "{} {}", zone, first_run);
                } else {
                    // skipped by a spring-forward: the first instant after the gap
                    prop_assert!(local > wanted && local - wanted <= TimeDelta::hours(24));
                    let before = local - TimeDelta::seconds(1);
                    prop_assert!(zone.from_local_datetime(&before).earliest().is_none());
                }
            }
            Ok(())
        })
        .unwrap();
}
