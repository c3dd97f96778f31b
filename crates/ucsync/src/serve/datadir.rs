//! The data directory: locked for the life of the service, so that one
//! service at a time uses it (two would share one node name, and each would
//! take the other's running jobs for interrupted ones).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "ucsync.lock";

/// An exclusive lock on a data directory, held until dropped (or until the
/// process ends, however it ends: the system releases it).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the data directory's lock, writing this process's id into the lock
/// file; refused, naming the holder, while another process holds it.
pub fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_string(),
                h => h.to_string(),
            };
            bail!(
                "the data directory {} is in use by another ucsync service ({holder}, lock file {}): stop that service first, or give this one a data directory of its own (--data-dir)",
                dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    let holder = this_process();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{holder}"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(DataDirLock { _file: file, path })
}

/// This process, as a holder is named: `pid 1234 on host`.
pub fn this_process() -> String {
    match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("pid {} on {host}", std::process::id()),
        _ => format!("pid {}", std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let held = std::fs::read_to_string(&first.path).unwrap();
        assert!(
            held.starts_with(&format!("pid {}", std::process::id())),
            "{held}"
        );
        let e = lock(dir.path()).unwrap_err().to_string();
        assert!(e.contains("in use by another ucsync service (pid "), "{e}");
        assert!(e.contains("--data-dir"), "{e}");
        drop(first);
        let again = lock(dir.path()).unwrap();
        drop(again);
    }
}
