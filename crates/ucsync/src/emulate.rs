//! `ucsync emulate …`: element emulators on their own.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ucsync_emulator::cm::notify::NotifyTarget;
use ucsync_emulator::cm::{CmEmulator, CmSettings, Faults};
use ucsync_emulator::ipo::{self, IpoEmulator, IpoSettings};
use ucsync_emulator::messaging::{self, MessagingEmulator, MessagingSettings, Product};

use crate::{Exit, bad_input};

#[derive(Debug, Subcommand)]
pub(crate) enum Element {
    /// A Communication Manager: SAT/OSSI over SSH.
    Cm(Box<CmArgs>),
    /// An IP Office: ucsync's model of its configuration service, HTTP/JSON
    /// (docs/ip-office-config-api.yaml).
    IpOffice(Box<IpoArgs>),
    /// A messaging system's directory (Aura Messaging, CM Messaging or
    /// Modular Messaging): LDAP, or LDAPS with --tls-cert and --tls-key.
    Messaging(Box<MessagingArgs>),
}

#[derive(Debug, Args)]
pub(crate) struct IpoArgs {
    /// Address to listen on (the configuration port: 50804 plain, 50805 with TLS).
    #[arg(long, default_value = "127.0.0.1:50804")]
    listen: SocketAddr,
    /// The system name.
    #[arg(long, default_value = "ipo1")]
    name: String,
    /// A service user in the configuration read and write rights groups,
    /// NAME:PASSWORD (repeatable) [default: Administrator:Administrator].
    #[arg(long = "login", value_name = "NAME:PASSWORD", value_parser = parse_login)]
    logins: Vec<(String, String)>,
    /// A service user in the configuration-read rights group only (repeatable).
    #[arg(long = "read-login", value_name = "NAME:PASSWORD", value_parser = parse_login)]
    read_logins: Vec<(String, String)>,
    /// The same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The configuration is saved here on every change and loaded at start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// The software version it reports.
    #[arg(long = "version", default_value = "11.1.3.0 build 14")]
    ipo_version: String,
    /// Users (at most 2000).
    #[arg(long, value_name = "N", default_value_t = 20)]
    users: usize,
    /// Extensions.
    #[arg(long, value_name = "N", default_value_t = 24)]
    extensions: usize,
    /// Hunt groups.
    #[arg(long, value_name = "N", default_value_t = 3)]
    hunt_groups: usize,
    /// Short codes.
    #[arg(long, value_name = "N", default_value_t = 8)]
    short_codes: usize,
    /// Incoming call routes.
    #[arg(long, value_name = "N", default_value_t = 4)]
    incoming_call_routes: usize,
    /// Serve HTTPS with this certificate (PEM, the chain after it).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Fault: configuration reads answer with this HTTP status (401, 403, 500, …).
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(400..600))]
    fail_status: Option<u16>,
    /// Fault: configuration reads never answer.
    #[arg(long)]
    stall: bool,
    /// Fault: cut the connection after N bytes of a configuration read.
    #[arg(long, value_name = "N")]
    cut_after_bytes: Option<usize>,
    /// Fault: configuration reads send invalid JSON.
    #[arg(long)]
    invalid_json: bool,
    /// Fault: configuration reads leave this field out of every object.
    #[arg(long, value_name = "FIELD")]
    missing_field: Option<String>,
}

