//! CM notify sync, applied: a change event an element sent is checked
//! (the element exists, has notify sync on, and the event came from it),
//! read as the incremental would read the history row it stands for, and
//! the object it names is read at once with one request over the element's
//! kept-open connection and stored as a change-log entry of no job —
//! together with the row, so that the next incremental skips exactly it.
//!
//! Per element one worker applies events in arrival order: events that
//! arrive within [`NotifySettings::debounce`] of each other (or while the
//! worker is busy) are merged per object, and nothing is read while a job
//! runs on the element. Knows nothing of syslog: the service's listener
//! hands events in as [`Incoming`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use ucsync_connect::{ElementEvent, EventMeaning};
use ucsync_core::{ElementKind, ElementName, ObjectId, SyncType, Trigger};
use ucsync_store::{Change, Element};

use crate::Runner;

/// Upper bounds of the delay buckets (event received → committed), seconds.
pub const DELAY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why an event was not applied, as metric labels.
pub const IGNORED_REASONS: &[&str] = &[
    "unknown-element",
    "not-cm",
    "notify-sync-off",
    "wrong-address",
    "own-login",
    "not-data",
    "not-synchronized",
    "unreadable",
    "whole-type",
    "unsupported",
    "rate-limited",
    "outside-element-networks",
    "overloaded",
    "read-failed",
    "too-many-connections",
    "unknown-sender",
    "init-too-soon",
];

/// The kinds of syslog messages dropped before they were events (the
/// `kind()` labels of `ucsync-syslog`'s errors).
pub const MALFORMED_KINDS: &[&str] = &[
    "oversized",
    "truncated",
    "malformed",
    "invalid-utf8",
    "not-notify",
];

