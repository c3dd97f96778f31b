//! The grid of a schedule: the instants at which it fires. Minutes and hours
//! are absolute intervals; days, weeks and cron expressions are wall-clock
//! times in the schedule's zone, turned into instants by [`resolve_local`].

use chrono::{DateTime, Days, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// How a schedule repeats, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    Once,
    /// Every so many seconds, counted from the first run.
    Interval {
        seconds: i64,
    },
    /// Every so many local days at the first run's wall-clock time.
    Days {
        every: u64,
    },
    /// The expression's matches in local wall-clock time.
    Cron(Box<Cron>),
}

/// A rule anchored at a first run, in a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) first_run: DateTime<Utc>,
    pub(crate) rule: Rule,
    pub(crate) zone: Tz,
}

impl Grid {
    /// The first slot: the first run itself, or for a cron expression its
    /// first match at or after the first run. `None` when there is none
    /// (a cron expression that never matches).
    pub(crate) fn first(&self) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron(cron) => cron_from(cron, self.zone, self.first_run, true),
            Rule::Once | Rule::Interval { .. } | Rule::Days { .. } => Some(self.first_run),
        }
    }

    /// The first slot strictly after `t`.
    pub(crate) fn after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if t < self.first_run {
            return self.first();
        }
        match &self.rule {
            Rule::Once => None,
            Rule::Interval { seconds } => {
                let mut k = (t - self.first_run).num_seconds() / seconds;
                loop {
                    let slot = self
                        .first_run
                        .checked_add_signed(TimeDelta::try_seconds(k.checked_mul(*seconds)?)?)?;
                    if slot > t {
                        return Some(slot);
                    }
                    k += 1;
                }
            }
            Rule::Days { every } => {
                let anchor = self.first_run.with_timezone(&self.zone).naive_local();
                let days = (t.with_timezone(&self.zone).date_naive() - anchor.date()).num_days();
                // Two slots of margin below `t`: a slot can move to the next
                // day only when a gap swallows its local midnight.
                let mut k = (u64::try_from(days).unwrap_or(0) / every).saturating_sub(2);
                loop {
                    let slot = if k == 0 {
                        self.first_run
                    } else {
                        let date = anchor
                            .date()
                            .checked_add_days(Days::new(k.checked_mul(*every)?))?;
                        resolve_local(self.zone, date.and_time(anchor.time()))?
                    };
                    if slot > t {
                        return Some(slot);
                    }
                    k += 1;
                }
            }
            Rule::Cron(cron) => cron_from(cron, self.zone, t, false),
        }
    }
}

/// The instant of a local wall-clock time: the only one; the first of two on
/// a fall-back day; or, for a time that a spring-forward skips, the first
/// instant after the gap (02:30 on a day that jumps from 02:00 to 03:00 is
/// 03:00).
pub(crate) fn resolve_local(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.to_utc()),
        LocalResult::None => end_of_gap(zone, wall),
    }
}

/// The transition that skipped `wall`: the first whole second whose local
/// time is past it (zone transitions fall on whole seconds).
fn end_of_gap(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    let local_at =
        |s: i64| DateTime::from_timestamp(s, 0).map(|t| t.with_timezone(&zone).naive_local());
    // No zone is 26 hours from UTC, so the transition lies within 26 hours of
    // `wall` read as UTC: local(lo) < wall < local(hi).
    const SPAN: i64 = 26 * 3600;
    let guess = wall.and_utc().timestamp();
    let (mut lo, mut hi) = (guess - SPAN, guess + SPAN);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid)? > wall {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The first match of `cron` in `zone`'s wall-clock time that resolves to an
/// instant after `t` (or at `t` when `inclusive`). Matches that resolve to
/// `t` or earlier — the second pass of a fall-back hour, the other times of a
/// spring-forward gap — are passed over, so each is fired once.
pub(crate) fn cron_from(
    cron: &Cron,
    zone: Tz,
    t: DateTime<Utc>,
    inclusive: bool,
) -> Option<DateTime<Utc>> {
    let mut wall = t.with_timezone(&zone).naive_local();
    let mut from_inclusive = inclusive;
    loop {
        let matched = cron.find_next_occurrence(&wall, from_inclusive).ok()?;
        let at = resolve_local(zone, matched)?;
        if at > t || (inclusive && at == t) {
            return Some(at);
        }
        wall = matched;
        from_inclusive = false;
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        wall(s).and_utc()
    }

    #[test]
    fn local_times_resolve_to_one_instant() {
        let berlin = chrono_tz::Europe::Berlin;
        let new_york = chrono_tz::America::New_York;
        let cases = [
            // an ordinary day
            (berlin, "2026-01-10 02:30", "2026-01-10 01:30"),
            // spring forward (02:00 → 03:00 CEST): a skipped time is the end of the gap
            (berlin, "2026-03-29 02:30", "2026-03-29 01:00"),
            (berlin, "2026-03-29 02:00", "2026-03-29 01:00"),
            (berlin, "2026-03-29 03:00", "2026-03-29 01:00"),
            // fall back (03:00 CEST → 02:00 CET): the first of the two
            (berlin, "2026-10-25 02:30", "2026-10-25 00:30"),
            (new_york, "2026-03-08 02:30", "2026-03-08 07:00"),
            (new_york, "2026-11-01 01:30", "2026-11-01 05:30"),
            (chrono_tz::UTC, "2026-03-29 02:30", "2026-03-29 02:30"),
        ];
        for (zone, local, expected) in cases {
            assert_eq!(
                resolve_local(zone, wall(local)),
                Some(utc(expected)),
                "{zone} {local}"
            );
        }
    }

    #[test]
    fn a_skipped_day_resolves_to_the_next_midnight() {
        // Samoa skipped 30 December 2011 entirely.
        let apia = chrono_tz::Pacific::Apia;
        let skipped = NaiveDate::from_ymd_opt(2011, 12, 30)
            .unwrap()
            .and_hms_opt(23, 0, 0)
            .unwrap();
        let at = resolve_local(apia, skipped).unwrap();
        assert_eq!(
            at.with_timezone(&apia).naive_local(),
            NaiveDate::from_ymd_opt(2011, 12, 31)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        );
    }
}
