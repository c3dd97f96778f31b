//! `ucsync ossi`: run OSSI commands against a CM and print what it answers.

use std::io::{IsTerminal, Write};

use anyhow::{Context, anyhow};
use clap::Args;
use ucsync_core::Password;
use ucsync_ossi::{FieldId, Request};
use ucsync_sat::{SatConfig, SatError, SatSession};

use crate::output::{self, Format};
use crate::{Exit, bad_input};

#[derive(Debug, Args)]
pub(crate) struct OssiArgs {
    /// The CM's address or host name.
    #[arg(long)]
    host: String,
    /// Its SAT port (SSH).
    #[arg(long, default_value_t = 5022)]
    port: u16,
    /// The CM login; its password comes from UCSYNC_CM_PASSWORD, else it
    /// is asked for on the terminal.
    #[arg(long)]
    login: String,
    /// The expected host-key fingerprint (SHA256:…); another key is refused.
    /// Without it, the key is checked against the known-hosts file
    /// ($UCSYNC_KNOWN_HOSTS or ~/.config/ucsync/known_hosts), where a CM's
    /// key is added the first time (its fingerprint printed).
    #[arg(long, value_name = "FINGERPRINT")]
    host_key: Option<String>,
    /// Return only these fields (repeatable).
    #[arg(long = "field", value_name = "FID", value_parser = parse_fid)]
    fields: Vec<FieldId>,
    /// table for people, csv or json.
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// The terminal type that selects OSSI.
    #[arg(long, default_value = "ossi4")]
    terminal_type: String,
    /// Commands, each one argument: 'list station' 'display station 1001'.
    #[arg(required = true, value_name = "COMMAND")]
    commands: Vec<String>,
}

fn parse_fid(s: &str) -> Result<FieldId, String> {
    FieldId::parse(s).map_err(|e| e.to_string())
}

fn password() -> Result<Password, Exit> {
    if let Ok(p) = std::env::var("UCSYNC_CM_PASSWORD") {
        return Ok(Password::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(bad_input(anyhow!(
            "no password: set UCSYNC_CM_PASSWORD or run on a terminal"
        )));
    }
    let p = rpassword::prompt_password("CM password: ").context("cannot read the password")?;
    Ok(Password::new(p))
}

pub(crate) async fn run(args: OssiArgs) -> Result<(), Exit> {
    let requests = args
        .commands
        .iter()
        .map(|c| Request::select(c, &args.fields))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_input(e.into()))?;
    let mut cfg = SatConfig::new(
        args.host.clone(),
        args.port,
        args.login.clone(),
        password()?,
    );
    let target = format!("{}:{}", args.host, args.port);
    let known = match &args.host_key {
        Some(_) => None,
        None => Some(crate::known_hosts::path()?),
    };
    cfg.host_key = match &known {
        Some(file) => crate::known_hosts::lookup(file, &target)?,
        None => args.host_key.clone(),
    };
    cfg.terminal_type = args.terminal_type.clone();
    cfg.sessions = 1;
    let session = match SatSession::connect(&cfg).await {
        Ok(s) => s,
        Err(SatError::HostKeyMismatch {
            expected, actual, ..
        }) if known.is_some() => {
            let file = known.as_deref().unwrap_or_else(|| std::path::Path::new(""));
            return Err(anyhow!(
                "the host key of {target} has changed: it is {actual}, but {expected} is in {}; if the CM's key was changed on purpose, remove its line from that file and connect again",
                file.display()
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(fingerprint = session.fingerprint(), "connected");
    if let Some(file) = &known
        && cfg.host_key.is_none()
    {
        crate::known_hosts::add(file, &target, session.fingerprint())?;
        eprintln!(
            "added the host key of {target} ({}) to {}",
            session.fingerprint(),
            file.display()
        );
    }
    let mut failed = false;
    let mut json = Vec::new();
    let stdout = std::io::stdout();
    for (text, req) in args.commands.iter().zip(&requests) {
        let resp = session.run(req).await?;
        let failure = resp.failure().cloned();
        match args.output {
            Format::Table => {
                let mut out = stdout.lock();
                if args.commands.len() > 1 {
                    writeln!(out, "# {text}")?;
                }
                if !resp.records.is_empty() {
                    writeln!(out, "{}", output::table(&resp.records))?;
                }
                writeln!(out, "{} record(s)", resp.records.len())?;
            }
            Format::Csv => output::csv(&mut stdout.lock(), &resp.records)?,
            Format::Json => json.push(serde_json::json!({
                "command": text,
                "records": output::json_records(&resp.records),
                "errors": resp.errors.iter().map(|e| serde_json::json!({
                    "field": e.field.to_string(), "code": format!("{:04x}", e.code), "message": e.message,
                })).collect::<Vec<_>>(),
            })),
        }
        if let Some(e) = failure {
            failed = true;
            eprintln!("error: '{text}' failed: {e}");
        }
    }
    if args.output == Format::Json {
        serde_json::to_writer_pretty(stdout.lock(), &json).context("writing JSON")?;
        println!();
    }
    if let Err(e) = session.logoff().await {
        if !matches!(e, SatError::Closed { .. }) {
            tracing::debug!(error = %e, "logoff");
        }
    }
    if failed {
        Err(Exit {
            code: crate::FAILED,
            error: anyhow!("a command failed"),
        })
    } else {
        Ok(())
    }
}
