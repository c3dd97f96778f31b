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

/// What `serve --help` says after the flags: how the layers stack, and the
/// one setting that is never a flag.
pub const SETTINGS_HELP: &str = "\
Settings: defaults < the TOML file (--config) < UCSYNC_<NAME> environment variables < flags.
Every flag above is also a setting of the file and of the environment under its name with
underscores: --init-pool is init_pool in the file and UCSYNC_INIT_POOL in the environment
(--database is database_url).
  metrics_token             a secret good for GET /metrics alone (file or environment only,
                            never a flag, which ps would show)
  [[webhooks]]              name, url, secret (at least 16 characters) and ca_file of each
                            webhook alarms are POSTed to (the file only)
Not settings: UCSYNC_SECRET_KEY (the key of device passwords, instead of secret.key), UCSYNC_LOG.";

/// Every setting of `ucsync serve`, declared once: its flag, its key in the
/// settings file and the environment, its default and its help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The data directory: the embedded database, secret.key, admin.token, node.id.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) instead of the embedded SQLite: several
    /// services share its database and job queue. TLS as libpq reads the URL:
    /// ?sslmode=verify-full&sslrootcert=FILE (or require, verify-ca).
    #[arg(long = "database", value_name = "URL")]
    pub database_url: Option<String>,
    /// The HTTP address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http_listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM); re-read on SIGHUP and
    /// when it changes. Off loopback without it, a self-signed certificate is
    /// made in the data directory.
    #[arg(long, value_name = "FILE")]
    pub http_tls_cert: Option<PathBuf>,
    /// The private key of the HTTPS certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub http_tls_key: Option<PathBuf>,
    /// Serve plain HTTP off loopback all the same, instead of HTTPS with a
    /// self-signed certificate (tokens then cross the network in clear;
    /// warned at every start).
    #[arg(long)]
    pub insecure_http: bool,
    /// The notify-sync syslog address, UDP and TCP.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5514")]
    pub syslog_listen: SocketAddr,
    /// Serve syslog over TLS on the TCP port with this certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub syslog_tls_cert: Option<PathBuf>,
    /// The private key of the syslog TLS certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub syslog_tls_key: Option<PathBuf>,
    /// Require syslog TLS clients to present a certificate signed by this CA (PEM).
    #[arg(long, value_name = "FILE")]
    pub syslog_tls_client_ca: Option<PathBuf>,
    /// Notify-sync messages each sender (source address) may send per
    /// second, on average; past it its messages are dropped.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub syslog_rate_per_sender: u32,
    /// And at once.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub syslog_burst_per_sender: u32,
    /// Notify TCP/TLS connections from one sender address at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub syslog_max_connections_per_address: usize,
    /// A notify connection that sends nothing this long after opening is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub syslog_first_message_seconds: u64,
    /// At most one init queued by notify sync per CM this often.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub notify_init_min_interval: u64,
    /// The zone of schedules that name none, and of default schedules.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub time_zone: String,
    /// Inits running at once over every node sharing the database.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub init_pool: usize,
    /// SAT sessions per CM during a sync.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub sessions: usize,
    /// Keep each element's connection open between jobs.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_connections: bool,
    /// Discrepancy check: an init refuses when deletions of one type pass
    /// both this count…
    #[arg(long, value_name = "N", default_value_t = ucsync_core::Thresholds::default().min_deletions)]
    pub delete_threshold_count: u64,
    /// …and this percentage of the stored objects.
    #[arg(long, value_name = "PERCENT", default_value_t = ucsync_core::Thresholds::default().max_percent)]
    pub delete_threshold_percent: f64,
    /// This node's name in the job queue [default: kept in node.id].
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// How long a running job's lease lasts: when a node dies, another
    /// fails its jobs as interrupted this long after its last renewal.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub job_lease_seconds: u64,
    /// Finished jobs (succeeded, failed, stopped) are removed with their log
    /// and change records this many days after they finished, once a day by
    /// one node; each element's newest finished job stays. 0 keeps them all.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub job_retention_days: u32,
    /// Connect to elements (and take notify-sync messages) only in these
    /// networks: CIDR blocks separated by commas, e.g.
    /// 10.20.0.0/16,2001:db8::/32 [default: no limit].
    #[arg(
        long,
        value_name = "CIDR,…",
        default_value = "",
        hide_default_value = true,
        value_parser = parse_networks
    )]
    pub element_networks: ucsync_core::ElementNetworks,
    /// A site's CM field catalogue: a TOML file in the form of the built-in
    /// one whose [[type]] entries correct or add the key, name and secret
    /// field ids of CM object types (and key_kind; version and init_forms
    /// replace the built-in ones when given; `ucsync catalog show` prints
    /// the catalogue in effect). Checked at start: a mistake stops the service,
    /// naming the file, the line and the field [default: the built-in one].
    #[arg(long, value_name = "FILE")]
    pub cm_catalog: Option<PathBuf>,
    /// A secret `GET /metrics` takes besides any API token, and nothing
    /// else does: for a Prometheus server (TOML or UCSYNC_METRICS_TOKEN,
    /// never a flag, which `ps` would show).
    #[arg(skip)]
    pub metrics_token: Option<ucsync_api::auth::MetricsToken>,
    /// HTTP connections open at once, in total; past it new ones are closed.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub http_max_connections: usize,
    /// And from one client address.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub http_max_connections_per_address: usize,
    /// A client must send a request head within this long of connecting and
    /// of its previous response, or its connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub http_header_timeout_seconds: u64,
    /// Event streams (GET /api/v1/events) open at once.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_event_streams: usize,
    /// A console session unused for this many minutes ends: its user signs
    /// in again.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub console_idle_minutes: u64,
    /// A CM with notify sync switched on that sent no event for this many
    /// minutes gets a `notify-silent` alarm, cleared by its next event (0: never).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub notify_silence_minutes: u64,
    /// Send each alarm raised and cleared to this syslog collector, as RFC
    /// 5424: udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT.
    #[arg(long, value_name = "URL")]
    pub alarm_syslog: Option<String>,
    /// The CA certificates (PEM) the collector's TLS certificate must reach
    /// [default: the system's trust store].
    #[arg(long, value_name = "FILE")]
    pub alarm_syslog_ca_file: Option<PathBuf>,
    /// Webhooks each alarm raised and cleared is POSTed to, signed:
    /// `[[webhooks]]` tables of `name`, `url`, `secret` (and `ca_file`), in
    /// the settings file only.
    #[arg(skip)]
    pub webhooks: Vec<WebhookSetting>,
    /// How long after a failed webhook delivery it is tried again; doubled
    /// at each failure, at most 5 minutes, 8 attempts in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub webhook_retry_seconds: f64,
}

