//! Nodes on PostgreSQL: the service nodes sharing the database, each
//! alive while its heartbeat holds; a node's name is taken by one at a time.

use chrono::{DateTime, Utc};

use super::{PgStore, db, get};
use crate::Result;
use crate::model::*;
use crate::rows::{self, NODES_SQL};

impl PgStore {
    pub(crate) async fn describe_node(
        &self,
        node: &str,
        info: &NodeInfo,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO nodes (name, holder, alive_until, version, started_at, heartbeat_at, http, syslog) \
             VALUES ($1, $2, $3, $4, now(), now(), $5, $6) \
             ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until, version = excluded.version, \
               started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
               http = excluded.http, syslog = excluded.syslog",
            &[
                &node,
                &format!("ucsync {}", info.version),
                &until,
                &info.version,
                &info.http,
                &info.syslog,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let c = self.client().await?;
        let found = c.query(NODES_SQL, &[]).await.map_err(db)?;
        found.iter().map(rows::node).collect()
    }

    pub(crate) async fn join_node(
        &self,
        node: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let c = self.client().await?;
        let joined = c
            .query_opt(
                "INSERT INTO nodes (name, holder, alive_until) VALUES ($1, $2, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, alive_until = excluded.alive_until \
                 WHERE nodes.alive_until < $3 RETURNING name",
                &[&node, &holder, &now, &until],
            )
            .await
            .map_err(db)?;
        if joined.is_some() {
            return Ok(None);
        }
        let r = c
            .query_opt("SELECT holder FROM nodes WHERE name = $1", &[&node])
            .await
            .map_err(db)?;
        Ok(Some(match r {
            Some(r) => get(&r, 0)?,
            None => String::new(),
        }))
    }

    pub(crate) async fn leave_node(&self, node: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute("DELETE FROM nodes WHERE name = $1", &[&node])
            .await
            .map_err(db)?;
        Ok(())
    }
}
