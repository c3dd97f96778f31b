//! The counters of notify sync on this node, rendered for `/metrics`:
//! events received, applied, merged, ignored by reason, messages dropped
//! as malformed by kind, and the delay from receipt to commit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};

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

/// Adds one to a labelled counter.
fn bump(counters: &Mutex<BTreeMap<&'static str, u64>>, label: &'static str) {
    *counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(label)
        .or_default() += 1;
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
        bump(&self.malformed, kind);
    }

    /// An event was dropped for this reason (one of [`IGNORED_REASONS`]).
    pub fn count_ignored(&self, reason: &'static str) {
        bump(&self.ignored, reason);
    }

    /// An event was applied and committed; `received` is when it arrived.
    pub(crate) fn count_applied(&self, received: Instant) {
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

    /// An event was folded into another event's read of the same object.
    pub(crate) fn count_merged(&self) {
        self.merged.fetch_add(1, Ordering::Relaxed);
    }

    /// An event from the element was received at `at`.
    pub(crate) fn record_event(&self, element: &str, at: DateTime<Utc>) {
        self.last_event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(element.to_string(), at);
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
