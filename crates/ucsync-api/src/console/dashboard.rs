//! The dashboard: elements per kind and state, the jobs running and
//! waiting (live), the last failures and the next scheduled runs.

use askama::Template;
use axum::extract::State;
use ucsync_core::{ElementKind, ElementState, JobState};
use ucsync_store::JobQuery;

use super::rows::{ElementRow, JobRow, schedule_what};
use super::{Frame, Operator, PageResult, fail, render, words};
use crate::model::{JobView, MAX_OFFSET, Paging, ScheduleView};
use crate::routes::{elements::element_page, schedules};
use crate::{ApiError, ApiState};

/// Jobs running and waiting shown at most.
const SHOWN: u64 = 20;
/// Failed jobs shown at most.
const FAILURES: u64 = 10;

/// The states in the order of the dashboard's columns.
const STATES: [ElementState; 5] = [
    ElementState::NeverSynced,
    ElementState::Syncing,
    ElementState::InSync,
    ElementState::NeedsInit,
    ElementState::Failing,
];

struct KindRow {
    kind: &'static str,
    counts: [usize; 5],
    total: usize,
}

struct ScheduleRow {
    name: String,
    what: String,
    next: String,
    default: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    frame: Frame,
    states: Vec<&'static str>,
    kinds: Vec<KindRow>,
    /// Elements failing or needing an init, with the reason.
    troubled: Vec<ElementRow>,
    active: Vec<JobRow>,
    failures: Vec<JobRow>,
    schedules: Vec<ScheduleRow>,
}

/// The `limit` newest jobs in any of `states`, in one query.
async fn jobs_in(s: &ApiState, states: &[JobState], limit: u64) -> Result<Vec<JobRow>, ApiError> {
    let query = JobQuery {
        states: states.to_vec(),
        ..JobQuery::default()
    };
    let jobs = s.store().find_jobs(&query, 0, limit).await?;
    Ok(jobs
        .into_iter()
        .map(|j| JobRow::from(&JobView::from(j)))
        .collect())
}

async fn dashboard(s: &ApiState, operator: &Operator) -> Result<Dashboard, ApiError> {
    let all = Paging {
        offset: 0,
        limit: MAX_OFFSET,
    };
    let elements = element_page(s, all).await?.items;
    let kinds = [
        ElementKind::Cm,
        ElementKind::IpOffice,
        ElementKind::Messaging,
        ElementKind::CmMessaging,
        ElementKind::ModularMessaging,
    ]
    .into_iter()
    .filter_map(|kind| {
        let of_kind: Vec<_> = elements.iter().filter(|e| e.kind == kind).collect();
        (!of_kind.is_empty()).then(|| KindRow {
            kind: words::kind(kind),
            counts: STATES.map(|st| of_kind.iter().filter(|e| e.state == st).count()),
            total: of_kind.len(),
        })
    })
    .collect();
    let troubled = elements
        .iter()
        .filter(|e| matches!(e.state, ElementState::Failing | ElementState::NeedsInit))
        .map(ElementRow::from)
        .collect();
    let active = jobs_in(
        s,
        &[
            JobState::Running,
            JobState::Stopping,
            JobState::Waiting,
            JobState::Queued,
        ],
        SHOWN,
    )
    .await?;
    let failures = jobs_in(s, &[JobState::Failed], FAILURES).await?;
    let mut next: Vec<ScheduleView> = s
        .store()
        .schedules()
        .await?
        .iter()
        .filter_map(|r| schedules::view(s, r).ok())
        .filter(|v| v.enabled && v.next_due.is_some())
        .collect();
    next.sort_by(|a, b| a.next_due.cmp(&b.next_due));
    let schedules = next
        .iter()
        .take(10)
        .map(|v| ScheduleRow {
            name: v.name.clone(),
            what: schedule_what(v),
            next: words::in_zone(v.next_due.as_deref().unwrap_or_default(), &v.time_zone),
            default: v.default_for.is_some(),
        })
        .collect();
    Ok(Dashboard {
        frame: Frame::new(operator, "Dashboard", "Dashboard"),
        states: STATES.iter().map(|&st| words::element_state(st)).collect(),
        kinds,
        troubled,
        active,
        failures,
        schedules,
    })
}

/// `GET /`.
pub(crate) async fn page(State(s): State<ApiState>, operator: Operator) -> PageResult {
    let page = dashboard(&s, &operator)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(render(&page))
}