/// The counters of notify sync on this node, for `/metrics`.
#[derive(Debug, Default)]
pub struct NotifyStats {
    received: AtomicU64,
    applied: AtomicU64,
    merged: AtomicU64,
    ignored: Mutex<BTreeMap<&'static str, u64>>,
    malformed: Mutex<BTreeMap<&'static str, u64>>,
    delay: Mutex<Delay>,
    /// Per element: when its last event was received.
    last_event: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

#[derive(Debug, Default, Clone)]
struct Delay {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl NotifyStats {
    /// A well-formed notify event arrived (whatever happens to it then).
    pub fn count_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// A message was dropped before it was an event; `kind` is the
    /// parser's error kind (`oversized`, `truncated`, …).
    pub fn count_malformed(&self, kind: &'static str) {
        *self
            .malformed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// An event was dropped for this reason (one of [`IGNORED_REASONS`]).
    pub fn count_ignored(&self, reason: &'static str) {
        *self
            .ignored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    fn count_applied(&self, received: Instant) {
        self.applied.fetch_add(1, Ordering::Relaxed);
        let seconds = received.elapsed().as_secs_f64();
        let mut d = self.delay.lock().unwrap_or_else(|e| e.into_inner());
        if d.buckets.is_empty() {
            d.buckets = vec![0; DELAY_BUCKETS.len()];
        }
        if let Some(i) = DELAY_BUCKETS.iter().position(|b| seconds <= *b) {
            d.buckets[i] += 1;
        }
        d.sum += seconds;
        d.count += 1;
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Events folded into another event's read of the same object.
    pub fn merged(&self) -> u64 {
        self.merged.load(Ordering::Relaxed)
    }

    pub fn ignored(&self, reason: &str) -> u64 {
        self.ignored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    pub fn malformed(&self, kind: &str) -> u64 {
        self.malformed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// When the element's last event was received on this node.
    pub fn last_event(&self, element: &str) -> Option<DateTime<Utc>> {
        self.last_event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(element)
            .copied()
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_events_received_total Notify events received (well-formed).\n\
             # TYPE ucsync_notify_events_received_total counter\n\
             ucsync_notify_events_received_total {}",
            self.received()
        );
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_events_applied_total Notify events applied and committed.\n\
             # TYPE ucsync_notify_events_applied_total counter\n\
             ucsync_notify_events_applied_total {}",
            self.applied()
        );
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_events_merged_total Notify events merged into a read of the same object.\n\
             # TYPE ucsync_notify_events_merged_total counter\n\
             ucsync_notify_events_merged_total {}",
            self.merged()
        );
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_events_ignored_total Notify events not applied, by reason.\n\
             # TYPE ucsync_notify_events_ignored_total counter"
        );
        for r in IGNORED_REASONS {
            let _ = writeln!(
                out,
                "ucsync_notify_events_ignored_total{{reason=\"{r}\"}} {}",
                self.ignored(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_messages_malformed_total Syslog messages dropped before they were events, by kind.\n\
             # TYPE ucsync_notify_messages_malformed_total counter"
        );
        for k in MALFORMED_KINDS {
            let _ = writeln!(
                out,
                "ucsync_notify_messages_malformed_total{{kind=\"{k}\"}} {}",
                self.malformed(k)
            );
        }
        let d = self.delay.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP ucsync_notify_delay_seconds From a notify event received to its change committed.\n\
             # TYPE ucsync_notify_delay_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, b) in DELAY_BUCKETS.iter().enumerate() {
            cumulative += d.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "ucsync_notify_delay_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "ucsync_notify_delay_seconds_bucket{{le=\"+Inf\"}} {}\nucsync_notify_delay_seconds_sum {}\nucsync_notify_delay_seconds_count {}",
            d.count, d.sum, d.count
        );
    }
}

/// One change event as the listener received it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The element's name as the event gives it (syslog HOSTNAME).
    pub element: String,
    /// Where it came from.
    pub source: IpAddr,
    pub event: ElementEvent,
    pub received: Instant,
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Events for one element that arrive this close together are read
    /// together, each object once.
    pub debounce: Duration,
    /// Events from known senders waiting to be checked; past it, new ones
    /// are dropped as `overloaded`. Events from other addresses wait in a
    /// queue of a sixteenth of this (dropped as `unknown-sender` past it),
    /// so that they never take the known senders' places.
    pub queue: usize,
    /// How long the elements are taken as read (their settings and
    /// addresses, read in one query).
    pub element_ttl: Duration,
    /// How often a worker looks again whether the job on its element ended.
    pub job_poll: Duration,
    /// At most one init queued by notify sync per element this often; an
    /// event asking for another sooner is dropped (`init-too-soon`) with a
    /// warning in the last one's job log.
    pub init_min_interval: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            debounce: Duration::from_millis(5),
            queue: 65_536,
            element_ttl: Duration::from_secs(1),
            job_poll: Duration::from_millis(100),
            init_min_interval: Duration::from_secs(600),
        }
    }
}

/// Takes events from the listener and applies them.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Incoming>,
    /// Events from addresses that were no notify-on CM's at the last read.
    unverified: mpsc::Sender<Incoming>,
    known: KnownAddresses,
    stats: Arc<NotifyStats>,
}

/// The addresses of the CMs with notify sync on, as last read.
type KnownAddresses = Arc<std::sync::RwLock<HashSet<IpAddr>>>;

impl Notifier {
    /// Starts the notify applier of a runner; it ends with the runner.
    pub fn start(runner: Runner, settings: NotifySettings) -> Notifier {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let (unverified, unverified_rx) = mpsc::channel((settings.queue / 16).max(1));
        let stats = runner.notify_stats().clone();
        let known = KnownAddresses::default();
        tokio::spawn(dispatch(runner, settings, rx, unverified_rx, known.clone()));
        Notifier {
            tx,
            unverified,
            known,
            stats,
        }
    }

    /// Hands an event in; never waits. An event from an address that is
    /// no known CM's waits in the small queue of its own.
    pub fn submit(&self, ev: Incoming) {
        self.stats.count_received();
        let known = self
            .known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&canonical(ev.source));
        let (queue, full) = if known {
            (&self.tx, "overloaded")
        } else {
            (&self.unverified, "unknown-sender")
        };
        if queue.try_send(ev).is_err() {
            self.stats.count_ignored(full);
        }
    }

