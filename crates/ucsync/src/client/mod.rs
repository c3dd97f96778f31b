//! The client subcommands: `element`, `sync`, `job`, `schedule`, `search`,
//! `object`, `token`, `user`, `node`, `catalog` and `alarm` talk to a running `ucsync serve` over its REST API, with the
//! API's own bodies from `ucsync_api::model`.

mod alarm;
mod catalog;
mod element;
mod import;
mod job;
mod node;
mod object;
mod render;
mod schedule;
mod search;
mod sync;
#[cfg(test)]
mod tests;
mod token;
mod user;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ucsync_api::model::{ElementPage, ElementView, ErrorBody};
use ucsync_connect::tls::Trust;

use crate::{BAD_INPUT, Exit, FAILED, bad_input};

pub(crate) use alarm::AlarmCmd;
pub(crate) use catalog::CatalogCmd;
pub(crate) use element::ElementCmd;
pub(crate) use job::JobCmd;
pub(crate) use node::NodeCmd;
pub(crate) use object::ObjectCmd;
pub(crate) use schedule::ScheduleCmd;
pub(crate) use search::SearchArgs;
pub(crate) use sync::SyncCmd;
pub(crate) use token::{TokenCmd, reset_admin};
pub(crate) use user::UserCmd;

/// A client subcommand, by its noun.
#[derive(Debug)]
pub(crate) enum Noun {
    Element(ElementCmd),
    Sync(SyncCmd),
    Job(JobCmd),
    Schedule(ScheduleCmd),
    Search(SearchArgs),
    Object(ObjectCmd),
    Token(TokenCmd),
    User(UserCmd),
    Node(NodeCmd),
    Catalog(CatalogCmd),
    Alarm(AlarmCmd),
}

pub(crate) async fn run(conn: &Conn, noun: Noun) -> Result<(), Exit> {
    let client = ApiClient::from_conn(conn)?;
    render::fit_to_terminal();
    match noun {
        Noun::Element(cmd) => element::run(&client, cmd).await,
        Noun::Sync(cmd) => sync::run(&client, cmd).await,
        Noun::Job(cmd) => job::run(&client, cmd).await,
        Noun::Schedule(cmd) => schedule::run(&client, cmd).await,
        Noun::Search(args) => search::run(&client, args).await,
        Noun::Object(cmd) => object::run(&client, cmd).await,
        Noun::Token(cmd) => token::run(&client, cmd).await,
        Noun::User(cmd) => user::run(&client, cmd).await,
        Noun::Node(cmd) => node::run(&client, cmd).await,
        Noun::Catalog(cmd) => catalog::run(&client, cmd).await,
        Noun::Alarm(cmd) => alarm::run(&client, cmd).await,
    }
}

/// Where the service is and where its admin token may be found; on every
/// client subcommand, before or after the verb.
#[derive(Debug, Clone, Args)]
pub(crate) struct Conn {
    /// The service's URL [env: UCSYNC_SERVER] [default: http://127.0.0.1:8080].
    // Not clap's `env`/`default_value`: with those, clap shows the flag as
    // if required in the usage line of every error.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// The service's data directory, where `admin.token` is read when
    /// UCSYNC_TOKEN is not set [default: $UCSYNC_DATA_DIR or ./ucsync-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Check an https:// service's certificate against the CA certificates
    /// in this PEM file [env: UCSYNC_SERVER_CA_FILE] [default: the data
    /// directory's self-signed certificate when there is one, else the
    /// system's trust store].
    #[arg(long, global = true, value_name = "FILE")]
    pub server_ca_file: Option<PathBuf>,
    /// Accept only the https:// service certificate with this SHA-256
    /// fingerprint, as `serve` prints it [env: UCSYNC_SERVER_FINGERPRINT].
    #[arg(long, global = true, value_name = "SHA256")]
    pub server_fingerprint: Option<String>,
}

/// How a listing or a single item is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Output {
    /// A table for people.
    #[default]
    Table,
    /// The API's JSON, pretty-printed.
    Json,
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ListOutput {
    /// A table for people, each row cut to the terminal's width.
    #[default]
    Table,
    /// The API's JSON, pretty-printed.
    Json,
    /// The table's columns as CSV, every cell in full.
    Csv,
}

