//! The binary's processes, for the end-to-end tests and the benchmarks that
//! run `ucsync` as a user would. The binary's path comes from the caller
//! (`env!("CARGO_BIN_EXE_ucsync")`), which only its own crate knows.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `ucsync emulate KIND` on a free loopback port, with the first `banner`
/// lines it printed (where it listens, then host key, certificate…);
/// killed when dropped.
pub struct Emulated {
    child: Child,
    pub port: u16,
    pub banner: Vec<String>,
}

impl Emulated {
    pub fn start(bin: impl AsRef<OsStr>, kind: &str, args: &[&str], banner: usize) -> Emulated {
        let mut child = Command::new(bin)
            .args(["emulate", kind, "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let banner: Vec<String> = (0..banner.max(1))
            .map(|_| {
                lines
                    .next()
                    .expect("the emulator's banner")
                    .expect("read the banner")
            })
            .collect();
        let port = banner[0]
            .split_whitespace()
            .find_map(|w| w.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {:?}", banner[0]));
        // Keep reading, so the emulator never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Emulated {
            child,
            port,
            banner,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a line `… serving on http://127.0.0.1:PORT/ …`, when the
/// line says where the service serves.
pub fn serving_on(line: &str) -> Option<String> {
    let rest = line.split("serving on ").nth(1)?;
    let addr = rest.split_whitespace().next()?;
    Some(addr.trim_end_matches('/').to_string())
}
