//! The daily incremental a CM gets after its first init, and its spread.

use std::collections::BTreeMap;

use chrono::{NaiveTime, TimeDelta, Timelike};
use chrono_tz::Europe;
use ucsync_core::{ElementName, SyncType};
use ucsync_schedule::{
    Every, ManualClock, Repeat, Target, Tz, Unit, default_schedule, default_time_of_day,
};

use crate::{at, show, simulate, utc};

fn name(s: &str) -> ElementName {
    ElementName::parse(s).unwrap()
}

#[test]
fn the_default_is_a_daily_incremental_of_that_element() {
    let cm = name("cm-east");
    let created = utc("2026-03-01 10:00");
    let s = default_schedule(&cm, created, Tz::UTC);
    assert_eq!(s.target(), &Target::Elements(vec![cm.clone()]));
    assert_eq!(s.sync_type(), SyncType::Incremental);
    assert_eq!(
        s.repeat(),
        &Repeat::Every(Every {
            n: 1,
            unit: Unit::Days,
        })
    );
    assert_eq!(s.end(), None);
    assert!(s.is_enabled());
    let first = s.first_run();
    assert!(
        created < first && first <= created + TimeDelta::hours(24),
        "{first}"
    );
    assert_eq!(first.time(), default_time_of_day(&cm));
    // every 24 hours after that, run by a service ticking every minute
    let clock = ManualClock::new(created);
    let runs = simulate(
        &s,
        &clock,
        created + TimeDelta::days(5),
        TimeDelta::minutes(1),
        None,
    );
    let expected: Vec<_> = (0..5).map(|d| first + TimeDelta::days(d)).collect();
    assert_eq!(runs, expected);
}

#[test]
fn the_time_of_day_is_stable() {
    // Pinned: a change here moves every installed CM's sync time.
    let times: Vec<String> = ["cm1", "cm-east", "CM-East"]
        .iter()
        .map(|element| default_time_of_day(&name(element)).to_string())
        .collect();
    assert_eq!(times, ["01:07:00", "23:12:00", "11:47:00"]);
}

#[test]
fn the_default_keeps_its_local_time_across_daylight_saving() {
    let cm = name("cm1");
    let time = default_time_of_day(&cm);
    let s = default_schedule(&cm, at(Europe::Berlin, "2026-03-27 00:00"), Europe::Berlin);
    let local: Vec<NaiveTime> = s
        .fires_after(None)
        .take(6)
        .map(|t| t.with_timezone(&Europe::Berlin).time())
        .collect();
    assert_eq!(local, vec![time; 6]);
    assert_eq!(
        show(Europe::Berlin, s.first_run()),
        format!("2026-03-27 {} CET", time.format("%H:%M"))
    );
}

#[test]
fn the_first_run_skips_a_day_that_lacks_the_time() {
    // Find a name whose time falls in Berlin's spring gap (02:00 to 03:00).
    let cm = (0..)
        .map(|i| name(&format!("cm{i}")))
        .find(|n| default_time_of_day(n).hour() == 2)
        .unwrap();
    let s = default_schedule(&cm, at(Europe::Berlin, "2026-03-29 00:30"), Europe::Berlin);
    let first = s.first_run().with_timezone(&Europe::Berlin).naive_local();
    assert_eq!(first.date().to_string(), "2026-03-30");
    assert_eq!(first.time(), default_time_of_day(&cm));
}

#[test]
fn a_hundred_cms_added_together_spread_over_the_day() {
    let created = utc("2026-03-01 10:00");
    let mut per_minute: BTreeMap<NaiveTime, usize> = BTreeMap::new();
    let mut per_quarter = [0usize; 4];
    for i in 1..=100 {
        let s = default_schedule(&name(&format!("cm-{i:03}")), created, Tz::UTC);
        let time = s.first_run().time();
        *per_minute.entry(time).or_default() += 1;
        per_quarter[time.hour() as usize / 6] += 1;
    }
    let busiest = per_minute.values().max().copied().unwrap();
    assert!(
        per_minute.len() >= 90,
        "{} distinct minutes",
        per_minute.len()
    );
    assert!(busiest <= 3, "{busiest} CMs in one minute");
    assert!(
        per_quarter.iter().all(|n| (10..=40).contains(n)),
        "{per_quarter:?}"
    );
}
