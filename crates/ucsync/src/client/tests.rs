//! The client without a service: arguments to request bodies, answers to
//! tables, HTTP statuses to exit codes. `service.rs` runs it against one;
//! `schedules.rs` is `ucsync schedule`'s arguments; `users.rs` is `ucsync
//! user`, and the first start's admin user.

mod schedules;
mod service;
mod users;

use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::StatusCode;
use serde_json::json;
use ucsync_api::model::{
    ChangePage, CheckView, ElementPage, ElementView, JobPage, JobView, SchedulePage, SearchPage,
    SyncResponse, TokenPage,
};

use super::element::{self, ElementCmd};
use super::job::{self, JobCmd};
use super::schedule::{self, ScheduleCmd};
use super::sync::{self, Lines, SyncCmd};
use super::*;
use crate::{Cli, Command};

fn parse(args: &[&str]) -> Command {
    let mut all = vec!["ucsync"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all) {
        Ok(cli) => cli.command,
        Err(e) => panic!("{args:?}: {e}"),
    }
}

fn parse_err(args: &[&str]) -> clap::Error {
    let mut all = vec!["ucsync"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all).expect_err("should not parse")
}

fn element_cmd(args: &[&str]) -> ElementCmd {
    match parse(args) {
        Command::Element { cmd, .. } => cmd,
        other => panic!("{other:?}"),
    }
}

fn to_json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

// ---------------------------------------------------------------- arguments

#[test]
fn element_add_maps_to_the_body() {
    let ElementCmd::Add(a) = element_cmd(&[
        "element",
        "add",
        "cm1",
        "--kind",
        "cm",
        "--host",
        "127.0.0.11",
        "--alternate-host",
        "127.0.0.12",
        "--login",
        "ucsync",
        "--notify-sync",
        "--own-login",
        "ucs2",
        "--own-login",
        "ucs3",
        "--host-key",
        "SHA256:abc",
    ]) else {
        panic!()
    };
    assert_eq!(
        to_json(&a.body("secret".into()).unwrap()),
        json!({
            "name": "cm1", "kind": "cm", "host": "127.0.0.11", "alternate_host": "127.0.0.12",
            "port": 5022, "login": "ucsync", "password": "secret", "notify_sync": true,
            "own_logins": ["ucs2", "ucs3"], "host_key": "SHA256:abc", "tls": null,
            "ca_file": null, "cm": null
        })
    );
    // Nothing on the command line holds the password, so nothing prints it.
    assert!(!format!("{a:?}").contains("secret"));
}

#[test]
fn element_add_leaves_out_what_was_not_asked_for() {
    let ElementCmd::Add(a) = element_cmd(&[
        "element",
        "add",
        "mm1",
        "--kind",
        "messaging",
        "--host",
        "mm",
        "--port",
        "443",
        "--login",
        "l",
        "--tls",
        "--ca-file",
        "/ca.pem",
        "--cm",
        "cm1",
    ]) else {
        panic!()
    };
    let body = to_json(&a.body("p".into()).unwrap());
    assert_eq!(body["notify_sync"], json!(null));
    assert_eq!(body["own_logins"], json!(null));
    assert_eq!(body["tls"], json!(true));
    assert_eq!(body["ca_file"], json!("/ca.pem"));
    assert_eq!(body["cm"], json!("cm1"));
    assert_eq!(body["port"], json!(443));
}

#[test]
fn element_add_takes_each_kinds_well_known_port() {
    // None: neither --tls nor --no-tls (TLS, the default).
    for (kind, tls, port) in [
        ("cm", None, 5022),
        ("ip-office", Some(false), 50804),
        ("ip-office", Some(true), 50805),
        ("ip-office", None, 50805),
        ("messaging", Some(false), 389),
        ("messaging", None, 636),
        ("cm-messaging", Some(true), 636),
    ] {
        let mut args = vec![
            "element",
            "add",
            "e1",
            "--kind",
            kind,
            "--host",
            "127.0.0.1",
            "--login",
            "l",
        ];
        match tls {
            Some(true) => args.push("--tls"),
            Some(false) => args.push("--no-tls"),
            None => {}
        }
        let ElementCmd::Add(a) = element_cmd(&args) else {
            panic!()
        };
        let body = a.body("p".into()).unwrap();
        assert_eq!(body.port, port, "{kind} tls {tls:?}");
        assert_eq!(
            body.tls, tls,
            "{kind}: sent as asked, else the service's default"
        );
    }
    let ElementCmd::Add(a) = element_cmd(&[
        "element",
        "add",
        "e1",
        "--kind",
        "ip-office",
        "--host",
        "h",
        "--login",
        "l",
        "--port",
        "8443",
    ]) else {
        panic!()
    };
    assert_eq!(a.body("p".into()).unwrap().port, 8443, "a given port wins");
}

