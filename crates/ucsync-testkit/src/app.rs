//! The API app: the router served on a loopback port over a fresh SQLite
//! database and a real runner, with an admin and a read-only token, and
//! the requests tests make of it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ucsync_api::{ApiSettings, ApiState, create_token};
use ucsync_core::Role;
use ucsync_emulator::cm::CmEmulator;
use ucsync_engine::{Runner, RunnerSettings};
use ucsync_store::Store;

use crate::Rig;
use crate::emulators::OWN;

/// Ports for elements that are never reached, one each.
static NEXT_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// The API served on a loopback port, with an admin and a read-only token.
pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub admin: String,
    pub reader: String,
    pub store: Arc<dyn Store>,
    pub runner: Runner,
    /// Stops the server, gracefully.
    pub shutdown: CancellationToken,
    pub server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl App {
    pub async fn start() -> App {
        App::start_with(|_| {}).await
    }

    /// With other API settings.
    pub async fn start_with(tune: impl FnOnce(&mut ApiSettings)) -> App {
        let Rig {
            dir, store, runner, ..
        } = Rig::with_settings(RunnerSettings {
            poll: Duration::from_millis(50),
            ..Default::default()
        })
        .await;
        let shutdown = CancellationToken::new();
        let mut settings = ApiSettings {
            keep_alive: Duration::from_millis(200),
            ..Default::default()
        };
        tune(&mut settings);
        let state = ApiState::new(runner.clone(), settings).with_shutdown(shutdown.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = ucsync_api::router(state);
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .unwrap();
        });
        let (_, admin) = create_token(store.as_ref(), "admin-test", Role::Admin)
            .await
            .unwrap();
        let (_, reader) = create_token(store.as_ref(), "reader-test", Role::ReadOnly)
            .await
            .unwrap();
        App {
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            admin,
            reader,
            store,
            runner,
            shutdown,
            server,
            _dir: dir,
        }
    }

    /// A request with a token (`None`: without one) and a JSON body.
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        answer(resp).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.call_as(Some(&self.admin), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// A raw body with a content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Answer {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin)
            .body(body.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Adds a CM on the emulator through the API; returns its init job, finished.
    pub async fn add_cm(&self, name: &str, emu: &CmEmulator) -> Value {
        let a = self.post("/api/v1/elements", &cm_body(name, emu)).await;
        assert_eq!(a.status, 201, "{a:?}");
        let id = a.body["job"]["id"].as_i64().unwrap();
        self.wait_job(id).await
    }

    /// Waits for a job to finish, through the API.
    pub async fn wait_job(&self, id: i64) -> Value {
        for _ in 0..1200 {
            let a = self.get(&format!("/api/v1/jobs/{id}")).await;
            assert_eq!(a.status, 200, "{a:?}");
            if ["succeeded", "failed", "stopped"].contains(&a.body["state"].as_str().unwrap()) {
                return a.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not finish in 60 s");
    }

    /// Asks for one sync of one element and waits for its job to finish.
    pub async fn sync_one(&self, name: &str, sync_type: &str) -> Value {
        let a = self
            .post(
                "/api/v1/sync",
                &serde_json::json!({"type": sync_type, "elements": [name]}),
            )
            .await;
        assert_eq!(a.status, 202, "{a:?}");
        self.wait_job(a.body["jobs"][0]["job"]["id"].as_i64().unwrap())
            .await
    }

    /// Waits until no job is queued or running.
    pub async fn idle(&self) {
        for _ in 0..1200 {
            let mut busy = false;
            for state in ["queued", "waiting", "running", "stopping"] {
                let a = self
                    .get(&format!("/api/v1/jobs?state={state}&limit=1"))
                    .await;
                busy |= !a.body["items"].as_array().unwrap().is_empty();
            }
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("jobs still running after 60 s");
    }

    /// Adds an element that needs no connection (a messaging one).
    pub async fn add_messaging(&self, name: &str) -> Answer {
        let a = self
            .post(
                "/api/v1/elements",
                // A port of its own: one element per address.
                &json!({"name": name, "kind": "messaging", "host": "127.0.0.10",
                        "port": 20000 + NEXT_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        "login": "admin", "password": "pw"}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// What adds a CM on the emulator through the API, as ucsync's own login.
pub fn cm_body(name: &str, emu: &CmEmulator) -> Value {
    json!({
        "name": name, "kind": "cm", "host": "127.0.0.1", "port": emu.addr().port(),
        "login": OWN.0, "password": OWN.1
    })
}
