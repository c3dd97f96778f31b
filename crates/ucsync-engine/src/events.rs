//! The engine's event stream: what changed (a job, its progress, an
//! element, an alarm), for the API's stream, for alarm delivery, and for
//! notify sync, which reads the elements again when one changed.
//!
//! On a database several nodes share, each node tells the others what it
//! published ([`Events::join_cluster`]): a short announcement through the
//! store naming the job or element, which every other node reads back from
//! the store and publishes on its own stream. A client connected to any
//! node so sees every node's jobs. Alarms are not told: each node delivers
//! the alarms it raised, once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_store::{Job, JobCounts, JobId, Progress, Store};

/// What changed, for the API's event stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// A job was queued, started, or ended (boxed: a job is far larger
    /// than the other events).
    Job { job: Box<Job> },
    /// A running job read more: its progress and counts so far.
    Progress {
        job: JobId,
        element: String,
        progress: Box<Progress>,
        counts: JobCounts,
    },
    /// An element was added, changed or removed.
    Element { name: String, change: String },
    /// An alarm was raised (a new one) or cleared.
    Alarm {
        change: crate::alarms::AlarmChange,
        alarm: Box<ucsync_store::Alarm>,
    },
    /// This node lost its connection for the other nodes' events and has it
    /// again: what they told meanwhile was not heard (published on this
    /// node only).
    Missed,
}

/// Announcements waiting to be sent to the other nodes; past it, events
/// are told on this node only (a warning says how many were not).
const TO_TELL: usize = 1024;

/// How long listening waits before it tries again after losing its
/// connection, at first and at most.
const RETRY: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(10));

/// An event as announced to the other nodes: who told it, and what to read
/// back from the store.
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    /// The publishing process (its node's name, process id and start),
    /// which ignores its own announcements.
    from: String,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum What {
    Job { id: JobId },
    Progress { id: JobId },
    Element { name: String, change: String },
}

/// Where events are published; every subscriber gets each one published
/// after it subscribed.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// Set once this node listens to the others.
    tell: Arc<OnceLock<Teller>>,
}

#[derive(Debug)]
struct Teller {
    from: String,
    tx: mpsc::Sender<String>,
}

impl Default for Events {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Events {
            tx,
            tell: Arc::default(),
        }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Publishes on this node's stream, and tells the other nodes.
    pub fn publish(&self, ev: Event) {
        if let Some(teller) = self.tell.get() {
            let what = match &ev {
                Event::Job { job } => Some(What::Job { id: job.id }),
                Event::Progress { job, .. } => Some(What::Progress { id: *job }),
                Event::Element { name, change } => Some(What::Element {
                    name: name.clone(),
                    change: change.clone(),
                }),
                Event::Alarm { .. } | Event::Missed => None,
            };
            let told = what.map(|what| Announcement {
                from: teller.from.clone(),
                what,
            });
            if let Some(Ok(text)) = told.map(|t| serde_json::to_string(&t))
                && teller.tx.try_send(text).is_err()
            {
                tracing::warn!(
                    "too many events to tell the other nodes: one is told on this node only"
                );
            }
        }
        // Nobody listening is fine.
        let _ = self.tx.send(ev);
    }

    /// Tells the other nodes sharing `store` what this node publishes, and
    /// publishes what they tell: listening until `shutdown` (on
    /// `listening`), telling until `told` (on `telling`), so that what
    /// this node publishes while its jobs stop is told too. Nothing is sent
    /// on a store no other node shares.
    pub fn join_cluster(
        &self,
        store: Arc<dyn Store>,
        node: &str,
        (shutdown, listening): (CancellationToken, &TaskTracker),
        (told, telling): (CancellationToken, &TaskTracker),
    ) {
        let from = format!(
            "{node}/{}/{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let (tx, rx) = mpsc::channel::<String>(TO_TELL);
        telling.spawn(tell(store.clone(), rx, told));
        let me = self.clone();
        listening.spawn(async move { me.listen(store, Teller { from, tx }, shutdown).await });
    }

    async fn listen(self, store: Arc<dyn Store>, teller: Teller, shutdown: CancellationToken) {
        let from = teller.from.clone();
        // Held until listening works: dropped, it ends the telling.
        let mut teller = Some(teller);
        let mut retry = RETRY.0;
        // Listening again after a loss, the other nodes' events of the gap
        // are missed: this node's clients are told to read again.
        let mut heard_before = false;
        loop {
            let heard = tokio::select! {
                _ = shutdown.cancelled() => return,
                heard = store.listen() => heard,
            };
            let mut heard = match heard {
                Ok(Some(heard)) => heard,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for the other nodes' events; trying again");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(RETRY.1);
                    continue;
                }
            };
            retry = RETRY.0;
            if let Some(t) = teller.take() {
                let _ = self.tell.set(t);
            }
            if heard_before {
                tracing::info!(
                    "listening for the other nodes' events again; what they told meanwhile was missed"
                );
                let _ = self.tx.send(Event::Missed);
            }
            heard_before = true;
            loop {
                let text = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    text = heard.recv() => text,
                };
                let Some(text) = text else {
                    tracing::warn!("stopped hearing the other nodes' events: listening again");
                    break;
                };
                match serde_json::from_str::<Announcement>(&text) {
                    Ok(told) if told.from != from => self.heard(store.as_ref(), told.what).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "an announcement of another node could not be read")
                    }
                }
            }
        }
    }

    /// Publishes, on this node only, what another node told.
    async fn heard(&self, store: &dyn Store, what: What) {
        let progress = matches!(what, What::Progress { .. });
        let ev = match what {
            What::Element { name, change } => Event::Element { name, change },
            What::Job { id } | What::Progress { id } => {
                let job = match store.job(id).await {
                    Ok(Some(job)) => job,
                    // Removed since (retention, its element).
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, job = %id, "another node's job could not be read");
                        return;
                    }
                };
                if progress {
                    Event::Progress {
                        job: job.id,
                        element: job.element,
                        progress: Box::new(job.progress),
                        counts: job.counts,
                    }
                } else {
                    Event::Job { job: Box::new(job) }
                }
            }
        };
        let _ = self.tx.send(ev);
    }
}

/// Sends this node's announcements until `told`, and then what was left.
async fn tell(store: Arc<dyn Store>, mut rx: mpsc::Receiver<String>, told: CancellationToken) {
    loop {
        let text = tokio::select! {
            text = rx.recv() => match text { Some(t) => t, None => return },
            _ = told.cancelled() => {
                while let Ok(text) = rx.try_recv() {
                    announce(store.as_ref(), &text).await;
                }
                return;
            }
        };
        announce(store.as_ref(), &text).await;
    }
}

async fn announce(store: &dyn Store, text: &str) {
    if let Err(e) = store.announce(text).await {
        tracing::warn!(error = %e, "an event could not be told to the other nodes");
    }
}
