//! Default schedules: every CM and IP Office gets a daily incremental (at
//! a time of day of its own) once its first init has run, whether that
//! init succeeded or not; one lost is made again when the scheduler
//! starts. The runner tells after each job; the scheduler restores.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ucsync_core::{ElementKind, ElementName};
use ucsync_store::{Element, NewSchedule, ScheduleRecord, Store, StoreError};

use crate::records::first_due;

/// Whether elements of the kind get a default schedule.
fn has_default(kind: ElementKind) -> bool {
    matches!(kind, ElementKind::Cm | ElementKind::IpOffice)
}

/// Adds an element's default schedule (an incremental every day at its own
/// time of day) unless it has one.
pub async fn add(
    store: &dyn Store,
    element: &ElementName,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Option<ScheduleRecord>, StoreError> {
    let schedule = ucsync_schedule::default_schedule(element, now, zone);
    let next_due = first_due(&schedule, now);
    match store
        .add_schedule(&NewSchedule {
            name: format!("{element} default schedule"),
            default_for: Some(element.clone()),
            spec: schedule.to_spec(),
            next_due,
        })
        .await
    {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::DefaultExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// After a job on `element` (as it was when the job began): its first
/// init gives a CM or IP Office its default schedule.
pub async fn after_job(store: &dyn Store, element: &Element, now: DateTime<Utc>, zone: Tz) {
    if element.sync.last_init_at.is_some() || !has_default(element.kind) {
        return;
    }
    if let Err(e) = add(store, &element.name, now, zone).await {
        tracing::warn!(element = %element.name, error = %e, "cannot add the default schedule");
    }
}

/// The default schedule is a system schedule: every CM and IP Office
/// whose first init has run has one. One lost (deleted through an older
/// version) is made again; returns the elements that got one.
pub async fn restore(
    store: &dyn Store,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Vec<ElementName>, StoreError> {
    // One read of the schedules, so a start tries to add only what is
    // missing (not one refused insert per element).
    let has: HashSet<String> = store
        .schedules()
        .await?
        .into_iter()
        .filter_map(|s| s.default_for)
        .collect();
    let mut restored = Vec::new();
    for e in store.elements().await? {
        let synced = e.sync.last_init_at.is_some();
        if !synced || !has_default(e.kind) || has.contains(e.name.as_str()) {
            continue;
        }
        if add(store, &e.name, now, zone).await?.is_some() {
            tracing::info!(element = %e.name, "its default schedule was missing: made again");
            restored.push(e.name);
        }
    }
    Ok(restored)
}
