//! The bodies of `/sync` and `/jobs`: a sync request and its targets, a job
//! with its progress and counts, and a job's changes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_store as store;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema,
    SchemaType, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::paging::page;
use super::{FieldError, JobStateSchema, SyncTypeSchema, TriggerSchema};

page!(JobPage, JobView, "A page of jobs, newest first.");
page!(ChangePage, ChangeView, "A page of a job's changes.");

/// Done and expected objects of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    pub done: u64,
    pub expected: u64,
}

/// What a job applied, and — for an init the discrepancy check refused —
/// what it would have applied (`would_…`), none of which was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CountsView {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub skipped: u64,
    #[serde(default)]
    pub would_add: u64,
    #[serde(default)]
    pub would_change: u64,
    #[serde(default)]
    pub would_delete: u64,
}

/// A sync job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub element: String,
    /// The type asked for.
    #[schema(value_type = SyncTypeSchema)]
    pub requested: SyncType,
    /// The type that ran (or runs).
    #[serde(rename = "type")]
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// Why `type` differs from `requested`, or why the job failed, in words.
    pub reason: Option<String>,
    #[schema(value_type = TriggerSchema)]
    pub trigger: Trigger,
    /// The token's name, or `scheduler`.
    pub requested_by: String,
    #[schema(value_type = JobStateSchema)]
    pub state: JobState,
    /// Per object type.
    pub progress: BTreeMap<String, ProgressView>,
    pub counts: CountsView,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The node that runs or ran it (its `node` setting); `null` while it
    /// is queued.
    #[serde(default)]
    pub node: Option<String>,
    /// A preview (`"dry_run": true` asked): the job read and diffed as the
    /// sync would, kept its plan (`GET /jobs/{id}/plan`, its changes at
    /// `/jobs/{id}/changes`, counted in `would_…`) and applied nothing. It
    /// ends `succeeded`; `POST /jobs/{id}/apply` applies the plan.
    #[serde(default)]
    pub dry_run: bool,
    /// When the job's plan (a dry run's, or a refused init's proposal) was
    /// applied; `null` while it has not been.
    #[serde(default)]
    pub applied_at: Option<String>,
    /// Who applied it (the token's name).
    #[serde(default)]
    pub applied_by: Option<String>,
    /// What the job logged, oldest first: only in the view of one job
    /// (`GET /jobs/{id}`), never in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub log: Option<Vec<String>>,
}

impl JobView {
    /// The view of one job, with its log.
    pub fn with_log(job: store::Job, log: Vec<String>) -> JobView {
        JobView {
            log: Some(log),
            ..JobView::from(job)
        }
    }
}

impl From<store::Job> for JobView {
    fn from(j: store::Job) -> JobView {
        JobView {
            id: j.id.0,
            element: j.element,
            requested: j.requested,
            sync_type: j.sync_type,
            reason: j.reason,
            trigger: j.trigger,
            requested_by: j.requested_by,
            state: j.state,
            progress: progress_view(j.progress),
            counts: j.counts.into(),
            error: j.error,
            created_at: store::time_text(j.created_at),
            started_at: j.started_at.map(store::time_text),
            finished_at: j.finished_at.map(store::time_text),
            node: j.node,
            dry_run: j.dry_run,
            applied_at: j.applied_at.map(store::time_text),
            applied_by: j.applied_by,
            log: None,
        }
    }
}

/// A job's progress per object type, as the views show it.
pub fn progress_view(p: store::Progress) -> BTreeMap<String, ProgressView> {
    p.into_iter()
        .map(|(t, (done, expected))| (t, ProgressView { done, expected }))
        .collect()
}

impl From<store::JobCounts> for CountsView {
    fn from(c: store::JobCounts) -> CountsView {
        CountsView {
            added: c.added,
            changed: c.changed,
            deleted: c.deleted,
            unchanged: c.unchanged,
            skipped: c.skipped,
            would_add: c.would_add,
            would_change: c.would_change,
            would_delete: c.would_delete,
        }
    }
}

/// Filters of the job list; each one given narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// Only this element's jobs.
    pub element: Option<String>,
    /// Only jobs in this state.
    #[param(value_type = Option<JobStateSchema>)]
    pub state: Option<JobState>,
    /// Only jobs of this type: the type that ran (or runs), which may
    /// differ from the one asked for.
    #[serde(rename = "type")]
    #[param(value_type = Option<SyncTypeSchema>)]
    pub sync_type: Option<SyncType>,
    /// Only jobs started by this trigger.
    #[param(value_type = Option<TriggerSchema>)]
    pub trigger: Option<Trigger>,
    /// Only the jobs of one of the Scheduler's views: `pending` (queued,
    /// waiting), `running` (running, stopping) or `completed` (stopped,
    /// succeeded, failed). With `state`, a state outside the view selects
    /// no job.
    #[param(inline)]
    pub view: Option<JobPhase>,
}

