//! The bodies of `/alarms` and `/webhooks`: an alarm as shown, the filters
//! of the alarm list, and a webhook's delivery log.

use serde::{Deserialize, Serialize};
use ucsync_core::{AlarmCondition, Severity};
use ucsync_store as store;
use utoipa::{IntoParams, ToSchema};

use super::paging::page;
use super::{AlarmConditionSchema, SeveritySchema};

page!(
    AlarmPage,
    AlarmView,
    "A page of alarms, the last seen first."
);
page!(
    DeliveryPage,
    DeliveryView,
    "A page of a webhook's delivery attempts, newest first."
);

/// An alarm on an element: raised while its condition lasts, cleared by
/// itself when it ends, acknowledged by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlarmView {
    pub id: i64,
    pub element: String,
    #[schema(value_type = AlarmConditionSchema)]
    pub condition: AlarmCondition,
    #[schema(value_type = SeveritySchema)]
    pub severity: Severity,
    /// The latest cause, in words.
    pub cause: String,
    pub first_seen: String,
    pub last_seen: String,
    /// How many times the condition was seen while the alarm was open.
    pub count: u64,
    /// `open` or `cleared`.
    pub state: String,
    pub cleared_at: Option<String>,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
}

impl From<store::Alarm> for AlarmView {
    fn from(a: store::Alarm) -> AlarmView {
        AlarmView {
            id: a.id,
            state: if a.is_open() { "open" } else { "cleared" }.into(),
            element: a.element,
            condition: a.condition,
            severity: a.severity,
            cause: a.cause,
            first_seen: store::time_text(a.first_seen),
            last_seen: store::time_text(a.last_seen),
            count: a.count,
            cleared_at: a.cleared_at.map(store::time_text),
            acked_by: a.acked_by,
            acked_at: a.acked_at.map(store::time_text),
        }
    }
}

/// Which alarms by their state: `open` (the default), `cleared`, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlarmState {
    #[default]
    Open,
    Cleared,
    All,
}

/// Filters of the alarm list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmFilter {
    /// Only this element's alarms.
    pub element: Option<String>,
    /// Only alarms of this severity.
    #[param(value_type = Option<SeveritySchema>)]
    pub severity: Option<Severity>,
    /// Only alarms of this condition.
    #[param(value_type = Option<AlarmConditionSchema>)]
    pub condition: Option<AlarmCondition>,
    /// `open` (the default), `cleared`, or `all`.
    #[param(inline)]
    pub state: Option<AlarmState>,
    /// Only acknowledged (`true`) or unacknowledged (`false`) alarms.
    pub acked: Option<bool>,
}

impl AlarmFilter {
    /// The store's query of this filter, for the page given.
    pub fn query(&self, offset: u64, limit: u64) -> store::AlarmQuery {
        let open = match self.state.unwrap_or_default() {
            AlarmState::Open => Some(true),
            AlarmState::Cleared => Some(false),
            AlarmState::All => None,
        };
        store::AlarmQuery {
            element: self.element.clone(),
            severity: self.severity,
            condition: self.condition,
            open,
            acked: self.acked,
            offset,
            limit,
        }
    }
}

/// One attempt to deliver an alarm's raise or clear to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub webhook: String,
    pub alarm_id: i64,
    /// `raised` or `cleared`.
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: String,
    /// The HTTP status the webhook answered, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed.
    pub error: Option<String>,
    pub delivered: bool,
}

impl From<store::Delivery> for DeliveryView {
    fn from(d: store::Delivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            webhook: d.webhook,
            alarm_id: d.alarm_id,
            event: d.event,
            attempt: d.attempt,
            at: store::time_text(d.at),
            status: d.status,
            error: d.error,
            delivered: d.delivered,
        }
    }
}
