//! Alarms and the webhook delivery log on PostgreSQL: raising is an upsert
//! on the one open alarm of an element and condition (the partial unique
//! index `alarms_open`), so nodes raising at once count on one alarm.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use ucsync_core::{AlarmCondition, Severity};

use super::{PgStore, db, get};
use crate::Result;
use crate::model::*;
use crate::rows::{self, ALARM_COLUMNS, DELIVERY_COLUMNS};

impl PgStore {
    pub(crate) async fn raise_alarm(
        &self,
        element: &str,
        condition: AlarmCondition,
        severity: Severity,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Raised> {
        let c = self.client().await?;
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO alarms (element, condition, severity, cause, first_seen, last_seen, count) \
                     VALUES ($1, $2, $3, $4, $5, $5, 1) \
                     ON CONFLICT (element, condition) WHERE cleared_at IS NULL DO UPDATE SET \
                     severity = excluded.severity, cause = excluded.cause, \
                     last_seen = greatest(alarms.last_seen, excluded.last_seen), count = alarms.count + 1 \
                     RETURNING {ALARM_COLUMNS}"
                ),
                &[&element, &condition.as_str(), &severity.as_str(), &cause, &at],
            )
            .await
            .map_err(db)?;
        let alarm = rows::alarm(&r)?;
        Ok(Raised {
            new: alarm.count == 1,
            alarm,
        })
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
        let list: Vec<&str> = conditions.iter().map(|c| c.as_str()).collect();
        let c = self.client().await?;
        c.query(
            &format!(
                "UPDATE alarms SET cleared_at = $3 WHERE element = $1 AND cleared_at IS NULL \
                 AND condition = ANY($2) RETURNING {ALARM_COLUMNS}"
            ),
            &[&element, &list, &at],
        )
        .await
        .map_err(db)?
        .iter()
        .map(rows::alarm)
        .collect()
    }

    pub(crate) async fn alarms(&self, q: &AlarmQuery) -> Result<(Vec<Alarm>, u64)> {
        let (filter, values) = rows::alarm_filter(q, '$', 1);
        let c = self.client().await?;
        let mut params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let total: i64 = get(
            &c.query_one(&format!("SELECT count(*) FROM alarms{filter}"), &params)
                .await
                .map_err(db)?,
            0,
        )?;
        let (limit, offset) = (rows::sql_limit(q.limit), rows::sql_count(q.offset));
        let n = params.len();
        params.push(&limit);
        params.push(&offset);
        let items = c
            .query(
                &format!(
                    "SELECT {ALARM_COLUMNS} FROM alarms{filter} ORDER BY last_seen DESC, id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                &params,
            )
            .await
            .map_err(db)?
            .iter()
            .map(rows::alarm)
            .collect::<Result<Vec<_>>>()?;
        Ok((items, rows::count_from(total)))
    }

    pub(crate) async fn alarm(&self, id: i64) -> Result<Option<Alarm>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(db)?
        .map(|r| rows::alarm(&r))
        .transpose()
    }

    pub(crate) async fn ack_alarm(
        &self,
        id: i64,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Alarm>> {
        let c = self.client().await?;
        // Acknowledged once: who did first stays.
        c.query_opt(
            &format!(
                "UPDATE alarms SET acked_by = coalesce(acked_by, $2), acked_at = coalesce(acked_at, $3) \
                 WHERE id = $1 RETURNING {ALARM_COLUMNS}"
            ),
            &[&id, &by, &at],
        )
        .await
        .map_err(db)?
        .map(|r| rows::alarm(&r))
        .transpose()
    }

    pub(crate) async fn open_alarm_counts(&self) -> Result<BTreeMap<String, u64>> {
        let c = self.client().await?;
        c.query(
            "SELECT severity, count(*) FROM alarms WHERE cleared_at IS NULL GROUP BY severity",
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| Ok((get::<String>(r, 0)?, rows::count_from(get(r, 1)?))))
        .collect()
    }

    pub(crate) async fn record_delivery(&self, d: &NewDelivery) -> Result<()> {
        let c = self.client().await?;
        let attempt = i64::from(d.attempt);
        let status = d.status.map(i64::from);
        c.execute(
            "INSERT INTO webhook_deliveries (webhook, alarm_id, event, attempt, at, status, error, delivered) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &d.webhook,
                &d.alarm_id,
                &d.event,
                &attempt,
                &d.at,
                &status,
                &d.error,
                &d.delivered,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn deliveries(
        &self,
        webhook: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Delivery>, u64)> {
        let c = self.client().await?;
        let total: i64 = get(
            &c.query_one(
                "SELECT count(*) FROM webhook_deliveries WHERE webhook = $1",
                &[&webhook],
            )
            .await
            .map_err(db)?,
            0,
        )?;
        let items = c
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
                ),
                &[&webhook, &rows::sql_limit(limit), &rows::sql_count(offset)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(rows::delivery)
            .collect::<Result<Vec<_>>>()?;
        Ok((items, rows::count_from(total)))
    }
}
