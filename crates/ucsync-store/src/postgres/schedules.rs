//! Schedules on PostgreSQL: their specification as JSON, their fire times
//! as text, and the compare-and-set by which exactly one node fires one.

use chrono::{DateTime, Utc};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;
use ucsync_core::ElementName;
use ucsync_schedule::ScheduleSpec;

use super::{PgStore, db, is_unique_violation};
use crate::model::*;
use crate::rows::{self, SCHEDULE_COLUMNS};
use crate::{Result, StoreError};

impl PgStore {
    pub(super) async fn add_schedule(&self, s: &NewSchedule) -> Result<ScheduleRecord> {
        let c = self.client().await?;
        let default_for = s.default_for.as_ref().map(ElementName::as_str);
        let spec = rows::spec_json(&s.spec);
        let next_due = rows::fire_time_text(s.next_due);
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO schedules (name, default_for, spec, next_due, created_at) VALUES ($1, $2, $3, $4, now()) \
                     RETURNING {SCHEDULE_COLUMNS}"
                ),
                &[&s.name, &default_for, &Json(&spec), &next_due],
            )
            .await;
        match r {
            Ok(r) => rows::schedule(&r),
            Err(e) if is_unique_violation(&e, "schedules_default_for_key") => Err(
                StoreError::DefaultExists(default_for.unwrap_or_default().to_string()),
            ),
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Err(
                StoreError::NoElement(default_for.unwrap_or_default().to_string()),
            ),
            Err(e) => Err(db(e)),
        }
    }

    pub(super) async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        let c = self.client().await?;
        let found = c
            .query(
                &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id"),
                &[],
            )
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            out.extend(rows::listed_schedule(r)?);
        }
        Ok(out)
    }

    pub(super) async fn schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(db)?
        .map(|r| rows::schedule(&r))
        .transpose()
    }

    pub(super) async fn update_schedule(
        &self,
        id: ScheduleId,
        name: &str,
        spec: &ScheduleSpec,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<ScheduleRecord> {
        let spec = rows::spec_json(spec);
        let next_due = rows::fire_time_text(next_due);
        let c = self.client().await?;
        let r = c
            .query_opt(
                &format!(
                    "UPDATE schedules SET name = $2, spec = $3, next_due = $4 WHERE id = $1 \
                     RETURNING {SCHEDULE_COLUMNS}"
                ),
                &[&id, &name, &Json(&spec), &next_due],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::NoSchedule(id))?;
        rows::schedule(&r)
    }

    pub(super) async fn delete_schedule(&self, id: ScheduleId) -> Result<bool> {
        let c = self.client().await?;
        let n = c
            .execute("DELETE FROM schedules WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    pub(super) async fn schedule_fired(
        &self,
        id: ScheduleId,
        expected_due: Option<DateTime<Utc>>,
        last_fired: Option<DateTime<Utc>>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let [expected_due, last_fired, next_due] =
            [expected_due, last_fired, next_due].map(rows::fire_time_text);
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "UPDATE schedules SET last_fired = $3, next_due = $4 \
                 WHERE id = $1 AND next_due IS NOT DISTINCT FROM $2::text",
            )
            .await
            .map_err(db)?;
        let n = c
            .execute(&st, &[&id, &expected_due, &last_fired, &next_due])
            .await
            .map_err(db)?;
        Ok(n == 1)
    }
}
