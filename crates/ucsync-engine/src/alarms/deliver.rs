//! Delivering alarms to webhooks: each new alarm and each clear, as a JSON
//! POST signed with HMAC-SHA256 over the body with the webhook's own secret
//! (`X-Ucsync-Signature: sha256=<hex>`), retried with exponential backoff,
//! each attempt recorded in the webhook's delivery log. One worker per
//! webhook, fed through a bounded queue, so a slow or dead receiver holds
//! up only itself; when its queue is full, the newest alarm is logged as
//! dropped rather than the engine made to wait.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::Password;
use ucsync_schedule::Clock;
use ucsync_store::{Alarm, NewDelivery, Store, time_text};

use super::AlarmChange;
use crate::events::Event;

/// The header that carries the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Ucsync-Signature";
/// The header that names the event (`raised`, `cleared`).
pub const EVENT_HEADER: &str = "X-Ucsync-Event";
/// The header that names the delivery: the same on every retry of it.
pub const DELIVERY_HEADER: &str = "X-Ucsync-Delivery";

/// A webhook alarms are delivered to.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its name in the delivery log.
    pub name: String,
    /// An `http` or `https` URL.
    pub url: String,
    /// The key of the body's HMAC-SHA256; never logged nor shown.
    pub secret: Arc<Password>,
    /// How an `https` webhook's certificate is checked [default: the
    /// system's trust store, and the name].
    pub tls: Option<ucsync_tls::Check>,
}

/// How webhooks are delivered to.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts per alarm event, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Alarm events waiting per webhook.
    pub queue: usize,
    /// This node's name, in every payload.
    pub node: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            queue: 1024,
            node: "local".into(),
        }
    }
}

/// The body of a webhook's POST.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmMessage<'a> {
    /// `raised` or `cleared`.
    pub event: &'static str,
    pub alarm: &'a Alarm,
    /// The node that saw it.
    pub node: &'a str,
    pub sent_at: String,
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: the value of
/// [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One alarm event to deliver.
#[derive(Debug, Clone)]
struct Job {
    change: AlarmChange,
    alarm_id: i64,
    body: Arc<Vec<u8>>,
}

/// The HTTP client of one webhook.
fn client(hook: &Webhook, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("ucsync/", env!("CARGO_PKG_VERSION")));
    if let Some(check) = &hook.tls {
        let tls = ucsync_tls::client_config(check, Arc::default())?;
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder.build().map_err(|e| {
        format!(
            "webhook '{}': cannot set up its HTTP client: {e}",
            hook.name
        )
    })
}

/// Starts delivering the alarm events of `events` to each webhook, until
/// `shutdown`; `tasks` tracks the workers. Fails, starting nothing, when a
/// webhook's TLS settings cannot be used.
pub fn spawn(
    store: Arc<dyn Store>,
    mut events: broadcast::Receiver<Event>,
    webhooks: Vec<Webhook>,
    settings: DeliverySettings,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), String> {
    if webhooks.is_empty() {
        return Ok(());
    }
    let clients = webhooks
        .iter()
        .map(|h| client(h, settings.timeout))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = Arc::new(settings);
    let mut queues = Vec::new();
    for (hook, http) in webhooks.into_iter().zip(clients) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        queues.push((hook.name.clone(), tx));
        let worker = Worker {
            store: store.clone(),
            http,
            hook,
            settings: settings.clone(),
            clock: clock.clone(),
        };
        let stop = shutdown.clone();
        tasks.spawn(async move { worker.run(rx, stop).await });
    }
    let node = settings.node.clone();
    tasks.spawn(async move {
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = events.recv() => ev,
            };
            let (change, alarm) = match ev {
                Ok(Event::Alarm { change, alarm }) => (change, alarm),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!(missed = n, "the webhook delivery fell behind the event stream: alarm events were missed");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let body = serde_json::to_vec(&AlarmMessage {
                event: change.as_str(),
                alarm: &alarm,
                node: &node,
                sent_at: time_text(clock.now()),
            })
            .expect("an alarm serializes");
            let job = Job {
                change,
                alarm_id: alarm.id,
                body: Arc::new(body),
            };
            for (name, tx) in &queues {
                if tx.try_send(job.clone()).is_err() {
                    tracing::error!(webhook = %name, alarm = alarm.id, "the webhook's queue is full: this alarm event is not delivered to it");
                }
            }
        }
    });
    Ok(())
}

struct Worker {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    hook: Webhook,
    settings: Arc<DeliverySettings>,
    clock: Arc<dyn Clock>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Job>, shutdown: CancellationToken) {
        loop {
            let job = tokio::select! {
                _ = shutdown.cancelled() => return,
                job = rx.recv() => match job { Some(j) => j, None => return },
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.deliver(&job) => {}
            }
        }
    }

    /// Tries until delivered or out of attempts.
    async fn deliver(&self, job: &Job) {
        let signature = signature(self.hook.secret.expose().as_bytes(), &job.body);
        let id = format!("{}-{}", job.alarm_id, job.change.as_str());
        let mut wait = self.settings.backoff;
        let attempts = self.settings.attempts.max(1);
        for attempt in 1..=attempts {
            let sent = self
                .http
                .post(&self.hook.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .header(EVENT_HEADER, job.change.as_str())
                .header(DELIVERY_HEADER, &id)
                .body(job.body.as_ref().clone())
                .send()
                .await;
            let (status, error) = match sent {
                Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
                Ok(r) => (
                    Some(r.status().as_u16()),
                    Some(format!("answered {}", r.status())),
                ),
                // Without the URL, which may hold a token of the receiver's.
                Err(e) => (
                    e.status().map(|s| s.as_u16()),
                    Some(describe(&e.without_url())),
                ),
            };
            let delivered = error.is_none();
            let record = NewDelivery {
                webhook: self.hook.name.clone(),
                alarm_id: job.alarm_id,
                event: job.change.as_str().into(),
                attempt,
                at: self.clock.now(),
                status,
                error: error.clone(),
                delivered,
            };
            if let Err(e) = self.store.record_delivery(&record).await {
                tracing::warn!(webhook = %self.hook.name, error = %e, "cannot record a webhook delivery");
            }
            if delivered {
                return;
            }
            let error = error.unwrap_or_default();
            if attempt == attempts {
                tracing::error!(webhook = %self.hook.name, alarm = job.alarm_id, attempts, "alarm not delivered: {error}");
                return;
            }
            tracing::warn!(webhook = %self.hook.name, alarm = job.alarm_id, attempt, "alarm delivery failed, retrying in {wait:?}: {error}");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.settings.max_backoff);
        }
    }
}

/// A client error with its causes (the useful words are in them).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231's test case 2, as the header writes it.
    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
