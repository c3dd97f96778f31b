//! A real headless Chromium, driven through its WebDriver (`chromedriver`,
//! started on a port of its own choosing) with fantoccini: the console's
//! browser tests. Everything stays on this machine: every host but the
//! loopback resolves to nothing and goes to a proxy that is not there, and
//! Chromium's own background traffic (updates, metrics, safe browsing) is
//! switched off.
//!
//! Each page can be checked with axe-core (the npm package in `axe/`,
//! installed by `npm ci`) and photographed under `target/console/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::tool::{require, require_tool};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium's switches: headless, no sandbox (tests run as root in CI),
/// and no traffic off this machine.
const SWITCHES: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--metrics-recording-only",
    "--no-pings",
    "--dns-prefetch-disable",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
];

/// The browser and its driver; the driver is killed when this is dropped.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    axe: String,
    shots: PathBuf,
    shot: AtomicUsize,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

/// The workspace's `target/` folder.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// axe-core's script, as `npm ci` in `crates/ucsync-testkit/axe` installs it.
fn axe_source() -> Result<String, String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (npm ci --prefix crates/ucsync-testkit/axe)",
            path.display()
        )
    })
}

/// Starts `chromedriver --port=0` and reads the port it took.
async fn start_driver(program: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(program)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                return rest.trim_end_matches('.').parse::<u16>().unwrap();
            }
        }
        panic!("chromedriver ended without saying its port")
    })
    .await
    .expect("chromedriver says its port within 20 s");
    // Its output is not read any more: let it go nowhere.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

impl Browser {
    /// Chromium, its driver and axe-core, started; `None` (skipped) when one
    /// is missing outside CI.
    pub async fn start() -> Option<Browser> {
        let driver = require_tool("chromedriver", "apt-get install chromium chromium-driver")?;
        require(
            "chromium",
            std::path::Path::new(CHROMIUM)
                .is_file()
                .then_some(())
                .ok_or("not installed (apt-get install chromium)"),
        )?;
        let axe = require("axe-core", axe_source())?;
        let (driver_process, port) = start_driver(&driver).await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": SWITCHES}),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = target_dir().join("console");
        // This run's screenshots only.
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            _driver: driver_process,
            axe,
            shots,
            shot: AtomicUsize::new(0),
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The first element `css` selects, waited for (10 s).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.client.wait().for_element(Locator::Css(css)),
        )
        .await
        .unwrap_or_else(|_| panic!("no {css} within 10 s"))
        .unwrap()
    }

    /// Types `text` into the field `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// The page's text.
    pub async fn text(&self) -> String {
        // Read in one step: an element found first goes stale when the
        // page is replaced (a redirect, a live update) in between.
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .unwrap();
        text.as_str().unwrap_or_default().to_string()
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the page's text holds `text` (live updates, redirects).
    pub async fn wait_for_text(&self, text: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.text().await;
            if now.contains(text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "'{text}' not on the page within {within:?}: {now}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the browser is at a path starting with `prefix` (a form
    /// sent, a redirect followed).
    pub async fn wait_for_path(&self, prefix: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.path().await;
            if now.starts_with(prefix) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not at {prefix} within {within:?} but at {now}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A screenshot of the window as `target/console/NN-name.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let n = self.shot.fetch_add(1, Ordering::Relaxed) + 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs axe-core in the page: the violations of impact "serious" or
    /// "critical", as `rule: help (nodes)` lines.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.client
            .execute(&format!("{}\nreturn true;", self.axe), vec![])
            .await
            .expect("axe-core loads in the page");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then(r => done(r.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.id + " (" + v.impact + "): " + v.help + " at " +
                     v.nodes.map(n => n.target.join(" ")).join(", "))))
              .catch(e => done(["axe failed: " + e]));
        "#;
        let found = self.client.execute_async(script, vec![]).await.unwrap();
        match found {
            Value::Array(items) => items
                .into_iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect(),
            other => vec![format!("axe answered {other}")],
        }
    }

    /// Fails the test on a serious or critical accessibility violation of
    /// the page, naming the page.
    pub async fn assert_accessible(&self) {
        let found = self.accessibility_violations().await;
        assert!(
            found.is_empty(),
            "{}: {}",
            self.path().await,
            found.join("\n")
        );
    }

    /// Presses Tab through the page: the controls (links, buttons, fields)
    /// that never received the focus, as their outer HTML. A group of radio
    /// buttons is one stop (arrows move within it): one of them reached is
    /// the group reached.
    pub async fn unreachable_by_keyboard(&self) -> Vec<String> {
        const MISSED: &str = r#"
            const reached = window.__reached || new Set();
            const groups = new Set(Array.from(reached)
              .filter(e => e.type === "radio").map(e => e.name));
            return Array.from(document.querySelectorAll(
              "a[href], button, input:not([type=hidden]), select, textarea"))
              .filter(e => !e.disabled && e.getClientRects().length > 0 && !reached.has(e)
                && !(e.type === "radio" && groups.has(e.name)))
              .map(e => e.outerHTML.slice(0, 120));
        "#;
        self.client
            .execute(
                "document.activeElement && document.activeElement.blur(); \
                 window.__reached = new Set(); \
                 document.addEventListener('focusin', e => window.__reached.add(e.target)); \
                 return true;",
                vec![],
            )
            .await
            .unwrap();
        // The keyboard itself, not keys sent to an element (a file field
        // would take them for a file's name).
        let tab = char::from(fantoccini::key::Key::Tab);
        let press = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab });
        // Date and time fields take several stops each: Tab until every
        // control was reached, or long after it should have been.
        let mut missed = Vec::new();
        for n in 0..400 {
            self.client.perform_actions(press.clone()).await.unwrap();
            if n % 5 == 4 {
                let now = self.client.execute(MISSED, vec![]).await.unwrap();
                missed = now
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| v.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if missed.is_empty() {
                    break;
                }
            }
        }
        missed
    }

    /// Ends the session and the browser.
    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}