    pub fn stats(&self) -> &Arc<NotifyStats> {
        &self.stats
    }
}

/// The elements as notify sync last read them, in one query at most once
/// per [`NotifySettings::element_ttl`], and the addresses of the CMs with
/// notify sync on: an event from any other address is dropped before
/// anything is looked up for it.
#[derive(Default)]
struct Senders {
    by_name: HashMap<String, Element>,
    /// The host's and alternate host's addresses of each notify-on CM.
    addresses: HashMap<String, Vec<IpAddr>>,
    read_at: Option<Instant>,
    /// Host names resolved once.
    resolved: HashMap<String, Vec<IpAddr>>,
}

impl Senders {
    async fn refresh(&mut self, runner: &Runner, ttl: Duration, known: &KnownAddresses) {
        if self.read_at.is_some_and(|t| t.elapsed() < ttl) {
            return;
        }
        self.read_at = Some(Instant::now());
        let elements = match runner.store().elements().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "notify sync cannot read the elements");
                return;
            }
        };
        let mut addresses = HashMap::new();
        for e in &elements {
            if e.kind != ElementKind::Cm || !e.settings.notify_sync {
                continue;
            }
            let mut ips = Vec::new();
            for host in std::iter::once(&e.host).chain(e.alternate_host.as_ref()) {
                ips.extend(resolve(host, &mut self.resolved).await);
            }
            addresses.insert(e.name.to_string(), ips);
        }
        *known.write().unwrap_or_else(|e| e.into_inner()) =
            addresses.values().flatten().copied().collect();
        self.addresses = addresses;
        self.by_name = elements
            .into_iter()
            .map(|e| (e.name.to_string(), e))
            .collect();
    }

    fn known(&self, source: IpAddr) -> bool {
        self.addresses.values().any(|ips| ips.contains(&source))
    }
}

/// Checks each event against its element and hands it to the element's
/// worker; events from known senders first.
async fn dispatch(
    runner: Runner,
    settings: NotifySettings,
    mut rx: mpsc::Receiver<Incoming>,
    mut unverified: mpsc::Receiver<Incoming>,
    known: KnownAddresses,
) {
    let stats = runner.notify_stats().clone();
    let shutdown = runner.shutdown_token().clone();
    // An element added or changed, or a job (an init) that ended, on this
    // node: the elements are read again at the next event.
    let mut changes = runner.subscribe();
    let mut senders = Senders::default();
    senders.refresh(&runner, settings.element_ttl, &known).await;
    // Per element: when its last event was written to the store.
    let mut recorded: HashMap<String, Instant> = HashMap::new();
    let mut workers: HashMap<String, mpsc::UnboundedSender<Incoming>> = HashMap::new();
    loop {
        let ev = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            change = changes.recv() => {
                if matches!(change, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                let notify = matches!(&change, Ok(crate::Event::Element { change, .. }) if change == "notify");
                if !notify {
                    senders.read_at = None;
                }
                continue;
            }
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
            ev = unverified.recv() => match ev { Some(ev) => ev, None => return },
        };
        senders.refresh(&runner, settings.element_ttl, &known).await;
        let source = canonical(ev.source);
        if !senders.known(source) {
            stats.count_ignored("unknown-sender");
            continue;
        }
        let Some(element) = senders.by_name.get(&ev.element).cloned() else {
            stats.count_ignored("unknown-element");
            continue;
        };
        if element.kind != ElementKind::Cm {
            stats.count_ignored("not-cm");
            continue;
        }
        if !element.settings.notify_sync {
            stats.count_ignored("notify-sync-off");
            continue;
        }
        if !senders
            .addresses
            .get(&ev.element)
            .is_some_and(|ips| ips.contains(&source))
        {
            stats.count_ignored("wrong-address");
            continue;
        }
        // Received from the element: its time is kept (in the store at most
        // once a second per element).
        let now = Utc::now();
        stats
            .last_event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(element.name.to_string(), now);
        let last = recorded.get(&ev.element);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            recorded.insert(ev.element.clone(), Instant::now());
            let store = runner.store().clone();
            let id = element.id;
            tokio::spawn(async move {
                if let Err(e) = store.record_notify_event(id, now).await {
                    tracing::warn!(error = %e, "cannot record the time of a notify event");
                }
            });
        }
        if element
            .own_logins()
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&ev.event.login))
        {
            stats.count_ignored("own-login");
            continue;
        }
        let name = element.name.to_string();
        let worker = workers.entry(name.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(
                runner.clone(),
                settings.clone(),
                element.name.clone(),
                rx,
            ));
            tx
        });
        if let Err(mpsc::error::SendError(ev)) = worker.send(ev) {
            // The worker ended (the runner is stopping).
            drop(ev);
            workers.remove(&name);
        }
    }
}