/// `--output` of a listing.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ListOutputArg {
    /// table for people (long cells cut with …), json (the API's answer) or
    /// csv (the table's columns), both in full.
    #[arg(long, value_enum, default_value = "table")]
    pub output: ListOutput,
}

/// Prints a page the API answered as the listing asked for.
pub(crate) fn print_listing<T: DeserializeOwned>(
    client: &ApiClient,
    v: serde_json::Value,
    output: ListOutput,
    listing: impl Fn(&T) -> render::Listing,
) -> Result<(), Exit> {
    match output {
        ListOutput::Json => print_json(&v),
        ListOutput::Table => print(&listing(&client.typed(v)?).to_string()),
        ListOutput::Csv => print(&listing(&client.typed(v)?).csv()),
    }
}

/// `--output` of a show or an action.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct OutputArg {
    /// table for people, or json: the API's answer, every field in full.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
}

/// `--offset` and `--limit` of a listing: one page of the API's list.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct PageArgs {
    /// Items per page, 1 to 1000 [default: the service's, 50].
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Items to skip.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
}

/// The service when `--server` is not given.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

impl Conn {
    /// `--server`, else `UCSYNC_SERVER`, else the default.
    pub(crate) fn server(&self) -> String {
        self.server
            .clone()
            .or_else(|| {
                std::env::var("UCSYNC_SERVER")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_SERVER.to_string())
    }
}

/// How the CLI checks an https:// service's certificate: against a CA file,
/// else a pinned fingerprint, else — on the service's machine — the data
/// directory's self-signed certificate, else the system's trust store.
/// Never "accept anything".
pub(crate) fn server_trust(
    ca_file: Option<PathBuf>,
    fingerprint: Option<String>,
    data_dir: &Path,
) -> Result<Trust, Exit> {
    if let Some(ca) = ca_file {
        return Ok(Trust::CaFile(ca));
    }
    if let Some(pin) = fingerprint {
        let pin = ucsync_connect::tls::parse_fingerprint(&pin)
            .map_err(|e| bad_input(anyhow!("--server-fingerprint: {e}")))?;
        return Ok(Trust::Pinned(pin));
    }
    let own = data_dir.join(ucsync::serve::https::SELF_SIGNED_CERT);
    Ok(if own.exists() {
        Trust::CaFile(own)
    } else {
        Trust::System
    })
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

impl PageArgs {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        q
    }
}

/// The exit status for an HTTP error status: input the service could not
/// take (a value that does not parse, a body it cannot read) is 2, as a
/// usage error is; anything else, a refusal (no such item, a refused or
/// read-only token, a conflict) included, means the operation failed: 1.
pub(crate) fn exit_code(status: u16) -> u8 {
    match status {
        400 | 413 | 415 => BAD_INPUT,
        _ => FAILED,
    }
}

/// Where the token came from, so a refused one can be traced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Env,
    File(PathBuf),
}

/// `UCSYNC_TOKEN`, else `<data dir>/admin.token`, which `serve` writes at
/// its first start — so the CLI works on the service's machine with no setup.
pub(crate) fn find_token(
    env: Option<String>,
    data_dir: &Path,
) -> Result<(String, TokenSource), Exit> {
    if let Some(t) = env.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
        return Ok((t, TokenSource::Env));
    }
    let path = data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            Ok((text.trim().to_string(), TokenSource::File(path)))
        }
        Ok(_) => Err(bad_input(anyhow!(
            "{} is empty: set UCSYNC_TOKEN to an API token",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(bad_input(anyhow!(
            "no API token: UCSYNC_TOKEN is not set and {} does not exist; set UCSYNC_TOKEN, or pass --data-dir (or UCSYNC_DATA_DIR) of the service",
            path.display()
        ))),
        Err(e) => Err(bad_input(anyhow!(
            "no API token: UCSYNC_TOKEN is not set and {} cannot be read ({e})",
            path.display()
        ))),
    }
}

/// A client of one service's REST API, authenticated with one token.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    server: String,
    api: Url,
    token: String,
    source: TokenSource,
}

