//! The service's settings, layered: defaults < TOML file < `UCSYNC_…`
//! environment < command-line flags. Secrets are not settings: the
//! installation key lives in `<data dir>/secret.key` or `UCSYNC_SECRET_KEY`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Where the data directory is when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "ucsync-data";

/// Every setting, for `serve --help`: a test checks that it names each one.
pub const SETTINGS_HELP: &str = "\
Settings: defaults < the TOML file (--config) < UCSYNC_<NAME> environment variables < flags.
  data_dir                  the data directory: database, secret.key, admin.token [ucsync-data]
  database_url              a postgres:// URL: several services share its database and job queue
  http_listen               the HTTP address [127.0.0.1:8080]
  http_tls_cert, http_tls_key
                            HTTPS with this certificate and key (PEM); off loopback without them
                            a self-signed certificate is made in the data directory
  insecure_http             serve plain HTTP off loopback all the same, warned at every start [false]
  http_max_connections      HTTP connections open at once, in total [512]
  http_max_connections_per_address
                            and from one client address [64]
  http_header_timeout_seconds
                            a request head must come within this of connecting or of the last answer [10]
  max_event_streams         event streams (/api/v1/events) open at once [100]
  time_zone                 the zone of schedules that name none [UTC]
  init_pool                 inits at once over every node sharing the database [8]
  sessions                  SAT sessions per CM during a sync [2]
  keep_connections          keep each element's connection open between jobs [true]
  delete_threshold_count    an init refuses when deletions of one type pass both this count [20]
  delete_threshold_percent  and this share of the stored objects [20]
  job_lease_seconds         after how long another node fails a dead node's job [30]
  node                      this node's name [kept in node.id]
  element_networks          CIDR blocks ucsync may reach elements in and take notify from [no limit]
  metrics_token             a secret good for GET /metrics alone (file or environment only)
  syslog_listen             notify sync, UDP and TCP [127.0.0.1:5514]
  syslog_tls_cert, syslog_tls_key, syslog_tls_client_ca
                            TLS instead of plain TCP for notify sync; client certificates optional
  syslog_rate_per_sender, syslog_burst_per_sender
                            notify messages per second per sender, and at once [1000, 2000]
  syslog_max_connections_per_address
                            notify TCP/TLS connections from one sender [16]
  syslog_first_message_seconds
                            a notify connection that sends nothing this long is closed [10]
  notify_init_min_interval
                            at most one notify-triggered init per CM this often, in seconds [600]
Not settings: UCSYNC_SECRET_KEY (the key of device passwords, instead of secret.key), UCSYNC_LOG.";

/// Every setting of `ucsync serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Holds the embedded database, `secret.key`, `admin.token` and `node.id`.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL selects PostgreSQL instead of the embedded SQLite.
    pub database_url: Option<String>,
    pub http_listen: SocketAddr,
    /// HTTPS: the certificate chain and its private key (PEM); see `serve/https.rs`.
    pub http_tls_cert: Option<PathBuf>,
    pub http_tls_key: Option<PathBuf>,
    /// Serve plain HTTP off loopback all the same (warned at every start).
    pub insecure_http: bool,
    pub syslog_listen: SocketAddr,
    pub syslog_tls_cert: Option<PathBuf>,
    pub syslog_tls_key: Option<PathBuf>,
    pub syslog_tls_client_ca: Option<PathBuf>,
    /// Notify-sync messages each sender (source address) may send per
    /// second, on average, and at once; past them its messages are dropped.
    pub syslog_rate_per_sender: u32,
    pub syslog_burst_per_sender: u32,
    /// Syslog TCP/TLS connections from one sender address at once, and how
    /// long one may stay silent after opening before it is closed.
    pub syslog_max_connections_per_address: usize,
    pub syslog_first_message_seconds: u64,
    /// At most one init queued by notify sync per CM this often, in seconds.
    pub notify_init_min_interval: u64,
    /// The zone of schedules that name none, and of default schedules.
    pub time_zone: String,
    /// Inits running at once over every node sharing the database.
    pub init_pool: usize,
    /// SAT sessions per CM during a sync.
    pub sessions: usize,
    /// Keep each element's connection open between jobs.
    pub keep_connections: bool,
    /// Discrepancy check: an init refuses when deletions of one type pass
    /// both this count and this percentage of the stored objects.
    pub delete_threshold_count: u64,
    pub delete_threshold_percent: f64,
    /// This node's name in the job queue (default: kept in `node.id`).
    pub node: Option<String>,
    /// How long a running job's lease lasts: when a node dies, another
    /// fails its jobs as interrupted this long after its last renewal.
    pub job_lease_seconds: u64,
    /// The networks (CIDR blocks) ucsync may connect to elements in, and
    /// take notify-sync messages from; empty: no limit.
    pub element_networks: ucsync_core::ElementNetworks,
    /// A secret `GET /metrics` takes besides any API token, and nothing
    /// else does: for a Prometheus server (TOML or UCSYNC_METRICS_TOKEN,
    /// never a flag, which `ps` would show).
    pub metrics_token: Option<ucsync_api::auth::MetricsToken>,
    /// HTTP connections open at once, in total and from one client address;
    /// past them new ones are closed.
    pub http_max_connections: usize,
    pub http_max_connections_per_address: usize,
    /// A client must send a request head within this long of connecting and
    /// of its previous response, or its connection is closed.
    pub http_header_timeout_seconds: u64,
    /// Event streams (`GET /api/v1/events`) open at once.
    pub max_event_streams: usize,
}

