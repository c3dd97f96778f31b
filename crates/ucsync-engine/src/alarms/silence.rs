//! Notify sync's silence: a CM with notify sync switched on that has sent
//! no event for the configured time gets a `notify-silent` alarm, cleared
//! when an event arrives. Looked at once a minute (or sooner, for a short
//! time); each node looks, and the store keeps one alarm whichever raised it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::AlarmCondition;
use ucsync_schedule::Clock;
use ucsync_store::{Element, Store};

use super::Alarms;

/// Since when an element has been silent: its last event, or else when
/// notify sync could first have sent one (its first init), or when this
/// watch started, whichever is latest.
fn silent_since(e: &Element, started: DateTime<Utc>) -> DateTime<Utc> {
    match e.sync.last_notify_at {
        Some(t) => t,
        None => e.sync.last_init_at.map_or(started, |t| t.max(started)),
    }
}

/// Looks once: raises or clears each element's `notify-silent` alarm.
pub async fn check(
    store: &dyn Store,
    alarms: &Alarms,
    silence: chrono::Duration,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    let elements = match store.elements().await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the elements to check notify sync's silence");
            return;
        }
    };
    for e in elements {
        let name = e.name.as_str();
        let since = silent_since(&e, started);
        if e.settings.notify_sync && now - since >= silence {
            let cause = match e.sync.last_notify_at {
                Some(t) => format!(
                    "notify sync is on, but no event came since {} ({} minutes)",
                    ucsync_store::time_text(t),
                    silence.num_minutes()
                ),
                None => format!(
                    "notify sync is on, but no event came in {} minutes",
                    silence.num_minutes()
                ),
            };
            alarms
                .raise(name, AlarmCondition::NotifySilent, &cause)
                .await;
        } else {
            alarms.clear(name, &[AlarmCondition::NotifySilent]).await;
        }
    }
}

/// Starts looking, until `shutdown`; `minutes` 0 never looks.
pub fn spawn(
    store: Arc<dyn Store>,
    alarms: Alarms,
    minutes: u64,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    if minutes == 0 {
        return;
    }
    let silence = chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(i64::MAX / 120_000));
    let every = Duration::from_secs(60).min(Duration::from_secs(minutes * 30));
    let started = clock.now();
    tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            check(store.as_ref(), &alarms, silence, started, clock.now()).await;
        }
    });
}
