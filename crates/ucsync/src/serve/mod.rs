//! `ucsync serve`: the System Manager service — the store, the job runner,
//! the scheduler, job retention and the REST API, started from layered
//! settings and stopped cleanly (running jobs end at a safe point, marked
//! stopped).

pub mod alarms;
pub mod datadir;
pub mod https;
pub mod limits;
pub mod recovery;
pub mod settings;
pub mod syslog;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::{Role, SecretKey, Thresholds};
use ucsync_engine::connectors::{self, ConnectorOptions};
use ucsync_engine::{
    Retention, RetentionSettings, Runner, RunnerSettings, Scheduler, SyncEngine, SyncSettings,
};
use ucsync_store::{PgStore, SqliteStore, Store};

pub use settings::{ServeArgs, Settings};

/// The installation key: `UCSYNC_SECRET_KEY` (hex), or `<data dir>/secret.key`,
/// made at the first start with mode 0600.
pub fn secret_key(data_dir: &Path, from_env: Option<String>) -> anyhow::Result<SecretKey> {
    if let Some(hex) = from_env {
        return SecretKey::from_hex(hex.trim()).context("UCSYNC_SECRET_KEY");
    }
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::from_hex(text.trim()).with_context(|| path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_private(&path, &key.to_hex())?;
            tracing::info!(path = %path.display(), "created the installation key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes a file only its owner may read (a key, a token).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// This node's name in the job queue, kept in `<data dir>/node.id` so that a
/// restarted service recognizes the jobs it was running.
fn node_name(settings: &Settings) -> anyhow::Result<String> {
    if let Some(n) = &settings.node {
        return Ok(n.clone());
    }
    let path = settings.data_path("node.id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if !text.trim().is_empty() {
            return Ok(text.trim().to_string());
        }
    }
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    let name = format!("{host}-{}", &SecretKey::generate().to_hex()[..8]);
    write_private(&path, &name)?;
    Ok(name)
}

/// The database the settings name: PostgreSQL, or the embedded one in the
/// data directory.
pub async fn open_store(settings: &Settings, secret: &SecretKey) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &settings.database_url {
        Some(url) => Arc::new(
            PgStore::connect(url, secret.clone())
                .await
                .context("cannot open the PostgreSQL database")?,
        ),
        None => {
            let path = settings.data_path("ucsync.db");
            datadir::private_file(&path)?;
            Arc::new(
                SqliteStore::open(&path, secret.clone())
                    .await
                    .with_context(|| format!("cannot open {}", path.display()))?,
            )
        }
    })
}

/// A running service.
pub struct Service {
    pub http_addr: SocketAddr,
    /// The notify-sync syslog address (UDP and TCP or TLS).
    pub syslog_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the first admin token was written, when this start made it.
    pub admin_token_file: PathBuf,
    /// Where the console's first `admin` user's password was written, when
    /// this start made it.
    pub admin_password_file: PathBuf,
    /// HTTPS, when the API is served over TLS.
    pub https: Option<Https>,
    pub runner: Runner,
    shutdown: CancellationToken,
    /// The runner, the scheduler, job retention and notify sync.
    engine_tasks: TaskTracker,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Held while the service runs: one service per data directory.
    _data_lock: datadir::DataDirLock,
    /// This service's node in the database (on a shared one, its name is
    /// held).
    joined: JoinedNode,
}

/// A node name held in a shared database, given up when the service stops.
struct JoinedNode {
    store: Arc<dyn Store>,
    node: String,
}

/// On a shared database, takes the node name, unless a service under it is
/// alive there: its heartbeat, renewed with its job leases, has not run
/// out. Two services under one name would fail each other's running jobs
/// as interrupted.
async fn join_node(
    store: Arc<dyn Store>,
    node: &str,
    lease_seconds: u64,
) -> anyhow::Result<JoinedNode> {
    let now = chrono::Utc::now();
    let lease = chrono::Duration::seconds(i64::try_from(lease_seconds).unwrap_or(i64::MAX / 2_000));
    if let Some(holder) = store
        .join_node(node, &datadir::this_process(), now, now + lease)
        .await?
    {
        anyhow::bail!(
            "node '{node}' is alive on this database ({holder}): give this service a node name of its own (the `node` setting, or UCSYNC_NODE), or stop the other one; the name of a node that died is free once its job lease ({lease_seconds} s) has run out"
        );
    }
    Ok(JoinedNode {
        store,
        node: node.to_string(),
    })
}