/// The Scheduler's views of the jobs: where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobPhase {
    /// Queued, or waiting for a place in the init pool.
    Pending,
    /// Running, or stopping at its next safe point.
    Running,
    /// Stopped, succeeded or failed.
    Completed,
}

impl JobPhase {
    pub const ALL: [JobPhase; 3] = [JobPhase::Pending, JobPhase::Running, JobPhase::Completed];

    /// The states of the view.
    pub fn states(self) -> &'static [JobState] {
        match self {
            JobPhase::Pending => &[JobState::Queued, JobState::Waiting],
            JobPhase::Running => &[JobState::Running, JobState::Stopping],
            JobPhase::Completed => &[JobState::Stopped, JobState::Succeeded, JobState::Failed],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Pending => "pending",
            JobPhase::Running => "running",
            JobPhase::Completed => "completed",
        }
    }
}

impl JobFilter {
    /// The store's query of the filters, or `None` when they select no job
    /// (a state outside the view).
    pub fn query(&self) -> Option<store::JobQuery> {
        let states = match (self.state, self.view) {
            (Some(st), Some(v)) if !v.states().contains(&st) => return None,
            (Some(st), _) => vec![st],
            (None, Some(v)) => v.states().to_vec(),
            (None, None) => Vec::new(),
        };
        Some(store::JobQuery {
            element: self.element.clone(),
            states,
            sync_type: self.sync_type,
            trigger: self.trigger,
        })
    }
}

/// A sync request: `elements` or `"all": true`, not both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    #[serde(rename = "type")]
    pub sync_type: SyncType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// A preview: read and diff, keep the plan, apply nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// By hand, because "`elements` or `all: true`, not both" is an `anyOf`,
/// which the derive cannot say; [`SyncBody::targets`] checks the same.
impl PartialSchema for SyncBody {
    fn schema() -> RefOr<Schema> {
        let typed = |t: Type| ObjectBuilder::new().schema_type(SchemaType::Type(t));
        let nullable =
            |t: Type| ObjectBuilder::new().schema_type(SchemaType::from_iter([t, Type::Null]));
        let names = ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(typed(Type::String).pattern(Some(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")))
            .min_items(Some(1))
            .description(Some("The elements to sync, by name; each is synced once."));
        let shape = ObjectBuilder::new()
            .property("type", SyncTypeSchema::schema())
            .required("type")
            .property("elements", names)
            .property(
                "all",
                nullable(Type::Boolean).description(Some("`true`: every element.")),
            )
            .property(
                "dry_run",
                typed(Type::Boolean).description(Some(
                    "`true`: a preview. Each job reads and diffs as the sync would, keeps its plan (adds, changes field by field, deletions per type: `GET /jobs/{id}/plan` and `/jobs/{id}/changes`) and applies nothing; `POST /jobs/{id}/apply` applies exactly that plan if nothing changed since. A preview joins only a preview, and a sync only a sync.",
                )),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let named = ObjectBuilder::new()
            .property("elements", typed(Type::Array))
            .required("elements")
            .property(
                "all",
                nullable(Type::Boolean).enum_values(Some([Value::Bool(false), Value::Null])),
            );
        let all = ObjectBuilder::new()
            .property(
                "all",
                typed(Type::Boolean).enum_values(Some([Value::Bool(true)])),
            )
            .required("all")
            .property("elements", typed(Type::Null));
        AllOfBuilder::new()
            .description(Some(
                "A sync request: `elements` or `\"all\": true`, not both.",
            ))
            .item(shape)
            .item(AnyOfBuilder::new().item(named).item(all))
            .into()
    }
}

impl ToSchema for SyncBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SyncBody")
    }
}

/// Which elements a sync request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncTargets {
    All,
    /// At least one, each once, in the order given.
    Elements(Vec<ElementName>),
}

impl SyncBody {
    pub fn targets(&self) -> Result<SyncTargets, FieldError> {
        match (&self.elements, self.all) {
            (Some(_), Some(true)) => Err(FieldError::new(
                "all",
                "give either elements or \"all\": true, not both",
            )),
            (None, Some(true)) => Ok(SyncTargets::All),
            (None, _) => Err(FieldError::new(
                "elements",
                "name the elements to sync in elements, or set \"all\": true",
            )),
            (Some(names), _) if names.is_empty() => Err(FieldError::new(
                "elements",
                "elements is empty: name at least one element, or set \"all\": true",
            )),
            (Some(names), _) => {
                let mut out: Vec<ElementName> = Vec::with_capacity(names.len());
                for (i, n) in names.iter().enumerate() {
                    let name = ElementName::parse(n).map_err(|e| {
                        FieldError::new(format!("elements[{i}]"), format!("elements[{i}]: {e}"))
                    })?;
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
                Ok(SyncTargets::Elements(out))
            }
        }
    }
}

/// One job of a sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestedJob {
    /// The request joined a queued or running job of the same or greater strength.
    pub joined: bool,
    pub job: JobView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncResponse {
    pub jobs: Vec<RequestedJob>,
}

/// One object change of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    #[serde(rename = "type")]
    pub object_type: String,
    pub key: String,
    /// `add`, `change` or `delete`.
    pub op: String,
    /// The element login that made the change, when known.
    pub by_login: Option<String>,
    pub at_element: Option<String>,
    pub at: String,
    /// `false`: planned, not applied — by a dry run, or an init refused by
    /// the discrepancy check.
    pub applied: bool,
    /// A planned add's or change's fields, field by field: every field of an
    /// add, the fields that differ of a change (`before` as stored now).
    /// Secret values show as `(secret)`. Absent for applied changes and
    /// deletions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChangeView>,
}

/// One field of a planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldChangeView {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A plan's changes of one object type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanTypeView {
    pub add: u64,
    pub change: u64,
    pub delete: u64,
    /// The first keys it deletes, in key order (at most 10).
    pub first_deleted: Vec<String>,
}

