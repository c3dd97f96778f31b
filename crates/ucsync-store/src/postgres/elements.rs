//! Elements on PostgreSQL: added with their sync state in one statement each,
//! changed in place, removed after their commits and change batches.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;

use super::{PgStore, db, get, is_unique_violation, lock_sync_state};
use crate::model::*;
use crate::rows;
use crate::{Result, StoreError};

pub(super) async fn load_element(c: &impl GenericClient, name: &str) -> Result<Option<Element>> {
    let st = c
        .prepare_cached(&format!("{} WHERE e.name = $1", rows::elements_sql()))
        .await
        .map_err(db)?;
    c.query_opt(&st, &[&name])
        .await
        .map_err(db)?
        .map(|r| rows::element(&r))
        .transpose()
}

impl PgStore {
    /// Every element or none: one transaction, refused at the first name
    /// that exists (in the database or earlier in the list).
    pub(crate) async fn add_elements(&self, elements: Vec<NewElement>) -> Result<Vec<Element>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let insert = tx
            .prepare_cached(
                "WITH e AS ( \
                   INSERT INTO elements (name, kind, host, alternate_host, port, login, password_enc, settings, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING id) \
                 INSERT INTO sync_state (element_id) SELECT id FROM e",
            )
            .await
            .map_err(db)?;
        for e in &elements {
            let inserted = tx
                .execute(
                    &insert,
                    &[
                        &e.name.as_str(),
                        &e.kind.as_str(),
                        &e.host,
                        &e.alternate_host,
                        &i32::from(e.port),
                        &e.login,
                        &self.secret.encrypt(&e.password),
                        &Json(&e.settings),
                    ],
                )
                .await;
            match inserted {
                Err(err) if is_unique_violation(&err, "elements_name_key") => {
                    return Err(StoreError::Exists(e.name.to_string()));
                }
                r => r.map_err(db)?,
            };
        }
        let mut out = Vec::with_capacity(elements.len());
        for e in &elements {
            out.push(
                load_element(&tx, e.name.as_str())
                    .await?
                    .ok_or_else(|| StoreError::NoElement(e.name.to_string()))?,
            );
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    pub(crate) async fn element(&self, name: &str) -> Result<Option<Element>> {
        load_element(&self.client().await?, name).await
    }

    pub(crate) async fn elements(&self) -> Result<Vec<Element>> {
        let c = self.client().await?;
        let sql = format!("{} ORDER BY e.name", rows::elements_sql());
        let found = c.query(&sql, &[]).await.map_err(db)?;
        found.iter().map(rows::element).collect()
    }

    pub(crate) async fn element_password(&self, name: &str) -> Result<String> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT password_enc FROM elements WHERE name = $1")
            .await
            .map_err(db)?;
        let row = c.query_opt(&st, &[&name]).await.map_err(db)?;
        let row = row.ok_or_else(|| StoreError::NoElement(name.to_string()))?;
        Ok(self.secret.decrypt(get(&row, 0)?)?)
    }

    pub(crate) async fn remove_element(&self, name: &str) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT id FROM elements WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(false) };
        let id: i64 = get(&row, 0)?;
        // Waits for a commit or change batch on the element to finish; any
        // later one finds no sync_state row and writes nothing.
        lock_sync_state(&tx, id).await?;
        tx.execute(
            "UPDATE jobs SET state = 'stopped', error = 'element removed', finished_at = now() \
             WHERE element_id = $1 AND state = 'queued'",
            &[&id],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "DELETE FROM staged WHERE job_id IN (SELECT id FROM jobs WHERE element_id = $1)",
            &[&id],
        )
        .await
        .map_err(db)?;
        for sql in [
            "DELETE FROM objects WHERE element_id = $1",
            "DELETE FROM changes WHERE element_id = $1",
            // The sync state and the default schedule go by their keys.
            "DELETE FROM elements WHERE id = $1",
        ] {
            tx.execute(sql, &[&id]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    pub(crate) async fn update_element(
        &self,
        name: &str,
        update: ElementUpdate,
    ) -> Result<Element> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let password = update.password.as_deref().map(|p| self.secret.encrypt(p));
        let (set_alternate, alternate) = match &update.alternate_host {
            Some(a) => (true, a.clone()),
            None => (false, None),
        };
        let n = tx
            .execute(
                "UPDATE elements SET host = coalesce($2, host), \
                   alternate_host = CASE WHEN $3 THEN $4 ELSE alternate_host END, \
                   port = coalesce($5, port), login = coalesce($6, login), \
                   password_enc = coalesce($7, password_enc), settings = coalesce($8, settings) \
                 WHERE name = $1",
                &[
                    &name,
                    &update.host,
                    &set_alternate,
                    &alternate,
                    &update.port.map(i32::from),
                    &update.login,
                    &password,
                    &update.settings.as_ref().map(Json),
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NoElement(name.to_string()));
        }
        let out = load_element(&tx, name)
            .await?
            .ok_or_else(|| StoreError::NoElement(name.to_string()))?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }
}
