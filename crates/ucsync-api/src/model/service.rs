//! The bodies of the service's own routes: the event stream and health.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use super::{AlarmView, CountsView, JobView, ProgressView};

/// One server-sent event's data; the SSE event name is its `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventView {
    /// A job was queued, started, or ended.
    // Boxed: a job is ten times the size of the other events.
    Job { job: Box<JobView> },
    /// A running job, on whichever node, read more: its progress per
    /// object type and its counts so far (told a few times a second).
    Progress {
        job: i64,
        element: String,
        progress: BTreeMap<String, ProgressView>,
        counts: CountsView,
    },
    /// An element was `added`, `changed` or `removed`.
    Element { name: String, change: String },
    /// An alarm was `raised` (a new one) or `cleared`.
    Alarm {
        change: String,
        alarm: Box<AlarmView>,
    },
    /// Events were missed: read the lists again. The client fell behind and
    /// missed `missed` events, or (`missed` 0, not known) the node lost its
    /// connection for the other nodes' events for a while.
    Lagged { missed: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    /// `ok`.
    pub status: String,
}
