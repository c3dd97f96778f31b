//! Alarms on elements: the engine raises one when a condition is seen (a
//! sync failed or was refused, an element did not answer or refused the
//! login, its identity changed, its history wrapped, notify sync fell
//! silent) and clears it when the condition ends; the store keeps one open
//! alarm per element and condition. A new alarm and a clear are published
//! on the event stream ([`Event::Alarm`]), from which `deliver` sends them
//! to webhooks and `syslog` to a syslog collector.

pub mod deliver;
pub mod silence;
pub mod syslog;

use std::sync::Arc;

use serde::Serialize;
use ucsync_connect::ConnectError;
use ucsync_core::{AlarmCondition, JobState};
use ucsync_schedule::Clock;
use ucsync_store::{Alarm, Store};

use crate::events::{Event, Events};

/// What happened to an alarm, as told on the event stream and to webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmChange {
    Raised,
    Cleared,
}

impl AlarmChange {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmChange::Raised => "raised",
            AlarmChange::Cleared => "cleared",
        }
    }
}

/// The condition a failure to reach or use an element stands for.
pub fn condition_of(e: &ConnectError) -> AlarmCondition {
    match e {
        ConnectError::Unreachable(_) => AlarmCondition::Unreachable,
        ConnectError::LoginRefused(_) => AlarmCondition::LoginRefused,
        ConnectError::IdentityMismatch(_) => AlarmCondition::IdentityChanged,
        _ => AlarmCondition::SyncFailed,
    }
}

/// How a sync job ended, as alarms see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    pub state: JobState,
    /// The condition it failed with, and the error.
    pub failure: Option<(AlarmCondition, String)>,
    /// Why the element's history could not be read whole (it wrapped since
    /// the last sync), if it could not.
    pub wrapped: Option<String>,
}

/// Raises and clears alarms, and tells of each new one and each clear.
#[derive(Debug, Clone)]
pub struct Alarms {
    store: Arc<dyn Store>,
    events: Events,
    clock: Arc<dyn Clock>,
}

impl Alarms {
    pub fn new(store: Arc<dyn Store>, events: Events, clock: Arc<dyn Clock>) -> Alarms {
        Alarms {
            store,
            events,
            clock,
        }
    }

    fn publish(&self, change: AlarmChange, alarm: Alarm) {
        self.events.publish(Event::Alarm {
            change,
            alarm: Box::new(alarm),
        });
    }

    /// Raises the alarm of `condition` on `element` (or counts the open one
    /// again); a new alarm is published.
    pub async fn raise(&self, element: &str, condition: AlarmCondition, cause: &str) {
        let at = self.clock.now();
        match self
            .store
            .raise_alarm(element, condition, condition.severity(), cause, at)
            .await
        {
            Ok(r) => {
                if r.new {
                    tracing::warn!(
                        alarm = r.alarm.id,
                        %element,
                        condition = condition.as_str(),
                        severity = r.alarm.severity.as_str(),
                        "alarm raised: {cause}"
                    );
                    self.publish(AlarmChange::Raised, r.alarm);
                }
            }
            Err(e) => {
                tracing::error!(%element, condition = condition.as_str(), error = %e, "cannot raise an alarm")
            }
        }
    }

    /// Clears the open alarms of these conditions on `element`; each one
    /// cleared is published.
    pub async fn clear(&self, element: &str, conditions: &[AlarmCondition]) {
        match self
            .store
            .clear_alarms(element, conditions, self.clock.now())
            .await
        {
            Ok(cleared) => {
                for a in cleared {
                    tracing::info!(alarm = a.id, %element, condition = a.condition.as_str(), "alarm cleared");
                    self.publish(AlarmChange::Cleared, a);
                }
            }
            Err(e) => tracing::error!(%element, error = %e, "cannot clear alarms"),
        }
    }

    /// What a sync job's end says: a success ends the conditions of syncing
    /// and reaching the element; a failure raises its own, and ends those of
    /// reaching the element when it answered. A job stopped says nothing.
    pub async fn job_ended(&self, element: &str, end: &JobEnd) {
        match (&end.state, &end.failure) {
            (JobState::Succeeded, _) => {
                self.clear(element, AlarmCondition::ENDED_BY_SUCCESS).await;
            }
            (JobState::Failed, Some((condition, cause))) => {
                self.raise(element, *condition, cause).await;
                if !AlarmCondition::CONNECTION.contains(condition) {
                    self.clear(element, AlarmCondition::CONNECTION).await;
                }
            }
            _ => {}
        }
        if end.state == JobState::Succeeded || end.wrapped.is_some() {
            match &end.wrapped {
                Some(why) => {
                    self.raise(element, AlarmCondition::HistoryWrapped, why)
                        .await
                }
                None => self.clear(element, &[AlarmCondition::HistoryWrapped]).await,
            }
        }
    }

    /// What a connection check says: an answer ends the conditions of
    /// reaching the element; a failure to reach it raises its own.
    pub async fn checked(&self, element: &str, result: Result<(), &ConnectError>) {
        match result {
            Ok(()) => self.clear(element, AlarmCondition::CONNECTION).await,
            Err(e) => {
                let condition = condition_of(e);
                if AlarmCondition::CONNECTION.contains(&condition) {
                    self.raise(element, condition, &e.to_string()).await;
                }
            }
        }
    }
}