impl IpoArgs {
    fn settings(self) -> IpoSettings {
        let defaults = IpoSettings::default();
        IpoSettings {
            name: self.name,
            logins: if self.logins.is_empty() && self.read_logins.is_empty() {
                defaults.logins
            } else {
                self.logins
            },
            read_logins: self.read_logins,
            sizes: ipo::Sizes {
                users: self.users,
                extensions: self.extensions,
                hunt_groups: self.hunt_groups,
                short_codes: self.short_codes,
                incoming_call_routes: self.incoming_call_routes,
            },
            seed: self.seed,
            state_file: self.state,
            version: self.ipo_version,
            tls: self.tls_cert.zip(self.tls_key),
            faults: ipo::Faults {
                status: self.fail_status,
                stall: self.stall,
                cut_after_bytes: self.cut_after_bytes,
                invalid_json: self.invalid_json,
                missing_field: self.missing_field,
            },
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct MessagingArgs {
    /// Which product: aura (Aura Messaging), cmm (CM Messaging) or mm (Modular Messaging).
    #[arg(long, value_parser = ["aura", "cmm", "mm"])]
    product: String,
    /// Address to listen on (LDAP, or LDAPS with --tls-cert).
    #[arg(long, default_value = "127.0.0.1:3389")]
    listen: SocketAddr,
    /// A bind DN and its password, BIND-DN:PASSWORD (repeatable); the DN may
    /// hold colons, the password not.
    #[arg(long = "login", value_name = "BIND-DN:PASSWORD", value_parser = parse_bind_login)]
    logins: Vec<(String, String)>,
    /// How many subscribers (mailboxes) to generate, at most 100000.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// The same seed gives the same subscribers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The directory is saved here after every change and loaded at start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// LDAPS: the server certificate (PEM, with its chain).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// LDAPS: the certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The directory's clock minus the real one, in seconds (its modifyTimestamp).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// Entries a search without the paged-results control returns at most.
    #[arg(long, default_value_t = 500)]
    size_limit: usize,
    /// What the root DSE reports as vendorVersion.
    #[arg(long = "version")]
    product_version: Option<String>,
    /// Fault: drop the connection after sending N search entries (per connection).
    #[arg(long, value_name = "N")]
    cut_after_records: Option<u64>,
    /// Fault: garble every N-th search entry (per connection).
    #[arg(long, value_name = "N")]
    garble_line: Option<u64>,
    /// Fault: stop answering after N search entries, keeping the connection open.
    #[arg(long, value_name = "N")]
    stall_after_records: Option<u64>,
    /// Fault: answer every bind with "busy".
    #[arg(long)]
    refuse_binds: bool,
}

fn parse_bind_login(s: &str) -> Result<(String, String), String> {
    match s.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), p.to_string())),
        _ => Err("expected BIND-DN:PASSWORD".into()),
    }
}

impl MessagingArgs {
    fn settings(self) -> Result<MessagingSettings, String> {
        let product: Product = self.product.parse()?;
        let mut s = MessagingSettings::new(product);
        if !self.logins.is_empty() {
            s.logins = self.logins;
        }
        if self.subscribers > messaging::MAX_SUBSCRIBERS {
            return Err(format!(
                "--subscribers: at most {}, not {}",
                messaging::MAX_SUBSCRIBERS,
                self.subscribers
            ));
        }
        s.subscribers = self.subscribers;
        s.seed = self.seed;
        s.state_file = self.state;
        s.tls = self.tls_cert.zip(self.tls_key);
        s.clock_offset_secs = self.clock_offset;
        s.size_limit = self.size_limit;
        if let Some(v) = self.product_version {
            s.version = v;
        }
        s.faults = messaging::Faults {
            cut_after_entries: self.cut_after_records,
            stall_after_entries: self.stall_after_records,
            garble_every: self.garble_line,
            refuse_binds: self.refuse_binds,
        };
        Ok(s)
    }
}

#[derive(Debug, Args)]
pub(crate) struct CmArgs {
    /// Address to listen on for SSH.
    #[arg(long, default_value = "127.0.0.1:5022")]
    listen: SocketAddr,
    /// The CM's node name.
    #[arg(long, default_value = "cm1")]
    name: String,
    /// A login and its password, NAME:PASSWORD (repeatable). Logins named
    /// tti-m, tti-s, psa-u, psa-a or psa-d act on stations as phones do.
    #[arg(long = "login", value_name = "NAME:PASSWORD", value_parser = parse_login)]
    logins: Vec<(String, String)>,
    /// The host key file (Ed25519; an ECDSA key is kept beside it as FILE.ecdsa),
    /// created when missing and reused after.
    #[arg(long, value_name = "FILE")]
    host_key: Option<PathBuf>,
    /// Concurrent SAT sessions; past it, "Login resources unavailable".
    #[arg(long, default_value_t = 8)]
    max_sessions: usize,
    /// Data profile.
    #[arg(long, default_value = "small", value_parser = ["empty", "small", "large"])]
    profile: String,
    /// Stations [default: the profile's].
    #[arg(long, value_name = "N")]
    stations: Option<usize>,
    /// Agents (agent-loginID) [default: the profile's].
    #[arg(long, value_name = "N")]
    agents: Option<usize>,
    /// Hunt groups [default: the profile's].
    #[arg(long, value_name = "N")]
    hunt_groups: Option<usize>,
    /// Vectors [default: the profile's].
    #[arg(long, value_name = "N")]
    vectors: Option<usize>,
    /// VDNs [default: the profile's].
    #[arg(long, value_name = "N")]
    vdns: Option<usize>,
    /// The count of any object type, TYPE=N (repeatable), e.g. coverage-path=50.
    #[arg(long = "count", value_name = "TYPE=N", value_parser = parse_count)]
    counts: Vec<(String, usize)>,
    /// The same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Translations are saved here by `save translation` and loaded at start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// A forms file to use instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    forms: Option<PathBuf>,
    /// The CM software version it reports.
    #[arg(long = "version", default_value = "R020x.01.0.974.0")]
    cm_version: String,
    /// Entries kept in the command history ring.
    #[arg(long, default_value_t = 2500)]
    history_capacity: usize,
    /// The CM's clock minus the real one, in seconds.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// How long each command takes; one session's commands run one after another.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fault: drop the connection mid-output after N records (per session).
    #[arg(long, value_name = "N")]
    cut_after_records: Option<u64>,
    /// Fault: garble every N-th output line (per session).
    #[arg(long, value_name = "N")]
    garble_line: Option<u64>,
    /// Fault: stop answering after N records, keeping the connection open.
    #[arg(long, value_name = "N")]
    stall_after_records: Option<u64>,
    /// Fault: drop the connection, without answering, once the N-th change
    /// (add, change, remove) of a session has been made.
    #[arg(long, value_name = "N")]
    cut_after_changes: Option<u64>,
    /// Send a notify event after each committed data command to
    /// udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT.
    #[arg(long, value_name = "URL")]
    notify_syslog: Option<String>,
    /// The CA that signed the tls:// listener's certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "notify_syslog")]
    notify_ca: Option<PathBuf>,
}

