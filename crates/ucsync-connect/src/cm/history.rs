//! The CM's command history: rows, the sync point, which rows are new, and
//! what each row means for an incremental — pure functions.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use ucsync_core::ObjectId;
use ucsync_ossi::Record;
use ucsync_ossi::vocabulary::Vocabulary;
use ucsync_ossi::wellknown::history as h;

use super::catalog::Catalog;
use crate::ChangeItem;

/// One row of `list history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// `mm/dd`
    pub date: String,
    /// `hh:mm`
    pub time: String,
    pub port: String,
    pub login: String,
    pub action: String,
    pub object: String,
    pub qualifier: String,
}

impl HistoryRow {
    pub fn from_record(r: &Record) -> HistoryRow {
        let g = |f| r.get(f).unwrap_or_default().to_string();
        HistoryRow {
            date: g(h::DATE),
            time: g(h::TIME),
            port: g(h::PORT),
            login: g(h::LOGIN),
            action: g(h::ACTION),
            object: g(h::OBJECT),
            qualifier: g(h::QUALIFIER),
        }
    }

    /// The row as one line, as a CM prints it.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.date, self.time, self.port, self.login, self.action, self.object, self.qualifier
        )
        .trim_end()
        .to_string()
    }

    /// The minute of the row on the CM's clock. The history has no year: a
    /// date after `now`'s is from the year before.
    pub fn minute(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let (m, d) = self.date.split_once('/')?;
        let (hh, mm) = self.time.split_once(':')?;
        let (m, d, hh, mm): (u32, u32, u32, u32) = (
            m.parse().ok()?,
            d.parse().ok()?,
            hh.parse().ok()?,
            mm.parse().ok()?,
        );
        let year = if (m, d) > (now.month(), now.day()) {
            now.year() - 1
        } else {
            now.year()
        };
        NaiveDate::from_ymd_opt(year, m, d)?.and_hms_opt(hh, mm, 0)
    }
}

/// Where a CM's history stood at a sync: its clock (to the minute) and the
/// newest rows, by which a wrapped log is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmPoint {
    pub minute: NaiveDateTime,
    pub newest: Vec<String>,
    /// How many rows of `minute` the log held then: those are not new.
    #[serde(default)]
    pub at_minute: usize,
}

impl CmPoint {
    pub fn new(now: NaiveDateTime, rows: &[HistoryRow]) -> CmPoint {
        let minute = now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        let at_minute = rows
            .iter()
            .filter(|r| r.minute(now) == Some(minute))
            .count();
        CmPoint {
            minute,
            newest: rows.iter().take(5).map(HistoryRow::line).collect(),
            at_minute,
        }
    }

    pub fn parse(text: &str) -> Option<CmPoint> {
        serde_json::from_str(text).ok()
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a point serializes")
    }
}

/// The rows (newest first) logged after the point, and whether the log
/// wrapped past the point, so that rows may be missing. The history has
/// minute resolution: of the rows in the point's own minute, those beyond the
/// ones the log already held then are new (all of them if some were evicted).
pub fn rows_since<'a>(
    rows: &'a [HistoryRow],
    point: &CmPoint,
    now: NaiveDateTime,
) -> (Vec<&'a HistoryRow>, bool) {
    let in_minute = rows
        .iter()
        .filter(|r| r.minute(now) == Some(point.minute))
        .count();
    let mut boundary_new = in_minute.checked_sub(point.at_minute).unwrap_or(in_minute);
    let new: Vec<&HistoryRow> = rows
        .iter()
        .filter(|r| match r.minute(now) {
            None => true,
            Some(t) if t > point.minute => true,
            Some(t) if t == point.minute && boundary_new > 0 => {
                boundary_new -= 1;
                true
            }
            Some(_) => false,
        })
        .collect();
    // Right below the new rows must be the rows that were newest at the
    // point, in order; if they are not, rows after the point were lost when
    // the log wrapped. (Times cannot tell: the log may wrap within a minute.)
    let rest = &rows[new.len().min(rows.len())..];
    let expect = &point.newest[..point.newest.len().min(rest.len())];
    let anchored = point.newest.is_empty()
        || (!expect.is_empty() && rest.iter().zip(expect).all(|(r, a)| r.line() == *a));
    (new, !rows.is_empty() && !anchored)
}