/// A host's addresses (a name resolved once).
async fn resolve(host: &str, cache: &mut HashMap<String, Vec<IpAddr>>) -> Vec<IpAddr> {
    if let Some(ips) = cache.get(host) {
        return ips.clone();
    }
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, 0)).await {
            Ok(a) => a.map(|a| a.ip()).collect(),
            Err(e) => {
                tracing::warn!(%host, error = %e, "notify sync cannot resolve the element's host");
                // Not kept: looked up again at the next read.
                return Vec::new();
            }
        },
    };
    let ips: Vec<IpAddr> = ips.into_iter().map(canonical).collect();
    cache.insert(host.to_string(), ips.clone());
    ips
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What a batch of events asks for.
#[derive(Default)]
struct Batch {
    /// Each object once: the login and minute of the newest event for it.
    objects: BTreeMap<ObjectId, (String, String)>,
    row_keys: Vec<String>,
    received: Vec<Instant>,
    inits: Vec<String>,
}

/// Applies one element's events, one batch after another.
async fn work(
    runner: Runner,
    settings: NotifySettings,
    name: ElementName,
    mut rx: mpsc::UnboundedReceiver<Incoming>,
) {
    let shutdown = runner.shutdown_token().clone();
    let mut last_init = None;
    loop {
        let first = tokio::select! {
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
            _ = shutdown.cancelled() => return,
        };
        let mut events = vec![first];
        // A burst is read once: wait a moment for the rest of it.
        let until = tokio::time::Instant::now() + settings.debounce;
        while let Ok(Some(ev)) = tokio::time::timeout_at(until, rx.recv()).await {
            events.push(ev);
        }
        while let Ok(ev) = rx.try_recv() {
            events.push(ev);
        }
        // What arrives while a job runs on the element waits for it.
        loop {
            match runner.busy(name.as_str()).await {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(element = %name, error = %e, "notify sync cannot see the element's jobs")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(settings.job_poll) => {}
                _ = shutdown.cancelled() => return,
            }
            while let Ok(ev) = rx.try_recv() {
                events.push(ev);
            }
        }
        apply(&runner, &name, events, &settings, &mut last_init).await;
    }
}

/// When the element's last init was queued by notify sync, and its job.
type LastInit = Option<(Instant, ucsync_store::JobId)>;