fn parse_login(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n.to_string(), p.to_string())),
        _ => Err("expected NAME:PASSWORD".into()),
    }
}

fn parse_count(s: &str) -> Result<(String, usize), String> {
    let (t, n) = s.split_once('=').ok_or("expected TYPE=N")?;
    Ok((
        t.to_string(),
        n.parse().map_err(|_| format!("'{n}' is not a count"))?,
    ))
}

impl CmArgs {
    fn settings(self) -> anyhow::Result<CmSettings> {
        let notify = self
            .notify_syslog
            .as_deref()
            .map(|url| NotifyTarget::parse(url, self.notify_ca.as_deref()))
            .transpose()?;
        let mut counts: BTreeMap<String, usize> = self.counts.into_iter().collect();
        for (t, n) in [
            ("station", self.stations),
            ("agent-loginID", self.agents),
            ("hunt-group", self.hunt_groups),
            ("vector", self.vectors),
            ("vdn", self.vdns),
        ] {
            if let Some(n) = n {
                counts.insert(t.to_string(), n);
            }
        }
        let logins = if self.logins.is_empty() {
            CmSettings::default().logins
        } else {
            self.logins
        };
        Ok(CmSettings {
            name: self.name,
            logins,
            host_key: self.host_key,
            max_sessions: self.max_sessions,
            profile: self.profile,
            counts,
            seed: self.seed,
            state_file: self.state,
            forms_file: self.forms,
            version: self.cm_version,
            history_capacity: self.history_capacity,
            clock_offset_secs: self.clock_offset,
            latency: Duration::from_millis(self.latency_ms),
            faults: Faults {
                cut_after_records: self.cut_after_records,
                stall_after_records: self.stall_after_records,
                garble_every: self.garble_line,
                cut_after_changes: self.cut_after_changes,
            },
            notify,
        })
    }
}

/// Binds the emulator's address: the one place an emulator listens from.
async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

/// Every emulator's life after it started: its banner on stdout (for
/// scripts; a reader that goes away must not bring the emulator down), then
/// serving until SIGINT or SIGTERM.
async fn serve_until_signal<F, E>(
    banner: &str,
    run: impl FnOnce(CancellationToken) -> F,
) -> Result<(), Exit>
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        ucsync::shutdown_signal().await;
        s.cancel();
    });
    run(stop)
        .await
        .map_err(|e| anyhow!("emulator stopped: {e:#}"))?;
    Ok(())
}