#[test]
fn element_kind_and_required_flags_are_checked_by_clap() {
    let e = parse_err(&[
        "element",
        "add",
        "x",
        "--kind",
        "pbx",
        "--host",
        "127.0.0.1",
        "--login",
        "l",
    ]);
    assert!(e.to_string().contains("unknown ElementKind \"pbx\""), "{e}");
    assert!(e.use_stderr());
    let e = parse_err(&["element", "add", "x", "--kind", "cm", "--host", "127.0.0.1"]);
    assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
}

#[test]
fn element_edit_maps_to_the_patch() {
    let patch = |args: &[&str]| {
        let mut all = vec!["element", "edit", "cm1"];
        all.extend_from_slice(args);
        let ElementCmd::Edit(a) = element_cmd(&all) else {
            panic!()
        };
        a.patch(None).map(|p| to_json(&p))
    };
    assert_eq!(
        patch(&["--host", "localhost", "--port", "22", "--no-notify-sync"]).unwrap(),
        json!({"host": "localhost", "port": 22, "notify_sync": false})
    );
    assert_eq!(
        patch(&["--no-alternate-host", "--accept-host-key", "SHA256:new"]).unwrap(),
        json!({"alternate_host": null, "host_key": "SHA256:new"})
    );
    assert_eq!(
        patch(&["--no-host-key", "--own-login", "a", "--no-tls", "--no-cm"]).unwrap(),
        json!({"host_key": null, "own_logins": ["a"], "tls": false, "cm": null})
    );
    let e = patch(&[]).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert!(
        e.error.to_string().starts_with("nothing to change"),
        "{}",
        e.error
    );
    // One way to set each thing.
    parse_err(&[
        "element",
        "edit",
        "x",
        "--host-key",
        "a",
        "--accept-host-key",
        "b",
    ]);
    parse_err(&["element", "edit", "x", "--tls", "--no-tls"]);
    parse_err(&["element", "edit", "x", "--password", "--password-stdin"]);
}

#[test]
fn element_edit_password_goes_into_the_patch() {
    let ElementCmd::Edit(a) = element_cmd(&["element", "edit", "cm1", "--password"]) else {
        panic!()
    };
    assert!(a.wants_password());
    assert_eq!(
        to_json(&a.patch(Some("new".into())).unwrap()),
        json!({"password": "new"})
    );
}

