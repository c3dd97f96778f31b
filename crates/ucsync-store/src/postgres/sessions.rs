//! Console sessions on PostgreSQL: found by the hash of their secret, their
//! use recorded at most once a minute (by the database's clock), forgotten
//! once idle.

use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::{PgStore, db};
use crate::Result;
use crate::model::*;
use crate::rows::{self, SESSION_COLUMNS};
use crate::rules::SESSION_SEEN_EVERY;

impl PgStore {
    pub(crate) async fn create_session(
        &self,
        secret_hash: &[u8; 32],
        user: &str,
        csrf: &str,
        idle: Duration,
    ) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            "DELETE FROM sessions WHERE last_seen_at < now() - make_interval(secs => $1)",
            &[&idle.as_secs_f64()],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO sessions (secret_hash, user_name, csrf, created_at, last_seen_at) \
             VALUES ($1, $2, $3, now(), now())",
            &[&&secret_hash[..], &user, &csrf],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn session_by_hash(
        &self,
        secret_hash: &[u8; 32],
        idle: Duration,
    ) -> Result<Option<Session>> {
        // Every console request looks its session up: a write only when the
        // recorded use is a minute old.
        let c = self.client().await?;
        let hash: &(dyn ToSql + Sync) = &&secret_hash[..];
        let idle = idle.as_secs_f64();
        let every = SESSION_SEEN_EVERY.as_seconds_f64();
        let find = c
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS}, s.last_seen_at < now() - make_interval(secs => $3) \
                 FROM sessions s JOIN users u ON u.name = s.user_name \
                 WHERE s.secret_hash = $1 AND s.last_seen_at >= now() - make_interval(secs => $2)"
            ))
            .await
            .map_err(db)?;
        let Some(row) = c
            .query_opt(&find, &[hash, &idle, &every])
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        if !super::get::<bool>(&row, 7)? {
            return rows::session(&row).map(Some);
        }
        let record = c
            .prepare_cached(&format!(
                "UPDATE sessions s SET last_seen_at = now() FROM users u \
                 WHERE s.secret_hash = $1 AND u.name = s.user_name \
                 AND s.last_seen_at >= now() - make_interval(secs => $2) \
                 RETURNING {SESSION_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        c.query_opt(&record, &[hash, &idle])
            .await
            .map_err(db)?
            .map(|r| rows::session(&r))
            .transpose()
    }

    pub(crate) async fn remove_session(&self, secret_hash: &[u8; 32]) -> Result<bool> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM sessions WHERE secret_hash = $1",
            &[&&secret_hash[..]],
        )
        .await
        .map(|n| n > 0)
        .map_err(db)
    }
}

impl PgStore {
    pub(crate) async fn keep_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        file: &str,
        rows: &str,
        lifetime: Duration,
    ) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let session = &session[..];
        tx.execute(
            "DELETE FROM import_previews WHERE created_at < now() - make_interval(secs => $1)",
            &[&lifetime.as_secs_f64()],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "DELETE FROM import_previews WHERE session_hash = $1 AND id NOT IN \
             (SELECT id FROM import_previews WHERE session_hash = $1 ORDER BY created_at DESC LIMIT $2)",
            &[&session, &(crate::IMPORT_PREVIEWS_KEPT - 1)],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO import_previews (id, session_hash, file, rows_enc, created_at) \
             VALUES ($1, $2, $3, $4, clock_timestamp())",
            &[&id, &session, &file, &self.secret.encrypt(rows)],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn take_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        lifetime: Duration,
    ) -> Result<Option<(String, String)>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "DELETE FROM import_previews WHERE id = $1 AND session_hash = $2 \
                 RETURNING file, rows_enc, created_at >= now() - make_interval(secs => $3)",
                &[&id, &&session[..], &lifetime.as_secs_f64()],
            )
            .await
            .map_err(db)?;
        match row {
            Some(r) if r.get::<_, bool>(2) => {
                let rows: String = r.get(1);
                Ok(Some((r.get(0), self.secret.decrypt(&rows)?)))
            }
            _ => Ok(None),
        }
    }
}
