//! How the store's rows read and write, for both backends: the column lists
//! each query selects, the decoding of a selected row into what the rest of
//! ucsync sees (through [`Columns`], the one thing a backend provides), and
//! the stored forms of values (times, a schedule's specification, fields,
//! hashes, counts).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use ucsync_core::{ContentHash, ElementName, Fields, ObjectId, PlanOp, SecretKey};
use ucsync_schedule::ScheduleSpec;

use crate::model::*;
use crate::{Result, StoreError};

/// A column of a selected row, as each backend reads it. Times are those of
/// the row's time columns (a backend reads its own time type); JSON is a
/// column of serialized settings, progress, counts or a specification.
pub(crate) trait Columns {
    fn text(&self, i: usize) -> Result<String>;
    fn text_opt(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<i64>;
    fn int_opt(&self, i: usize) -> Result<Option<i64>>;
    fn flag_opt(&self, i: usize) -> Result<Option<bool>>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>>;
    fn time(&self, i: usize) -> Result<DateTime<Utc>>;
    fn time_opt(&self, i: usize) -> Result<Option<DateTime<Utc>>>;
    fn json<T: DeserializeOwned>(&self, i: usize, what: &str) -> Result<T>;
}

/// A time as stored in text and shown (by the API, and when the store's
/// records serialize): RFC 3339, UTC, milliseconds, `Z`. Every stored text
/// time has this one format and length, so that comparing them as text
/// compares them as times.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time stored as text (see [`time_text`]).
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Database(format!("stored time {s:?}: {e}")))
}

/// A schedule's fire time as stored: a text column on both backends (see
/// [`time_text`]), compared as text by `schedule_fired`.
pub(crate) fn fire_time_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(time_text)
}

/// A schedule's fire time read back (see [`fire_time_text`]).
fn fire_time(r: &impl Columns, i: usize) -> Result<Option<DateTime<Utc>>> {
    r.text_opt(i)?.map(|t| parse_time(&t)).transpose()
}

pub(crate) fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T> {
    s.parse().map_err(StoreError::Database)
}

/// A schedule's specification as stored: its JSON (the same value on both
/// backends, text on SQLite and `jsonb` on PostgreSQL).
pub(crate) fn spec_json(spec: &ScheduleSpec) -> serde_json::Value {
    serde_json::to_value(spec).expect("a schedule specification serializes")
}

pub(crate) fn fields_json(f: &Fields) -> String {
    serde_json::to_string(f).expect("fields serialize")
}

pub(crate) fn fields_from(s: &str) -> Result<Fields> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("stored fields: {e}")))
}

/// JSON text of settings, progress, counts or a specification.
pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("stored values serialize")
}

/// JSON text read back (see [`json_text`]).
pub(crate) fn json_from<T: DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("stored {what}: {e}")))
}

/// A 16-byte stored value: a digest or a content hash.
pub(crate) fn bytes16(b: &[u8], what: &str) -> Result<[u8; 16]> {
    b.try_into()
        .map_err(|_| StoreError::Database(format!("stored {what} is not 16 bytes")))
}

pub(crate) fn hash_from(b: &[u8]) -> Result<ContentHash> {
    bytes16(b, "hash").map(ContentHash)
}