#[test]
fn sync_targets_map_to_the_body() {
    let body = |args: &[&str]| match parse(args) {
        Command::Sync { cmd, .. } => match cmd {
            SyncCmd::Init(a) => to_json(&a.body(ucsync_core::SyncType::Init)),
            SyncCmd::Incremental(a) => to_json(&a.body(ucsync_core::SyncType::Incremental)),
            SyncCmd::ForceInit(f) => {
                assert!(f.yes);
                to_json(&f.sync.body(ucsync_core::SyncType::ForceInit))
            }
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(
        body(&["sync", "init", "cm1", "cm2"]),
        json!({"type": "init", "elements": ["cm1", "cm2"]})
    );
    assert_eq!(
        body(&["sync", "incremental", "--all", "--wait"]),
        json!({"type": "incremental", "all": true})
    );
    assert_eq!(
        body(&["sync", "force-init", "--yes", "cm1"]),
        json!({"type": "force-init", "elements": ["cm1"]})
    );
    assert_eq!(
        parse_err(&["sync", "init"]).kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&["sync", "init", "cm1", "--all"]).kind(),
        clap::error::ErrorKind::ArgumentConflict
    );
}

#[test]
fn object_history_lists_changes_with_their_login_and_job() {
    let Command::Object {
        cmd:
            super::ObjectCmd::History {
                element,
                object_type,
                key,
                page,
                ..
            },
        ..
    } = parse(&[
        "object", "history", "cm1", "station", "1001", "--limit", "5",
    ])
    else {
        panic!()
    };
    assert_eq!(
        (element.as_str(), object_type.as_str(), key.as_str()),
        ("cm1", "station", "1001")
    );
    assert_eq!(page.query(), vec![("limit", "5".to_string())]);
    let page: ucsync_api::model::HistoryPage = serde_json::from_value(json!({
        "items": [
            {"job": 7, "op": "change", "by_login": "craft", "at_element": "11/25 10:02", "at": "2030-01-01T00:00:00.000Z"},
            {"job": null, "op": "add", "by_login": null, "at_element": null, "at": "2030-01-01T00:00:00.000Z"}
        ],
        "offset": 0, "limit": 5, "total": 2
    }))
    .unwrap();
    let text = super::object::history_table(&page).to_string();
    let row = |words: &[&str]| text.lines().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(row(&["AT", "OP", "BY", "AT ELEMENT", "JOB"]), "{text}");
    assert!(row(&["change", "craft", "11/25 10:02", " 7 "]), "{text}");
    assert!(row(&["add", " - "]), "{text}");
}

#[test]
fn server_and_data_dir_go_before_or_after_the_verb() {
    for args in [
        &["job", "--server", "http://h:1", "list"][..],
        &["job", "list", "--server", "http://h:1"][..],
    ] {
        let Command::Job { conn, .. } = parse(args) else {
            panic!()
        };
        assert_eq!(conn.server(), "http://h:1");
    }
    let Command::Search(a) = parse(&["search", "100", "--data-dir", "/d", "--limit", "5"]) else {
        panic!()
    };
    assert_eq!(a.conn.data_dir.as_deref(), Some(std::path::Path::new("/d")));
    assert_eq!(
        super::search::query(&a),
        vec![("q", "100".to_string()), ("limit", "5".to_string())]
    );
}

#[test]
fn job_list_filters_map_to_the_query() {
    let Command::Job {
        cmd:
            JobCmd::List {
                element,
                state,
                page,
                ..
            },
        ..
    } = parse(&[
        "job",
        "list",
        "--element",
        "cm1",
        "--state",
        "failed",
        "--limit",
        "5",
    ])
    else {
        panic!()
    };
    assert_eq!(
        job::list_query(element.as_deref(), state, &page),
        vec![
            ("element", "cm1".to_string()),
            ("state", "failed".to_string()),
            ("limit", "5".to_string())
        ]
    );
    parse_err(&["job", "list", "--state", "done"]);
}

fn schedule_cmd(args: &[&str]) -> ScheduleCmd {
    match parse(args) {
        Command::Schedule { cmd, .. } => cmd,
        other => panic!("{other:?}"),
    }
}

#[test]
fn token_create_takes_a_role() {
    let Command::Token {
        cmd: super::TokenCmd::Create { role, name, .. },
        ..
    } = parse(&[
        "token",
        "create",
        "--role",
        "read-only",
        "--name",
        "grafana",
    ])
    else {
        panic!()
    };
    assert_eq!(role, ucsync_core::Role::ReadOnly);
    assert_eq!(name, "grafana");
    parse_err(&["token", "create", "--role", "root"]);
    parse_err(&["token", "create"]);
}

// ---------------------------------------------------------------- errors and exits

#[test]
fn http_statuses_map_to_exit_codes() {
    for s in [400, 413, 415] {
        assert_eq!(exit_code(s), crate::BAD_INPUT, "{s}");
    }
    // A refusal is a failed operation, not a usage error.
    for s in [401, 403, 404, 405, 409, 422, 500, 502, 503] {
        assert_eq!(exit_code(s), crate::FAILED, "{s}");
    }
}

#[test]
fn error_answers_become_one_sentence() {
    let body = br#"{"error":{"code":"no-element","message":"no element named 'cm9'"}}"#;
    assert_eq!(
        api_message(StatusCode::NOT_FOUND, body),
        "no element named 'cm9'"
    );
    // A code this client does not know.
    let body = br#"{"error":{"code":"brand-new","message":"something new"}}"#;
    assert_eq!(api_message(StatusCode::CONFLICT, body), "something new");
    assert_eq!(
        api_message(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>\n"),
        "the service answered 502 Bad Gateway: <html>bad gateway</html>"
    );
    assert_eq!(
        api_message(StatusCode::SERVICE_UNAVAILABLE, b""),
        "the service answered 503 Service Unavailable"
    );
}

#[test]
fn the_token_comes_from_the_environment_or_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (t, src) = find_token(Some(" ucs_env \n".into()), dir.path()).unwrap();
    assert_eq!((t.as_str(), src), ("ucs_env", TokenSource::Env));

    let e = find_token(None, dir.path()).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    let msg = e.error.to_string();
    assert!(msg.contains("UCSYNC_TOKEN"), "{msg}");
    assert!(
        msg.contains(&dir.path().join("admin.token").display().to_string()),
        "{msg}"
    );

    std::fs::write(dir.path().join("admin.token"), "ucs_file\n").unwrap();
    let (t, src) = find_token(Some(String::new()), dir.path()).unwrap();
    assert_eq!(t, "ucs_file");
    assert_eq!(src, TokenSource::File(dir.path().join("admin.token")));
}

#[test]
fn a_bad_server_is_bad_input() {
    for bad in ["127.0.0.1:8080", "ftp://h/", "not a url", "localhost:8080"] {
        let e = ApiClient::new(bad, "t".into(), TokenSource::Env).unwrap_err();
        assert_eq!(e.code, crate::BAD_INPUT, "{bad}");
        assert!(
            e.error.to_string().contains("--server"),
            "{bad}: {}",
            e.error
        );
    }
    let c = ApiClient::new("http://h:1/prefix/", "t".into(), TokenSource::Env).unwrap();
    assert_eq!(
        c.url(&["elements", "a b/c"]).as_str(),
        "http://h:1/prefix/api/v1/elements/a%20b%2Fc"
    );
}

#[tokio::test]
async fn an_unreachable_service_fails_with_1() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let c = ApiClient::new(&server, "t".into(), TokenSource::Env).unwrap();
    let e = c.get_value(&["elements"], &[]).await.unwrap_err();
    assert_eq!(e.code, crate::FAILED);
    let msg = e.error.to_string();
    assert!(
        msg.starts_with(&format!("cannot reach the ucsync service at {server}")),
        "{msg}"
    );
}

