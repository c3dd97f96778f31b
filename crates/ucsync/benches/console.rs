//! The console figures of BENCHMARKS.md: `ucsync serve` from the built
//! binary on SQLite with 100 elements, 1,000,000 objects and 20,100 jobs
//! (the service figures' data; `SERVICE_BENCH_DATA` keeps it between runs),
//! an admin signed in, and each page read: its server time over 200
//! requests one after another, its weight with its assets, and its first
//! contentful paint in headless Chromium (when Chromium, its driver and
//! axe-core are installed, as for the browser tests).
//! Run with `cargo bench -p ucsync --bench console`.

use std::time::{Duration, Instant};

mod support;

use reqwest::header::{COOKIE, SET_COOKIE};
use support::data::{element_name, filled};
use support::service::Server;
use ucsync_testkit::browser::Browser;

/// Requests per page, after `WARM_UP`.
const REQUESTS: usize = 200;
const WARM_UP: usize = 20;

/// The console's pages, as an administrator opens them.
fn pages(job: i64, station: &str) -> Vec<(String, String)> {
    let cm = element_name(42);
    [
        ("dashboard", "/".to_string()),
        ("elements", "/elements".into()),
        ("element", format!("/elements/{cm}")),
        ("synchronization", "/sync/cm".into()),
        ("jobs, running", "/jobs".into()),
        ("jobs, completed", "/jobs?view=completed".into()),
        ("job", format!("/jobs/{job}")),
        ("schedules", "/schedules".into()),
        ("data", "/data".into()),
        ("objects of a type", format!("/data/{cm}?type=station")),
        ("object", format!("/data/{cm}/station/{station}")),
        ("search", "/search?q=ma".into()),
        ("administration", "/admin".into()),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect()
}

/// The value of `name="NAME" value="…"` in a page.
fn input(html: &str, name: &str) -> String {
    let before = format!("name=\"{name}\" value=\"");
    let at = html.find(&before).expect("the field") + before.len();
    html[at..at + html[at..].find('"').expect("its end")].to_string()
}

/// The `name=value` of a `Set-Cookie` header named `name`.
fn cookie(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .expect("the cookie")
        .to_string()
}

/// Signs in as `admin` with the password the first start wrote: the
/// session cookie.
async fn sign_in(server: &Server, password: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let form = http
        .get(server.url("/sign-in"))
        .send()
        .await
        .expect("sign-in");
    let pre = cookie(&form, "ucsync_sign_in");
    let csrf = input(&form.text().await.expect("the form"), "csrf");
    let signed = http
        .post(server.url("/sign-in"))
        .header(COOKIE, pre)
        .form(&[("name", "admin"), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .expect("signing in");
    assert_eq!(signed.status(), 303, "signed in");
    cookie(&signed, "ucsync_session")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let (_temp, dir) = filled().await;
    let server = Server::start(&dir);
    let password = std::fs::read_to_string(dir.join("admin.password"))
        .expect("the first start's admin.password")
        .trim()
        .to_string();
    let session = sign_in(&server, &password).await;
    let http = reqwest::Client::new();
    let jobs = server.get("/api/v1/jobs?limit=1").await;
    let job = jobs["items"][0]["id"].as_i64().expect("a job");
    let objects = server
        .get(&format!(
            "/api/v1/elements/{}/objects?type=station&limit=1",
            element_name(42)
        ))
        .await;
    let station = objects["items"][0]["key"]
        .as_str()
        .unwrap_or("3420000")
        .to_string();
    let asset = |path: &'static str| {
        let (http, url) = (http.clone(), server.url(path));
        async move {
            http.get(url)
                .send()
                .await
                .expect("asset")
                .bytes()
                .await
                .expect("body")
                .len()
        }
    };
    let assets = asset("/assets/console.css").await + asset("/assets/console.js").await;

    let mut served = Vec::new();
    for (what, path) in pages(job, &station) {
        let get = || {
            http.get(server.url(&path))
                .header(COOKIE, session.as_str())
                .send()
        };
        let first = get().await.expect("page");
        if first.status() == 404 {
            println!("{what} ({path}): not there");
            continue;
        }
        assert_eq!(first.status(), 200, "{what} ({path})");
        let bytes = first.bytes().await.expect("page").len();
        for _ in 0..WARM_UP {
            get().await.expect("page").bytes().await.expect("page");
        }
        let mut ms = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let t = Instant::now();
            get().await.expect("page").bytes().await.expect("page");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
        let weight = (bytes + assets) as f64 / 1024.0;
        println!(
            "{what} ({path}): p50 {p50:.1} ms, p99 {p99:.1} ms (target < 50 ms: {}), {:.1} KB with its assets (target < 150 KB: {})",
            if p99 < 50.0 { "met" } else { "MISSED" },
            weight,
            if weight < 150.0 { "met" } else { "MISSED" },
        );
        served.push((what, path));
    }

    // First contentful paint, in a real browser signed in through the form.
    if let Some(b) = Browser::start().await {
        b.goto(&server.url("/sign-in")).await;
        b.fill("#name", "admin").await;
        b.fill("#password", &password).await;
        b.click("button[type=submit]").await;
        b.wait_for_text("admin (admin)", Duration::from_secs(10))
            .await;
        for (what, path) in served {
            b.goto(&server.url(&path)).await;
            // The paint entry may come after the load the navigation waited
            // for: observe it (buffered), for at most 3 s.
            let paint = b
                .client
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     new PerformanceObserver(l => {
                       const p = l.getEntriesByName('first-contentful-paint')[0];
                       if (p) done(p.startTime);
                     }).observe({ type: 'paint', buffered: true });
                     setTimeout(() => done(null), 3000);",
                    vec![],
                )
                .await
                .expect("paint");
            match paint.as_f64() {
                Some(ms) => println!(
                    "{what}: first contentful paint {ms:.0} ms (target < 500 ms: {})",
                    if ms < 500.0 { "met" } else { "MISSED" }
                ),
                None => println!("{what}: no first contentful paint recorded"),
            }
        }
        b.quit().await;
    }
    server.stop();
}
