//! Elements on SQLite: added with their sync state, changed, removed with
//! what was synchronized from them.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, all, db, first, now, value};
use crate::model::*;
use crate::rows;
use crate::{Result, StoreError};

pub(super) fn load_element(c: &Connection, name: &str) -> Result<Option<Element>> {
    let sql = format!("{} WHERE e.name = ?1", rows::elements_sql());
    first(c, &sql, [name], |r| rows::element(r))
}

impl SqliteStore {
    /// Every element or none: one transaction, refused at the first name
    /// that exists (in the database or earlier in the list).
    pub(crate) async fn add_elements(&self, elements: Vec<NewElement>) -> Result<Vec<Element>> {
        self.write(move |c, secret| {
            let tx = c.transaction().map_err(db)?;
            let mut added = Vec::with_capacity(elements.len());
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO elements (name, kind, host, alternate_host, port, login, password_enc, settings, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .map_err(db)?;
                let mut state = tx
                    .prepare_cached("INSERT INTO sync_state (element_id) VALUES (last_insert_rowid())")
                    .map_err(db)?;
                let created = now();
                for e in &elements {
                    let found: bool = value(
                        &tx,
                        "SELECT EXISTS(SELECT 1 FROM elements WHERE name = ?1)",
                        [e.name.as_str()],
                    )?;
                    if found {
                        return Err(StoreError::Exists(e.name.to_string()));
                    }
                    insert
                        .execute(params![
                            e.name.as_str(),
                            e.kind.as_str(),
                            e.host,
                            e.alternate_host,
                            e.port as i64,
                            e.login,
                            secret.encrypt(&e.password),
                            rows::json_text(&e.settings),
                            created
                        ])
                        .map_err(db)?;
                    state.execute([]).map_err(db)?;
                }
            }
            for e in &elements {
                added.push(
                    load_element(&tx, e.name.as_str())?
                        .ok_or_else(|| StoreError::NoElement(e.name.to_string()))?,
                );
            }
            tx.commit().map_err(db)?;
            Ok(added)
        })
        .await
    }

    pub(crate) async fn element(&self, name: &str) -> Result<Option<Element>> {
        let name = name.to_string();
        self.read(move |c, _| load_element(c, &name)).await
    }

    pub(crate) async fn elements(&self) -> Result<Vec<Element>> {
        self.read(|c, _| {
            let sql = format!("{} ORDER BY e.name", rows::elements_sql());
            all(&mut c.prepare(&sql).map_err(db)?, [], rows::element)
        })
        .await
    }

    pub(crate) async fn element_password(&self, name: &str) -> Result<String> {
        let name = name.to_string();
        self.read(move |c, secret| {
            let enc: Option<String> = c
                .query_row(
                    "SELECT password_enc FROM elements WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let enc = enc.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            Ok(secret.decrypt(&enc)?)
        })
        .await
    }

    pub(crate) async fn remove_element(&self, name: &str) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let id: Option<i64> = tx
                .query_row("SELECT id FROM elements WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            let Some(id) = id else { return Ok(false) };
            tx.execute(
                "DELETE FROM staged WHERE job_id IN (SELECT id FROM jobs WHERE element_id = ?1)",
                [id],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM schedules WHERE default_for = ?1", [&name])
                .map_err(db)?;
            tx.execute(
                "UPDATE jobs SET state = 'stopped', error = 'element removed', finished_at = ?2 \
                 WHERE element_id = ?1 AND state = 'queued'",
                params![id, now()],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM elements WHERE id = ?1", [id])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn update_element(
        &self,
        name: &str,
        update: ElementUpdate,
    ) -> Result<Element> {
        let name = name.to_string();
        self.write(move |c, secret| {
            let tx = c.transaction().map_err(db)?;
            let e = load_element(&tx, &name)?.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            let settings = update.settings.unwrap_or(e.settings);
            tx.execute(
                "UPDATE elements SET host = ?2, alternate_host = ?3, port = ?4, login = ?5, settings = ?6, \
                 password_enc = coalesce(?7, password_enc) WHERE id = ?1",
                params![
                    e.id,
                    update.host.unwrap_or(e.host),
                    update.alternate_host.unwrap_or(e.alternate_host),
                    update.port.unwrap_or(e.port) as i64,
                    update.login.unwrap_or(e.login),
                    rows::json_text(&settings),
                    update.password.map(|p| secret.encrypt(&p)),
                ],
            )
            .map_err(db)?;
            let e = load_element(&tx, &name)?.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            tx.commit().map_err(db)?;
            Ok(e)
        })
        .await
    }
}
