//! The known hosts of `ucsync ossi`: the SHA-256 host-key fingerprint of
//! each CM (`host:port`) it connected to, so that a key that changed is
//! refused. A file of `host:port SHA256:…` lines, `$UCSYNC_KNOWN_HOSTS` or
//! `~/.config/ucsync/known_hosts`; a host is added at its first use.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

/// Where the known hosts are kept.
pub(crate) fn path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("UCSYNC_KNOWN_HOSTS") {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        anyhow!(
            "HOME is not set: set UCSYNC_KNOWN_HOSTS to the known-hosts file, or give --host-key"
        )
    })?;
    Ok(Path::new(&home).join(".config/ucsync/known_hosts"))
}

/// The pinned fingerprint of `host:port` in the file, if any.
pub(crate) fn lookup(file: &Path, target: &str) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(t, _)| *t == target)
        .map(|(_, fp)| fp.trim().to_string()))
}

/// Adds `host:port` with its fingerprint (the file and its folder made
/// private to the user when missing).
pub(crate) fn add(file: &Path, target: &str, fingerprint: &str) -> anyhow::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
            .with_context(|| format!("cannot make {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    writeln!(f, "{target} {fingerprint}")
        .with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_hosts_are_found_by_host_and_port() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/known_hosts");
        assert_eq!(lookup(&file, "127.0.0.1:5022").unwrap(), None);
        add(&file, "127.0.0.1:5022", "SHA256:abc").unwrap();
        add(&file, "127.0.0.1:6022", "SHA256:def").unwrap();
        assert_eq!(
            lookup(&file, "127.0.0.1:6022").unwrap().as_deref(),
            Some("SHA256:def")
        );
        assert_eq!(lookup(&file, "127.0.0.1:7022").unwrap(), None);
    }
}