/// A count or offset as SQL takes it (past `i64::MAX`: all).
pub(crate) fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// States as an SQL list of literals (`'queued', 'waiting'`): they come
/// from the enum, never from input.
pub(crate) fn state_list(states: &[ucsync_core::JobState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page size as SQL takes it: 0 is no limit.
pub(crate) fn sql_limit(n: u64) -> i64 {
    if n == 0 { i64::MAX } else { sql_count(n) }
}

/// A count SQL gave back.
pub(crate) fn count_from(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Counts of (element, type, objects) rows, per element and type.
pub(crate) fn by_element(
    rows: impl IntoIterator<Item = (ElementId, String, u64)>,
) -> std::collections::BTreeMap<ElementId, std::collections::BTreeMap<String, u64>> {
    let mut out = std::collections::BTreeMap::<_, std::collections::BTreeMap<_, _>>::new();
    for (element, ty, n) in rows {
        out.entry(element).or_default().insert(ty, n);
    }
    out
}

fn in_range<T: TryFrom<i64>>(n: i64, what: &str) -> Result<T> {
    T::try_from(n).map_err(|_| StoreError::Database(format!("stored {what} {n} is out of range")))
}

pub(crate) const ELEMENT_COLUMNS: &str = "e.id, e.name, e.kind, e.host, e.alternate_host, e.port, e.login, e.settings, e.created_at, \
     s.last_init_at, s.last_init_ok, s.last_init_error, s.version_at_init, s.format_at_init, s.sync_point, s.last_sync_at, s.last_success_at, s.last_notify_at, s.revision";

/// Elements with their sync state; a query adds its filter and order.
pub(crate) fn elements_sql() -> String {
    format!(
        "SELECT {ELEMENT_COLUMNS} FROM elements e LEFT JOIN sync_state s ON s.element_id = e.id"
    )
}

pub(crate) fn element(r: &impl Columns) -> Result<Element> {
    Ok(Element {
        id: r.int(0)?,
        name: ElementName::parse(&r.text(1)?).map_err(|e| StoreError::Database(e.to_string()))?,
        kind: parse(&r.text(2)?)?,
        host: r.text(3)?,
        alternate_host: r.text_opt(4)?,
        port: in_range(r.int(5)?, "port")?,
        login: r.text(6)?,
        settings: r.json(7, "element settings")?,
        created_at: r.time(8)?,
        sync: SyncState {
            last_init_at: r.time_opt(9)?,
            last_init_ok: r.flag_opt(10)?,
            last_init_error: r.text_opt(11)?,
            version_at_init: r.text_opt(12)?,
            format_at_init: r.int_opt(13)?.map(|f| in_range(f, "format")).transpose()?,
            sync_point: r.text_opt(14)?,
            last_sync_at: r.time_opt(15)?,
            last_success_at: r.time_opt(16)?,
            last_notify_at: r.time_opt(17)?,
            revision: r.int_opt(18)?.unwrap_or(0),
        },
    })
}

pub(crate) const JOB_COLUMNS: &str = "id, element, requested, type, reason, trigger, requested_by, state, progress, counts, error, created_at, started_at, finished_at, node, dry_run, applied_at, applied_by";

pub(crate) fn job(r: &impl Columns) -> Result<Job> {
    Ok(Job {
        id: JobId(r.int(0)?),
        element: r.text(1)?,
        requested: parse(&r.text(2)?)?,
        sync_type: parse(&r.text(3)?)?,
        reason: r.text_opt(4)?,
        trigger: parse(&r.text(5)?)?,
        requested_by: r.text(6)?,
        state: parse(&r.text(7)?)?,
        progress: r.json(8, "progress")?,
        counts: r.json(9, "counts")?,
        error: r.text_opt(10)?,
        created_at: r.time(11)?,
        started_at: r.time_opt(12)?,
        finished_at: r.time_opt(13)?,
        node: r.text_opt(14)?,
        dry_run: r.flag_opt(15)?.unwrap_or(false),
        applied_at: r.time_opt(16)?,
        applied_by: r.text_opt(17)?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str = "id, name, role, created_at, last_used_at";

pub(crate) fn token(r: &impl Columns) -> Result<Token> {
    Ok(Token {
        id: r.int(0)?,
        name: r.text(1)?,
        role: parse(&r.text(2)?)?,
        created_at: r.time(3)?,
        last_used_at: r.time_opt(4)?,
    })
}

pub(crate) const USER_COLUMNS: &str = "name, role, created_at, last_sign_in_at";

pub(crate) fn user(r: &impl Columns) -> Result<User> {
    Ok(User {
        name: r.text(0)?,
        role: parse(&r.text(1)?)?,
        created_at: r.time(2)?,
        last_sign_in_at: r.time_opt(3)?,
    })
}

/// A session's columns with its user's, from `sessions s JOIN users u`.
pub(crate) const SESSION_COLUMNS: &str =
    "u.name, u.role, u.created_at, u.last_sign_in_at, s.csrf, s.created_at, s.last_seen_at";

pub(crate) fn session(r: &impl Columns) -> Result<Session> {
    Ok(Session {
        user: user(r)?,
        csrf: r.text(4)?,
        created_at: r.time(5)?,
        last_seen_at: r.time(6)?,
    })
}

pub(crate) const SCHEDULE_COLUMNS: &str =
    "id, name, default_for, spec, last_fired, next_due, created_at";

/// A schedule's fire times are text columns on both backends (see
/// [`fire_time_text`]).
pub(crate) fn schedule(r: &impl Columns) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        id: r.int(0)?,
        name: r.text(1)?,
        default_for: r.text_opt(2)?,
        spec: r.json(3, "schedule specification")?,
        last_fired: fire_time(r, 4)?,
        next_due: fire_time(r, 5)?,
        created_at: r.time(6)?,
    })
}

/// A schedule of a list ([`schedule`]): one this ucsync cannot read (its
/// specification written by a newer one, say) is left out with a warning,
/// so that it hides none of the others from the scheduler and the API.
pub(crate) fn listed_schedule(r: &impl Columns) -> Result<Option<ScheduleRecord>> {
    match schedule(r) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Database(error)) => {
            let id = r.int(0).ok();
            tracing::warn!(schedule = id, %error, "stored schedule unreadable: skipped");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The nodes with their open jobs.
pub(crate) const NODES_SQL: &str = "SELECT n.name, n.version, n.started_at, n.heartbeat_at, n.alive_until, n.http, n.syslog, \
     (SELECT count(*) FROM jobs j WHERE j.node = n.name AND j.state IN ('waiting', 'running', 'stopping')) \
     FROM nodes n ORDER BY n.name";

pub(crate) fn node(r: &impl Columns) -> Result<NodeRecord> {
    Ok(NodeRecord {
        name: r.text(0)?,
        version: r.text_opt(1)?,
        started_at: r.time_opt(2)?,
        heartbeat_at: r.time_opt(3)?,
        alive_until: r.time(4)?,
        http: r.text_opt(5)?,
        syslog: r.text_opt(6)?,
        jobs: count_from(r.int(7)?),
    })
}

pub(crate) const CHANGE_COLUMNS: &str = "object_type, object_key, op, by_login, at_element, at";

/// An applied change-log entry ([`CHANGE_COLUMNS`]).
pub(crate) fn change(r: &impl Columns) -> Result<ChangeRecord> {
    Ok(ChangeRecord {
        object_type: r.text(0)?,
        key: r.text(1)?,
        op: parse(&r.text(2)?)?,
        by_login: r.text_opt(3)?,
        at_element: r.text_opt(4)?,
        at: r.time(5)?,
        applied: true,
        fields: Vec::new(),
    })
}

/// The columns of a history entry: [`CHANGE_COLUMNS`] and the job.
pub(crate) const HISTORY_COLUMNS: &str =
    "object_type, object_key, op, by_login, at_element, at, job_id";

/// An entry of an object's history ([`HISTORY_COLUMNS`]).
pub(crate) fn history_entry(r: &impl Columns) -> Result<HistoryEntry> {
    Ok(HistoryEntry {
        job: r.int_opt(6)?.map(JobId),
        change: change(r)?,
    })
}

/// The columns of a planned change: the staged row (`s`) and what is
/// stored of its object now (`o`, joined on the plan's element).
pub(crate) const PLANNED_COLUMNS: &str =
    "s.object_type, s.object_key, s.op, s.by_login, s.at_element, s.fields, o.fields";

/// A planned change ([`PLANNED_COLUMNS`]) of a dry run or a refused init,
/// dated `at`, with its fields compared to what is stored.
pub(crate) fn planned(r: &impl Columns, at: DateTime<Utc>) -> Result<ChangeRecord> {
    let op: PlanOp = parse(&r.text(2)?)?;
    let after = r.text_opt(5)?.map(|f| fields_from(&f)).transpose()?;
    let before = r.text_opt(6)?.map(|f| fields_from(&f)).transpose()?;
    let fields = match (op, after) {
        (PlanOp::Delete, _) | (_, None) => Vec::new(),
        (_, Some(after)) => field_changes(before.as_ref(), &after),
    };
    Ok(ChangeRecord {
        object_type: r.text(0)?,
        key: r.text(1)?,
        op,
        by_login: r.text_opt(3)?,
        at_element: r.text_opt(4)?,
        at,
        applied: false,
        fields,
    })
}

/// What a plan does to one object, from its staged row's operation and
/// hash (see `Store::planned_hash`).
pub(crate) fn planned_hash(
    found: Option<(String, Option<Vec<u8>>)>,
) -> Result<Option<Option<ContentHash>>> {
    match found {
        None => Ok(None),
        Some((op, _)) if op == "delete" => Ok(Some(None)),
        Some((_, Some(h))) => Ok(Some(Some(hash_from(&h)?))),
        Some((_, None)) => Err(StoreError::Database("a staged row without its hash".into())),
    }
}

/// The fields that differ between what is stored (`before`; `None`: the
/// object is new) and what a plan would store. A secret value (stored
/// encrypted, each time under a new nonce) is neither shown nor compared:
/// it is named only when it appears or goes.
pub(crate) fn field_changes(before: Option<&Fields>, after: &Fields) -> Vec<FieldChange> {
    let shown = |v: Option<&str>| {
        v.map(|v| {
            if SecretKey::is_encrypted(v) {
                "(secret)".to_string()
            } else {
                v.to_string()
            }
        })
    };
    let mut out = Vec::new();
    let mut names: Vec<&str> = after.iter().map(|(f, _)| f).collect();
    if let Some(b) = before {
        names.extend(b.iter().map(|(f, _)| f).filter(|f| after.get(f).is_none()));
    }
    for name in names {
        let old = before.and_then(|b| b.get(name)).filter(|v| !v.is_empty());
        let new = after.get(name).filter(|v| !v.is_empty());
        let secret =
            old.is_some_and(SecretKey::is_encrypted) || new.is_some_and(SecretKey::is_encrypted);
        let differs = if secret {
            old.is_some() != new.is_some()
        } else {
            old != new
        };
        if differs {
            out.push(FieldChange {
                field: name.to_string(),
                before: shown(old),
                after: shown(new),
            });
        }
    }
    out
}

pub(crate) const OBJECT_COLUMNS: &str = "object_type, object_key, fields, hash, updated_at";

/// An object from [`OBJECT_COLUMNS`], starting at column `from`.
pub(crate) fn object(r: &impl Columns, from: usize) -> Result<StoredObject> {
    Ok(StoredObject {
        id: ObjectId::new(r.text(from)?, r.text(from + 1)?),
        fields: fields_from(&r.text(from + 2)?)?,
        hash: hash_from(&r.bytes(from + 3)?)?,
        updated_at: r.time(from + 4)?,
    })
}

/// A search hit's columns: its element, the object, its name.
pub(crate) const HIT_COLUMNS: &str =
    "e.name, o.object_type, o.object_key, o.fields, o.hash, o.updated_at, o.name";

pub(crate) fn hit(r: &impl Columns) -> Result<SearchHit> {
    Ok(SearchHit {
        element: r.text(0)?,
        object: object(r, 1)?,
        name: r.text_opt(6)?,
    })
}

pub(crate) const ALARM_COLUMNS: &str = "id, element, condition, severity, cause, first_seen, last_seen, count, cleared_at, acked_by, acked_at";

pub(crate) fn alarm(r: &impl Columns) -> Result<Alarm> {
    Ok(Alarm {
        id: r.int(0)?,
        element: r.text(1)?,
        condition: parse(&r.text(2)?)?,
        severity: parse(&r.text(3)?)?,
        cause: r.text(4)?,
        first_seen: r.time(5)?,
        last_seen: r.time(6)?,
        count: count_from(r.int(7)?),
        cleared_at: r.time_opt(8)?,
        acked_by: r.text_opt(9)?,
        acked_at: r.time_opt(10)?,
    })
}

pub(crate) const DELIVERY_COLUMNS: &str =
    "id, webhook, alarm_id, event, attempt, at, status, error, delivered";

pub(crate) fn delivery(r: &impl Columns) -> Result<Delivery> {
    Ok(Delivery {
        id: r.int(0)?,
        webhook: r.text(1)?,
        alarm_id: r.int(2)?,
        event: r.text(3)?,
        attempt: in_range(r.int(4)?, "attempt")?,
        at: r.time(5)?,
        status: r.int_opt(6)?.map(|s| in_range(s, "status")).transpose()?,
        error: r.text_opt(7)?,
        delivered: r.flag_opt(8)?.unwrap_or(false),
    })
}

/// The filters of an alarm listing, as SQL conditions on numbered
/// parameters from `first` on (`?N` on SQLite, `$N` on PostgreSQL, by
/// `mark`), and the parameters' values as text (a severity, condition or
/// element name); `open` and `acked` need none.
pub(crate) fn alarm_filter(q: &AlarmQuery, mark: char, first: usize) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut values = Vec::new();
    let mut param = |column: &str, v: String, conds: &mut Vec<String>| {
        values.push(v);
        conds.push(format!("{column} = {mark}{}", first + values.len() - 1));
    };
    if let Some(e) = &q.element {
        param("element", e.clone(), &mut conds);
    }
    if let Some(s) = q.severity {
        param("severity", s.as_str().to_string(), &mut conds);
    }
    if let Some(c) = q.condition {
        param("condition", c.as_str().to_string(), &mut conds);
    }
    match q.open {
        Some(true) => conds.push("cleared_at IS NULL".into()),
        Some(false) => conds.push("cleared_at IS NOT NULL".into()),
        None => {}
    }
    match q.acked {
        Some(true) => conds.push("acked_at IS NOT NULL".into()),
        Some(false) => conds.push("acked_at IS NULL".into()),
        None => {}
    }
    let sql = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (sql, values)
}