async fn apply(
    runner: &Runner,
    name: &ElementName,
    events: Vec<Incoming>,
    settings: &NotifySettings,
    last_init: &mut LastInit,
) {
    let stats = runner.notify_stats().clone();
    let element = match runner.store().element(name.as_str()).await {
        Ok(Some(e)) if e.settings.notify_sync => e,
        Ok(_) => {
            for _ in &events {
                stats.count_ignored("notify-sync-off");
            }
            return;
        }
        Err(e) => {
            tracing::warn!(element = %name, error = %e, "notify sync cannot read the element");
            for _ in &events {
                stats.count_ignored("read-failed");
            }
            return;
        }
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let conn = match runner.connection(&element).await {
            Ok((c, _)) => c,
            Err(e) => {
                tracing::warn!(element = %name, error = %e, "notify sync cannot connect to the element");
                for _ in &events {
                    stats.count_ignored("read-failed");
                }
                return;
            }
        };
        let own = element.own_logins();
        let mut batch = Batch::default();
        for ev in &events {
            match conn.classify_event(&ev.event, &own) {
                EventMeaning::Ignore { label, why } => {
                    tracing::debug!(element = %name, event = ?ev.event, %why, "notify event ignored");
                    stats.count_ignored(label);
                }
                EventMeaning::NeedsInit(reason) => batch.inits.push(reason),
                EventMeaning::Objects { ids, row_key } => {
                    let at = ev.event.at.format("%m/%d %H:%M").to_string();
                    for id in ids {
                        if batch
                            .objects
                            .insert(id, (ev.event.login.clone(), at.clone()))
                            .is_some()
                        {
                            stats.merged.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    batch.row_keys.push(row_key);
                    batch.received.push(ev.received);
                }
            }
        }
        if let Some(reason) = batch.inits.first() {
            queue_init(
                runner,
                &element,
                reason,
                settings.init_min_interval,
                last_init,
            )
            .await;
        }
        if batch.objects.is_empty() {
            return;
        }
        let mut changes = Vec::with_capacity(batch.objects.len());
        let mut failed = None;
        for (id, (login, at)) in &batch.objects {
            match conn.read_one(id).await {
                Ok(now) => {
                    let upsert = now.map(|obj| {
                        let (fields, hash) = runner.engine().prepare(conn.as_ref(), &obj);
                        (fields, hash, conn.display_name(&obj))
                    });
                    changes.push(Change {
                        id: id.clone(),
                        upsert,
                        by_login: Some(login.clone()),
                        at_element: Some(at.clone()),
                    });
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            // The kept connection may be broken: once more on a new one.
            runner.forget(name.as_str()).await;
            if attempt < 2 {
                tracing::info!(element = %name, error = %e, "notify sync read failed; reconnecting");
                continue;
            }
            tracing::warn!(element = %name, error = %e, "notify sync cannot read the changed objects");
            for _ in &batch.received {
                stats.count_ignored("read-failed");
            }
            return;
        }
        match runner
            .store()
            .apply_notify(element.id, changes, &batch.row_keys)
            .await
        {
            Ok(counts) => {
                for r in &batch.received {
                    stats.count_applied(*r);
                }
                tracing::debug!(element = %name, events = batch.received.len(), ?counts, "notify events applied");
                if counts.added + counts.changed + counts.deleted > 0 {
                    runner.publish(crate::Event::Element {
                        name: name.to_string(),
                        change: "notify".into(),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(element = %name, error = %e, "notify sync cannot store the changes");
                for _ in &batch.received {
                    stats.count_ignored("read-failed");
                }
            }
        }
        return;
    }
}

/// An event for a form that needs an init queues one (trigger `notify`),
/// with the reason; a queued or running init of the element is joined. At
/// most one is queued per `min_interval`: events can be forged (UDP trusts
/// the source address), and an init reads the whole CM.
async fn queue_init(
    runner: &Runner,
    element: &Element,
    reason: &str,
    min_interval: Duration,
    last: &mut LastInit,
) {
    if let Some((at, job)) = *last
        && at.elapsed() < min_interval
    {
        runner.notify_stats().count_ignored("init-too-soon");
        let warning = format!(
            "notify sync asked for another init ({reason}) {} s after this one: not queued, at most one per {} s (notify_init_min_interval); if nobody changed that form on the CM, the events may be forged: take them over TLS with client certificates",
            at.elapsed().as_secs(),
            min_interval.as_secs()
        );
        let _ = runner.store().job_log(job, &warning).await;
        tracing::warn!(element = %element.name, job, %reason, "notify sync refused another init this soon");
        return;
    }
    match runner
        .request(&element.name, SyncType::Init, Trigger::Notify, "notify")
        .await
    {
        Ok(r) if !r.joined => {
            *last = Some((Instant::now(), r.job.id));
            let store = runner.store();
            let _ = store
                .set_job_type(r.job.id, SyncType::Init, Some(reason))
                .await;
            let _ = store
                .job_log(r.job.id, &format!("queued by notify sync: {reason}"))
                .await;
            tracing::info!(element = %element.name, job = r.job.id.0, %reason, "notify sync queued an init");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(element = %element.name, error = %e, "notify sync cannot queue an init")
        }
    }
}
