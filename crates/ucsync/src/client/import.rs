//! `ucsync element import|export`: elements in bulk, as CSV (a header line
//! naming the columns) or JSON lines (one object per line). The columns are
//! the fields of `POST /elements` (`ucsync_api::model::ELEMENT_COLUMNS`);
//! the service checks every row as it checks one element, and adds all of
//! them or none. An export has no passwords, so an exported file, edited,
//! imports again with the passwords asked for.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use ucsync_api::model::{
    self, FileRow, ImportBody, ImportOutcome, ImportReport, MAX_IMPORT_ROWS, export_row, fill_port,
    has_password,
};

use super::render;
use super::{ApiClient, Output, OutputArg, all_elements, exit_code, print, print_json};
use crate::{Exit, bad_input};

/// The form of an import or export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A header line naming the columns, then one element per line.
    Csv,
    /// One JSON object per line, with the columns as its fields.
    Jsonl,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ImportArgs {
    /// The file (`-`: standard input).
    pub file: PathBuf,
    /// csv or jsonl [default: jsonl for a .jsonl or .ndjson file, else csv].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Check every row with the service and show what would be added; add
    /// nothing (and ask for no password).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ExportArgs {
    /// Where to write [default: standard output].
    pub file: Option<PathBuf>,
    /// csv, or jsonl: one JSON object per line.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
}

/// Stands for a password not given while a dry run checks the rows: a
/// dry run stores nothing, so it is never stored.
const UNSET_PASSWORD: &str = "(not asked for: dry run)";

/// The rows of a CSV file (`ucsync_api::model::read_csv`); a bad header
/// or line is bad input.
pub(crate) fn read_csv(text: &str) -> Result<Vec<FileRow>, Exit> {
    model::read_csv(text).map_err(|e| bad_input(anyhow!(e)))
}

/// The rows of a JSON-lines file; blank lines are skipped.
pub(crate) fn read_jsonl(text: &str) -> Result<Vec<FileRow>, Exit> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(fields)) => rows.push(FileRow {
                line: line_no,
                fields,
            }),
            Ok(_) => {
                return Err(bad_input(anyhow!(
                    "line {line_no}: not a JSON object: give one element per line"
                )));
            }
            Err(e) => return Err(bad_input(anyhow!("line {line_no}: not JSON ({e})"))),
        }
    }
    Ok(rows)
}

fn login_of(fields: &Map<String, Value>) -> String {
    fields
        .get("login")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Gives every row without a password `password(login)`, asked once per login.
fn fill_passwords(
    rows: &mut [FileRow],
    mut password: impl FnMut(&str, usize) -> Result<String, Exit>,
) -> Result<(), Exit> {
    let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| !has_password(&r.fields)) {
        *wanted.entry(login_of(&r.fields)).or_default() += 1;
    }
    let mut given = BTreeMap::new();
    for (login, n) in wanted {
        let p = password(&login, n)?;
        given.insert(login, p);
    }
    for r in rows.iter_mut().filter(|r| !has_password(&r.fields)) {
        let p = given[&login_of(&r.fields)].clone();
        r.fields.insert("password".into(), Value::String(p));
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<String, Exit> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| bad_input(anyhow!("cannot read {}: {e}", path.display())))
}

fn format_of(path: &Path, given: Option<Format>) -> Format {
    given.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson") => Format::Jsonl,
        _ => Format::Csv,
    })
}

/// Sends the rows; the report, whether the service took them or refused
/// them for bad rows (which it names).
async fn send(
    client: &ApiClient,
    rows: &[FileRow],
    dry_run: bool,
) -> Result<(StatusCode, Value), Exit> {
    let body = ImportBody {
        elements: rows
            .iter()
            .map(|r| Value::Object(r.fields.clone()))
            .collect(),
        dry_run,
    };
    client
        .call_keeping(
            Method::POST,
            &["import"],
            &[],
            Some(&body),
            Some(StatusCode::BAD_REQUEST),
        )
        .await
}

