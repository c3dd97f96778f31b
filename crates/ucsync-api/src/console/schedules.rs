//! Schedules: the list, each with its next run in its own time zone (an
//! element's default schedule marked, and never removable); adding and
//! editing one with the API's own body types; enabling, disabling and
//! removing one (after a confirmation page).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use ucsync_core::SyncType;
use ucsync_schedule::{Every, Repeat, Unit};

use super::form::{ConfirmPage, FormErrors};
use super::rows::{Pager, schedule_what};
use super::{Action, Failure, Frame, Operator, PageResult, fail, render, words};
use crate::model::{NewScheduleBody, PageQuery, SchedulePatch, ScheduleView, TargetBody};
use crate::routes::schedules;
use crate::{ApiError, ApiState};

/// The sync types a schedule runs, as the form offers them.
const SYNC_TYPES: [SyncType; 3] = [SyncType::Incremental, SyncType::Init, SyncType::ForceInit];

/// The units of "every N …", as the form offers them.
const UNITS: [(&str, &str); 4] = [
    ("minutes", "minutes"),
    ("hours", "hours"),
    ("days", "days"),
    ("weeks", "weeks"),
];

/// How the form writes a time: the browser's `datetime-local`.
const LOCAL_TIME: &str = "%Y-%m-%dT%H:%M";

struct ScheduleRow {
    id: i64,
    name: String,
    what: String,
    repeat: String,
    next: String,
    end: String,
    zone: String,
    enabled: bool,
    default_for: Option<String>,
}

impl From<&ScheduleView> for ScheduleRow {
    fn from(v: &ScheduleView) -> ScheduleRow {
        ScheduleRow {
            id: v.id,
            name: v.name.clone(),
            what: schedule_what(v),
            repeat: words::repeat(&v.repeat),
            next: v
                .next_due
                .as_deref()
                .map(|t| words::in_zone(t, &v.time_zone))
                .unwrap_or_default(),
            end: v
                .end
                .map(|t| words::in_zone(&store_time(t), &v.time_zone))
                .unwrap_or_default(),
            zone: v.time_zone.clone(),
            enabled: v.enabled,
            default_for: v.default_for.clone(),
        }
    }
}

fn store_time(t: DateTime<Utc>) -> String {
    ucsync_store::time_text(t)
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct ScheduleList {
    frame: Frame,
    rows: Vec<ScheduleRow>,
    pager: Pager,
}

/// `GET /schedules`.
pub(crate) async fn list(
    State(s): State<ApiState>,
    operator: Operator,
    Query(page): Query<PageQuery>,
) -> PageResult {
    let fail = fail(&operator);
    let page = page.parse().map_err(|e| fail(ApiError::from(e).into()))?;
    let found = schedules::schedule_page(&s, page)
        .await
        .map_err(|e| fail(e.into()))?;
    let list = ScheduleList {
        frame: Frame::new(&operator, "Schedules", "Schedules"),
        rows: found.items.iter().map(ScheduleRow::from).collect(),
        pager: Pager::new("/schedules?", page, found.items.len(), found.total),
    };
    Ok(render(&list))
}

/// The schedule form's fields, as the browser sends them (and as the form
/// shows them again).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ScheduleForm {
    #[serde(default)]
    name: String,
    /// `all` or `elements`.
    #[serde(default)]
    target: String,
    /// Element names, separated by commas or spaces.
    #[serde(default)]
    elements: String,
    /// The kind of a `kind` target.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    sync_type: String,
    /// In the schedule's zone (`datetime-local`).
    #[serde(default)]
    first_run: String,
    /// `once`, `every` or `cron`.
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    every_n: String,
    #[serde(default)]
    every_unit: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    enabled: Option<String>,
}

