//! `ucsync serve` as a process: killed with SIGKILL in the middle of a job
//! and started again on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{BIN, emulator};

/// `ucsync serve` on a free port; killed when dropped.
pub(crate) struct Serve {
    child: Child,
    pub url: String,
    /// Where notify-sync syslog listens (UDP and TCP).
    pub syslog: std::net::SocketAddr,
    pub token: String,
}

impl Serve {
    pub(crate) fn start(data_dir: &Path) -> Serve {
        Serve::start_with(data_dir, &[])
    }

    /// With more environment: another database, a shared key, a short lease.
    pub(crate) fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Serve {
        Serve::start_command(Command::new(BIN), data_dir, env, &[])
    }

    /// With a settings file (what only the file can set: webhooks).
    pub(crate) fn start_with_config(data_dir: &Path, config: &Path, env: &[(&str, &str)]) -> Serve {
        let config = config.to_str().expect("a UTF-8 path");
        Serve::start_command(Command::new(BIN), data_dir, env, &["--config", config])
    }

    /// With at most `files` open file descriptors, as a small system has.
    pub(crate) fn start_with_files_limit(
        data_dir: &Path,
        env: &[(&str, &str)],
        files: u32,
    ) -> Serve {
        let mut sh = Command::new("sh");
        sh.args(["-c", "ulimit -n \"$0\" && exec \"$@\""])
            .arg(files.to_string())
            .arg(BIN);
        Serve::start_command(sh, data_dir, env, &[])
    }