/// How the API is served over TLS.
#[derive(Debug, Clone)]
pub struct Https {
    /// The SHA-256 fingerprint of the certificate presented at the start.
    pub fingerprint: String,
    /// The self-signed certificate in the data directory, when it is the
    /// one served, and whether this start made it.
    pub self_signed: Option<(PathBuf, bool)>,
}

impl Service {
    /// The URL of the API's root (`http://…/` or `https://…/`).
    pub fn url(&self) -> String {
        let scheme = if self.https.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/", self.http_addr)
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// Where a service listens, bound before it starts (port 0 in tests).
#[derive(Debug)]
pub struct Listeners {
    pub http: TcpListener,
    /// Notify sync: UDP and TCP on one port.
    pub syslog: syslog::Sockets,
}

impl Listeners {
    /// Binds the addresses the settings name.
    pub async fn bind(settings: &Settings) -> anyhow::Result<Listeners> {
        let http = TcpListener::bind(settings.http_listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http_listen))?;
        let syslog = syslog::Sockets::bind(settings.syslog_listen).await?;
        Ok(Listeners { http, syslog })
    }

    /// Free ports on 127.0.0.1, for the demo and tests.
    pub async fn loopback() -> anyhow::Result<Listeners> {
        let any = "127.0.0.1:0".parse().expect("an address");
        Ok(Listeners {
            http: TcpListener::bind(any).await?,
            syslog: syslog::Sockets::bind(any).await?,
        })
    }
}

impl Service {
    /// Opens the store, starts the runner, the scheduler, the notify-sync
    /// listener and the API on the bound `listeners`, until
    /// [`Service::stop`] or `shutdown` is cancelled.
    pub async fn start(
        settings: Settings,
        listeners: Listeners,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Service> {
        let http_addr = listeners.http.local_addr()?;
        let mode = https::decide(
            http_addr,
            settings.http_tls_cert.is_some(),
            settings.insecure_http,
        )
        .map_err(anyhow::Error::msg)?;
        datadir::prepare(&settings.data_dir)?;
        let data_lock = datadir::lock(&settings.data_dir)?;
        // Before anything starts: a certificate that does not load stops here.
        let (certs, https) = serve_certificate(&settings, http_addr, mode)?;
        let secret = secret_key(&settings.data_dir, std::env::var("UCSYNC_SECRET_KEY").ok())?;
        let store = open_store(&settings, &secret).await?;
        let zone = ucsync_schedule::parse_time_zone(&settings.time_zone)?;
        let engine = SyncEngine::new(
            store.clone(),
            secret,
            SyncSettings {
                thresholds: Thresholds {
                    min_deletions: settings.delete_threshold_count,
                    max_percent: settings.delete_threshold_percent,
                },
                ..SyncSettings::default()
            },
        );
        let node = node_name(&settings)?;
        let joined = match settings.database_url {
            Some(_) => join_node(store.clone(), &node, settings.job_lease_seconds).await?,
            // The data directory's lock is the embedded database's.
            None => JoinedNode {
                store: store.clone(),
                node: node.clone(),
            },
        };
        let catalogs = settings.catalogs()?;
        if let Some(file) = &catalogs.cm.site_file {
            tracing::info!(%file, "the CM catalogue is the built-in one with the site's file applied");
        }
        let engine_tasks = TaskTracker::new();
        let runner = Runner::start(
            engine,
            connectors::factory(ConnectorOptions {
                sessions: settings.sessions,
                catalogs,
                ..ConnectorOptions::new(settings.element_networks.clone())
            }),
            RunnerSettings {
                init_pool: settings.init_pool,
                keep_connections: settings.keep_connections,
                node: node.clone(),
                time_zone: zone,
                lease: Duration::from_secs(settings.job_lease_seconds),
                ..RunnerSettings::default()
            },
            shutdown.child_token(),
            &engine_tasks,
        );
        alarms::start(
            &settings,
            &runner,
            &node,
            shutdown.child_token(),
            &engine_tasks,
        )?;
        let admin_token_file = settings.data_path("admin.token");
        first_admin_token(store.as_ref(), &admin_token_file).await?;
        let admin_password_file = settings.data_path(ADMIN_PASSWORD_FILE);
        first_admin_user(store.as_ref(), &admin_password_file).await?;

        let notifier = ucsync_engine::notify::Notifier::start(
            runner.notify_handles(),
            ucsync_engine::notify::NotifySettings {
                init_min_interval: Duration::from_secs(settings.notify_init_min_interval),
                ..ucsync_engine::notify::NotifySettings::default()
            },
            shutdown.child_token(),
            &engine_tasks,
        );
        let syslog = syslog::start(
            listeners.syslog,
            syslog::ListenerSettings {
                tls: settings
                    .syslog_tls_cert
                    .clone()
                    .map(|cert| syslog::TlsFiles {
                        cert,
                        key: settings.syslog_tls_key.clone().unwrap_or_default(),
                        client_ca: settings.syslog_tls_client_ca.clone(),
                    }),
                rate: f64::from(settings.syslog_rate_per_sender),
                burst: f64::from(settings.syslog_burst_per_sender),
                max_connections_per_address: settings.syslog_max_connections_per_address,
                first_message: Duration::from_secs(settings.syslog_first_message_seconds),
                networks: settings.element_networks.clone(),
                ..syslog::ListenerSettings::default()
            },
            notifier,
            shutdown.child_token(),
        )?;
        let syslog_addr = syslog.addr;
        Scheduler::new(
            runner.queue().clone(),
            runner.engine().clock().clone(),
            zone,
        )
        .start(shutdown.child_token(), &engine_tasks);
        Retention::new(
            store.clone(),
            runner.engine().clock().clone(),
            RetentionSettings {
                days: settings.job_retention_days,
                ..RetentionSettings::default()
            },
            runner.retention_stats().clone(),
        )
        .start(shutdown.child_token(), &engine_tasks);
        let mut tasks = syslog.tasks;

        let listener = listeners.http;
        // What `GET /nodes` shows of this node.
        let lease = chrono::Duration::seconds(
            i64::try_from(settings.job_lease_seconds).unwrap_or(i64::MAX / 2_000),
        );
        store
            .describe_node(
                &node,
                &ucsync_store::NodeInfo {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    http: http_addr.to_string(),
                    syslog: syslog_addr.to_string(),
                },
                chrono::Utc::now() + lease,
            )
            .await?;
        let stop = shutdown.child_token();
        // Open event streams end with the same token, or they would hold
        // the graceful shutdown open.
        let app = ucsync_api::router(
            ucsync_api::ApiState::new(
                runner.clone(),
                ucsync_api::ApiSettings {
                    default_time_zone: zone,
                    element_networks: settings.element_networks.clone(),
                    metrics_token: settings.metrics_token.clone(),
                    https: https.is_some(),
                    max_event_streams: settings.max_event_streams,
                    session_idle: Duration::from_secs(settings.console_idle_minutes * 60),
                    service_settings: settings.shown(),
                    webhooks: settings.webhooks.iter().map(|w| w.name.clone()).collect(),
                    ..ucsync_api::ApiSettings::default()
                },
            )
            .with_shutdown(stop.clone()),
        );
        let gate = limits::Gate::new(settings.conn_limits());
        let tls = match certs {
            Some(certs) => {
                tasks.push(tokio::spawn(certs.clone().watch(stop.clone())));
                Some(certs.acceptor()?)
            }
            None => None,
        };
        tasks.push(tokio::spawn(limits::serve(listener, app, gate, tls, stop)));
        tracing::info!(%http_addr, %syslog_addr, data_dir = %settings.data_dir.display(), "ucsync is serving");
        Ok(Service {
            http_addr,
            syslog_addr,
            data_dir: settings.data_dir.clone(),
            admin_token_file,
            admin_password_file,
            https,
            runner,
            shutdown,
            engine_tasks,
            tasks,
            _data_lock: data_lock,
            joined,
        })
    }

    /// Stops taking requests, stops running jobs at a safe point, and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        // Running jobs end at their next safe point.
        self.engine_tasks.close();
        self.engine_tasks.wait().await;
        let j = &self.joined;
        if let Err(e) = j.store.leave_node(&j.node).await {
            tracing::warn!(node = %j.node, error = %e, "cannot give up the node name");
        }
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .is_err()
            {
                tracing::warn!("a service task did not stop in time");
            }
        }
    }
}