/// A parsed `--server`: only http and https, so `host:port` without a
/// scheme is caught here instead of becoming a strange URL.
fn server_url(server: &str) -> Result<Url, Exit> {
    let url = Url::parse(server).map_err(|e| {
        bad_input(anyhow!(
            "--server {server:?} is not a URL ({e}): give one like http://127.0.0.1:8080"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad_input(anyhow!(
            "--server {server:?} must be an http:// or https:// URL, like http://127.0.0.1:8080"
        )));
    }
    Ok(url)
}

impl ApiClient {
    /// A client that checks an https:// service against the system's trust store.
    pub(crate) fn new(server: &str, token: String, source: TokenSource) -> Result<ApiClient, Exit> {
        ApiClient::with_trust(server, token, source, &Trust::System)
    }

    /// A client that checks an https:// service's certificate as `trust` says.
    pub(crate) fn with_trust(
        server: &str,
        token: String,
        source: TokenSource,
        trust: &Trust,
    ) -> Result<ApiClient, Exit> {
        let mut api = server_url(server)?;
        {
            let mut segments = api
                .path_segments_mut()
                .map_err(|()| bad_input(anyhow!("--server {server:?} cannot be a base URL")))?;
            segments.pop_if_empty().extend(["api", "v1"]);
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // A connection check logs in to the element, so answers may be slow.
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("ucsync/", env!("CARGO_PKG_VERSION")));
        if api.scheme() == "https" {
            let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
            let mut tls = ucsync_connect::tls::client_config(trust, seen)
                .map_err(|e| bad_input(anyhow!("{e}")))?;
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            http = http.tls_backend_preconfigured(tls).https_only(true);
        }
        let http = http.build().context("cannot set up the HTTP client")?;
        Ok(ApiClient {
            http,
            server: server.trim_end_matches('/').to_string(),
            api,
            token,
            source,
        })
    }

    /// From the common flags and the environment.
    pub(crate) fn from_conn(conn: &Conn) -> Result<ApiClient, Exit> {
        let server = conn.server();
        // The server is checked first: a bad URL is the more direct mistake.
        server_url(&server)?;
        let data_dir = ucsync::serve::settings::data_dir_from_env(conn.data_dir.as_deref());
        let (token, source) = find_token(std::env::var("UCSYNC_TOKEN").ok(), &data_dir)?;
        let trust = server_trust(
            conn.server_ca_file
                .clone()
                .or_else(|| env_var("UCSYNC_SERVER_CA_FILE").map(PathBuf::from)),
            conn.server_fingerprint
                .clone()
                .or_else(|| env_var("UCSYNC_SERVER_FINGERPRINT")),
            &data_dir,
        )?;
        ApiClient::with_trust(&server, token, source, &trust)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("checked to be a base URL")
            .extend(segments);
        url
    }

    /// One call; the answer's JSON (`null` for an empty body), or the
    /// API's error as an [`Exit`] with the matching status.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<serde_json::Value, Exit> {
        self.call_keeping(method, segments, query, body, None)
            .await
            .map(|(_, v)| v)
    }

    /// One call whose error answer of status `keep` is read as an answer,
    /// not turned into an error: an import's report of its bad rows.
    pub(crate) async fn call_keeping(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
        keep: Option<StatusCode>,
    ) -> Result<(StatusCode, serde_json::Value), Exit> {
        let mut req = self
            .http
            .request(method, self.url(segments))
            .bearer_auth(&self.token);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        if !status.is_success() {
            let kept = keep == Some(status)
                && serde_json::from_slice::<serde_json::Value>(&bytes)
                    .is_ok_and(|v| v.get("rows").is_some());
            if !kept {
                return Err(self.api_error(status, &bytes));
            }
        }
        if bytes.is_empty() {
            return Ok((status, serde_json::Value::Null));
        }
        let v = serde_json::from_slice(&bytes).map_err(|e| Exit {
            code: FAILED,
            error: anyhow!(
                "the service at {} answered with JSON this client does not understand ({e})",
                self.server
            ),
        })?;
        Ok((status, v))
    }

    pub(crate) async fn get_value(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, Exit> {
        self.call(Method::GET, segments, query, None::<&()>).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, Exit> {
        let v = self.get_value(segments, query).await?;
        self.typed(v)
    }

    /// JSON the API answered, as one of its types.
    pub(crate) fn typed<T: DeserializeOwned>(&self, v: serde_json::Value) -> Result<T, Exit> {
        serde_json::from_value(v).map_err(|e| Exit {
            code: FAILED,
            error: anyhow!(
                "the service at {} answered with JSON this client does not understand ({e}): is it the same version?",
                self.server
            ),
        })
    }

    fn transport(&self, e: reqwest::Error) -> Exit {
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let certificate = self.server.starts_with("https:")
            && e.is_connect()
            && format!("{cause}")
                .to_ascii_lowercase()
                .contains("certificate");
        let error = if certificate {
            anyhow!(
                "the ucsync service at {} presented a certificate this client does not trust ({cause}): pass --server-ca-file with the CA that signed it, or --server-fingerprint with the fingerprint `ucsync serve` printed",
                self.server
            )
        } else if e.is_connect() {
            anyhow!(
                "cannot reach the ucsync service at {} ({cause}): start it with `ucsync serve`, or pass --server",
                self.server
            )
        } else if e.is_timeout() {
            anyhow!(
                "the ucsync service at {} did not answer in time",
                self.server
            )
        } else {
            anyhow!(
                "the request to the ucsync service at {} failed ({cause})",
                self.server
            )
        };
        Exit {
            code: FAILED,
            error,
        }
    }

    fn api_error(&self, status: StatusCode, body: &[u8]) -> Exit {
        let mut message = api_message(status, body);
        if status == StatusCode::UNAUTHORIZED {
            message = match &self.source {
                TokenSource::Env => format!("the token in UCSYNC_TOKEN was refused: {message}"),
                TokenSource::File(p) => {
                    format!("the token in {} was refused: {message}", p.display())
                }
            };
        }
        let field = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error.field);
        Exit {
            code: exit_code(status.as_u16()),
            error: anyhow::Error::new(ApiFailure { message, field }),
        }
    }
}

/// An error the API answered: its sentence, and the field of the request
/// it is about, so a subcommand can name its flag instead.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    pub message: String,
    pub field: Option<String>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// The sentence to show for an error answer: the API's message, or, from
/// something that is not the API (a proxy, another program), its status and
/// the start of its body.
pub(crate) fn api_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
        return b.error.message;
    }
    // A code this client does not know yet still carries its message.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = v["error"]["message"].as_str() {
            return m.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        format!("the service answered {status}")
    } else {
        format!("the service answered {status}: {text}")
    }
}