impl Default for Settings {
    fn default() -> Self {
        let thresholds = ucsync_core::Thresholds::default();
        Settings {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            http_listen: "127.0.0.1:8080".parse().expect("address"),
            http_tls_cert: None,
            http_tls_key: None,
            insecure_http: false,
            syslog_listen: "127.0.0.1:5514".parse().expect("address"),
            syslog_tls_cert: None,
            syslog_tls_key: None,
            syslog_tls_client_ca: None,
            syslog_rate_per_sender: 1000,
            syslog_burst_per_sender: 2000,
            syslog_max_connections_per_address: 16,
            syslog_first_message_seconds: 10,
            notify_init_min_interval: 600,
            time_zone: "UTC".into(),
            init_pool: 8,
            sessions: 2,
            keep_connections: true,
            delete_threshold_count: thresholds.min_deletions,
            delete_threshold_percent: thresholds.max_percent,
            node: None,
            job_lease_seconds: 30,
            element_networks: ucsync_core::ElementNetworks::default(),
            metrics_token: None,
            http_max_connections: 512,
            http_max_connections_per_address: 64,
            http_header_timeout_seconds: 10,
            max_event_streams: 100,
        }
    }
}

/// Settings given as flags; only those given override the layers below.
#[derive(Debug, Clone, Default, Serialize, clap::Args)]
pub struct Flags {
    /// The TOML settings file.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The data directory [default: ./ucsync-data].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://…): several services may share it.
    #[arg(long = "database", value_name = "URL")]
    #[serde(rename = "database_url", skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// The HTTP address [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM); re-read on SIGHUP and when it changes.
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_tls_cert: Option<PathBuf>,
    /// The private key of the HTTPS certificate (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback instead of HTTPS
    /// with a self-signed certificate (tokens then cross the network in clear).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
    /// The notify-sync syslog address, UDP and TCP [default: 127.0.0.1:5514].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog_listen: Option<SocketAddr>,
    /// Serve syslog over TLS on the TCP port with this certificate (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog_tls_cert: Option<PathBuf>,
    /// The private key of the syslog TLS certificate (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog_tls_key: Option<PathBuf>,
    /// Require syslog TLS clients to present a certificate signed by this CA (PEM).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog_tls_client_ca: Option<PathBuf>,
    /// The time zone of schedules [default: UTC].
    #[arg(long, value_name = "ZONE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Inits running at once [default: 8].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_pool: Option<usize>,
    /// Connect to elements (and take notify-sync messages) only in these
    /// networks: CIDR blocks separated by commas, e.g.
    /// 10.20.0.0/16,2001:db8::/32 [default: no limit].
    #[arg(long, value_name = "CIDR,…", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_networks: Option<Vec<String>>,
}

/// The environment variables that are not settings (secrets, the client's).
const NOT_SETTINGS: &[&str] = &[
    "SECRET_KEY",
    "ELEMENT_PASSWORD",
    "TOKEN",
    "SERVER",
    "SERVER_CA_FILE",
    "SERVER_FINGERPRINT",
    "CM_PASSWORD",
    "LOG",
    "TEST_DATABASE_URL",
];

