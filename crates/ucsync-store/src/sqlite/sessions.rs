//! Console sessions on SQLite: found by the hash of their secret, their use
//! recorded at most once a minute, forgotten once idle.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use rusqlite::{Connection, params};

use super::{SqliteStore, db, first, now};
use crate::Result;
use crate::model::*;
use crate::rows::{self, SESSION_COLUMNS};
use crate::rules::SESSION_SEEN_EVERY;

fn idle_since(idle: Duration) -> String {
    rows::time_text(Utc::now() - TimeDelta::from_std(idle).unwrap_or(TimeDelta::MAX))
}

fn session_by_hash(c: &Connection, hash: &[u8; 32], since: &str) -> Result<Option<Session>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.name = s.user_name \
         WHERE s.secret_hash = ?1 AND s.last_seen_at >= ?2"
    );
    first(c, &sql, params![&hash[..], since], |r| rows::session(r))
}

impl SqliteStore {
    pub(crate) async fn create_session(
        &self,
        secret_hash: &[u8; 32],
        user: &str,
        csrf: &str,
        idle: Duration,
    ) -> Result<()> {
        let (hash, user, csrf) = (*secret_hash, user.to_string(), csrf.to_string());
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            tx.execute(
                "DELETE FROM sessions WHERE last_seen_at < ?1",
                [idle_since(idle)],
            )
            .map_err(db)?;
            let at = now();
            tx.execute(
                "INSERT INTO sessions (secret_hash, user_name, csrf, created_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![&hash[..], user, csrf, at],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    pub(crate) async fn session_by_hash(
        &self,
        secret_hash: &[u8; 32],
        idle: Duration,
    ) -> Result<Option<Session>> {
        let hash = *secret_hash;
        let since = idle_since(idle);
        let found = {
            let since = since.clone();
            self.read(move |c, _| session_by_hash(c, &hash, &since))
                .await?
        };
        let at = Utc::now();
        let stale = at - SESSION_SEEN_EVERY;
        match found {
            Some(s) if s.last_seen_at < stale => {
                self.write(move |c, _| {
                    c.prepare_cached(
                        "UPDATE sessions SET last_seen_at = ?2 WHERE secret_hash = ?1 AND last_seen_at < ?3",
                    )
                    .map_err(db)?
                    .execute(params![&hash[..], rows::time_text(at), rows::time_text(stale)])
                    .map_err(db)?;
                    // Read again: the session may have ended since.
                    session_by_hash(c, &hash, &since)
                })
                .await
            }
            other => Ok(other),
        }
    }

    pub(crate) async fn remove_session(&self, secret_hash: &[u8; 32]) -> Result<bool> {
        let hash = *secret_hash;
        self.write(move |c, _| {
            c.execute("DELETE FROM sessions WHERE secret_hash = ?1", [&hash[..]])
                .map(|n| n > 0)
                .map_err(db)
        })
        .await
    }
}

impl SqliteStore {
    pub(crate) async fn keep_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        file: &str,
        rows: &str,
        lifetime: Duration,
    ) -> Result<()> {
        let (id, hash, file, rows) = (id.to_string(), *session, file.to_string(), rows.to_string());
        self.write(move |c, key| {
            let tx = c.transaction().map_err(db)?;
            tx.execute("DELETE FROM import_previews WHERE created_at < ?1", [idle_since(lifetime)])
                .map_err(db)?;
            tx.execute(
                "DELETE FROM import_previews WHERE session_hash = ?1 AND id NOT IN \
                 (SELECT id FROM import_previews WHERE session_hash = ?1 ORDER BY created_at DESC LIMIT ?2)",
                params![&hash[..], crate::IMPORT_PREVIEWS_KEPT - 1],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO import_previews (id, session_hash, file, rows_enc, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, &hash[..], file, key.encrypt(&rows), now()],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    pub(crate) async fn take_import_preview(
        &self,
        id: &str,
        session: &[u8; 32],
        lifetime: Duration,
    ) -> Result<Option<(String, String)>> {
        let (id, hash) = (id.to_string(), *session);
        self.write(move |c, key| {
            let found: Option<(String, String, String)> = first(
                c,
                "DELETE FROM import_previews WHERE id = ?1 AND session_hash = ?2 RETURNING file, rows_enc, created_at",
                params![id, &hash[..]],
                |r| Ok((r.get(0).map_err(db)?, r.get(1).map_err(db)?, r.get(2).map_err(db)?)),
            )?;
            match found {
                Some((file, rows, at)) if at >= idle_since(lifetime) => {
                    Ok(Some((file, key.decrypt(&rows)?)))
                }
                _ => Ok(None),
            }
        })
        .await
    }
}