    /// `command` given the arguments of `serve` on loopback port 0 with its
    /// data in `data_dir`.
    pub(crate) fn command(mut command: Command, data_dir: &Path) -> Command {
        command
            .args([
                "serve",
                "--http-listen",
                "127.0.0.1:0",
                "--syslog-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir);
        command
    }

    fn start_command(
        command: Command,
        data_dir: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Serve {
        let mut child = Serve::command(command, data_dir)
            .args(args)
            .env_remove("UCSYNC_DATABASE_URL")
            .env("UCSYNC_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("serve ended before it was serving")
                .unwrap();
            if let Some(rest) = line.split("serving on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string();
            }
        };
        let syslog = lines
            .next()
            .expect("serve ended before it said where syslog listens")
            .unwrap()
            .split("syslog on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("the syslog address");
        std::thread::spawn(move || lines.for_each(drop));
        // A second node on a shared database finds a token there and makes none.
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .unwrap_or_default()
            .trim()
            .to_string();
        Serve {
            child,
            url,
            syslog,
            token,
        }
    }

    /// Asks the service to stop, as an administrator's Ctrl-C or systemd would.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, say) to the service.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics` with the admin token: its status and text.
    pub(crate) async fn metrics(&self) -> (u16, String) {
        let resp = reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub(crate) async fn wait_job(&self, id: i64, until: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = self.get(&format!("/jobs/{id}")).await;
            if until(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} is still {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("succeeded" | "failed" | "stopped")
    )
}

pub(crate) fn done(job: &Value) -> u64 {
    job["progress"]
        .as_object()
        .map(|p| p.values().map(|v| v["done"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

pub(crate) fn add_cm(name: &str, port: u16) -> Value {
    json!({"name": name, "kind": "cm", "host": "127.0.0.1", "port": port,
           "login": "dadmin", "password": "dadmin01"})
}

/// A CM slow enough that an init seen 50 objects in still has seconds to
/// go (the emulator paces each SAT session's commands), so that a test
/// stopping or killing the service then finds it running whatever else
/// the machine is doing.
pub(crate) const SLOW_MS: &str = "10";

#[tokio::test]
async fn killed_mid_job_the_service_fails_it_as_interrupted_and_runs_the_queue() {
    let slow = emulator(&["--latency-ms", SLOW_MS]);
    let data: PathBuf = tempfile::tempdir().unwrap().keep();
    let serve = Serve::start(&data);
    let (status, created) = serve
        .call(
            reqwest::Method::POST,
            "/elements",
            Some(add_cm("cm1", slow.port)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let init = created["job"]["id"].as_i64().expect("the automatic init");
    serve.wait_job(init, |j| done(j) > 50 || finished(j)).await;
    let (status, queued) = serve
        .call(
            reqwest::Method::POST,
            "/sync",
            Some(json!({"type": "force-init", "elements": ["cm1"]})),
        )
        .await;
    assert!(status == 200 || status == 202, "{queued}");
    let force = queued["jobs"][0]["job"]["id"]
        .as_i64()
        .or_else(|| queued["jobs"][0]["id"].as_i64())
        .expect("the queued job");
    assert_ne!(force, init);
    serve.kill();

    let serve = Serve::start(&data);
    let interrupted = serve.get(&format!("/jobs/{init}")).await;
    assert_eq!(
        (interrupted["state"].as_str(), interrupted["error"].as_str()),
        (Some("failed"), Some("interrupted")),
        "{interrupted}"
    );
    let after = serve.wait_job(force, finished).await;
    assert_eq!(after["state"], "succeeded", "{after}");
    let element = serve.get("/elements/cm1").await;
    assert!(
        element.to_string().contains("\"last_init_ok\":true")
            || element["sync"]["last_init_ok"] == true,
        "{element}"
    );
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test]
async fn sigterm_stops_running_jobs_cleanly_and_marks_them_stopped() {
    let slow = emulator(&["--latency-ms", SLOW_MS]);
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let (status, created) = serve
        .call(
            reqwest::Method::POST,
            "/elements",
            Some(add_cm("cm1", slow.port)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let init = created["job"]["id"].as_i64().unwrap();
    serve.wait_job(init, |j| done(j) > 50 || finished(j)).await;
    let token = serve.token.clone();
    assert!(serve.terminate().success(), "a clean exit");
    let mut again = Serve::start(data.path());
    again.token = token;
    let job = again.get(&format!("/jobs/{init}")).await;
    assert_eq!(job["state"], "stopped", "{job}");
    let element = again.get("/elements/cm1").await;
    assert_eq!(element["objects"], 0, "nothing half-written: {element}");
}

/// Where the PostgreSQL tests run: a fresh database on the local server.
/// Without one, the test fails under CI and is skipped (saying so) elsewhere.
pub(crate) async fn fresh_postgres() -> Option<(String, tokio_postgres::Client, String)> {
    let base = std::env::var("UCSYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let reached = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("not reachable at {base}: {e}"));
    let (client, conn) = ucsync_testkit::require("PostgreSQL", reached)?;
    tokio::spawn(conn);
    let name = format!("ucsync_e2e_{}_{}", std::process::id(), rand_suffix());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("no database in {base}"),
    };
    Some((url, client, name))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

/// Two services on one PostgreSQL database share the job queue; when one is
/// killed, the other fails its job as interrupted once its lease has run out.
#[tokio::test]
async fn two_services_share_one_postgres_database() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    // Every node needs the same installation key to read the passwords.
    let key = "6b".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_JOB_LEASE_SECONDS", "3"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Serve::start_with(dir_a.path(), &env);
    let mut b = Serve::start_with(dir_b.path(), &env);
    assert!(b.token.is_empty(), "the second node makes no admin token");
    b.token = a.token.clone();

    let emus = [emulator(&[]), emulator(&[])];
    let mut inits = Vec::new();
    for (i, emu) in emus.iter().enumerate() {
        let node = if i == 0 { &a } else { &b };
        let (status, created) = node
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(add_cm(&format!("cm{i}"), emu.port)),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        inits.push(created["job"]["id"].as_i64().unwrap());
    }
    for id in &inits {
        let j = a.wait_job(*id, finished).await;
        assert_eq!(j["state"], "succeeded", "{j}");
    }
    // Requests on either node, jobs run by either, each once.
    let (_, sync) = b
        .call(
            reqwest::Method::POST,
            "/sync",
            Some(json!({"type": "incremental", "all": true})),
        )
        .await;
    for r in sync["jobs"].as_array().expect("jobs") {
        let id = r["job"]["id"].as_i64().unwrap();
        let j = a.wait_job(id, finished).await;
        assert_eq!(j["state"], "succeeded", "{j}");
    }

    // Node B stops; node A takes a slow init and dies in the middle of it.
    let token = b.token.clone();
    assert!(b.terminate().success());
    let slow = emulator(&["--latency-ms", SLOW_MS]);
    let (_, created) = a
        .call(
            reqwest::Method::POST,
            "/elements",
            Some(add_cm("slow", slow.port)),
        )
        .await;
    let init = created["job"]["id"].as_i64().unwrap();
    a.wait_job(init, |j| done(j) > 50 || finished(j)).await;
    a.kill();
    let mut b = Serve::start_with(dir_b.path(), &env);
    b.token = token;
    let failed = b.wait_job(init, |j| j["state"] != "running").await;
    assert_eq!(
        (failed["state"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("interrupted")),
        "{failed}"
    );
    let (_, again) = b
        .call(
            reqwest::Method::POST,
            "/sync",
            Some(json!({"type": "init", "elements": ["slow"]})),
        )
        .await;
    let id = again["jobs"][0]["job"]["id"].as_i64().unwrap();
    let j = b.wait_job(id, finished).await;
    assert_eq!(j["state"], "succeeded", "{j}");
    drop(b);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

/// A second `ucsync serve` on a data directory in use refuses to start,
/// naming the process that holds it: both would run as one node, each
/// failing the other's running jobs as interrupted.
#[tokio::test]
async fn a_second_service_on_one_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = Serve::start(dir.path());
    let stderr = refused(dir.path(), &[]).await;
    assert!(
        stderr.contains("in use by another ucsync service")
            && stderr.contains(&format!("pid {}", first.pid())),
        "{stderr}"
    );
    // The first one still serves; once it has stopped, the directory is free.
    let (status, _) = first.call(reqwest::Method::GET, "/elements", None).await;
    assert_eq!(status, 200);
    assert!(first.terminate().success());
    let again = Serve::start(dir.path());
    let (status, _) = again.call(reqwest::Method::GET, "/elements", None).await;
    assert_eq!(status, 200);
}

/// Runs `ucsync serve`, which must refuse to start: its stderr. One still
/// running after a minute is the failure.
async fn refused(data_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut serve = Serve::command(Command::new(BIN), data_dir)
        .env_remove("UCSYNC_DATABASE_URL")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            serve.kill().unwrap();
            serve.wait().unwrap();
            panic!("ucsync serve started where it must refuse to");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

/// On a shared PostgreSQL database, a second service under the name of a
/// node that is alive there refuses to start; once that node has stopped,
/// its name is free.
#[tokio::test]
async fn a_live_node_name_is_refused_on_a_shared_database() {
    let Some((url, admin, db)) = fresh_postgres().await else {
        return;
    };
    let key = "6b".repeat(32);
    let env = [
        ("UCSYNC_DATABASE_URL", url.as_str()),
        ("UCSYNC_SECRET_KEY", key.as_str()),
        ("UCSYNC_NODE", "node-a"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Serve::start_with(dir_a.path(), &env);
    let stderr = refused(dir_b.path(), &env).await;
    assert!(
        stderr.contains("node 'node-a' is alive on this database")
            && stderr.contains(&format!("pid {}", a.pid())),
        "{stderr}"
    );
    let (status, _) = a.call(reqwest::Method::GET, "/elements", None).await;
    assert_eq!(status, 200, "the live node serves on");
    assert!(a.terminate().success());
    let b = Serve::start_with(dir_b.path(), &env);
    drop(b);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}

/// A data directory others may write to, or another user's, is refused as
/// it is, not changed to fit; the database files are the owner's only.
#[cfg(unix)]
#[tokio::test]
async fn a_data_directory_shared_with_others_is_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let root = tempfile::tempdir().unwrap();
    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let stderr = refused(&shared, &[]).await;
    assert!(
        stderr.contains("others may write to the data directory") && stderr.contains("1777"),
        "{stderr}"
    );
    assert_eq!(mode(&shared), 0o1777, "left as it was");
    assert!(!shared.join("secret.key").exists(), "nothing written there");

    // Another user's directory (only root can make one to test with).
    let theirs = root.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let stderr = refused(&theirs, &[]).await;
        assert!(stderr.contains("belongs to user 65534"), "{stderr}");
        assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), 65534);
    } else {
        eprintln!("skipped the other user's directory: only root can give one away");
    }

    // A fresh directory is made private, and so are the database files.
    let fresh = root.path().join("fresh");
    let serve = Serve::start(&fresh);
    assert_eq!(mode(&fresh), 0o700);
    for f in [
        "ucsync.db",
        "ucsync.db-wal",
        "ucsync.db-shm",
        "secret.key",
        "admin.token",
        "node.id",
    ] {
        let p = fresh.join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        } else {
            assert!(f.ends_with("-shm") || f.ends_with("-wal"), "{f} missing");
        }
    }
    drop(serve);
}
