//! `ucsync element add|list|show|edit|remove|check|import|export`: the
//! elements the service keeps in sync (`import` and `export` are in
//! `import.rs`). Passwords go to the API only; they are never printed or
//! logged.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, anyhow};
use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use ucsync_api::model::{
    CheckView, ElementCreated, ElementPage, ElementPatch, ElementView, NewElementBody, default_port,
};
use ucsync_core::ElementKind;

use super::import::{ExportArgs, ImportArgs};
use super::render::{self, count, opt, opt_time};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, confirm, print, print_json,
    print_listing,
};
use crate::{Exit, FAILED, bad_input};

#[derive(Debug, Subcommand)]
pub(crate) enum ElementCmd {
    /// Add an element; a CM or IP Office gets its initializing sync at once.
    Add(AddArgs),
    /// All elements with their sync status.
    List {
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// One element's settings and sync status.
    Show {
        /// The element's name.
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Change an element's settings; only the flags given change.
    Edit(EditArgs),
    /// Remove an element and the data synchronized from it.
    Remove {
        /// The element's name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Connect and log in: report the version and the host-key fingerprint.
    Check {
        /// The element's name.
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Add many elements from a CSV or JSON-lines file: all of them, or none.
    ///
    /// CSV: a header line naming the columns, then an element per line.
    /// JSON lines: an object per line, the columns as its fields. The
    /// columns are the settings of `element add`: name, kind, host, port,
    /// login, password, alternate_host, notify_sync, own_logins (separated
    /// by spaces), host_key, tls, ca_file, cm; name, kind, host and login are
    /// needed, an empty cell leaves a setting out, and a row without a port
    /// takes its kind's. The service checks every row as `element add` is
    /// checked, and against the elements there and the rows before it; with
    /// one bad row nothing is added, and each bad row is shown with its line
    /// and field (exit status 2). Each CM and IP Office added gets its
    /// initializing sync queued.
    ///
    /// Rows without a password take UCSYNC_ELEMENT_PASSWORD, else the
    /// password is asked on the terminal once per login — after every row
    /// has been checked. At most 10,000 rows, within the service's request
    /// size limit (1 MiB).
    ///
    /// Example (elements.csv):
    ///
    ///   name,kind,host,login,tls,cm
    ///   cm-east,cm,10.20.0.5,ucsync,,
    ///   mm-east,cm-messaging,10.20.0.9,cn=ucsync,true,cm-east
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Write every element as CSV or JSON lines, without passwords: the
    /// form `element import` reads.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct AddArgs {
    /// 1 to 64 letters, digits, `.`, `_` or `-`.
    pub name: String,
    /// cm, ip-office, messaging, cm-messaging or modular-messaging.
    #[arg(long, value_parser = parse_kind)]
    pub kind: ElementKind,
    /// Its address or host name.
    #[arg(long)]
    pub host: String,
    /// Tried when --host does not answer.
    #[arg(long, value_name = "HOST")]
    pub alternate_host: Option<String>,
    /// The port to connect to [default: the kind's: cm 5022 (SAT over SSH);
    /// ip-office 50804, or 50805 with --tls; messaging kinds 389 (LDAP), or
    /// 636 with --tls].
    #[arg(long)]
    pub port: Option<u16>,
    /// The login ucsync uses on it (for the messaging kinds, a bind DN).
    #[arg(long)]
    pub login: String,
    /// Read the password from the first line of standard input (else
    /// UCSYNC_ELEMENT_PASSWORD, else it is asked for on the terminal).
    #[arg(long)]
    pub password_stdin: bool,
    /// cm: listen for the CM's notify-sync events.
    #[arg(long)]
    pub notify_sync: bool,
    /// cm: a CM login that is ucsync's own (repeatable; --login always is).
    #[arg(long = "own-login", value_name = "LOGIN")]
    pub own_logins: Vec<String>,
    /// ip-office and messaging kinds: connect with TLS (the default).
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// ip-office and messaging kinds: connect without TLS, the password in
    /// the clear on the network (flagged in the element's view).
    #[arg(long)]
    pub no_tls: bool,
    /// With TLS: the CA certificate the element's certificate is checked against.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<String>,
    /// The expected host-key (or certificate) fingerprint; pinned at the
    /// first connection when not given.
    #[arg(long, value_name = "FINGERPRINT")]
    pub host_key: Option<String>,
    /// messaging kinds: the name of its CM element (required for cm-messaging).
    #[arg(long, value_name = "NAME")]
    pub cm: Option<String>,
    /// Wait for the initializing sync to end, showing its progress.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("password_source").args(["password_stdin", "password"])))]
#[command(group(ArgGroup::new("host_key_source").args(["host_key", "accept_host_key", "no_host_key"])))]
pub(crate) struct EditArgs {
    /// The element's name.
    pub name: String,
    /// Its new address or host name.
    #[arg(long)]
    pub host: Option<String>,
    /// Tried when --host does not answer.
    #[arg(long, value_name = "HOST", conflicts_with = "no_alternate_host")]
    pub alternate_host: Option<String>,
    /// Remove the alternate host.
    #[arg(long)]
    pub no_alternate_host: bool,
    /// The port to connect to.
    #[arg(long)]
    pub port: Option<u16>,
    /// The login ucsync uses on it.
    #[arg(long)]
    pub login: Option<String>,
    /// Change the password: read it from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Change the password: from UCSYNC_ELEMENT_PASSWORD, else asked for on the terminal.
    #[arg(long)]
    pub password: bool,
    /// cm: listen for the CM's notify-sync events.
    #[arg(long, conflicts_with = "no_notify_sync")]
    pub notify_sync: bool,
    /// cm: stop listening for its notify-sync events.
    #[arg(long)]
    pub no_notify_sync: bool,
    /// The CM logins that are ucsync's own (repeatable; replaces the list).
    #[arg(long = "own-login", value_name = "LOGIN")]
    pub own_logins: Vec<String>,
    /// ip-office and messaging kinds: connect with TLS.
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Connect without TLS.
    #[arg(long)]
    pub no_tls: bool,
    /// With TLS: the CA certificate the element's certificate is checked against.
    #[arg(long, value_name = "FILE", conflicts_with = "no_ca_file")]
    pub ca_file: Option<String>,
    /// Forget the CA file.
    #[arg(long)]
    pub no_ca_file: bool,
    /// Pin this host-key fingerprint.
    #[arg(long, value_name = "FINGERPRINT")]
    pub host_key: Option<String>,
    /// Accept the element's new host key (the fingerprint `element check`
    /// or a failed job showed).
    #[arg(long, value_name = "FINGERPRINT")]
    pub accept_host_key: Option<String>,
    /// Forget the pinned key: the next connection pins the key it sees.
    #[arg(long)]
    pub no_host_key: bool,
    /// messaging kinds: the name of its CM element.
    #[arg(long, value_name = "NAME", conflicts_with = "no_cm")]
    pub cm: Option<String>,
    /// messaging and modular-messaging: link to no CM.
    #[arg(long)]
    pub no_cm: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

fn parse_kind(s: &str) -> Result<ElementKind, String> {
    s.parse()
}

impl AddArgs {
    /// The request body, with the password already found.
    pub(crate) fn body(&self, password: String) -> Result<NewElementBody, Exit> {
        let port = self
            .port
            .unwrap_or_else(|| default_port(self.kind, !self.no_tls));
        Ok(NewElementBody {
            name: self.name.clone(),
            kind: self.kind,
            host: self.host.clone(),
            alternate_host: self.alternate_host.clone(),
            port: i64::from(port),
            login: self.login.clone(),
            password,
            // Left out unless asked for, so a kind they do not apply to is
            // not refused for a default.
            notify_sync: self.notify_sync.then_some(true),
            own_logins: (!self.own_logins.is_empty()).then(|| self.own_logins.clone()),
            host_key: self.host_key.clone(),
            // The service's default (TLS) unless asked otherwise.
            tls: flag_pair(self.tls, self.no_tls),
            ca_file: self.ca_file.clone(),
            cm: self.cm.clone(),
        })
    }
}

fn flag_pair(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// A value given (`Some(Some)`), cleared (`Some(None)`), or left alone (`None`).
fn set_or_clear<T: Clone>(value: &Option<T>, clear: bool) -> Option<Option<T>> {
    match (value, clear) {
        (Some(v), _) => Some(Some(v.clone())),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

impl EditArgs {
    pub(crate) fn wants_password(&self) -> bool {
        self.password || self.password_stdin
    }

    /// The patch, with the new password when one was asked for.
    pub(crate) fn patch(&self, password: Option<String>) -> Result<ElementPatch, Exit> {
        let patch = ElementPatch {
            host: self.host.clone(),
            alternate_host: set_or_clear(&self.alternate_host, self.no_alternate_host),
            port: self.port.map(i64::from),
            login: self.login.clone(),
            password,
            notify_sync: flag_pair(self.notify_sync, self.no_notify_sync),
            own_logins: (!self.own_logins.is_empty()).then(|| self.own_logins.clone()),
            host_key: set_or_clear(
                &self
                    .accept_host_key
                    .clone()
                    .or_else(|| self.host_key.clone()),
                self.no_host_key,
            ),
            tls: flag_pair(self.tls, self.no_tls).map(Some),
            ca_file: set_or_clear(&self.ca_file, self.no_ca_file),
            cm: set_or_clear(&self.cm, self.no_cm),
        };
        let empty = serde_json::to_value(&patch)
            .map(|v| v.as_object().is_some_and(|o| o.is_empty()))
            .unwrap_or(false);
        if empty {
            return Err(bad_input(anyhow!(
                "nothing to change: give at least one setting, such as --host or --password"
            )));
        }
        Ok(patch)
    }
}

/// The element's password: standard input when asked, else
/// UCSYNC_ELEMENT_PASSWORD, else the terminal.
fn password(from_stdin: bool, login: &str, element: &str) -> Result<String, Exit> {
    let p = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if let Ok(p) = std::env::var("UCSYNC_ELEMENT_PASSWORD") {
        p
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("password of {login} on {element}: "))
            .context("cannot read the password")?
    } else {
        return Err(bad_input(anyhow!(
            "no password: pass --password-stdin, set UCSYNC_ELEMENT_PASSWORD, or run on a terminal"
        )));
    };
    if p.is_empty() {
        return Err(bad_input(anyhow!("the password is empty")));
    }
    Ok(p)
}

pub(super) async fn run(client: &ApiClient, cmd: ElementCmd) -> Result<(), Exit> {
    match cmd {
        ElementCmd::Add(args) => add(client, args).await,
        ElementCmd::Import(args) => super::import::import(client, args).await,
        ElementCmd::Export(args) => super::import::export(client, args).await,
        ElementCmd::List { page, output } => {
            let v = client.get_value(&["elements"], &page.query()).await?;
            print_listing(client, v, output.output, list_table)
        }
        ElementCmd::Show { name, output } => {
            let v = client.get_value(&["elements", &name], &[]).await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&show_table(&client.typed(v)?)),
            }
        }
        ElementCmd::Edit(args) => {
            let password = if args.wants_password() {
                // Checked first, so a bad flag is not reported after typing a password.
                args.patch(Some(String::new()))?;
                let login = args.login.as_deref().unwrap_or("the login");
                Some(password(args.password_stdin, login, &args.name)?)
            } else {
                None
            };
            let patch = args.patch(password)?;
            let v = client
                .call(Method::PATCH, &["elements", &args.name], &[], Some(&patch))
                .await?;
            match args.output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let e: ElementView = client.typed(v)?;
                    print(&format!("changed {}", e.name))?;
                    print(&show_table(&e))
                }
            }
        }
        ElementCmd::Remove { name, yes } => {
            if !yes {
                let e: ElementView = client.get(&["elements", &name], &[]).await?;
                let question = format!(
                    "Remove {} ({}) and the {} objects synchronized from it?",
                    e.name,
                    e.kind,
                    count(e.objects)
                );
                if !confirm(&question, "removing an element")? {
                    return Err(Exit {
                        code: FAILED,
                        error: anyhow!("nothing was done: the answer was not yes"),
                    });
                }
            }
            client
                .call(Method::DELETE, &["elements", &name], &[], None::<&()>)
                .await?;
            print(&format!("removed {name}"))
        }
        ElementCmd::Check { name, output } => {
            let v = client
                .call(
                    Method::POST,
                    &["elements", &name, "check"],
                    &[],
                    None::<&()>,
                )
                .await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&check_text(&client.typed(v)?)),
            }
        }
    }
}

async fn add(client: &ApiClient, args: AddArgs) -> Result<(), Exit> {
    // The body is checked before the password is asked for.
    args.body(String::new())?;
    let password = password(args.password_stdin, &args.login, &args.name)?;
    add_with_password(client, args, password).await
}

pub(super) async fn add_with_password(
    client: &ApiClient,
    args: AddArgs,
    password: String,
) -> Result<(), Exit> {
    let body = args.body(password)?;
    let v = client
        .call(Method::POST, &["elements"], &[], Some(&body))
        .await?;
    let created: ElementCreated = client.typed(v.clone())?;
    match args.output.output {
        Output::Json => print_json(&v)?,
        Output::Table => {
            print(&format!(
                "added {} ({})",
                created.element.name, created.element.kind
            ))?;
            // With --wait, the wait shows the job.
            if let Some(job) = created.job.as_ref().filter(|_| !args.wait) {
                print(&format!(
                    "job {} {} {}: {}",
                    job.id, job.element, job.sync_type, job.state
                ))?;
            }
        }
    }
    match (args.wait, created.job) {
        (true, Some(job)) => super::sync::wait(client, vec![job]).await,
        _ => Ok(()),
    }
}

/// The last job of any type, in a few words: `incremental failed 2025-03-02 03:00`.
fn last_job(e: &ElementView) -> String {
    match &e.sync.last_job {
        None => "-".into(),
        Some(j) => format!(
            "{} {} {} (job {})",
            j.sync_type,
            j.state,
            opt_time(j.finished_at.as_deref()),
            j.id
        ),
    }
}

pub(super) fn list_table(page: &ElementPage) -> render::Listing {
    let mut t = render::table(&[
        "NAME",
        "KIND",
        "HOST",
        "PORT",
        "OBJECTS",
        "STATE",
        "LAST SUCCESS",
        "VERSION",
    ]);
    for e in &page.items {
        t.add_row([
            e.name.clone(),
            e.kind.to_string(),
            e.host.clone(),
            e.port.to_string(),
            count(e.objects),
            e.state.to_string(),
            opt_time(e.sync.last_success_at.as_deref()),
            opt(e.sync.version.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "element",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}

pub(super) fn show_table(e: &ElementView) -> String {
    let s = &e.settings;
    let mut rows = vec![
        ("name", e.name.clone()),
        ("kind", e.kind.to_string()),
        ("host", e.host.clone()),
        ("alternate host", opt(e.alternate_host.as_deref())),
        ("port", e.port.to_string()),
        ("login", e.login.clone()),
    ];
    if e.kind == ElementKind::Cm {
        rows.push((
            "notify sync",
            if s.notify_sync { "on" } else { "off" }.into(),
        ));
        rows.push(("own logins", s.own_logins.join(", ")));
    }
    rows.push(("host key", opt(s.host_key.as_deref())));
    if e.kind != ElementKind::Cm {
        rows.push((
            "tls",
            match (s.tls, s.plain_text) {
                (Some(true), _) => "on".into(),
                (_, true) => "off: the password crosses the network in the clear".into(),
                _ => "off".into(),
            },
        ));
        rows.push(("ca file", opt(s.ca_file.as_deref())));
        rows.push(("cm", opt(s.cm.as_deref())));
    }
    rows.extend([
        ("objects", count(e.objects)),
        ("state", e.state.to_string()),
    ]);
    if let Some(why) = &e.state_reason {
        rows.push(("why", why.clone()));
    }
    rows.extend([
        ("version", opt(e.sync.version.as_deref())),
        ("last init", opt_time(e.sync.last_init_at.as_deref())),
    ]);
    if let Some(err) = &e.sync.last_init_error {
        rows.push(("last init error", err.clone()));
    }
    rows.push(("last job", last_job(e)));
    if let Some(err) = e.sync.last_job.as_ref().and_then(|j| j.error.as_ref()) {
        rows.push(("last job error", err.clone()));
    }
    rows.extend([
        ("last sync", opt_time(e.sync.last_sync_at.as_deref())),
        ("last success", opt_time(e.sync.last_success_at.as_deref())),
        ("created", render::time(&e.created_at)),
    ]);
    render::fields(&rows)
}

pub(super) fn check_text(c: &CheckView) -> String {
    let key = match (&c.fingerprint, c.pinned) {
        (None, _) => "no host key".to_string(),
        (Some(f), Some(true)) => format!("{f} (pinned)"),
        (Some(f), Some(false)) => format!("{f} (not the pinned key)"),
        (Some(f), None) => format!("{f} (none pinned yet)"),
    };
    let mut out = render::fields(&[
        ("element", c.element.clone()),
        ("answered at", c.host.clone()),
        ("version", c.version.clone()),
        ("host key", key),
    ]);
    if let (Some(f), Some(false)) = (&c.fingerprint, c.pinned) {
        out.push_str(&format!(
            "\nif the element's key changed on purpose, accept it: ucsync element edit {} --accept-host-key {f}",
            c.element
        ));
    }
    out
}
