//! The data directory: private to the service's user (made so when new,
//! refused when another user owns it or others may write to it), and locked
//! for the life of the service, so that one service at a time uses it (two
//! would share one node name, and each would take the other's running jobs
//! for interrupted ones).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "ucsync.lock";

/// An exclusive lock on a data directory, held until dropped (or until the
/// process ends, however it ends: the system releases it).
#[derive(Debug)]
pub struct DataDirLock {
    #[cfg(unix)]
    _file: nix::fcntl::Flock<File>,
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
    let file = options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    #[cfg(unix)]
    {
        use nix::fcntl::{Flock, FlockArg};
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
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
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        };
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(*file, "{}", this_process()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(DataDirLock { _file: file, path })
    }
    #[cfg(not(unix))]
    {
        // No advisory lock here: one service per data directory is the
        // administrator's to keep.
        drop(file);
        Ok(DataDirLock { path })
    }
}

/// Makes the data directory (mode 0700) when it does not exist; an existing
/// one must belong to this user and be writable by nobody else, since it
/// holds the installation key, the admin token and the database. It is
/// never changed to fit: a directory shared with others is a mistake to
/// tell, not to repair.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) => check_private(dir, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("cannot restrict {}", dir.display()))?;
            }
            Ok(())
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the data directory {}", dir.display()))
        }
    }
}

#[cfg(unix)]
fn check_private(dir: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !meta.is_dir() {
        bail!(
            "the data directory {} is not a directory: give a directory (--data-dir)",
            dir.display()
        );
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "the data directory {} belongs to user {}, not to this service's user {me}: give a directory of the service's own (--data-dir), or run the service as its owner",
            dir.display(),
            meta.uid()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!(
            "others may write to the data directory {} (mode {mode:o}), which holds the installation key, the admin token and the database: give a directory only its owner may write to (chmod 700 {}), or another one (--data-dir)",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(dir: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    if !meta.is_dir() {
        bail!(
            "the data directory {} is not a directory: give a directory (--data-dir)",
            dir.display()
        );
    }
    Ok(())
}

/// Makes `path` (a database file) if it is missing, readable and writable by
/// its owner only, and narrows an existing one to that; SQLite gives the
/// files it adds beside it (`-wal`, `-shm`) the same mode.
pub fn private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for suffix in ["", "-wal", "-shm"] {
            let p = path.with_file_name(format!("{name}{suffix}"));
            match std::fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .with_context(|| format!("cannot restrict {}", p.display()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
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

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused_and_left_as_it_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        for mode in [0o1777, 0o770, 0o702] {
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = prepare(&shared).unwrap_err().to_string();
            assert!(e.contains("others may write"), "{mode:o}: {e}");
            let now = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777;
            assert_eq!(now, mode, "not changed");
        }
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&shared).unwrap();
        let fresh = dir.path().join("a/b");
        prepare(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        assert!(prepare(&file).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn database_files_are_the_owner_s_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ucsync.db");
        private_file(&db).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        let wal = dir.path().join("ucsync.db-wal");
        std::fs::write(&wal, "").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }
}