/// The plan a dry run (or an init the discrepancy check refused) kept, not
/// yet applied: what applying it would do, per object type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub job: i64,
    pub element: String,
    /// `init` (applying records an init: versions, sync point) or
    /// `incremental` (it moves the sync point).
    #[serde(rename = "type")]
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// Per object type, those with a change.
    pub types: BTreeMap<String, PlanTypeView>,
}

impl PlanView {
    pub fn new(element: String, p: store::PlanRecord) -> PlanView {
        PlanView {
            job: p.job.0,
            element,
            sync_type: p.base.kind,
            types: p
                .types
                .into_iter()
                .map(|(t, c)| {
                    (
                        t,
                        PlanTypeView {
                            add: c.add,
                            change: c.change,
                            delete: c.delete,
                            first_deleted: c.first_deleted,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl From<store::ChangeRecord> for ChangeView {
    fn from(c: store::ChangeRecord) -> ChangeView {
        ChangeView {
            object_type: c.object_type,
            key: c.key,
            op: c.op.as_str().to_string(),
            by_login: c.by_login,
            at_element: c.at_element,
            at: store::time_text(c.at),
            applied: c.applied,
            fields: c
                .fields
                .into_iter()
                .map(|f| FieldChangeView {
                    field: f.field,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_targets() {
        let body = |v: serde_json::Value| serde_json::from_value::<SyncBody>(v).unwrap();
        assert_eq!(
            body(serde_json::json!({"type": "init", "all": true})).targets(),
            Ok(SyncTargets::All)
        );
        assert_eq!(
            body(serde_json::json!({"type": "init", "elements": ["a", "a", "b"]}))
                .targets()
                .unwrap(),
            SyncTargets::Elements(vec![
                ElementName::parse("a").unwrap(),
                ElementName::parse("b").unwrap()
            ])
        );
        for (v, field) in [
            (serde_json::json!({"type": "init"}), "elements"),
            (
                serde_json::json!({"type": "init", "elements": []}),
                "elements",
            ),
            (
                serde_json::json!({"type": "init", "elements": ["a"], "all": true}),
                "all",
            ),
            (
                serde_json::json!({"type": "init", "elements": ["a b"]}),
                "elements[0]",
            ),
        ] {
            assert_eq!(body(v).targets().unwrap_err().field, field);
        }
    }

    #[test]
    fn the_sync_schema_says_what_targets_checks() {
        let doc = serde_json::to_value(crate::openapi().as_ref()).unwrap();
        let mut schema = doc["components"]["schemas"]["SyncBody"].clone();
        schema["components"] = doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        for (body, valid) in [
            (serde_json::json!({"type": "init", "all": true}), true),
            (
                serde_json::json!({"type": "init", "all": true, "elements": null}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"]}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": false}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": null}),
                true,
            ),
            (serde_json::json!({"type": "init"}), false),
            (serde_json::json!({"type": "init", "all": false}), false),
            (serde_json::json!({"type": "init", "elements": []}), false),
            (
                serde_json::json!({"type": "init", "elements": ["a b"]}),
                false,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": true}),
                false,
            ),
            (
                serde_json::json!({"type": "init", "elements": null, "all": null}),
                false,
            ),
        ] {
            assert_eq!(validator.is_valid(&body), valid, "the document on {body}");
            let parsed: SyncBody = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(parsed.targets().is_ok(), valid, "targets() on {body}");
        }
    }
}