async fn run_ipo(args: IpoArgs) -> Result<(), Exit> {
    if args.users > ipo::MAX_USERS {
        return Err(bad_input(anyhow!(
            "--users: an IP Office carries at most {} users",
            ipo::MAX_USERS
        )));
    }
    let defaulted = args.logins.is_empty() && args.read_logins.is_empty();
    let listener = bind(args.listen).await?;
    let settings = args.settings();
    let emu = IpoEmulator::start(settings.clone(), listener).await?;
    let scheme = if settings.tls.is_some() {
        "HTTPS"
    } else {
        "HTTP"
    };
    let mut banner = format!(
        "IP Office emulator '{}' listening on {} ({scheme})\n",
        emu.name(),
        emu.addr()
    );
    if let Some(fp) = emu.certificate_fingerprint() {
        banner.push_str(&format!("certificate {fp}\n"));
    }
    banner.push_str(&logins_line("logins", &settings.logins, defaulted));
    if !settings.read_logins.is_empty() {
        let read: Vec<&str> = settings
            .read_logins
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        banner.push_str(&format!("read-only logins: {}\n", read.join(", ")));
    }
    banner.push_str(&objects_line(emu.counts().into_iter()));
    serve_until_signal(&banner, |stop| emu.run_until(stop)).await
}

/// The banner's line of object counts per type.
fn objects_line<T: std::fmt::Display>(counts: impl Iterator<Item = (T, usize)>) -> String {
    let objects: Vec<String> = counts.map(|(t, n)| format!("{t}={n}")).collect();
    format!("objects: {}\n", objects.join(" "))
}

/// The banner's line of logins. A password given on the command line is
/// the user's to know and is not echoed; a default one is printed, or
/// nobody could log in without reading the source.
fn logins_line(label: &str, logins: &[(String, String)], defaulted: bool) -> String {
    if defaulted {
        let pairs: Vec<String> = logins.iter().map(|(n, p)| format!("{n}:{p}")).collect();
        let form = if label == "bind DNs" {
            "BIND-DN:PASSWORD"
        } else {
            "NAME:PASSWORD"
        };
        format!(
            "{label}: {} (the default; --login {form} sets others)\n",
            pairs.join(", ")
        )
    } else {
        let names: Vec<&str> = logins.iter().map(|(n, _)| n.as_str()).collect();
        format!("{label}: {}\n", names.join(", "))
    }
}

async fn run_messaging(args: MessagingArgs) -> Result<(), Exit> {
    let defaulted = args.logins.is_empty();
    let listener = bind(args.listen).await?;
    let settings = args.settings().map_err(|e| bad_input(anyhow!(e)))?;
    let emu = MessagingEmulator::start(settings.clone(), listener)
        .await
        .map_err(bad_input)?;
    let layout = emu.layout();
    let mut banner = format!(
        "{} emulator listening on {} ({})\n",
        layout.label,
        emu.addr(),
        if settings.tls.is_some() {
            "LDAPS"
        } else {
            "LDAP"
        }
    );
    banner.push_str(&logins_line("bind DNs", &settings.logins, defaulted));
    banner.push_str(&format!(
        "subscribers: {} under {} (objectClass {})\n",
        emu.subscriber_count(),
        layout.base,
        layout.object_class
    ));
    serve_until_signal(&banner, |stop| emu.run_until(stop)).await
}

async fn run_cm(args: CmArgs) -> Result<(), Exit> {
    let defaulted = args.logins.is_empty();
    let listener = bind(args.listen).await?;
    let settings = args.settings().map_err(bad_input)?;
    let started = std::time::Instant::now();
    let emu = CmEmulator::start(settings.clone(), listener)
        .await
        .map_err(|e| {
            if e.to_string().contains("no object type") || e.to_string().contains("profile") {
                bad_input(e)
            } else {
                Exit::from(e)
            }
        })?;
    let counts = emu.cm().counts();
    let total: usize = counts.values().sum();
    tracing::info!(name = %emu.name(), objects = total, elapsed_ms = started.elapsed().as_millis() as u64, "data ready");
    let mut banner = format!(
        "CM emulator '{}' listening on {} (SSH)\n",
        emu.name(),
        emu.addr()
    );
    for (algorithm, fp) in emu.host_keys() {
        banner.push_str(&format!("host key {algorithm} {fp}\n"));
    }
    banner.push_str(&logins_line("logins", &settings.logins, defaulted));
    banner.push_str(&objects_line(
        counts.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (t, *n)),
    ));
    serve_until_signal(&banner, |stop| emu.run_until(stop)).await
}

pub(crate) async fn run(element: Element) -> Result<(), Exit> {
    match element {
        Element::IpOffice(args) => run_ipo(*args).await,
        Element::Messaging(args) => run_messaging(*args).await,
        Element::Cm(args) => run_cm(*args).await,
    }
}
