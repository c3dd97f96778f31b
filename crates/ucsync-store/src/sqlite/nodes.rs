//! Nodes on SQLite: on SQLite no second service joins (the data directory's
//! lock keeps it out), but the one service still records what it is.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, all, db, now};
use crate::model::*;
use crate::rows::{self, NODES_SQL};
use crate::{Announcements, Result};

impl SqliteStore {
    pub(crate) async fn join_node(
        &self,
        node: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let (node, holder) = (node.to_string(), holder.to_string());
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let alive: Option<String> = tx
                .query_row(
                    "SELECT holder FROM nodes WHERE name = ?1 AND alive_until >= ?2",
                    params![node, rows::time_text(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if alive.is_none() {
                tx.execute(
                    "INSERT INTO nodes (name, holder, alive_until) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, alive_until = excluded.alive_until",
                    params![node, holder, rows::time_text(until)],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(alive)
        })
        .await
    }

    pub(crate) async fn describe_node(
        &self,
        node: &str,
        info: &NodeInfo,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let (node, info) = (node.to_string(), info.clone());
        self.write(move |c, _| {
            c.execute(
                "INSERT INTO nodes (name, holder, alive_until, version, started_at, heartbeat_at, http, syslog) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) \
                 ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until, version = excluded.version, \
                   started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
                   http = excluded.http, syslog = excluded.syslog",
                params![node, format!("ucsync {}", info.version), rows::time_text(until), info.version, now(), info.http, info.syslog],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        self.read(|c, _| {
            let mut st = c.prepare_cached(NODES_SQL).map_err(db)?;
            all(&mut st, [], rows::node)
        })
        .await
    }

    pub(crate) async fn leave_node(&self, node: &str) -> Result<()> {
        let node = node.to_string();
        self.write(move |c, _| {
            c.execute("DELETE FROM nodes WHERE name = ?1", params![node])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }

    /// One node: whoever listens is in this process and hears its own
    /// events already.
    pub(crate) async fn announce(&self, _message: &str) -> Result<()> {
        Ok(())
    }

    pub(crate) async fn listen(&self) -> Result<Option<Announcements>> {
        Ok(None)
    }
}
