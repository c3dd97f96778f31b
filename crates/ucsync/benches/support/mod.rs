//! What the benchmarks share beyond the test kit: an emulator in a process
//! of its own with its start-up time and peak RSS, and this process's.

// Each bench binary uses a part of this module.
#![allow(dead_code)]

pub(crate) mod data;
pub(crate) mod service;

use std::time::{Duration, Instant};

use ucsync_testkit::process::Emulated;

/// `ucsync emulate cm` on a free port, killed when dropped.
pub(crate) struct Emulator {
    process: Emulated,
    pub port: u16,
    pub started_in: Duration,
}

impl Emulator {
    pub(crate) fn start(args: &[&str]) -> Emulator {
        Emulator::start_kind("cm", args)
    }

    /// `ucsync emulate KIND`.
    pub(crate) fn start_kind(kind: &str, args: &[&str]) -> Emulator {
        let t = Instant::now();
        let process = Emulated::start(env!("CARGO_BIN_EXE_ucsync"), kind, args, 1);
        Emulator {
            port: process.port,
            started_in: t.elapsed(),
            process,
        }
    }

    pub(crate) fn peak_rss_mb(&self) -> f64 {
        peak_rss_mb(&format!("/proc/{}/status", self.process.pid()))
    }
}

/// Whether a bench binary runs a part: the parts named on its command line
/// (`cargo bench -p ucsync --bench sync -- init`), or all when none is.
pub(crate) fn wanted() -> impl Fn(&str) -> bool {
    let parts = named();
    move |p: &str| parts.is_empty() || parts.iter().any(|a| a == p)
}

/// The parts named on a bench binary's command line.
pub(crate) fn named() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect()
}

/// Peak RSS (VmHWM) of a process, from its `/proc/…/status`.
pub(crate) fn peak_rss_mb(status: &str) -> f64 {
    status_mb(status, "VmHWM:")
}

/// This process's RSS now.
pub(crate) fn rss_mb() -> f64 {
    status_mb("/proc/self/status", "VmRSS:")
}

fn status_mb(status: &str, field: &str) -> f64 {
    let text = std::fs::read_to_string(status).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The CPU time (user and system) this process has used, in seconds.
pub(crate) fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime: fields 14 and 15, the 12th and 13th after the ")".
    let ticks: u64 = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    ticks as f64 / 100.0
}

/// Resets this process's peak RSS, so a figure covers only what follows.
pub(crate) fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Emulated CMs with nothing configured: each job's work is the protocol and
/// the database, not the data.
pub(crate) fn empty_cms(n: usize) -> Vec<Emulator> {
    (0..n)
        .map(|_| {
            Emulator::start(&[
                "--profile",
                "empty",
                "--max-sessions",
                "64",
                "--login",
                "ucsync:ucsync01",
            ])
        })
        .collect()
}
