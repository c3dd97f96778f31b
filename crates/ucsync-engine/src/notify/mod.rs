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

mod stats;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_connect::{ElementEvent, EventMeaning};
use ucsync_core::{ElementKind, ElementName, ObjectId, SyncType, Trigger};
use ucsync_store::{Change, Element, JobId};

use crate::connections::Connections;
use crate::events::Event;
use crate::queue::Queue;
use crate::sync::SyncEngine;
pub use stats::{DELAY_BUCKETS, IGNORED_REASONS, MALFORMED_KINDS, NotifyStats};

/// What notify sync uses of the engine, and nothing more: the job queue
/// (whether a job runs on an element, an init to queue, the event
/// stream), the elements' connections, the sync engine (to store an
/// object as a job would), and the counters it keeps.
#[derive(Debug, Clone)]
pub struct Handles {
    pub queue: Queue,
    pub connections: Connections,
    pub engine: SyncEngine,
    pub stats: Arc<NotifyStats>,
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
    /// Starts the notify applier on `tasks`; its tasks end when `shutdown`
    /// is cancelled.
    pub fn start(
        handles: Handles,
        settings: NotifySettings,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Notifier {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let (unverified, unverified_rx) = mpsc::channel((settings.queue / 16).max(1));
        let stats = handles.stats.clone();
        let known = KnownAddresses::default();
        tasks.spawn(dispatch(
            Dispatch {
                h: handles,
                settings,
                known: known.clone(),
                shutdown,
                tasks: tasks.clone(),
            },
            rx,
            unverified_rx,
        ));
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
    async fn refresh(&mut self, queue: &Queue, ttl: Duration, known: &KnownAddresses) {
        if self.read_at.is_some_and(|t| t.elapsed() < ttl) {
            return;
        }
        self.read_at = Some(Instant::now());
        let elements = match queue.store().elements().await {
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

/// What the dispatcher works with.
struct Dispatch {
    h: Handles,
    settings: NotifySettings,
    known: KnownAddresses,
    shutdown: CancellationToken,
    /// Where the workers run.
    tasks: TaskTracker,
}

/// Checks each event against its element and hands it to the element's
/// worker; events from known senders first.
async fn dispatch(
    d: Dispatch,
    mut rx: mpsc::Receiver<Incoming>,
    mut unverified: mpsc::Receiver<Incoming>,
) {
    let Dispatch {
        h,
        settings,
        known,
        shutdown,
        tasks,
    } = d;
    let stats = h.stats.clone();
    // An element added or changed, or a job (an init) that ended, on any
    // node: the elements are read again at the next event.
    let mut changes = h.queue.events().subscribe();
    let mut senders = Senders::default();
    senders
        .refresh(&h.queue, settings.element_ttl, &known)
        .await;
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
                // Its own records, and a job's progress, change no element.
                let same = matches!(&change, Ok(Event::Element { change, .. }) if change == "notify")
                    || matches!(&change, Ok(Event::Progress { .. }));
                if !same {
                    senders.read_at = None;
                }
                continue;
            }
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
            ev = unverified.recv() => match ev { Some(ev) => ev, None => return },
        };
        senders
            .refresh(&h.queue, settings.element_ttl, &known)
            .await;
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
        let now = h.engine.clock().now();
        stats.record_event(element.name.as_str(), now);
        let last = recorded.get(&ev.element);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            recorded.insert(ev.element.clone(), Instant::now());
            let store = h.queue.store().clone();
            let id = element.id;
            tasks.spawn(async move {
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
            tasks.spawn(work(
                h.clone(),
                settings.clone(),
                element.name.clone(),
                rx,
                shutdown.clone(),
            ));
            tx
        });
        if let Err(mpsc::error::SendError(ev)) = worker.send(ev) {
            // The worker ended (notify sync is stopping).
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
    h: Handles,
    settings: NotifySettings,
    name: ElementName,
    mut rx: mpsc::UnboundedReceiver<Incoming>,
    shutdown: CancellationToken,
) {
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
            match h.queue.busy(name.as_str()).await {
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
        apply(&h, &name, events, &settings, &mut last_init).await;
    }
}

/// How many times a batch is read again because something else wrote the
/// element's objects while it was read, before it is left to the next
/// incremental.
const WRITTEN_MEANWHILE: u32 = 8;

/// When the element's last init was queued by notify sync, and its job.
type LastInit = Option<(Instant, JobId)>;

async fn apply(
    h: &Handles,
    name: &ElementName,
    events: Vec<Incoming>,
    settings: &NotifySettings,
    last_init: &mut LastInit,
) {
    let stats = h.stats.clone();
    let mut element = match h.queue.store().element(name.as_str()).await {
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
    let mut written_meanwhile = 0;
    loop {
        attempt += 1;
        // Read before the element is (with the element, then again after a
        // conflict): if anything writes its objects before this batch does
        // (a job, another node's notify sync), what is read here may be
        // older than what is stored, and is read again.
        let revision = element.sync.revision;
        let conn = match h.connections.connection(&element).await {
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
                            stats.count_merged();
                        }
                    }
                    batch.row_keys.push(row_key);
                    batch.received.push(ev.received);
                }
            }
        }
        if let Some(reason) = batch.inits.first() {
            queue_init(h, &element, reason, settings.init_min_interval, last_init).await;
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
                        let (fields, hash) = h.engine.prepare(conn.as_ref(), &obj);
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
            h.connections.forget(name.as_str()).await;
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
        match h
            .queue
            .store()
            .apply_notify(element.id, changes, &batch.row_keys, revision)
            .await
        {
            Ok(None) if written_meanwhile < WRITTEN_MEANWHILE => {
                written_meanwhile += 1;
                attempt = 0;
                tracing::debug!(element = %name, "the element's objects were written meanwhile: reading again");
                match h.queue.store().element(name.as_str()).await {
                    Ok(Some(e)) => element = e,
                    // Removed meanwhile: nothing to apply.
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(element = %name, error = %e, "notify sync cannot read the element");
                        for _ in &batch.received {
                            stats.count_ignored("read-failed");
                        }
                        return;
                    }
                }
                continue;
            }
            Ok(None) => {
                // Not recorded as applied: the next incremental reads them.
                tracing::warn!(element = %name, events = batch.received.len(), "the element's objects kept being written: these events are left to the next incremental");
                for _ in &batch.received {
                    stats.count_ignored("read-failed");
                }
            }
            Ok(Some(counts)) => {
                for r in &batch.received {
                    stats.count_applied(*r);
                }
                tracing::debug!(element = %name, events = batch.received.len(), ?counts, "notify events applied");
                if counts.added + counts.changed + counts.deleted > 0 {
                    h.queue.events().publish(Event::Element {
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
    h: &Handles,
    element: &Element,
    reason: &str,
    min_interval: Duration,
    last: &mut LastInit,
) {
    if let Some((at, job)) = *last
        && at.elapsed() < min_interval
    {
        h.stats.count_ignored("init-too-soon");
        let warning = format!(
            "notify sync asked for another init ({reason}) {} s after this one: not queued, at most one per {} s (notify_init_min_interval); if nobody changed that form on the CM, the events may be forged: take them over TLS with client certificates",
            at.elapsed().as_secs(),
            min_interval.as_secs()
        );
        let _ = h.queue.store().job_log(job, &warning).await;
        tracing::warn!(element = %element.name, job = job.0, %reason, "notify sync refused another init this soon");
        return;
    }
    match h
        .queue
        .request(&element.name, SyncType::Init, Trigger::Notify, "notify")
        .await
    {
        Ok(r) if !r.joined => {
            *last = Some((Instant::now(), r.job.id));
            let store = h.queue.store();
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
