//! `ucsync serve` as a process of its own, and `wrk`, the load tool.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// `ucsync serve` on a data directory and a free port; stopped (SIGTERM)
/// when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    pub base: String,
    pub token: String,
    pub started_in: Duration,
    log: Arc<Mutex<VecDeque<String>>>,
    http: reqwest::Client,
}

impl Server {
    pub(crate) fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, None)
    }

    /// Over HTTPS with this certificate and key (PEM) when given; the
    /// certificate is also what the bench's own client trusts.
    pub(crate) fn start_with(data_dir: &Path, tls: Option<(&Path, &Path)>) -> Server {
        Server::start_env(data_dir, tls, &[])
    }

    /// With settings in the environment too (a shared database, a node's
    /// name). A node that did not make the first admin token has none in
    /// its data directory: give it another node's.
    pub(crate) fn start_env(
        data_dir: &Path,
        tls: Option<(&Path, &Path)>,
        env: &[(&str, &str)],
    ) -> Server {
        let t = Instant::now();
        // `SERVICE_BENCH_BIN` measures another build of the service (an
        // older one, say) with the same load. Not `UCSYNC_…`: the service
        // takes those for its settings.
        let bin = std::env::var_os("SERVICE_BENCH_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_ucsync").into());
        let mut child = Command::new(bin)
            .args(["serve", "--http-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(tls.into_iter().flat_map(|(cert, key)| {
                [
                    "--http-tls-cert".as_ref(),
                    cert.as_os_str(),
                    "--http-tls-key".as_ref(),
                    key.as_os_str(),
                ]
            }))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ucsync serve");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = log.clone();
        // Keeps reading, so the service never blocks on a full pipe; the last
        // lines are kept to explain a failure.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let addr = addr.trim_end_matches('/').to_string();
                    let _ = tx.send(addr);
                }
                let mut kept = kept.lock().expect("log");
                if kept.len() == 200 {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "ucsync serve did not start:\n{}",
                    Vec::from(log.lock().expect("log").clone()).join("\n")
                );
            }
        };
        let started_in = t.elapsed();
        let http = match tls {
            Some((cert, _)) => {
                let trust = ucsync_connect::tls::Trust::CaFile(cert.to_path_buf());
                let config = ucsync_connect::tls::client_config(&trust, Arc::default())
                    .expect("a client of the bench's certificate");
                reqwest::Client::builder()
                    .tls_backend_preconfigured(config)
                    .build()
                    .expect("a client")
            }
            None => reqwest::Client::new(),
        };
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .unwrap_or_default()
            .trim()
            .to_string();
        Server {
            child: Some(child),
            base: addr,
            token,
            started_in,
            log,
            http,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub(crate) fn peak_rss_mb(&self) -> f64 {
        super::peak_rss_mb(&format!("/proc/{}/status", self.pid()))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn last_log(&self) -> String {
        Vec::from(self.log.lock().expect("log").clone()).join("\n")
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// Adds a CM through the API; returns the init job that adding queued.
    pub(crate) async fn add_cm(&self, name: &str, port: u16) -> Value {
        let r = self
            .post(
                "/api/v1/elements",
                json!({"name": name, "kind": "cm", "host": "127.0.0.1", "port": port,
                       "login": "ucsync", "password": "ucsync01"}),
            )
            .await;
        r["job"].clone()
    }

    /// Waits until no job is queued, running or stopping.
    pub(crate) async fn wait_idle(&self, timeout: Duration) {
        let t = Instant::now();
        loop {
            let mut open = false;
            for state in ["queued", "waiting", "running", "stopping"] {
                let page = self
                    .get(&format!("/api/v1/jobs?state={state}&limit=1"))
                    .await;
                open |= !page["items"].as_array().expect("items").is_empty();
            }
            if !open {
                return;
            }
            assert!(
                t.elapsed() < timeout,
                "jobs still open after {timeout:?}:\n{}",
                self.last_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks the service to stop as an administrator would (SIGTERM) and
    /// waits for it.
    pub(crate) fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// What one `wrk` run measured.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers other than 2xx and 3xx; every figure wants none.
    pub failed: u64,
}

impl Load {
    pub(crate) fn all_ok(&self) -> bool {
        self.failed == 0
    }
}

/// A duration as `wrk` prints it (`850.00us`, `4.20ms`, `1.05s`, `2.00m`), in ms.
fn wrk_ms(text: &str) -> f64 {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, ""), |i| text.split_at(i));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// Runs `wrk` (Debian's package `wrk`) against `url` with `clients`
/// connections on two threads for `seconds`, and reads its latency
/// distribution.
pub(crate) fn wrk(url: &str, token: &str, clients: u32, seconds: u32) -> Load {
    let out = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            "2",
            "-c",
            &clients.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "-H",
            &format!("Authorization: Bearer {token}"),
            url,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}): `apt-get install wrk`"));
    assert!(out.status.success(), "wrk failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut load = Load {
        requests: 0,
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p90_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        failed: 0,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _stdev, max, ..] => load.max_ms = wrk_ms(max),
            ["50%", t] => load.p50_ms = wrk_ms(t),
            ["90%", t] => load.p90_ms = wrk_ms(t),
            ["99%", t] => load.p99_ms = wrk_ms(t),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            ["Requests/sec:", r] => load.rps = r.parse().unwrap_or(f64::NAN),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.failed = n.parse().unwrap_or(0),
            // `Socket errors: connect 0, read 0, write 0, timeout 0`
            ["Socket", "errors:", rest @ ..] => {
                load.failed += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(
        load.p99_ms.is_finite(),
        "wrk's output not understood:\n{text}"
    );
    load
}