/// A webhook alarms are delivered to (`[[webhooks]]` in the settings file).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSetting {
    /// Its name in the delivery log (`ucsync alarm deliveries NAME`).
    pub name: String,
    /// An http:// or https:// URL.
    pub url: String,
    /// The key of the body's HMAC-SHA256 (`X-Ucsync-Signature`); never
    /// logged nor shown.
    pub secret: String,
    /// The CA certificates (PEM) an https:// webhook's certificate must
    /// reach [default: the system's trust store].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for WebhookSetting {
    // The URL may hold a token, the secret is one: neither is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSetting")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `--element-networks`: the blocks of one comma-separated list (none: no limit).
fn parse_networks(s: &str) -> Result<ucsync_core::ElementNetworks, String> {
    ucsync_core::ElementNetworks::parse(s.split(',').map(str::trim).filter(|b| !b.is_empty()))
        .map_err(|e| e.to_string())
}

impl Default for Settings {
    /// The defaults the flags declare.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            settings: Settings,
        }
        <Defaults as clap::Parser>::try_parse_from(["serve"])
            .expect("every setting has a default")
            .settings
    }
}

/// `ucsync serve`'s command line: the settings file and every setting as a
/// flag. Only the flags given override the layers below them.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// The TOML settings file.
    pub config: Option<PathBuf>,
    /// The settings the command line gives, by name.
    given: serde_json::Map<String, serde_json::Value>,
}

impl ServeArgs {
    /// Arguments with only a settings file (or none).
    pub fn new(config: Option<PathBuf>) -> ServeArgs {
        ServeArgs {
            config,
            given: serde_json::Map::new(),
        }
    }

