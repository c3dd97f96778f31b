//! The body of `GET /nodes`: the service's nodes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucsync_store as store;
use utoipa::ToSchema;

use super::paging::page;

page!(
    NodePage,
    NodeView,
    "A page of the service's nodes, by name."
);

/// A node of the service: a `ucsync serve` on the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// Its `node` setting.
    pub name: String,
    /// Its ucsync version.
    pub version: Option<String>,
    pub started_at: Option<String>,
    /// When its heartbeat (renewed with its job leases) last beat.
    pub last_heartbeat: Option<String>,
    /// Its heartbeat stopped: the node died or lost the database. Its jobs
    /// fail as interrupted once their lease runs out; their logs say so.
    pub lost: bool,
    /// Its jobs waiting, running or stopping.
    pub jobs_running: u64,
    /// Where its API listens.
    pub http: Option<String>,
    /// Where its notify-sync syslog listener listens.
    pub syslog: Option<String>,
}

impl NodeView {
    /// The node as it is at `now`.
    pub fn at(n: store::NodeRecord, now: DateTime<Utc>) -> NodeView {
        NodeView {
            lost: n.alive_until < now,
            name: n.name,
            version: n.version,
            started_at: n.started_at.map(store::time_text),
            last_heartbeat: n.heartbeat_at.map(store::time_text),
            jobs_running: n.jobs,
            http: n.http,
            syslog: n.syslog,
        }
    }
}