#[test]
fn a_wait_exits_1_unless_every_job_succeeded() {
    let ok = job_view(1, "succeeded");
    assert!(sync::outcome(std::slice::from_ref(&ok)).is_ok());
    let failed = job_view(2, "failed");
    let e = sync::outcome(&[ok.clone(), failed]).unwrap_err();
    assert_eq!(e.code, crate::FAILED);
    assert_eq!(e.error.to_string(), "job 2 on cm1 failed");
    let e = sync::outcome(&[job_view(3, "stopped"), job_view(4, "failed"), ok]).unwrap_err();
    assert_eq!(
        e.error.to_string(),
        "2 of 3 jobs did not succeed (job 3 on cm1 stopped, job 4 on cm1 failed)"
    );
}

// ---------------------------------------------------------------- rendering

fn job_view(id: i64, state: &str) -> JobView {
    serde_json::from_value(json!({
        "id": id, "element": "cm1", "requested": "incremental", "type": "init",
        "reason": "the CM's history wrapped since the last sync",
        "trigger": "on-demand", "requested_by": "admin", "state": state,
        "progress": {"station": {"done": 1200, "expected": 5000},
                     "vdn": {"done": 0, "expected": 40}},
        "counts": {"added": 3, "changed": 2, "deleted": 1, "unchanged": 1194, "skipped": 0},
        "error": if state == "failed" { json!("the CM refused the login") } else { json!(null) },
        "created_at": "2025-03-01T10:00:00.123456Z",
        "started_at": "2025-03-01T10:00:01Z",
        "finished_at": if state == "running" { json!(null) } else { json!("2025-03-01T10:05:00Z") },
        "node": "sm-east",
    }))
    .unwrap()
}

