//! The rows pages show, made from the API's views (`crate::model`), so a
//! page shows exactly what the API answers, in the console's words.

use crate::console::words;
use crate::model::{ElementView, JobView, Paging, ScheduleView, TargetBody};

/// A job as a table row.
pub(crate) struct JobRow {
    pub id: i64,
    pub element: String,
    pub sync_type: &'static str,
    /// The type asked for, when the job runs another (an incremental that
    /// became an init), with the reason.
    pub requested: Option<(&'static str, String)>,
    pub trigger: &'static str,
    pub requested_by: String,
    pub state: &'static str,
    pub state_class: &'static str,
    /// Objects read of those expected, per type, while it runs.
    pub progress: Vec<(String, u64, u64)>,
    /// The share read of all expected, in percent.
    pub percent: Option<u64>,
    pub error: Option<String>,
    pub created_at: String,
    pub live: bool,
}

impl From<&JobView> for JobRow {
    fn from(j: &JobView) -> JobRow {
        let (done, expected) = j
            .progress
            .values()
            .fold((0, 0), |(d, e), p| (d + p.done, e + p.expected));
        JobRow {
            id: j.id,
            element: j.element.clone(),
            sync_type: words::sync_type(j.sync_type),
            requested: (j.requested != j.sync_type).then(|| {
                (
                    words::sync_type(j.requested),
                    j.reason.clone().unwrap_or_default(),
                )
            }),
            trigger: words::trigger(j.trigger),
            requested_by: j.requested_by.clone(),
            state: words::job_state(j.state),
            state_class: words::job_class(j.state),
            progress: j
                .progress
                .iter()
                .map(|(t, p)| (t.clone(), p.done, p.expected))
                .collect(),
            percent: (expected > 0).then(|| (done * 100 / expected).min(100)),
            error: j.error.clone(),
            created_at: words::time(&j.created_at),
            live: !j.state.is_finished(),
        }
    }
}

/// An element as a table row.
pub(crate) struct ElementRow {
    pub name: String,
    pub kind: &'static str,
    /// `host:port`.
    pub address: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub reason: String,
    pub objects: u64,
    pub version: String,
    /// When it was last synchronized, or `never`.
    pub last_sync: String,
}

impl From<&ElementView> for ElementRow {
    fn from(e: &ElementView) -> ElementRow {
        ElementRow {
            name: e.name.clone(),
            kind: words::kind(e.kind),
            address: words::address(&e.host, e.port),
            state: words::element_state(e.state),
            state_class: words::element_class(e.state),
            reason: e.state_reason.clone().unwrap_or_default(),
            objects: e.objects,
            version: e.sync.version.clone().unwrap_or_default(),
            last_sync: e
                .sync
                .last_sync_at
                .as_deref()
                .map_or_else(|| "never".to_string(), words::time),
        }
    }
}

/// What a schedule runs, in words.
pub(crate) fn schedule_what(v: &ScheduleView) -> String {
    let target = match &v.target {
        TargetBody::All => "every element".to_string(),
        TargetBody::Kind(kind) => match kind.parse() {
            Ok(k) => format!("every {} element", words::kind(k)),
            Err(_) => format!("every {kind} element"),
        },
        TargetBody::Elements(names) => names.join(", "),
    };
    format!("{} sync of {target}", words::sync_type(v.sync_type))
}

/// The links between the pages of a list: `base` is the list's path and
/// query, ending in `?` or `&`, to which the offset is added.
pub(crate) struct Pager {
    /// The first item shown, counted from 1 (0 when none is).
    pub from: u64,
    pub to: u64,
    pub total: Option<u64>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub(crate) fn new(base: &str, page: Paging, shown: usize, total: Option<u64>) -> Pager {
        let shown = shown as u64;
        let to = page.offset.saturating_add(shown);
        let more = match total {
            Some(t) => to < t,
            None => shown > 0 && shown == page.limit,
        };
        let link = |offset: u64| format!("{base}offset={offset}&limit={}", page.limit);
        Pager {
            from: if shown == 0 { 0 } else { page.offset + 1 },
            to,
            total,
            prev: (page.offset > 0).then(|| link(page.offset.saturating_sub(page.limit))),
            next: more.then(|| link(to)),
        }
    }

    /// Whether there is more than one page.
    pub(crate) fn turns(&self) -> bool {
        self.prev.is_some() || self.next.is_some()
    }
}