    /// Gives one setting as a flag would.
    pub fn set(mut self, name: &str, value: impl Serialize) -> ServeArgs {
        let value = serde_json::to_value(value).expect("a setting's value");
        self.given.insert(name.to_string(), value);
        self
    }
}

impl clap::Args for ServeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let config = clap::Arg::new("config")
            .long("config")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help("The TOML settings file");
        Settings::augment_args(cmd.arg(config))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        use clap::parser::ValueSource;
        let parsed = Settings::from_arg_matches(m)?;
        let serde_json::Value::Object(all) = serde_json::to_value(parsed).expect("settings") else {
            unreachable!("settings are a map")
        };
        let given = all
            .into_iter()
            .filter(|(k, _)| {
                m.ids().any(|id| id.as_str() == k)
                    && m.value_source(k) == Some(ValueSource::CommandLine)
            })
            .collect();
        Ok(ServeArgs {
            config: m.get_one::<PathBuf>("config").cloned(),
            given,
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
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
        args: &ServeArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = &args.config {
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
        figment = figment.merge(Serialized::defaults(&args.given));
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
        if !(1..=10_080).contains(&self.console_idle_minutes) {
            bail!("console_idle_minutes must be from 1 to 10080 (a week)");
        }
        if !(3..=3600).contains(&self.job_lease_seconds) {
            bail!("job_lease_seconds must be between 3 and 3600");
        }
        if self.job_retention_days > 36_500 {
            bail!("job_retention_days must be at most 36500 (0 keeps every job)");
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
        self.check_alarms()?;
        self.catalogs()?;
        Ok(())
    }

    fn check_alarms(&self) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::new();
        for w in &self.webhooks {
            if w.name.is_empty()
                || !w
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                bail!(
                    "webhook name {:?}: use letters, digits, '.', '_' and '-'",
                    w.name
                );
            }
            if !names.insert(&w.name) {
                bail!("two webhooks are named '{}'", w.name);
            }
            let url = reqwest::Url::parse(&w.url)
                .map_err(|e| anyhow::anyhow!("webhook '{}': its url is not a URL: {e}", w.name))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                bail!(
                    "webhook '{}': its url must be http:// or https:// with a host",
                    w.name
                );
            }
            if w.secret.chars().count() < 16 {
                bail!(
                    "webhook '{}': its secret must be at least 16 characters: make one with `openssl rand -hex 32`",
                    w.name
                );
            }
        }
        if !(self.webhook_retry_seconds > 0.0 && self.webhook_retry_seconds <= 300.0) {
            bail!("webhook_retry_seconds must be more than 0 and at most 300");
        }
        if let Some(target) = &self.alarm_syslog {
            super::alarms::syslog_target(target, None, "-")?;
        }
        Ok(())
    }

    /// The catalogues in effect: the built-in ones, with the site's CM
    /// catalogue (`cm_catalog`) applied when there is one.
    pub fn catalogs(&self) -> anyhow::Result<ucsync_connect::Catalogs> {
        Ok(match &self.cm_catalog {
            Some(path) => ucsync_connect::Catalogs::with_cm(
                ucsync_connect::cm::catalog::Catalog::load_site(path)?,
            ),
            None => ucsync_connect::Catalogs::builtin(),
        })
    }

    /// The settings as the console's administration page shows them, by
    /// name: secrets say only whether they are set, and webhooks show
    /// their names (their URLs and secrets stay in the file).
    pub fn shown(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(all)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        all.into_iter()
            .map(|(name, value)| {
                let text = match (name.as_str(), value) {
                    ("metrics_token", v) => if v.is_null() { "not set" } else { "set" }.into(),
                    // Its password, if it holds one, is a secret.
                    ("database_url", serde_json::Value::String(u)) => match reqwest::Url::parse(&u)
                    {
                        Ok(mut url) if url.password().is_some() => {
                            let _ = url.set_password(Some("***"));
                            url.to_string()
                        }
                        Ok(_) => u,
                        Err(_) => "set".into(),
                    },
                    ("webhooks", _) => {
                        let names: Vec<&str> =
                            self.webhooks.iter().map(|w| w.name.as_str()).collect();
                        names.join(", ")
                    }
                    (_, serde_json::Value::Null) => "not set".into(),
                    (_, serde_json::Value::String(s)) => s,
                    (_, v) => v.to_string(),
                };
                (name, text)
            })
            .collect()
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
        let s = Settings::load(&ServeArgs::default(), env(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("ucsync-data"));
    }

    #[test]
    fn settings_are_shown_without_their_secrets() {
        let s = Settings {
            database_url: Some("postgres://ucsync:hunter2-long@127.0.0.1:5432/ucsync".into()),
            metrics_token: Some(ucsync_api::auth::MetricsToken::new("0123456789abcdef0123")),
            ..Settings::default()
        };
        let shown: std::collections::HashMap<String, String> = s.shown().into_iter().collect();
        assert_eq!(
            shown["database_url"],
            "postgres://ucsync:***@127.0.0.1:5432/ucsync"
        );
        assert_eq!(shown["metrics_token"], "set");
        assert_eq!(shown["init_pool"], s.init_pool.to_string());
        assert_eq!(shown["console_idle_minutes"], "30");
        let all = format!("{shown:?}");
        assert!(
            !all.contains("hunter2") && !all.contains("0123456789abcdef"),
            "{all}"
        );
    }

    #[test]
    fn webhooks_and_the_alarm_collector_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ucsync.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Settings::load(&ServeArgs::new(Some(file.clone())), env(&[]))
        };
        let hook = |url: &str, secret: &str| {
            format!("[[webhooks]]\nname = \"ops\"\nurl = \"{url}\"\nsecret = \"{secret}\"\n")
        };
        let s = load(&hook("https://localhost:8443/u", "0123456789abcdef")).unwrap();
        assert_eq!(s.webhooks[0].name, "ops");
        // Never shown, not even in a debug print of the settings.
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
        for (text, says) in [
            (
                hook("ftp://alerts/u", "0123456789abcdef"),
                "http:// or https://",
            ),
            (hook("not a url", "0123456789abcdef"), "not a URL"),
            (hook("http://alerts/u", "short"), "at least 16"),
            (
                format!("{0}{0}", hook("http://alerts/u", "0123456789abcdef")),
                "two webhooks",
            ),
            ("alarm_syslog = \"localhost\"\n".into(), "udp://HOST:PORT"),
            ("alarm_syslog = \"smtp://h:25\"\n".into(), "udp://HOST:PORT"),
        ] {
            let e = load(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        let s = load("alarm_syslog = \"tls://localhost:6514\"\n").unwrap();
        assert_eq!(s.alarm_syslog.as_deref(), Some("tls://localhost:6514"));
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
        let flags = ServeArgs::new(Some(file.clone()));
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

        let flags = parse(&[
            "--config",
            file.to_str().unwrap(),
            "--init-pool",
            "7",
            "--http-listen",
            "127.0.0.1:0",
        ]);
        let s = Settings::load(&flags, e).unwrap();
        assert_eq!((s.init_pool, s.http_listen.port()), (7, 0));
    }

    #[test]
    fn the_metrics_token_comes_from_the_file_or_the_environment_and_never_prints() {
        let s = Settings::load(
            &ServeArgs::default(),
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
        let flags = ServeArgs::new(Some(file));
        let e = Settings::load(&flags, env(&[])).unwrap_err().to_string();
        assert!(
            e.starts_with("metrics_token must be at least 16 characters"),
            "{e}"
        );
    }

    /// `serve`'s arguments as the command line gives them.
    fn parse(args: &[&str]) -> ServeArgs {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            args: ServeArgs,
        }
        let line = std::iter::once("serve").chain(args.iter().copied());
        <Serve as clap::Parser>::try_parse_from(line).unwrap().args
    }

    #[test]
    fn only_the_flags_given_count() {
        let args = parse(&["--init-pool", "3", "--keep-connections", "false"]);
        let mut given: Vec<&String> = args.given.keys().collect();
        given.sort();
        assert_eq!(given, ["init_pool", "keep_connections"]);
        let s = Settings::load(&args, env(&[("UCSYNC_SESSIONS", "4")])).unwrap();
        assert_eq!((s.init_pool, s.keep_connections, s.sessions), (3, false, 4));
    }

    #[test]
    fn every_setting_is_a_flag_with_help_and_its_default_but_the_metrics_token() {
        let cmd = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
        let defaults = serde_json::to_value(Settings::default()).unwrap();
        for (key, value) in defaults.as_object().unwrap() {
            // Secrets, and the webhooks that hold them: the file's alone.
            if key == "metrics_token" || key == "webhooks" {
                assert!(SETTINGS_HELP.contains(key.as_str()));
                assert!(cmd.get_arguments().all(|a| a.get_id() != key.as_str()));
                continue;
            }
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == key.as_str())
                .unwrap_or_else(|| panic!("{key} is no flag"));
            assert!(arg.get_help().is_some(), "{key} has no help");
            let shown: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            match value {
                serde_json::Value::Number(n) => {
                    let shown: Vec<f64> = shown.iter().map(|v| v.parse().unwrap()).collect();
                    assert_eq!(shown, [n.as_f64().unwrap()], "{key}")
                }
                // A switch such as --insecure-http is off unless given.
                serde_json::Value::Bool(false) if shown.is_empty() => {}
                serde_json::Value::Bool(b) => assert_eq!(shown, [b.to_string()], "{key}"),
                serde_json::Value::String(s) => assert_eq!(shown, std::slice::from_ref(s), "{key}"),
                _ => {}
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
            ("job_retention_days = 100000", "job_retention_days"),
            ("job_retention_days = -1", "job_retention_days"),
        ] {
            std::fs::write(&file, text).unwrap();
            let flags = ServeArgs::new(Some(file.clone()));
            let err = Settings::load(&flags, env(&[])).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
        let missing = ServeArgs::new(Some(dir.path().join("missing.toml")));
        assert!(Settings::load(&missing, env(&[])).is_err());
        let err = Settings::load(&ServeArgs::default(), env(&[("UCSYNC_INIT_POOL", "many")]))
            .unwrap_err();
        assert!(format!("{err:#}").contains("init_pool"), "{err:#}");
    }

    #[test]
    fn the_cm_catalog_is_checked_when_the_settings_load() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("cm-catalog.toml");
        std::fs::write(
            &site,
            "[[type]]\nobject = \"station\"\nname = \"8003ff0\"\n",
        )
        .unwrap();
        let path = site.to_str().unwrap();
        let err =
            Settings::load(&ServeArgs::default(), env(&[("UCSYNC_CM_CATALOG", path)])).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!("{path}:3: station name field `8003ff0`: not 8 hex digits")
        );
        std::fs::write(
            &site,
            "[[type]]\nobject = \"station\"\nname = \"8a03ff00\"\n",
        )
        .unwrap();
        let name = |s: &Settings| {
            let catalogs = s.catalogs().unwrap();
            let station = catalogs.cm.by_type("station").unwrap().clone();
            station.name.map(|f| f.to_string())
        };
        let s = Settings::load(&parse(&["--cm-catalog", path]), env(&[])).unwrap();
        assert_eq!(name(&s).as_deref(), Some("8a03ff00"));
        let file = dir.path().join("ucsync.toml");
        std::fs::write(&file, format!("cm_catalog = {path:?}\n")).unwrap();
        let s = Settings::load(&ServeArgs::new(Some(file)), env(&[])).unwrap();
        assert_eq!(s.cm_catalog.as_deref(), Some(site.as_path()));
        assert_eq!(name(&Settings::default()).as_deref(), Some("8003ff00"));
    }

    #[test]
    fn element_networks_from_the_file_the_environment_and_the_flag() {
        let loopback = ucsync_core::ElementNetworks::parse(["127.0.0.0/8", "::1/128"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ucsync.toml");
        std::fs::write(&file, "element_networks = [\"127.0.0.0/8\", \"::1/128\"]\n").unwrap();
        let from_file = ServeArgs::new(Some(file));
        let s = Settings::load(&from_file, env(&[])).unwrap();
        assert_eq!(s.element_networks, loopback);

        let e = env(&[("UCSYNC_ELEMENT_NETWORKS", "127.0.0.0/8, ::1/128")]);
        let s = Settings::load(&ServeArgs::default(), e).unwrap();
        assert_eq!(s.element_networks, loopback);

        let flags = parse(&["--element-networks", "127.0.0.0/8,::1/128"]);
        let s = Settings::load(&flags, env(&[])).unwrap();
        assert_eq!(s.element_networks, loopback);
        assert!(Settings::default().element_networks.is_unlimited());
    }
}
