//! Alarms and the webhook delivery log on SQLite: raising is an upsert on
//! the one open alarm of an element and condition (the partial unique index
//! `alarms_open`), clearing an update of the open ones.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::params_from_iter;
use rusqlite::types::Value;
use ucsync_core::{AlarmCondition, Severity};

use super::{SqliteStore, all, db, first, value};
use crate::model::*;
use crate::rows::{self, ALARM_COLUMNS, DELIVERY_COLUMNS};
use crate::{Result, StoreError};

impl SqliteStore {
    pub(crate) async fn raise_alarm(
        &self,
        element: &str,
        condition: AlarmCondition,
        severity: Severity,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Raised> {
        let (element, cause, at) = (element.to_string(), cause.to_string(), rows::time_text(at));
        self.write(move |c, _| {
            let sql = format!(
                "INSERT INTO alarms (element, condition, severity, cause, first_seen, last_seen, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) \
                 ON CONFLICT (element, condition) WHERE cleared_at IS NULL DO UPDATE SET \
                 severity = excluded.severity, cause = excluded.cause, \
                 last_seen = max(last_seen, excluded.last_seen), count = count + 1 \
                 RETURNING {ALARM_COLUMNS}"
            );
            let alarm = first(
                c,
                &sql,
                rusqlite::params![element, condition.as_str(), severity.as_str(), cause, at],
                |r| rows::alarm(r),
            )?
            .ok_or_else(|| StoreError::Database("no alarm was raised".into()))?;
            Ok(Raised {
                new: alarm.count == 1,
                alarm,
            })
        })
        .await
    }

    pub(crate) async fn clear_alarms(
        &self,
        element: &str,
        conditions: &[AlarmCondition],
        at: DateTime<Utc>,
    ) -> Result<Vec<Alarm>> {
        if conditions.is_empty() {
            return Ok(Vec::new());
        }
        let list = conditions
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let (element, at) = (element.to_string(), rows::time_text(at));
        self.write(move |c, _| {
            let sql = format!(
                "UPDATE alarms SET cleared_at = ?3 WHERE element = ?1 AND cleared_at IS NULL \
                 AND instr(',' || ?2 || ',', ',' || condition || ',') > 0 RETURNING {ALARM_COLUMNS}"
            );
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            all(&mut st, rusqlite::params![element, list, at], |r| {
                rows::alarm(r)
            })
        })
        .await
    }

    pub(crate) async fn alarms(&self, q: &AlarmQuery) -> Result<(Vec<Alarm>, u64)> {
        let q = q.clone();
        self.read(move |c, _| {
            let (filter, values) = rows::alarm_filter(&q, '?', 1);
            let mut params: Vec<Value> = values.into_iter().map(Value::from).collect();
            let total: i64 = value(
                c,
                &format!("SELECT count(*) FROM alarms{filter}"),
                params_from_iter(params.iter()),
            )?;
            let n = params.len();
            params.push(Value::from(rows::sql_limit(q.limit)));
            params.push(Value::from(rows::sql_count(q.offset)));
            let sql = format!(
                "SELECT {ALARM_COLUMNS} FROM alarms{filter} ORDER BY last_seen DESC, id DESC LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            );
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            let items = all(&mut st, params_from_iter(params.iter()), rows::alarm)?;
            Ok((items, rows::count_from(total)))
        })
        .await
    }

    pub(crate) async fn alarm(&self, id: i64) -> Result<Option<Alarm>> {
        self.read(move |c, _| {
            let sql = format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = ?1");
            first(c, &sql, [id], |r| rows::alarm(r))
        })
        .await
    }

    pub(crate) async fn ack_alarm(
        &self,
        id: i64,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Alarm>> {
        let (by, at) = (by.to_string(), rows::time_text(at));
        self.write(move |c, _| {
            // Acknowledged once: who did first stays.
            let sql = format!(
                "UPDATE alarms SET acked_by = coalesce(acked_by, ?2), acked_at = coalesce(acked_at, ?3) \
                 WHERE id = ?1 RETURNING {ALARM_COLUMNS}"
            );
            first(c, &sql, rusqlite::params![id, by, at], |r| rows::alarm(r))
        })
        .await
    }

    pub(crate) async fn open_alarm_counts(&self) -> Result<BTreeMap<String, u64>> {
        self.read(|c, _| {
            let mut st = c
                .prepare_cached(
                    "SELECT severity, count(*) FROM alarms WHERE cleared_at IS NULL GROUP BY severity",
                )
                .map_err(db)?;
            let pairs = all(&mut st, [], |r| {
                Ok((
                    r.get::<_, String>(0).map_err(db)?,
                    rows::count_from(r.get(1).map_err(db)?),
                ))
            })?;
            Ok(pairs.into_iter().collect())
        })
        .await
    }

    pub(crate) async fn record_delivery(&self, d: &NewDelivery) -> Result<()> {
        let d = d.clone();
        self.write(move |c, _| {
            c.prepare_cached(
                "INSERT INTO webhook_deliveries (webhook, alarm_id, event, attempt, at, status, error, delivered) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db)?
            .execute(rusqlite::params![
                d.webhook,
                d.alarm_id,
                d.event,
                d.attempt,
                rows::time_text(d.at),
                d.status,
                d.error,
                d.delivered
            ])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn deliveries(
        &self,
        webhook: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Delivery>, u64)> {
        let webhook = webhook.to_string();
        self.read(move |c, _| {
            let total: i64 = value(
                c,
                "SELECT count(*) FROM webhook_deliveries WHERE webhook = ?1",
                [&webhook],
            )?;
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
            );
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            let items = all(
                &mut st,
                rusqlite::params![webhook, rows::sql_limit(limit), rows::sql_count(offset)],
                rows::delivery,
            )?;
            Ok((items, rows::count_from(total)))
        })
        .await
    }
}
