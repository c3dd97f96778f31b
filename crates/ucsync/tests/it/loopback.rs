//! The guard that keeps tests on this machine: no test, benchmark, fuzz
//! target or script of the repository names an IP address outside loopback.
//! A test that added an element at such an address would make the service
//! (or the resolver) send packets off the machine during CI.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Addresses that stay on this machine or name no host at all.
fn harmless(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

/// Every IPv4 or IPv6 literal in `text` outside loopback, by line number.
fn outside_addresses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        // Four numbers with dots are a software version as often as an
        // address (`11.1.3.0 build 14`): a line about a version is not read.
        if line.to_ascii_lowercase().contains("version") {
            continue;
        }
        for token in tokens(line) {
            let rest = &line[token.as_ptr() as usize - line.as_ptr() as usize + token.len()..];
            if rest.starts_with(" build") {
                continue; // an IP Office version: `12.0.0.0 build 1`
            }
            let Some(ip) = as_address(token) else {
                continue;
            };
            if !harmless(ip) {
                found.push((n + 1, token.to_string()));
            }
        }
    }
    found
}

/// The words of a line that are written only with the characters of an
/// address (digits, hex letters, dots, colons), with a trailing `:port` or
/// `/prefix` left on for [`as_address`] to take off. `i32::default` is one
/// word, and not an address.
fn tokens(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':' || c == '_'))
        .map(|t| t.trim_matches(|c| c == '.' || c == ':'))
        .filter(|t| {
            t.chars()
                .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
        })
        .filter(|t| t.contains(['.', ':']) && t.chars().any(|c| c.is_ascii_digit()))
}

fn as_address(token: &str) -> Option<IpAddr> {
    if let Ok(ip) = token.parse::<IpAddr>() {
        return Some(ip);
    }
    // `a.b.c.d:port`: an IPv4 address with a port (IPv6 with a port is bracketed,
    // and brackets split tokens).
    if let Some((host, port)) = token.rsplit_once(':') {
        if port.parse::<u16>().is_ok() {
            if let Ok(v4) = host.parse::<Ipv4Addr>() {
                return Some(IpAddr::V4(v4));
            }
        }
    }
    // IPv6 needs at least two colons; fewer is a time or a Rust path.
    if token.matches(':').count() >= 2 {
        return token.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

/// Files whose addresses are data that is never connected to: the rule's
/// own tests need addresses outside loopback to refuse.
const DATA_ONLY: &[&str] = &[
    "crates/ucsync-core/src/network.rs",
    "crates/ucsync/tests/it/loopback.rs",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test, benchmark, fuzz and script sources, and the fixtures.
fn sources() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    // Fuzz corpora are not read: they are what a fuzzer wrote, and their
    // syslog messages name hosts the parser reads, not hosts to reach.
    let mut walk = vec![
        root.join("scripts"),
        root.join("fuzz/fuzz_targets"),
        root.join("fixtures"),
    ];
    for krate in std::fs::read_dir(root.join("crates")).expect("crates") {
        let krate = krate.expect("crate").path();
        for dir in ["tests", "benches", "examples", "src"] {
            walk.push(krate.join(dir));
        }
    }
    while let Some(p) = walk.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            for e in std::fs::read_dir(&p).expect("directory") {
                walk.push(e.expect("entry").path());
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The part of a file that is test code: all of it outside `src/`; in
/// `src/`, a `tests.rs` (or a file under a `tests/` folder) whole, and any
/// other file from its `#[cfg(test)]` on (production code may name example
/// networks in its help, which are documentation).
fn test_part(path: &Path, text: &str) -> Option<(usize, String)> {
    let in_src = path.components().any(|c| c.as_os_str() == "src");
    let whole_tests = path.file_name().is_some_and(|n| n == "tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests");
    if !in_src || whole_tests {
        return Some((0, text.to_string()));
    }
    if path.extension().is_none_or(|e| e != "rs") {
        return None;
    }
    let start = text.lines().position(|l| l.trim() == "#[cfg(test)]")?;
    Some((
        start,
        text.lines().skip(start).collect::<Vec<_>>().join("\n"),
    ))
}

#[test]
fn no_test_names_an_address_off_this_machine() {
    let mut offences = Vec::new();
    let sources = sources();
    assert!(
        sources.len() > 100,
        "the walk found only {} files under {}",
        sources.len(),
        root().display()
    );
    for path in sources {
        let name = path.strip_prefix(root()).unwrap_or(&path).to_path_buf();
        if DATA_ONLY.iter().any(|d| name == Path::new(d)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not text
        };
        let Some((first, part)) = test_part(&path, &text) else {
            continue;
        };
        for (line, addr) in outside_addresses(&part) {
            offences.push(format!("{}:{}: {addr}", name.display(), first + line));
        }
    }
    assert!(
        offences.is_empty(),
        "tests must reach only loopback (127.0.0.x, ::1, localhost); these name other addresses:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_guard_sees_addresses_in_every_usual_spelling() {
    let found = |s: &str| {
        outside_addresses(s)
            .into_iter()
            .map(|(_, a)| a)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found(r#"json!({"host": "192.0.2.1", "port": 22})"#),
        ["192.0.2.1"]
    );
    assert_eq!(found("--host 10.0.0.5 --port 5022"), ["10.0.0.5"]);
    assert_eq!(found(r#"connect("10.1.2.3:22")"#), ["10.1.2.3:22"]);
    assert_eq!(
        found(r#"alternate_host = "[2001:db8::7]""#),
        ["2001:db8::7"]
    );
    assert_eq!(
        found("curl http://198.51.100.4:8080/x"),
        ["198.51.100.4:8080"]
    );
    assert_eq!(found("ping fe80::1"), ["fe80::1"]);
    // Loopback, versions, times and paths are not addresses off the machine.
    for fine in [
        r#""host": "127.0.0.2""#,
        "[::1]:5022 and ::ffff:127.0.0.1",
        "0.0.0.0:0",
        "R018x.01.0.890.0 and 11.1.3.2.0",
        "12:30:45 and std::net::IpAddr",
        "fn a() -> ab::cd",
    ] {
        assert_eq!(found(fine), Vec::<String>::new(), "{fine}");
    }
}