/// The certificate to serve as `mode` says: the given one, or the data
/// directory's self-signed one (made at the first start, said with its
/// fingerprint); none for plain HTTP, warned about off loopback.
fn serve_certificate(
    settings: &Settings,
    listen: SocketAddr,
    mode: https::HttpMode,
) -> anyhow::Result<(Option<Arc<https::CertStore>>, Option<Https>)> {
    let (cert, key, self_signed) = match mode {
        https::HttpMode::Plain => return Ok((None, None)),
        https::HttpMode::Insecure => {
            tracing::warn!(
                %listen,
                "serving plain HTTP off loopback (insecure_http): API tokens cross the network in clear; give http_tls_cert and http_tls_key, or drop insecure_http for a self-signed certificate"
            );
            return Ok((None, None));
        }
        https::HttpMode::Given => (
            settings.http_tls_cert.clone().unwrap_or_default(),
            settings.http_tls_key.clone().unwrap_or_default(),
            None,
        ),
        https::HttpMode::SelfSigned => {
            let names = https::host_names(listen);
            let (cert, key, made) = https::self_signed(&settings.data_dir, &names)?;
            (cert.clone(), key, Some((cert, made)))
        }
    };
    let certs = https::CertStore::load(&cert, &key)?;
    let fingerprint = certs.fingerprint();
    match &self_signed {
        Some((path, true)) => tracing::warn!(
            cert = %path.display(), %fingerprint,
            "no http_tls_cert for an address off loopback: made a self-signed certificate; clients trust it with --server-ca-file or --server-fingerprint, or give http_tls_cert and http_tls_key"
        ),
        Some((path, false)) => {
            tracing::info!(cert = %path.display(), %fingerprint, "serving HTTPS with the self-signed certificate")
        }
        None => tracing::info!(cert = %cert.display(), %fingerprint, "serving HTTPS"),
    }
    Ok((
        Some(certs),
        Some(Https {
            fingerprint,
            self_signed,
        }),
    ))
}