/// A reader that stopped reading (`| head`) is not an error of ours.
fn written(r: std::io::Result<()>) -> Result<(), Exit> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r.context("cannot write the output")?),
    }
}

/// Prints a JSON answer as the API gave it.
pub(crate) fn print_json(v: &serde_json::Value) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    written(
        serde_json::to_writer_pretty(&mut out, v)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
    )
}

/// Prints text for people, with a line end.
pub(crate) fn print(text: &str) -> Result<(), Exit> {
    written(writeln!(std::io::stdout().lock(), "{text}"))
}

/// Asks a yes/no question on the terminal; no is the default. Without a
/// terminal nobody can answer, so the caller is told to pass `--yes`.
pub(crate) fn confirm(question: &str, what: &str) -> Result<bool, Exit> {
    if !std::io::stdin().is_terminal() {
        return Err(bad_input(anyhow!(
            "{what} needs confirmation and there is no terminal to ask on: pass --yes"
        )));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// Every element, page by page.
pub(crate) async fn all_elements(client: &ApiClient) -> Result<Vec<ElementView>, Exit> {
    let limit = ucsync_api::model::MAX_LIMIT;
    let mut all = Vec::new();
    loop {
        let query = [
            ("offset", all.len().to_string()),
            ("limit", limit.to_string()),
        ];
        let page: ElementPage = client.get(&["elements"], &query).await?;
        let n = page.items.len() as u64;
        all.extend(page.items);
        if n < limit {
            return Ok(all);
        }
    }
}
