//! The engine's event stream: what changed (a job, an element, an alarm), for the
//! API's stream and for notify sync, which reads the elements again when
//! one changed.

use serde::Serialize;
use tokio::sync::broadcast;
use ucsync_store::Job;

/// What changed, for the API's event stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// A job was queued, started, or ended (boxed: a job is far larger
    /// than the other events).
    Job { job: Box<Job> },
    /// An element was added, changed or removed.
    Element { name: String, change: String },
    /// An alarm was raised (a new one) or cleared.
    Alarm {
        change: crate::alarms::AlarmChange,
        alarm: Box<ucsync_store::Alarm>,
    },
}

/// Where events are published; every subscriber gets each one published
/// after it subscribed.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Events { tx }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn publish(&self, ev: Event) {
        // Nobody listening is fine.
        let _ = self.tx.send(ev);
    }
}
