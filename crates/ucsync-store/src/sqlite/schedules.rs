//! Schedules on SQLite: their specification as JSON text, their fire times
//! as text, and the compare-and-set by which exactly one node fires one.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use ucsync_schedule::ScheduleSpec;

use super::{SqliteStore, all, db, first, now, value};
use crate::model::*;
use crate::rows::{self, SCHEDULE_COLUMNS};
use crate::{Result, StoreError};

fn load_schedule(c: &Connection, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ?1");
    first(c, &sql, [id], |r| rows::schedule(r))
}

impl SqliteStore {
    pub(super) async fn add_schedule(&self, s: &NewSchedule) -> Result<ScheduleRecord> {
        let s = s.clone();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            if let Some(element) = &s.default_for {
                let known: bool = value(&tx, "SELECT EXISTS(SELECT 1 FROM elements WHERE name = ?1)", [element.as_str()])?;
                if !known {
                    return Err(StoreError::NoElement(element.to_string()));
                }
                let taken: bool = value(&tx, "SELECT EXISTS(SELECT 1 FROM schedules WHERE default_for = ?1)", [element.as_str()])?;
                if taken {
                    return Err(StoreError::DefaultExists(element.to_string()));
                }
            }
            tx.execute(
                "INSERT INTO schedules (name, default_for, spec, next_due, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.name, s.default_for.as_ref().map(|e| e.as_str()), rows::json_text(&rows::spec_json(&s.spec)), rows::fire_time_text(s.next_due), now()],
            )
            .map_err(db)?;
            let id = tx.last_insert_rowid();
            let out = load_schedule(&tx, id)?.ok_or(StoreError::NoSchedule(id))?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    pub(super) async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.read(|c, _| {
            let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id");
            let found = all(&mut c.prepare(&sql).map_err(db)?, [], rows::listed_schedule)?;
            Ok(found.into_iter().flatten().collect())
        })
        .await
    }

    pub(super) async fn schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
        self.read(move |c, _| load_schedule(c, id)).await
    }

    pub(super) async fn update_schedule(
        &self,
        id: ScheduleId,
        name: &str,
        spec: &ScheduleSpec,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<ScheduleRecord> {
        let name = name.to_string();
        let spec = rows::json_text(&rows::spec_json(spec));
        let next_due = rows::fire_time_text(next_due);
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE schedules SET name = ?2, spec = ?3, next_due = ?4 WHERE id = ?1",
                    params![id, name, spec, next_due],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NoSchedule(id));
            }
            let out = load_schedule(&tx, id)?.ok_or(StoreError::NoSchedule(id))?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    pub(super) async fn delete_schedule(&self, id: ScheduleId) -> Result<bool> {
        self.write(move |c, _| {
            c.execute("DELETE FROM schedules WHERE id = ?1", [id])
                .map(|n| n > 0)
                .map_err(db)
        })
        .await
    }

    pub(super) async fn schedule_fired(
        &self,
        id: ScheduleId,
        expected_due: Option<DateTime<Utc>>,
        last_fired: Option<DateTime<Utc>>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let [expected, last_fired, next_due] =
            [expected_due, last_fired, next_due].map(rows::fire_time_text);
        self.write(move |c, _| {
            c.execute(
                "UPDATE schedules SET last_fired = ?3, next_due = ?4 WHERE id = ?1 AND next_due IS ?2",
                params![id, expected, last_fired, next_due],
            )
            .map(|n| n == 1)
            .map_err(db)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_core::{SecretKey, SyncType};
    use ucsync_schedule::{Repeat, Target};

    /// A schedule whose stored specification this version cannot read (one
    /// a newer version wrote, say) hides none of the others.
    #[tokio::test]
    async fn an_unreadable_schedule_is_left_out_of_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db"), SecretKey::generate())
            .await
            .unwrap();
        let new = |name: &str| NewSchedule {
            name: name.into(),
            default_for: None,
            spec: ScheduleSpec {
                target: Target::All,
                sync_type: SyncType::Incremental,
                first_run: Utc::now(),
                repeat: Repeat::None,
                end: None,
                time_zone: None,
                enabled: true,
            },
            next_due: None,
        };
        let bad = s.add_schedule(&new("bad")).await.unwrap();
        let good = s.add_schedule(&new("good")).await.unwrap();
        let id = bad.id;
        s.write(move |c, _| {
            c.execute(
                "UPDATE schedules SET spec = '{\"target\": \"all\", \"from_the_future\": 1}' WHERE id = ?1",
                [id],
            )
            .map_err(db)
        })
        .await
        .unwrap();
        assert_eq!(s.schedules().await.unwrap(), [good]);
        assert!(matches!(s.schedule(id).await, Err(StoreError::Database(_))));
    }
}
