//! The client against a real service, in-process: `Service::start` on port
//! 0 with a fresh data directory and an emulated CM, driven through the
//! same functions the subcommands run.

use std::io::IsTerminal;

use ucsync::serve::{Listeners, Service, Settings};
use ucsync_api::model::{ElementView, JobPage, SchedulePage, TokenCreated};
use ucsync_emulator::cm::{CmEmulator, CmSettings};

use super::*;
use crate::client::{search, token};

struct Fixture {
    _dir: tempfile::TempDir,
    service: Service,
    emulator: CmEmulator,
    client: ApiClient,
}

impl Fixture {
    async fn start() -> Fixture {
        let emulator = ucsync_testkit::emulators::cm(CmSettings {
            counts: [("station".to_string(), 30)].into(),
            ..CmSettings::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().join("data"),
            ..Settings::default()
        };
        let listeners = Listeners::loopback().await.unwrap();
        let service = Service::start(settings, listeners, Default::default())
            .await
            .unwrap();
        // As on the service's machine: no UCSYNC_TOKEN, the admin token file.
        let (token, source) = find_token(None, &service.data_dir).unwrap();
        let client = ApiClient::new(&server(&service), token, source).unwrap();
        Fixture {
            _dir: dir,
            service,
            emulator,
            client,
        }
    }

    fn add_args(&self, name: &str, login: &str) -> element::AddArgs {
        self.add_args_on(name, login, "127.0.0.1")
    }

    /// The emulator under another host name: one element per address.
    fn add_args_on(&self, name: &str, login: &str, host: &str) -> element::AddArgs {
        let port = self.emulator.addr().port().to_string();
        let ElementCmd::Add(a) = element_cmd(&[
            "element", "add", name, "--kind", "cm", "--host", host, "--port", &port, "--login",
            login, "--wait",
        ]) else {
            panic!()
        };
        a
    }

    /// Another client of the same service, with another token.
    fn with_token(&self, token: &str) -> ApiClient {
        ApiClient::new(&server(&self.service), token.into(), TokenSource::Env).unwrap()
    }
}

fn server(service: &Service) -> String {
    format!("http://{}", service.http_addr)
}

fn sync_cmd(args: &[&str]) -> SyncCmd {
    match parse(args) {
        Command::Sync { cmd, .. } => cmd,
        other => panic!("{other:?}"),
    }
}

fn job_cmd(args: &[&str]) -> JobCmd {
    match parse(args) {
        Command::Job { cmd, .. } => cmd,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_session() {
    let f = Fixture::start().await;
    let c = &f.client;

    // An element added with --wait: its init runs to the end.
    element::run(c, element_cmd(&["element", "list"]))
        .await
        .unwrap();
    element::add_with_password(c, f.add_args("cm1", "dadmin"), "dadmin01".into())
        .await
        .unwrap();
    let e: ElementView = c.get(&["elements", "cm1"], &[]).await.unwrap();
    assert!(e.objects >= 30, "{e:?}");
    assert_eq!(e.sync.last_init_ok, Some(true));
    element::run(
        c,
        element_cmd(&["element", "show", "cm1", "--output", "json"]),
    )
    .await
    .unwrap();
    element::run(c, element_cmd(&["element", "check", "cm1"]))
        .await
        .unwrap();

    // A sync with --wait, then the jobs.
    sync::run(c, sync_cmd(&["sync", "incremental", "cm1", "--wait"]))
        .await
        .unwrap();
    let jobs: JobPage = c.get(&["jobs"], &[]).await.unwrap();
    assert_eq!(jobs.items.len(), 2);
    let id = jobs.items[0].id.to_string();
    job::run(c, job_cmd(&["job", "list", "--element", "cm1"]))
        .await
        .unwrap();
    job::run(c, job_cmd(&["job", "show", &id])).await.unwrap();
    // It has finished: there is nothing to stop, and the exit says so.
    let e = job::run(c, job_cmd(&["job", "stop", &id]))
        .await
        .unwrap_err();
    assert_eq!(e.code, 1, "{}", e.error);
    assert!(
        e.error.to_string().contains("already finished"),
        "{}",
        e.error
    );
    let Command::Search(a) = parse(&["search", "1"]) else {
        panic!()
    };
    search::run(c, a).await.unwrap();

    // The CM's default schedule, and one of our own.
    let schedules: SchedulePage = c.get(&["schedules"], &[]).await.unwrap();
    assert_eq!(schedules.items.len(), 1);
    assert_eq!(schedules.items[0].default_for.as_deref(), Some("cm1"));
    schedule::run(
        c,
        schedule_cmd(&[
            "schedule",
            "add",
            "--name",
            "hourly",
            "--element",
            "cm1",
            "--type",
            "incremental",
            "--first-run",
            "2030-01-01T00:00:00Z",
            "--every",
            "1 hour",
        ]),
    )
    .await
    .unwrap();
    let schedules: SchedulePage = c.get(&["schedules"], &[]).await.unwrap();
    let added = schedules.items.iter().find(|s| s.name == "hourly").unwrap();
    let sid = added.id.to_string();
    schedule::run(c, schedule_cmd(&["schedule", "edit", &sid, "--disabled"]))
        .await
        .unwrap();
    schedule::run(c, schedule_cmd(&["schedule", "list"]))
        .await
        .unwrap();
    // Without a terminal to ask on, a removal needs --yes.
    if !std::io::stdin().is_terminal() {
        let e = schedule::run(c, schedule_cmd(&["schedule", "remove", &sid]))
            .await
            .unwrap_err();
        assert_eq!(e.code, crate::BAD_INPUT);
        assert!(e.error.to_string().ends_with("pass --yes"), "{}", e.error);
    }
    schedule::run(c, schedule_cmd(&["schedule", "remove", &sid, "--yes"]))
        .await
        .unwrap();

    // What the API refuses, with the exit status for each.
    let code =
        |r: Result<(), crate::Exit>| r.map_err(|e| (e.code, e.error.to_string())).unwrap_err();
    let (status, msg) = code(job::run(c, job_cmd(&["job", "show", "99999"])).await);
    assert_eq!(status, crate::FAILED, "{msg}");
    let (status, _) = code(sync::run(c, sync_cmd(&["sync", "init", "nosuch"])).await);
    assert_eq!(status, crate::FAILED);
    let (status, msg) = code(
        schedule::run(
            c,
            schedule_cmd(&[
                "schedule",
                "add",
                "--all",
                "--type",
                "init",
                "--first-run",
                "2030-01-01T00:00:00Z",
                "--cron",
                "at three",
            ]),
        )
        .await,
    );
    assert_eq!(status, crate::BAD_INPUT, "{msg}");
    assert!(msg.starts_with("--cron \"at three\""), "{msg}");
    let (status, msg) =
        code(element::add_with_password(c, f.add_args("cm1", "dadmin"), "x".into()).await);
    assert_eq!(status, crate::FAILED, "409: {msg}");
    let (status, msg) = code(job::run(&f.with_token("ucs_nope"), job_cmd(&["job", "list"])).await);
    assert_eq!(status, crate::FAILED);
    assert!(
        msg.starts_with("the token in UCSYNC_TOKEN was refused"),
        "{msg}"
    );

    // A read-only token reads, and may not sync.
    let created: TokenCreated = c
        .typed(
            c.call(
                Method::POST,
                &["tokens"],
                &[],
                Some(&json!({"name": "viewer", "role": "read-only"})),
            )
            .await
            .unwrap(),
        )
        .unwrap();
    let viewer = f.with_token(&created.secret);
    token::run(
        &viewer,
        match parse(&["token", "list"]) {
            Command::Token { cmd, .. } => cmd,
            other => panic!("{other:?}"),
        },
    )
    .await
    .unwrap();
    let (status, msg) = code(sync::run(&viewer, sync_cmd(&["sync", "init", "--all"])).await);
    assert_eq!(status, crate::FAILED, "403: {msg}");

    // Without a terminal, a forced init needs --yes.
    if !std::io::stdin().is_terminal() {
        let (status, msg) = code(sync::run(c, sync_cmd(&["sync", "force-init", "cm1"])).await);
        assert_eq!(status, crate::BAD_INPUT);
        assert!(msg.ends_with("pass --yes"), "{msg}");
    }

    // A job that fails makes --wait exit 1: a login the CM does not know.
    let (status, msg) = code(
        element::add_with_password(
            c,
            f.add_args_on("cm2", "nobody", "localhost"),
            "wrong".into(),
        )
        .await,
    );
    assert_eq!(status, crate::FAILED, "{msg}");
    assert!(msg.contains("cm2"), "{msg}");

    element::run(c, element_cmd(&["element", "remove", "cm2", "--yes"]))
        .await
        .unwrap();
    element::run(c, element_cmd(&["element", "remove", "cm1", "--yes"]))
        .await
        .unwrap();
    let schedules: SchedulePage = c.get(&["schedules"], &[]).await.unwrap();
    assert!(schedules.items.is_empty(), "{schedules:?}");
    f.service.stop().await;
}