impl Settings {
    /// Layers the settings; `env` is the process environment (injected for tests).
    pub fn load(
        flags: &Flags,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = &flags.config {
            if !file.exists() {
                bail!("the settings file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("UCSYNC_")?.to_ascii_lowercase(), v)))
            .filter(|(k, _)| !NOT_SETTINGS.iter().any(|n| n.eq_ignore_ascii_case(k)))
            .collect();
        for (k, v) in &env {
            // A secret is text even when it looks like a number.
            let value = if k == "metrics_token" {
                figment::value::Value::from(v.clone())
            } else {
                parse_env_value(v)
            };
            figment = figment.merge(Serialized::default(k, value));
        }
        figment = figment.merge(Serialized::defaults(flags));
        let s: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| !t.is_long_enough())
        {
            bail!(
                "metrics_token must be at least {} characters: make one with `openssl rand -base64 32`",
                ucsync_api::auth::MetricsToken::MIN_LEN
            );
        }
        if self.init_pool == 0 {
            bail!("init_pool must be at least 1");
        }
        if self.sessions == 0 {
            bail!("sessions must be at least 1");
        }
        if !(3..=3600).contains(&self.job_lease_seconds) {
            bail!("job_lease_seconds must be between 3 and 3600");
        }
        if !(0.0..=100.0).contains(&self.delete_threshold_percent) {
            bail!("delete_threshold_percent must be between 0 and 100");
        }
        ucsync_schedule::parse_time_zone(&self.time_zone)
            .with_context(|| format!("time_zone '{}'", self.time_zone))?;
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("database_url must be a postgres:// URL");
            }
        }
        if self.syslog_rate_per_sender == 0 || self.syslog_burst_per_sender == 0 {
            bail!("syslog_rate_per_sender and syslog_burst_per_sender must be at least 1");
        }
        if self.http_tls_cert.is_some() != self.http_tls_key.is_some() {
            bail!("HTTPS needs both http_tls_cert and http_tls_key");
        }
        if self.syslog_tls_client_ca.is_some() && self.syslog_tls_cert.is_none() {
            bail!("syslog_tls_client_ca needs syslog_tls_cert and syslog_tls_key");
        }
        if self.syslog_tls_cert.is_some() != self.syslog_tls_key.is_some() {
            bail!("syslog TLS needs both syslog_tls_cert and syslog_tls_key");
        }
        if self.syslog_max_connections_per_address == 0
            || !(1..=3600).contains(&self.syslog_first_message_seconds)
        {
            bail!(
                "syslog_max_connections_per_address must be at least 1, syslog_first_message_seconds between 1 and 3600"
            );
        }
        if self.http_max_connections == 0 || self.http_max_connections_per_address == 0 {
            bail!("http_max_connections and http_max_connections_per_address must be at least 1");
        }
        if !(1..=3600).contains(&self.http_header_timeout_seconds) {
            bail!("http_header_timeout_seconds must be between 1 and 3600");
        }
        Ok(())
    }

    /// The HTTP connection limits.
    pub fn conn_limits(&self) -> super::limits::ConnLimits {
        super::limits::ConnLimits {
            total: self.http_max_connections,
            per_address: self.http_max_connections_per_address,
            header_timeout: std::time::Duration::from_secs(self.http_header_timeout_seconds),
        }
    }

    pub fn data_path(&self, file: &str) -> PathBuf {
        self.data_dir.join(file)
    }
}

/// An environment value as TOML would read it, so `UCSYNC_INIT_POOL=4` is a
/// number and `UCSYNC_KEEP_CONNECTIONS=false` a boolean; anything else is text.
fn parse_env_value(v: &str) -> figment::value::Value {
    use figment::value::Value;
    if let Ok(b) = v.parse::<bool>() {
        Value::from(b)
    } else if let Ok(n) = v.parse::<i64>() {
        Value::from(n)
    } else if let Ok(x) = v.parse::<f64>() {
        Value::from(x)
    } else {
        Value::from(v.to_string())
    }
}