/// A time the form wrote, in `zone`.
fn local_time(field: &'static str, text: &str, zone: Tz) -> Result<DateTime<Utc>, FormErrors> {
    let text = text.trim();
    let naive = NaiveDateTime::parse_from_str(text, LOCAL_TIME)
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            FormErrors::one(
                Some(field),
                format!("{field} must be a date and time like 2026-12-31T23:00 (got {text:?})"),
            )
        })?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            FormErrors::one(
                Some(field),
                format!("{text} does not exist in {zone} (a daylight-saving gap)"),
            )
        })
}

impl ScheduleForm {
    fn new_schedule() -> ScheduleForm {
        ScheduleForm {
            target: "elements".into(),
            sync_type: SyncType::Incremental.as_str().into(),
            repeat: "every".into(),
            every_n: "1".into(),
            every_unit: "days".into(),
            enabled: Some("on".into()),
            ..ScheduleForm::default()
        }
    }

    /// The form of a schedule as it is.
    fn of(v: &ScheduleView) -> ScheduleForm {
        let zone: Option<Tz> = v.time_zone.parse().ok();
        let local = |t: DateTime<Utc>| match zone {
            Some(z) => t.with_timezone(&z).format(LOCAL_TIME).to_string(),
            None => t.format(LOCAL_TIME).to_string(),
        };
        let (repeat, every_n, every_unit, cron) = match &v.repeat {
            Repeat::None => ("once", String::new(), "days".to_string(), String::new()),
            Repeat::Every(e) => ("every", e.n.to_string(), e.unit.to_string(), String::new()),
            Repeat::Cron(c) => ("cron", String::new(), "days".to_string(), c.clone()),
        };
        let (target, elements, kind) = match &v.target {
            TargetBody::All => ("all", String::new(), String::new()),
            TargetBody::Kind(kind) => ("kind", String::new(), kind.clone()),
            TargetBody::Elements(names) => ("elements", names.join(", "), String::new()),
        };
        ScheduleForm {
            name: v.name.clone(),
            target: target.into(),
            elements,
            kind,
            sync_type: v.sync_type.as_str().into(),
            first_run: local(v.first_run),
            repeat: repeat.into(),
            every_n,
            every_unit,
            cron,
            end: v.end.map(local).unwrap_or_default(),
            time_zone: v.time_zone.clone(),
            enabled: v.enabled.then(|| "on".into()),
        }
    }