/// What one history row means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// A login or logoff: not a data command.
    Session,
    /// Not applied, for this reason.
    Skip(String),
    Apply(Vec<ChangeItem>),
    /// A form changed that needs an initializing sync.
    NeedsInit(String),
}

/// Classifies one row: own logins, sessions and reads are skipped; a command
/// is resolved word by word (abbreviations, Unicode hyphens) and pinned to
/// the objects it changed, or to its whole type when it cannot be pinned.
pub fn classify(row: &HistoryRow, own_logins: &[String], catalog: &Catalog) -> RowOutcome {
    if matches!(row.action.as_str(), "logn" | "logf") {
        return RowOutcome::Session;
    }
    if own_logins
        .iter()
        .any(|l| l.eq_ignore_ascii_case(&row.login))
    {
        return RowOutcome::Skip(format!(
            "made by '{}', one of ucsync's own logins, so already in the database",
            row.login
        ));
    }
    let vocab = Vocabulary::builtin();
    let resolved = match vocab.resolve(&format!("{} {} {}", row.action, row.object, row.qualifier))
    {
        Ok(r) => r,
        Err(e) => return RowOutcome::Skip(format!("not a command ucsync can read: {e}")),
    };
    if !vocab.is_data_verb(&resolved.verb) {
        return RowOutcome::Skip(format!("'{}' does not change data", resolved.verb));
    }
    if let Some(form) = catalog.needs_init(&resolved.object) {
        return RowOutcome::NeedsInit(form);
    }
    let object_type = resolved.object_type();
    let Some(t) = catalog.by_type(&object_type) else {
        return RowOutcome::Skip(format!(
            "'{}' is not synchronized",
            resolved.object.join(" ")
        ));
    };
    let at = Some(format!("{} {}", row.date, row.time));
    let by = Some(row.login.clone());
    let item = |key: &str| ChangeItem::Object {
        id: ObjectId::new(&object_type, key),
        by_login: by.clone(),
        at_element: at.clone(),
    };
    let whole = |why: &str| {
        RowOutcome::Apply(vec![ChangeItem::Type {
            object_type: object_type.clone(),
            why: why.to_string(),
        }])
    };
    if t.key.is_none() {
        return RowOutcome::Apply(vec![item("")]);
    }
    let q = &resolved.qualifiers;
    let Some(key) = q.first() else {
        return whole("the history row names no object");
    };
    if resolved.verb == "duplicate" {
        // `duplicate station 1001 start 5001 count 3` made 5001..5003.
        let num = |w: &str| {
            q.iter()
                .position(|x| w.starts_with(x.as_str()) && !x.is_empty())
                .and_then(|i| q.get(i + 1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        return match (num("start"), num("count").or(Some(1))) {
            (Some(start), Some(count)) if count <= 1000 => RowOutcome::Apply(
                (start..start + count)
                    .map(|k| item(&k.to_string()))
                    .collect(),
            ),
            _ => whole("the duplicated objects cannot be told from the history row"),
        };
    }
    if key.eq_ignore_ascii_case("next") {
        return whole("'next' does not say which object was added");
    }
    RowOutcome::Apply(vec![item(key)])
}

/// The history row a notify event stands for: the event's tuple in the
/// row's columns (date and time cut to the minute, as the history keeps
/// them), so that [`classify`] reads both the same way.
pub fn row_of_event(e: &crate::ElementEvent) -> HistoryRow {
    HistoryRow {
        date: e.at.format("%m/%d").to_string(),
        time: e.at.format("%H:%M").to_string(),
        port: String::new(),
        login: e.login.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        qualifier: e.qualifier.clone(),
    }
}

/// What identifies a history row that notify sync can apply: the login
/// (any case), the minute, the resolved verb and the objects it names.
/// A row as the CM logged it (`cha sta 1001`, cut to its columns) and the
/// event for it (`change station 1001`) have the same key; `None` for a row
/// that does not pin objects (a session, a skipped row, a whole type, a form
/// that needs an init).
pub fn row_key(row: &HistoryRow, outcome: &RowOutcome) -> Option<String> {
    let RowOutcome::Apply(items) = outcome else {
        return None;
    };
    let mut ids = Vec::with_capacity(items.len());
    for i in items {
        match i {
            ChangeItem::Object { id, .. } => ids.push(id.to_string()),
            ChangeItem::Type { .. } => return None,
        }
    }
    ids.sort();
    let verb = Vocabulary::builtin()
        .resolve(&format!("{} {} {}", row.action, row.object, row.qualifier))
        .ok()?
        .verb;
    Some(format!(
        "{}|{} {}|{}|{}",
        row.login.to_ascii_lowercase(),
        row.date,
        row.time,
        verb,
        ids.join(",")
    ))
}

/// What a notify event means, by the rules of [`classify`].
pub fn classify_event(
    e: &crate::ElementEvent,
    own_logins: &[String],
    catalog: &Catalog,
) -> crate::EventMeaning {
    use crate::EventMeaning;
    let row = row_of_event(e);
    let outcome = classify(&row, own_logins, catalog);
    match &outcome {
        RowOutcome::Session => EventMeaning::Ignore {
            label: "not-data",
            why: "a login or logoff".into(),
        },
        RowOutcome::Skip(why) => {
            let label = if own_logins.iter().any(|l| l.eq_ignore_ascii_case(&e.login)) {
                "own-login"
            } else if why.starts_with("not a command") {
                "unreadable"
            } else if why.ends_with("is not synchronized") {
                "not-synchronized"
            } else {
                "not-data"
            };
            EventMeaning::Ignore {
                label,
                why: why.clone(),
            }
        }
        RowOutcome::NeedsInit(form) => EventMeaning::NeedsInit(format!(
            "{form} changed (notify event by '{}'), which needs an initializing sync",
            e.login
        )),
        RowOutcome::Apply(items) => match row_key(&row, &outcome) {
            Some(row_key) => EventMeaning::Objects {
                ids: items
                    .iter()
                    .filter_map(|i| match i {
                        ChangeItem::Object { id, .. } => Some(id.clone()),
                        ChangeItem::Type { .. } => None,
                    })
                    .collect(),
                row_key,
            },
            None => EventMeaning::Ignore {
                label: "whole-type",
                why: "the event does not say which object changed; the next incremental reads the type"
                    .into(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(login: &str, action: &str, object: &str, qualifier: &str) -> HistoryRow {
        HistoryRow {
            date: "11/25".into(),
            time: "10:02".into(),
            port: "SSH01".into(),
            login: login.into(),
            action: action.into(),
            object: object.into(),
            qualifier: qualifier.into(),
        }
    }

    fn check(r: HistoryRow, expect: &str) {
        let own = vec!["ucsync".to_string(), "init".to_string()];
        let got = match classify(&r, &own, &Catalog::builtin()) {
            RowOutcome::Skip(why) => format!("skip: {why}"),
            RowOutcome::Session => "session".into(),
            RowOutcome::NeedsInit(f) => format!("init: {f}"),
            RowOutcome::Apply(items) => items
                .iter()
                .map(|i| match i {
                    ChangeItem::Object { id, .. } => format!("{id}"),
                    ChangeItem::Type { object_type, .. } => format!("all {object_type}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        assert!(got.starts_with(expect), "{r:?}: {got}");
    }

    #[test]
    fn table() {
        check(row("craft", "cha", "stat", "1001"), "station 1001");
        check(row("craft", "chan", "station", "1001"), "station 1001");
        check(row("craft", "add", "station", "2001"), "station 2001");
        check(row("craft", "remo", "vdn", "60010"), "vdn 60010");
        check(
            row("craft", "chan", "coverage", "path 5"),
            "coverage-path 5",
        );
        check(
            row("craft", "dupl", "station", "1002 start 5001 count 3"),
            "station 5001, station 5002, station 5003",
        );
        check(row("craft", "dupl", "vector", "5 start 10"), "vector 10");
        check(row("craft", "add", "station", "next"), "all station");
        check(
            row("UCSYNC", "chan", "station", "1001"),
            "skip: made by 'UCSYNC'",
        );
        check(
            row("init", "add", "station", "1001"),
            "skip: made by 'init'",
        );
        check(row("craft", "logn", "", ""), "session");
        check(
            row("craft", "chan", "system-param", "features"),
            "init: system-parameters features",
        );
        check(
            row("craft", "cha", "sys", "cust"),
            "init: system-parameters customer-options",
        );
        check(
            row("craft", "chan", "system\u{2010}param", "spec"),
            "init: system-parameters special-applications",
        );
        check(
            row("craft", "chan", "dialplan", "analysis"),
            "init: dialplan analysis",
        );
        check(row("craft", "add", "cabinet", "2"), "init: cabinet");
        check(row("craft", "chan", "board", "01A05"), "init: board");
        check(
            row("craft", "chan", "ip-network-m", ""),
            "skip: 'ip-network-map' is not synchronized",
        );
        check(
            row("craft", "c", "station", "1001"),
            "skip: not a command ucsync can read: 'c' is ambiguous",
        );
        check(row("tti-s", "chan", "station", "1001 X"), "station 1001");
    }

    #[test]
    fn an_event_and_its_history_row_have_one_key() {
        let own = vec!["ucsync".to_string()];
        let cat = Catalog::builtin();
        let ev = crate::ElementEvent {
            login: "craft".into(),
            action: "change".into(),
            object: "station".into(),
            qualifier: "1001".into(),
            at: at("2026-11-25 10:02:59"),
        };
        let crate::EventMeaning::Objects { ids, row_key: k } = classify_event(&ev, &own, &cat)
        else {
            panic!("an event for one station")
        };
        assert_eq!(ids, vec![ObjectId::new("station", "1001")]);
        let typed = row("CRAFT", "cha", "stat", "1001");
        assert_eq!(
            row_key(&typed, &classify(&typed, &own, &cat)),
            Some(k.clone())
        );
        let added = row("craft", "add", "station", "1001");
        assert_ne!(row_key(&added, &classify(&added, &own, &cat)), Some(k));
        let mine = crate::ElementEvent {
            login: "UCSYNC".into(),
            ..ev.clone()
        };
        assert!(matches!(
            classify_event(&mine, &own, &cat),
            crate::EventMeaning::Ignore {
                label: "own-login",
                ..
            }
        ));
        let form = crate::ElementEvent {
            object: "system-parameters features".into(),
            qualifier: String::new(),
            ..ev.clone()
        };
        assert!(matches!(
            classify_event(&form, &own, &cat),
            crate::EventMeaning::NeedsInit(_)
        ));
        let next = crate::ElementEvent {
            action: "add".into(),
            qualifier: "next".into(),
            ..ev
        };
        assert!(matches!(
            classify_event(&next, &own, &cat),
            crate::EventMeaning::Ignore {
                label: "whole-type",
                ..
            }
        ));
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn timed(date: &str, time: &str, q: &str) -> HistoryRow {
        HistoryRow {
            date: date.into(),
            time: time.into(),
            qualifier: q.into(),
            ..row("craft", "chan", "station", "")
        }
    }

    #[test]
    fn new_rows_include_the_boundary_minute_and_wraps_are_seen() {
        let now = at("2026-01-02 10:00:30");
        let rows = vec![
            timed("01/02", "09:59", "3"),
            timed("01/02", "09:58", "2"),
            timed("01/02", "09:58", "1"),
            timed("12/31", "23:00", "0"),
        ];
        assert_eq!(
            rows[3].minute(now),
            Some(at("2025-12-31 23:00:00")),
            "no year: December is last year"
        );
        // Row 1 was logged in the point's minute before the point; row 2 after it.
        let point = CmPoint {
            minute: at("2026-01-02 09:58:00"),
            newest: vec![rows[2].line()],
            at_minute: 1,
        };
        let (new, wrapped) = rows_since(&rows, &point, now);
        assert_eq!(
            new.iter().map(|r| r.qualifier.as_str()).collect::<Vec<_>>(),
            ["3", "2"]
        );
        assert!(!wrapped);
        // Rows of the boundary minute that the log no longer holds: read them all again.
        let evicted = CmPoint {
            at_minute: 5,
            ..point.clone()
        };
        assert_eq!(rows_since(&rows, &evicted, now).0.len(), 3);
        // The log kept only rows newer than the point, and none of its anchors.
        let gone = CmPoint {
            minute: at("2026-01-02 09:00:00"),
            newest: vec!["something older".into()],
            at_minute: 0,
        };
        let (_, wrapped) = rows_since(&rows[..3], &gone, now);
        assert!(wrapped);
        // A point with no rows had an empty log: nothing can have been lost.
        let empty = CmPoint {
            minute: at("2026-01-02 09:00:00"),
            newest: vec![],
            at_minute: 0,
        };
        assert!(!rows_since(&rows[..3], &empty, now).1);
    }
}