fn element_view(name: &str, kind: &str, objects: u64) -> ElementView {
    serde_json::from_value(json!({
        "name": name, "kind": kind, "host": "127.0.0.11", "alternate_host": null, "port": 5022,
        "login": "ucsync",
        "settings": {"notify_sync": true, "own_logins": ["ucsync"], "host_key": "SHA256:abc",
                     "tls": null, "ca_file": null, "cm": null},
        "sync": {"last_init_at": "2025-03-01T10:00:00Z", "last_init_ok": true,
                 "last_init_error": null, "version": "R018x.01.0.890.0", "format": 1,
                 "last_sync_at": "2025-03-02T03:00:00Z", "last_success_at": "2025-03-02T03:00:00Z",
                 "last_job": {"id": 7, "type": "incremental", "state": "failed",
                              "finished_at": "2025-03-02T03:00:00Z", "error": "the CM did not answer"}},
        "state": "failing", "state_reason": "the last incremental failed: the CM did not answer",
        "objects": objects, "created_at": "2025-03-01T09:59:00Z"
    }))
    .unwrap()
}

#[test]
fn element_tables() {
    let mut never = element_view("ipo1", "ip-office", 0);
    never.sync = serde_json::from_value(json!({
        "last_init_at": null, "last_init_ok": null, "last_init_error": null, "version": null,
        "format": null, "last_sync_at": null, "last_success_at": null
    }))
    .unwrap();
    let page = ElementPage {
        items: vec![element_view("cm1", "cm", 12345), never],
        offset: 0,
        limit: 50,
        total: Some(2),
    };
    insta::assert_snapshot!("element_list", element::list_table(&page));
    insta::assert_snapshot!(
        "element_show",
        element::show_table(&element_view("cm1", "cm", 12345))
    );
    let check: CheckView = serde_json::from_value(json!({
        "element": "cm1", "version": "R018x.01.0.890.0", "fingerprint": "SHA256:new",
        "host": "127.0.0.12", "pinned": false
    }))
    .unwrap();
    insta::assert_snapshot!("element_check", element::check_text(&check));
}

#[test]
fn job_tables() {
    let page = JobPage {
        items: vec![job_view(12, "running"), job_view(11, "failed")],
        offset: 0,
        limit: 2,
        total: None,
    };
    insta::assert_snapshot!("job_list", job::list_table(&page));
    let changes: ChangePage = serde_json::from_value(json!({
        "items": [
            {"type": "station", "key": "1001", "op": "change", "by_login": "dadmin",
             "at_element": "2025-03-01T09:58:00Z", "at": "2025-03-01T10:04:00Z", "applied": true},
            {"type": "vdn", "key": "5000", "op": "delete", "by_login": null,
             "at_element": null, "at": "2025-03-01T10:04:01Z", "applied": true}
        ],
        "offset": 0, "limit": 2, "total": 6
    }))
    .unwrap();
    let mut shown = job_view(12, "failed");
    shown.log = Some(vec![
        "incremental became an init: the CM's history wrapped since the last sync".into(),
        "skipped station 1003: the CM answered 'extension in use'".into(),
    ]);
    let text = job::show_text(&shown, Some(&changes));
    for line in shown.log.as_ref().unwrap() {
        assert!(
            text.contains(line.as_str()),
            "{line:?} missing from:\n{text}"
        );
    }
    insta::assert_snapshot!("job_show", text);
}

