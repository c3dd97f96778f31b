//! `ucsync serve` as a process: killed with SIGKILL in the middle of a job
//! and started again on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{BIN, Emulator};

/// `ucsync serve` on a free port; killed when dropped.
pub struct Serve {
    child: Child,
    pub url: String,
    pub token: String,
}

impl Serve {
    pub fn start(data_dir: &Path) -> Serve {
        let mut child = Command::new(BIN)
            .args(["serve", "--http-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("UCSYNC_DATABASE_URL")
            .env("UCSYNC_LOG", "warn")
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
        std::thread::spawn(move || lines.for_each(drop));
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        Serve { child, url, token }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    pub async fn call(
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

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn wait_job(&self, id: i64, until: impl Fn(&Value) -> bool) -> Value {
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

fn finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("succeeded" | "failed" | "stopped")
    )
}

fn done(job: &Value) -> u64 {
    job["progress"]
        .as_object()
        .map(|p| p.values().map(|v| v["done"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

fn add_cm(name: &str, port: u16) -> Value {
    json!({"name": name, "kind": "cm", "host": "127.0.0.1", "port": port,
           "login": "dadmin", "password": "dadmin01"})
}

#[tokio::test]
async fn killed_mid_job_the_service_fails_it_as_interrupted_and_runs_the_queue() {
    let slow = Emulator::start(&["--latency-ms", "3"]);
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