/// The data directory a client or `serve` uses when given none.
pub fn data_dir_from_env(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("UCSYNC_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_with_nothing_given() {
        let s = Settings::load(&Flags::default(), env(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("ucsync-data"));
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ucsync.toml");
        std::fs::write(
            &file,
            "http_listen = \"127.0.0.1:9000\"\ninit_pool = 3\ntime_zone = \"Europe/Berlin\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            ..Default::default()
        };
        let s = Settings::load(&flags, env(&[])).unwrap();
        assert_eq!((s.http_listen.port(), s.init_pool), (9000, 3));

        let e = env(&[
            ("UCSYNC_INIT_POOL", "5"),
            ("UCSYNC_DATABASE_URL", "postgres://db/x"),
            ("UCSYNC_TOKEN", "not a setting"),
            ("UCSYNC_SECRET_KEY", "not a setting either"),
            ("UCSYNC_SERVER_CA_FILE", "the client's"),
            ("UCSYNC_HTTP_TLS_CERT", "api.pem"),
            ("UCSYNC_HTTP_TLS_KEY", "api.key"),
            ("PATH", "/bin"),
        ]);
        let s = Settings::load(&flags, e.clone()).unwrap();
        assert_eq!(s.init_pool, 5);
        assert_eq!(s.database_url.as_deref(), Some("postgres://db/x"));
        assert_eq!(s.time_zone, "Europe/Berlin", "the file still counts");
        assert_eq!(s.http_tls_cert, Some(PathBuf::from("api.pem")));

        let flags = Flags {
            init_pool: Some(7),
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..flags
        };
        let s = Settings::load(&flags, e).unwrap();
        assert_eq!((s.init_pool, s.http_listen.port()), (7, 0));
    }

    #[test]
    fn the_metrics_token_comes_from_the_file_or_the_environment_and_never_prints() {
        let s = Settings::load(
            &Flags::default(),
            env(&[("UCSYNC_METRICS_TOKEN", "12345678901234567890")]),
        )
        .unwrap();
        let token = s.metrics_token.clone().expect("the token");
        assert_eq!(
            token,
            ucsync_api::auth::MetricsToken::new("12345678901234567890")
        );
        assert!(!format!("{s:?}").contains("1234567890"), "{s:?}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ucsync.toml");
        std::fs::write(&file, "metrics_token = \"short\"\n").unwrap();
        let flags = Flags {
            config: Some(file),
            ..Default::default()
        };
        let e = Settings::load(&flags, env(&[])).unwrap_err().to_string();
        assert!(
            e.starts_with("metrics_token must be at least 16 characters"),
            "{e}"
        );
    }

    #[test]
    fn serve_help_names_every_setting_with_its_default() {
        let defaults = serde_json::to_value(Settings::default()).unwrap();
        for (key, value) in defaults.as_object().unwrap() {
            assert!(SETTINGS_HELP.contains(key.as_str()), "{key} missing");
            let line = SETTINGS_HELP
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{key} ")));
            let shown = match value {
                serde_json::Value::Number(n) => n.as_f64().map(|f| format!("[{f}]")),
                serde_json::Value::Bool(b) => Some(format!("[{b}]")),
                serde_json::Value::String(s) => Some(format!("[{s}]")),
                _ => None,
            };
            if let (Some(line), Some(shown)) = (line, shown) {
                assert!(line.ends_with(&shown), "{key}: {line:?} should end {shown}");
            }
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        for (text, needle) in [
            ("init_pool = 0", "init_pool"),
            ("time_zone = \"Mars/Olympus\"", "time_zone"),
            ("http_listen = \"nowhere\"", "http_listen"),
            ("no_such_setting = 1", "no_such_setting"),
            ("database_url = \"mysql://x\"", "database_url"),
            ("element_networks = [\"127.0.0.0/33\"]", "127.0.0.0/33"),
            ("http_tls_cert = \"api.pem\"", "http_tls_key"),
        ] {
            std::fs::write(&file, text).unwrap();
            let flags = Flags {
                config: Some(file.clone()),
                ..Default::default()
            };
            let err = Settings::load(&flags, env(&[])).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
        let missing = Flags {
            config: Some(dir.path().join("missing.toml")),
            ..Default::default()
        };
        assert!(Settings::load(&missing, env(&[])).is_err());
        let err =
            Settings::load(&Flags::default(), env(&[("UCSYNC_INIT_POOL", "many")])).unwrap_err();
        assert!(format!("{err:#}").contains("init_pool"), "{err:#}");
    }

    #[test]
    fn element_networks_from_the_file_the_environment_and_the_flag() {
        let loopback = ucsync_core::ElementNetworks::parse(["127.0.0.0/8", "::1/128"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ucsync.toml");
        std::fs::write(&file, "element_networks = [\"127.0.0.0/8\", \"::1/128\"]\n").unwrap();
        let from_file = Flags {
            config: Some(file),
            ..Default::default()
        };
        let s = Settings::load(&from_file, env(&[])).unwrap();
        assert_eq!(s.element_networks, loopback);

        let e = env(&[("UCSYNC_ELEMENT_NETWORKS", "127.0.0.0/8, ::1/128")]);
        let s = Settings::load(&Flags::default(), e).unwrap();
        assert_eq!(s.element_networks, loopback);

        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            flags: Flags,
        }
        let given = ["serve", "--element-networks", "127.0.0.0/8,::1/128"];
        let flags = <Serve as clap::Parser>::try_parse_from(given)
            .unwrap()
            .flags;
        let s = Settings::load(&flags, env(&[])).unwrap();
        assert_eq!(s.element_networks, loopback);
        assert!(Settings::default().element_networks.is_unlimited());
    }
}