#[test]
fn sync_tables_and_lines() {
    let resp: SyncResponse = serde_json::from_value(json!({"jobs": [
        {"joined": false, "job": job_view(12, "queued")},
        {"joined": true, "job": job_view(9, "running")},
    ]}))
    .unwrap();
    insta::assert_snapshot!("sync_jobs", sync::jobs_table(&resp));
    let plan: ucsync_api::model::PlanView = serde_json::from_value(json!({
        "job": 12, "element": "cm1", "type": "init",
        "types": {
            "station": {"add": 1, "change": 2, "delete": 12,
                        "first_deleted": ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010"]},
            "vdn": {"add": 0, "change": 0, "delete": 1, "first_deleted": ["7001"]}
        }
    }))
    .unwrap();
    insta::assert_snapshot!("plan_text", sync::plan_text(&plan));
    let mut planned = job_view(12, "succeeded");
    planned.dry_run = true;
    planned.counts.would_delete = 13;
    assert_eq!(
        sync::summary_line(&planned),
        "job 12 cm1 init: planned, nothing applied (would add 0, change 0, delete 13; unchanged 1194, skipped 0)"
    );
    assert_eq!(
        sync::status_line(&job_view(12, "running")),
        "job 12 cm1 init: running, type 1 of 2 (station), 1200/5040 objects"
    );
    let mut queued = job_view(12, "queued");
    queued.progress.clear();
    assert_eq!(sync::status_line(&queued), "job 12 cm1 init: queued");
    assert_eq!(
        sync::summary_line(&job_view(12, "succeeded")),
        "job 12 cm1 init: succeeded (added 3, changed 2, deleted 1, unchanged 1194, skipped 0)"
    );
    assert_eq!(
        sync::summary_line(&job_view(12, "failed")),
        "job 12 cm1 init: failed: the CM refused the login"
    );
}

#[test]
fn plain_lines_show_each_state_and_progress_now_and_then() {
    // At most one progress line per job every 10 s; each change of state at once.
    let mut lines = Lines::new(Duration::from_secs(10));
    let t0 = Instant::now();
    let mut j = job_view(12, "queued");
    j.progress.clear();
    let mut seen = Vec::new();
    let mut at = |j: &JobView, secs: u64| {
        if let Some(l) = lines.update(j, t0 + Duration::from_secs(secs)) {
            seen.push(l);
        }
    };
    at(&j, 0);
    at(&j, 1); // nothing changed
    j.state = "running".parse().unwrap();
    at(&j, 2);
    let mut p = job_view(12, "running");
    p.progress.get_mut("station").unwrap().done = 0;
    at(&p, 3); // progress, but under 10 s since the last line
    p.progress.get_mut("station").unwrap().done = 1000;
    at(&p, 7); // still under 10 s
    p.progress.get_mut("station").unwrap().done = 2000;
    at(&p, 12);
    p.progress.get_mut("station").unwrap().done = 5000;
    p.progress.get_mut("vdn").unwrap().done = 10;
    at(&p, 22);
    at(&p, 60); // no change
    at(&job_view(12, "succeeded"), 61);
    assert_eq!(
        seen,
        vec![
            "job 12 cm1 init: queued",
            "job 12 cm1 init: running",
            // 2000 objects in the 10 s since it was first seen running.
            "job 12 cm1 init: running, type 1 of 2 (station), 2000/5040 objects, 200/s, about 16 s left",
            "job 12 cm1 init: running, type 2 of 2 (vdn), 5010/5040 objects, 251/s, about 1 s left",
            "job 12 cm1 init: succeeded (added 3, changed 2, deleted 1, unchanged 1194, skipped 0)",
        ]
    );
}

#[test]
fn schedule_search_and_token_tables() {
    let page: SchedulePage = serde_json::from_value(json!({
        "items": [
            {"id": 1, "name": "default incremental of cm1", "default_for": "cm1",
             "target": {"elements": ["cm1"]}, "sync_type": "incremental",
             "first_run": "2025-03-02T03:17:00Z", "repeat": {"every": {"n": 1, "unit": "days"}},
             "end": null, "time_zone": "UTC", "enabled": true,
             "last_fired": null, "next_due": "2025-03-02T03:17:00Z",
             "created_at": "2025-03-01T10:05:00Z"},
            {"id": 2, "name": "weekly init", "default_for": null, "target": "all",
             "sync_type": "init", "first_run": "2025-03-02T02:00:00Z",
             "repeat": {"cron": "0 2 * * 0"}, "end": "2026-01-01T00:00:00Z",
             "time_zone": "Europe/Berlin", "enabled": false,
             "last_fired": "2025-03-09T01:00:00Z", "next_due": null,
             "created_at": "2025-03-01T10:06:00Z"}
        ],
        "offset": 0, "limit": 50
    }))
    .unwrap();
    insta::assert_snapshot!("schedule_list", schedule::list_table(&page));
    insta::assert_snapshot!("schedule_show", schedule::show_table(&page.items[1]));

    let hits: SearchPage = serde_json::from_value(json!({
        "items": [
            {"element": "cm1", "type": "station", "key": "1001", "name": "Doe, Jane",
             "updated_at": "2025-03-01T10:00:00Z"},
            {"element": "cm2", "type": "system-parameters-features", "key": "", "name": null,
             "updated_at": "2025-03-01T10:00:00Z"}
        ],
        "offset": 0, "limit": 2
    }))
    .unwrap();
    insta::assert_snapshot!("search", super::search::table(&hits));

    let tokens: TokenPage = serde_json::from_value(json!({
        "items": [
            {"id": 1, "name": "admin", "role": "admin", "created_at": "2025-03-01T09:00:00Z",
             "last_used_at": "2025-03-01T10:00:00Z"},
            {"id": 2, "name": "grafana", "role": "read-only", "created_at": "2025-03-01T09:30:00Z",
             "last_used_at": null}
        ],
        "offset": 0, "limit": 50, "total": 2
    }))
    .unwrap();
    insta::assert_snapshot!("tokens", super::token::list_table(&tokens));

    let nodes: ucsync_api::model::NodePage = serde_json::from_value(json!({
        "items": [
            {"name": "sm-east", "version": "0.1.0", "started_at": "2025-03-01T09:00:00Z",
             "last_heartbeat": "2025-03-01T10:00:00Z", "lost": false, "jobs_running": 3,
             "http": "127.0.0.1:8080", "syslog": "127.0.0.1:5514"},
            {"name": "sm-west", "version": "0.1.0", "started_at": "2025-03-01T09:00:05Z",
             "last_heartbeat": "2025-03-01T09:40:00Z", "lost": true, "jobs_running": 1,
             "http": "127.0.0.2:8080", "syslog": "127.0.0.2:5514"}
        ],
        "offset": 0, "limit": 50, "total": 2
    }))
    .unwrap();
    insta::assert_snapshot!("nodes", super::node::list_table(&nodes));
}

#[test]
fn an_https_service_is_checked_by_ca_file_pin_own_certificate_or_system() {
    use ucsync_connect::tls::Trust;
    let dir = tempfile::tempdir().unwrap();
    let pin = format!("SHA256:{}", ["ab"; 32].join(":"));
    let ca = PathBuf::from("ca.pem");
    let t = server_trust(Some(ca.clone()), Some(pin.clone()), dir.path()).unwrap();
    assert_eq!(t, Trust::CaFile(ca), "the CA file first");
    let t = server_trust(None, Some(pin), dir.path()).unwrap();
    assert_eq!(t, Trust::Pinned([0xab; 32]));
    assert_eq!(server_trust(None, None, dir.path()).unwrap(), Trust::System);
    let own = dir.path().join("http-tls.crt");
    std::fs::write(&own, "a certificate").unwrap();
    assert_eq!(
        server_trust(None, None, dir.path()).unwrap(),
        Trust::CaFile(own),
        "the data directory's own certificate on the service's machine"
    );
    let e = server_trust(None, Some("SHA256:zz".into()), dir.path()).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert!(
        e.error.to_string().contains("--server-fingerprint"),
        "{}",
        e.error
    );
}

#[test]
fn a_refused_init_shows_what_it_would_have_applied_apart() {
    let mut job = serde_json::to_value(job_view(14, "failed")).unwrap();
    job["counts"] = json!({"added": 0, "changed": 0, "deleted": 0, "unchanged": 210,
                           "skipped": 0, "would_add": 0, "would_change": 0, "would_delete": 90});
    let text = job::show_text(&serde_json::from_value(job).unwrap(), None);
    let line = |label: &str| {
        text.lines()
            .find(|l| l.trim_start_matches(['│', ' ']).starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {text}"))
            .to_string()
    };
    assert!(line("counts").contains("deleted 0"), "{text}");
    assert!(
        line("not applied").contains("would add 0, change 0, delete 90"),
        "{text}"
    );
    // A job that proposed nothing has no such line.
    assert!(!job::show_text(&job_view(12, "succeeded"), None).contains("not applied"));
}
