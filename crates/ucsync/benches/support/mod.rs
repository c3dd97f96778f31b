//! What the benchmarks share: an emulator in a process of its own, and peak RSS.

// Each bench binary uses a part of this module.
#![allow(dead_code)]

pub mod service;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `ucsync emulate cm` on a free port, killed when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
    pub started_in: Duration,
}

impl Emulator {
    pub fn start(args: &[&str]) -> Emulator {
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ucsync"))
            .args(["emulate", "cm", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("emulator output").expect("read");
        let started_in = t.elapsed();
        let port = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .expect("port");
        // Keep reading, so the emulator never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Emulator {
            child,
            port,
            started_in,
        }
    }

    pub fn peak_rss_mb(&self) -> f64 {
        peak_rss_mb(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak RSS (VmHWM) of a process, from its `/proc/…/status`.
pub fn peak_rss_mb(status: &str) -> f64 {
    status_mb(status, "VmHWM:")
}

/// This process's RSS now.
pub fn rss_mb() -> f64 {
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
pub fn cpu_seconds() -> f64 {
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
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