    /// The API's body for this form; its times are read in the form's zone
    /// (the service's when none is given; UTC when the zone is unknown, which
    /// the API then refuses by its field).
    fn body(&self, service_zone: Tz) -> Result<NewScheduleBody, FormErrors> {
        let time_zone = Some(self.time_zone.trim())
            .filter(|z| !z.is_empty())
            .map(str::to_string);
        let zone = match &time_zone {
            Some(z) => z.parse().unwrap_or(chrono_tz::UTC),
            None => service_zone,
        };
        let target = match self.target.as_str() {
            "all" => TargetBody::All,
            "kind" => TargetBody::Kind(self.kind.clone()),
            _ => TargetBody::Elements(
                self.elements
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        };
        let sync_type = self.sync_type.parse().map_err(|_| {
            FormErrors::one(
                Some("sync_type"),
                format!(
                    "sync type must be one of {}",
                    SYNC_TYPES.map(|t| t.as_str()).join(", ")
                ),
            )
        })?;
        let repeat = match self.repeat.as_str() {
            "once" => Repeat::None,
            "cron" => Repeat::Cron(self.cron.trim().to_string()),
            _ => {
                let n = self.every_n.trim().parse().map_err(|_| {
                    FormErrors::one(
                        Some("every_n"),
                        format!("every must be a whole number (got {:?})", self.every_n),
                    )
                })?;
                let unit: Unit = serde_json::from_value(serde_json::json!(self.every_unit))
                    .map_err(|_| {
                        FormErrors::one(Some("every_unit"), "choose minutes, hours, days or weeks")
                    })?;
                Repeat::Every(Every { n, unit })
            }
        };
        let end = Some(self.end.trim())
            .filter(|e| !e.is_empty())
            .map(|e| local_time("end", e, zone))
            .transpose()?;
        Ok(NewScheduleBody {
            name: Some(self.name.trim())
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            target,
            sync_type,
            first_run: local_time("first_run", &self.first_run, zone)?,
            repeat,
            end,
            time_zone,
            enabled: Some(self.enabled.is_some()),
        })
    }

    fn checked(&self, field: &str, value: &str) -> bool {
        match field {
            "target" => self.target == value,
            "kind" => self.kind == value,
            "repeat" => self.repeat == value,
            "sync_type" => self.sync_type == value,
            "every_unit" => self.every_unit == value,
            _ => false,
        }
    }
}

/// The form's input of an API error's field (`target.elements[1]` is the
/// elements box).
fn form_field(api_field: &str) -> Option<&str> {
    Some(match api_field {
        "target.kind" => "kind",
        f if f.starts_with("target") => "elements",
        "repeat.every.n" => "every_n",
        "repeat.cron" => "cron",
        f if f.starts_with("repeat") => "repeat",
        "name" => "name",
        "sync_type" => "sync_type",
        "first_run" => "first_run",
        "end" => "end",
        "time_zone" => "time_zone",
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "schedule_form.html")]
struct SchedulePage {
    frame: Frame,
    action: String,
    submit: &'static str,
    form: ScheduleForm,
    errors: FormErrors,
    sync_types: Vec<(&'static str, &'static str)>,
    /// The element kinds a `kind` target may name: value and words.
    kinds: Vec<(&'static str, &'static str)>,
    units: [(&'static str, &'static str); 4],
    service_zone: String,
}

impl SchedulePage {
    fn new(
        s: &ApiState,
        operator: &Operator,
        title: String,
        action: String,
        submit: &'static str,
        form: ScheduleForm,
    ) -> SchedulePage {
        SchedulePage {
            frame: Frame::new(operator, "Schedules", title),
            action,
            submit,
            form,
            errors: FormErrors::default(),
            sync_types: SYNC_TYPES
                .iter()
                .map(|&t| (t.as_str(), words::sync_type(t)))
                .collect(),
            kinds: ucsync_core::ElementKind::ALL
                .iter()
                .map(|&k| (k.as_str(), words::kind(k)))
                .collect(),
            units: UNITS,
            service_zone: s.settings.default_time_zone.name().to_string(),
        }
    }

    /// The form again, with its errors: 400.
    fn refused(mut self, errors: FormErrors) -> Response {
        self.errors = errors;
        (StatusCode::BAD_REQUEST, render(&self)).into_response()
    }
}

/// An API error of a form: beside its field when it has one, else the
/// failure's own page.
fn refusal(page: SchedulePage, e: ApiError) -> Response {
    if e.field.is_some() {
        page.refused(FormErrors::of_api(&e, form_field))
    } else {
        super::page_error(Some(&page.frame.operator), e.into())
    }
}

/// The schedule `id`, for an admin; or the page of why not.
async fn for_admin(s: &ApiState, operator: &Operator, id: i64) -> Result<ScheduleView, Response> {
    operator.require_admin().map_err(fail(operator))?;
    schedules::one(s, id)
        .await
        .map_err(|e| fail(operator)(e.into()))
}

/// `GET /schedules/new`.
pub(crate) async fn new_form(State(s): State<ApiState>, operator: Operator) -> PageResult {
    operator.require_admin().map_err(fail(&operator))?;
    let page = SchedulePage::new(
        &s,
        &operator,
        "New schedule".into(),
        "/schedules".into(),
        "Add the schedule",
        ScheduleForm::new_schedule(),
    );
    Ok(render(&page))
}

/// `POST /schedules`: adds a schedule as `POST /api/v1/schedules` does.
pub(crate) async fn add(
    State(s): State<ApiState>,
    Action { operator, form }: Action<ScheduleForm>,
) -> PageResult {
    let page = SchedulePage::new(
        &s,
        &operator,
        "New schedule".into(),
        "/schedules".into(),
        "Add the schedule",
        form,
    );
    let body = match page.form.body(s.settings.default_time_zone) {
        Ok(body) => body,
        Err(e) => return Err(page.refused(e)),
    };
    match schedules::add(&s, &operator.caller(), &body).await {
        Ok(_) => Ok(Redirect::to("/schedules").into_response()),
        Err(e) => Err(refusal(page, e)),
    }
}

/// `GET /schedules/{id}/edit`.
pub(crate) async fn edit_form(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    operator: Operator,
) -> PageResult {
    let v = for_admin(&s, &operator, id).await?;
    let page = SchedulePage::new(
        &s,
        &operator,
        format!("Schedule {}", v.name),
        format!("/schedules/{id}"),
        "Save the schedule",
        ScheduleForm::of(&v),
    );
    Ok(render(&page))
}

/// `POST /schedules/{id}`: changes every field of the schedule, as
/// `PATCH /api/v1/schedules/{id}` does.
pub(crate) async fn edit(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, form }: Action<ScheduleForm>,
) -> PageResult {
    let page = SchedulePage::new(
        &s,
        &operator,
        format!("Schedule {id}"),
        format!("/schedules/{id}"),
        "Save the schedule",
        form,
    );
    let body = match page.form.body(s.settings.default_time_zone) {
        Ok(body) => body,
        Err(e) => return Err(page.refused(e)),
    };
    let patch = SchedulePatch {
        name: body.name,
        target: Some(body.target),
        sync_type: Some(body.sync_type),
        first_run: Some(body.first_run),
        repeat: Some(body.repeat),
        end: Some(body.end),
        time_zone: Some(body.time_zone),
        enabled: body.enabled,
    };
    match schedules::change(&s, &operator.caller(), id, &patch).await {
        Ok(_) => Ok(Redirect::to("/schedules").into_response()),
        Err(e) => Err(refusal(page, e)),
    }
}

/// The token only.
#[derive(Debug, Deserialize)]
pub(crate) struct Confirm {}

async fn set_enabled(s: &ApiState, operator: &Operator, id: i64, enabled: bool) -> PageResult {
    let patch = SchedulePatch {
        enabled: Some(enabled),
        ..SchedulePatch::default()
    };
    schedules::change(s, &operator.caller(), id, &patch)
        .await
        .map_err(|e| fail(operator)(e.into()))?;
    Ok(Redirect::to("/schedules").into_response())
}

/// `POST /schedules/{id}/enable`.
pub(crate) async fn enable(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, .. }: Action<Confirm>,
) -> PageResult {
    set_enabled(&s, &operator, id, true).await
}

