//! The schedule every CM gets when its first init completes: an incremental
//! sync once a day, at a time of day that depends on the element's name so
//! that many CMs added together do not all sync in the same minute.

use chrono::{DateTime, LocalResult, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use ucsync_core::{ElementName, SyncType};

use crate::{Every, Repeat, Schedule, ScheduleSpec, Target, Unit};

const MINUTES_PER_DAY: u64 = 24 * 60;

/// The local time of day of an element's default schedule: a whole minute
/// drawn from a keyed BLAKE3 hash of its name, so the same name always gets
/// the same minute, on every machine and in every release, and names spread
/// evenly over the day.
pub fn default_time_of_day(element: &ElementName) -> NaiveTime {
    let key = blake3::derive_key(
        "ucsync 2026 default schedule time of day",
        element.as_str().as_bytes(),
    );
    let mut head = [0u8; 8];
    head.copy_from_slice(&key[..8]);
    let minute = u64::from_le_bytes(head) % MINUTES_PER_DAY;
    // `minute` is below 1440, so the addition stays within the day.
    NaiveTime::MIN + TimeDelta::minutes(minute as i64)
}

/// The default schedule of a CM whose first init completed at `created`: an
/// incremental of that element every day at [`default_time_of_day`] in
/// `zone`, enabled, without end.
///
/// The first run is the next such local time after `created`, skipping a day
/// on which a spring-forward removes that time, so that the first run — which
/// anchors the later ones — is at the chosen time of day itself.
pub fn default_schedule(element: &ElementName, created: DateTime<Utc>, zone: Tz) -> Schedule {
    let time = default_time_of_day(element);
    let first_run = created
        .with_timezone(&zone)
        .date_naive()
        .iter_days()
        .find_map(|day| match zone.from_local_datetime(&day.and_time(time)) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                Some(t.to_utc()).filter(|t| *t > created)
            }
            LocalResult::None => None,
        })
        .expect("a time of day exists on one of any two days after a real instant");
    let spec = ScheduleSpec {
        target: Target::Elements(vec![element.clone()]),
        sync_type: SyncType::Incremental,
        first_run,
        repeat: Repeat::Every(Every {
            n: 1,
            unit: Unit::Days,
        }),
        end: None,
        time_zone: Some(zone.name().to_string()),
        enabled: true,
    };
    Schedule::new(spec, zone).expect("a daily schedule of one element without end can fire")
}