/// At the first start (no token at all), an admin token is made and written
/// to `<data dir>/admin.token` for the administrator and the CLI.
async fn first_admin_token(store: &dyn Store, path: &Path) -> anyhow::Result<()> {
    if !store.tokens().await?.is_empty() {
        return Ok(());
    }
    let (_, secret) = ucsync_api::create_token(store, "admin", Role::Admin).await?;
    write_private(path, &secret)?;
    tracing::info!(path = %path.display(), "created the admin token");
    Ok(())
}

/// The console's first user, made at the first start.
pub const FIRST_USER: &str = "admin";
/// Where, in the data directory, the first user's password is written.
pub const ADMIN_PASSWORD_FILE: &str = "admin.password";

/// At the first start (no user at all), the console's user `admin` is made
/// with a random password, written to `<data dir>/admin.password` — first,
/// so that a password nobody could read is never stored. The log says
/// where, never the password.
async fn first_admin_user(store: &dyn Store, path: &Path) -> anyhow::Result<()> {
    if !store.users().await?.is_empty() {
        return Ok(());
    }
    let password = ucsync_core::Password::new(ucsync_api::password::random());
    write_private(path, password.expose())?;
    let hash = tokio::task::spawn_blocking(move || ucsync_api::password::hash(password.expose()))
        .await
        .context("cannot hash the admin user's password")?;
    match store.add_user(FIRST_USER, Role::Admin, &hash).await {
        Ok(_) => {
            tracing::info!(path = %path.display(), user = FIRST_USER, "created the console's admin user: its password is in the file");
            Ok(())
        }
        // Another node of a shared database made it first; its own data
        // directory has the password.
        Err(ucsync_store::StoreError::UserExists(_)) => {
            std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `ucsync serve`: runs until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    run_with(Settings::load(&args, std::env::vars())?).await
}

/// [`run`] with settings already loaded, so a caller can tell a bad
/// setting (the user's input) from a service that failed.
pub async fn run_with(settings: Settings) -> anyhow::Result<()> {
    let tls = settings.syslog_tls_cert.is_some();
    let listeners = Listeners::bind(&settings).await?;
    let service = Service::start(settings, listeners, CancellationToken::new()).await?;
    let certificate = match &service.https {
        Some(h) => format!("certificate {}, ", h.fingerprint),
        None => String::new(),
    };
    eprintln!(
        "ucsync is serving on {} ({certificate}admin token in {})",
        service.url(),
        service.admin_token_file.display()
    );
    eprintln!(
        "notify-sync syslog on {} (UDP and {})",
        service.syslog_addr,
        if tls { "TLS" } else { "TCP" }
    );
    if service.admin_password_file.exists() {
        eprintln!(
            "web console on {}: user {FIRST_USER}, password in {}",
            service.url(),
            service.admin_password_file.display()
        );
    }
    crate::shutdown_signal().await;
    tracing::info!("stopping: running jobs end at their next safe point");
    service.stop().await;
    Ok(())
}