/// `POST /schedules/{id}/disable`.
pub(crate) async fn disable(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, .. }: Action<Confirm>,
) -> PageResult {
    set_enabled(&s, &operator, id, false).await
}

/// `GET /schedules/{id}/remove`: what would be removed, and the button.
pub(crate) async fn remove_form(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    operator: Operator,
) -> PageResult {
    let v = for_admin(&s, &operator, id).await?;
    if let Some(element) = &v.default_for {
        // The API's refusal, before asking.
        let e = schedules::system_schedule(id, element);
        return Err(fail(&operator)(Failure::from(e)));
    }
    let row = ScheduleRow::from(&v);
    Ok(render(&ConfirmPage {
        frame: Frame::new(&operator, "Schedules", format!("Remove {}", v.name)),
        question: format!(
            "Remove the schedule {} ({}, {})?",
            row.name, row.what, row.repeat
        ),
        detail: "Its jobs already run stay in the job list.".into(),
        deleted: Vec::new(),
        action: format!("/schedules/{id}/remove"),
        button: "Remove the schedule".into(),
        back: "/schedules".into(),
    }))
}

/// `POST /schedules/{id}/remove`, as `DELETE /api/v1/schedules/{id}`.
pub(crate) async fn remove(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, .. }: Action<Confirm>,
) -> PageResult {
    schedules::remove(&s, &operator.caller(), id)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(Redirect::to("/schedules").into_response())
}