pub(super) async fn import(client: &ApiClient, args: ImportArgs) -> Result<(), Exit> {
    let text = read_file(&args.file)?;
    let mut rows = match format_of(&args.file, args.format) {
        Format::Csv => read_csv(&text)?,
        Format::Jsonl => read_jsonl(&text)?,
    };
    if rows.is_empty() {
        return Err(bad_input(anyhow!("{}: no rows", args.file.display())));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(bad_input(anyhow!(
            "{}: {} rows; one import takes at most {MAX_IMPORT_ROWS}: split the file",
            args.file.display(),
            rows.len()
        )));
    }
    for r in &mut rows {
        fill_port(&mut r.fields);
    }
    let missing = rows.iter().any(|r| !has_password(&r.fields));
    let from_env = std::env::var("UCSYNC_ELEMENT_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let asking = !args.dry_run && missing && from_env.is_none();
    if asking && !std::io::stdin().is_terminal() {
        let lines: Vec<String> = rows
            .iter()
            .filter(|r| !has_password(&r.fields))
            .map(|r| r.line.to_string())
            .take(10)
            .collect();
        return Err(bad_input(anyhow!(
            "no password for the rows at lines {}: give a password column, set UCSYNC_ELEMENT_PASSWORD, or run on a terminal",
            lines.join(", ")
        )));
    }
    if args.dry_run || asking {
        // Every row is checked before any password is asked for.
        let mut checked = rows.clone();
        fill_passwords(&mut checked, |_, _| Ok(UNSET_PASSWORD.to_string()))?;
        let (status, v) = send(client, &checked, true).await?;
        if args.dry_run || !status.is_success() {
            return report(client, &rows, status, v, args.output.output);
        }
    }
    fill_passwords(&mut rows, |login, n| match &from_env {
        Some(p) => Ok(p.clone()),
        None => ask(login, n),
    })?;
    let (status, v) = send(client, &rows, false).await?;
    report(client, &rows, status, v, args.output.output)
}

fn ask(login: &str, n: usize) -> Result<String, Exit> {
    let p = rpassword::prompt_password(format!(
        "password of {login} ({n} element{}): ",
        if n == 1 { "" } else { "s" }
    ))
    .context("cannot read the password")?;
    if p.is_empty() {
        return Err(bad_input(anyhow!("the password of {login} is empty")));
    }
    Ok(p)
}

/// Prints the report, a line per row; bad rows are an error (exit 2, as
/// any input the service refuses).
fn report(
    client: &ApiClient,
    rows: &[FileRow],
    status: StatusCode,
    v: Value,
    output: Output,
) -> Result<(), Exit> {
    let report: ImportReport = client.typed(v.clone())?;
    match output {
        Output::Json => print_json(&v)?,
        Output::Table => print(&report_table(rows, &report))?,
    }
    match &report.error {
        Some(e) if !status.is_success() => Err(Exit {
            code: exit_code(status.as_u16()),
            error: anyhow!("{}", e.message),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn report_table(rows: &[FileRow], report: &ImportReport) -> String {
    let mut t = render::table(&["LINE", "NAME", "RESULT", "FIELD", "WHY"]);
    let mut inits = 0;
    for r in &report.rows {
        let line = usize::try_from(r.row)
            .ok()
            .and_then(|i| rows.get(i.wrapping_sub(1)))
            .map_or_else(|| format!("row {}", r.row), |f| f.line.to_string());
        let (result, field, why) = match r.outcome {
            ImportOutcome::WouldAdd => ("would add".to_string(), String::new(), String::new()),
            ImportOutcome::Added => {
                let why = match &r.job {
                    Some(j) => {
                        inits += 1;
                        format!("job {} {}: {}", j.id, j.sync_type, j.state)
                    }
                    None => String::new(),
                };
                ("added".to_string(), String::new(), why)
            }
            ImportOutcome::Invalid => {
                let e = r.error.as_ref();
                (
                    format!("error: {}", e.map_or("", |e| e.code.as_str())),
                    e.and_then(|e| e.field.clone()).unwrap_or_default(),
                    e.map(|e| e.message.clone()).unwrap_or_default(),
                )
            }
        };
        t.add_row([line, render::opt(r.name.as_deref()), result, field, why]);
    }
    let n = report.rows.len();
    let footer = if report.invalid > 0 {
        format!("{n} rows, {} bad: nothing was added", report.invalid)
    } else if report.dry_run {
        format!("{n} rows, all good: a dry run, nothing was added")
    } else {
        format!(
            "added {} elements; {inits} initializing syncs queued",
            report.added
        )
    };
    render::listing(t, footer).to_string()
}

/// The rows as a file of the format.
pub(crate) fn write_rows(rows: &[Map<String, Value>], format: Format) -> Result<String, Exit> {
    match format {
        Format::Jsonl => Ok(rows
            .iter()
            .map(|r| format!("{}\n", Value::Object(r.clone())))
            .collect()),
        Format::Csv => Ok(model::write_csv(rows).context("cannot write CSV")?),
    }
}

pub(super) async fn export(client: &ApiClient, args: ExportArgs) -> Result<(), Exit> {
    let rows: Vec<Map<String, Value>> =
        all_elements(client).await?.iter().map(export_row).collect();
    let text = write_rows(&rows, args.format)?;
    match &args.file {
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => Ok(r.context("cannot write the output")?),
            }
        }
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("exported {} elements to {}", rows.len(), path.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_header_or_line_is_bad_input_with_its_line() {
        let err = read_csv("name,kind,hots,login\n").unwrap_err();
        assert_eq!(err.code, crate::BAD_INPUT);
        assert!(
            err.error.to_string().contains("unknown column 'hots'"),
            "{}",
            err.error
        );
        let err = read_csv("name,kind,host\n").unwrap_err();
        assert!(
            err.error.to_string().contains("no 'login' column"),
            "{}",
            err.error
        );
        let err = read_jsonl("{\"name\": \"cm1\"}\n\n[1]\n").unwrap_err();
        assert!(
            err.error.to_string().starts_with("line 3:"),
            "{}",
            err.error
        );
    }

    #[test]
    fn ports_default_by_kind_and_passwords_are_asked_once_per_login() {
        let mut rows = read_jsonl(
            "{\"name\": \"a\", \"kind\": \"ip-office\", \"login\": \"x\"}\n\
             {\"name\": \"b\", \"kind\": \"messaging\", \"login\": \"x\", \"tls\": false}\n\
             {\"name\": \"c\", \"kind\": \"cm\", \"login\": \"y\", \"password\": \"given\"}\n",
        )
        .unwrap();
        for r in &mut rows {
            fill_port(&mut r.fields);
        }
        let ports: Vec<&Value> = rows.iter().map(|r| &r.fields["port"]).collect();
        assert_eq!(
            ports,
            [&Value::from(50805), &Value::from(389), &Value::from(5022)]
        );
        let mut asked = Vec::new();
        fill_passwords(&mut rows, |login, n| {
            asked.push((login.to_string(), n));
            Ok(format!("pw-{login}"))
        })
        .unwrap();
        assert_eq!(asked, [("x".to_string(), 2)]);
        let pw: Vec<&Value> = rows.iter().map(|r| &r.fields["password"]).collect();
        assert_eq!(pw, ["pw-x", "pw-x", "given"]);
    }

    /// CSV is written and read by the API's model (tested there); JSON
    /// lines are the client's own.
    #[test]
    fn a_json_lines_export_reads_back_as_the_same_rows() {
        let rows: Vec<Map<String, Value>> = [
            serde_json::json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": 5022,
                "login": "ucsync", "notify_sync": true, "own_logins": ["init", "craft"]}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let jsonl = write_rows(&rows, Format::Jsonl).unwrap();
        let back: Vec<Map<String, Value>> = read_jsonl(&jsonl)
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect();
        assert_eq!(back, rows);
    }
}
