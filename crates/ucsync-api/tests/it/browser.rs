//! The console in a real browser (headless Chromium through WebDriver),
//! one session through the steps an administrator takes, with axe-core run
//! on every page and a screenshot of each step under `target/console/`.
//! Fails under `CI=true` without Chromium, its driver or axe-core; skips
//! elsewhere, saying so.

use std::time::Duration;

use ucsync_core::Role;
use ucsync_testkit::browser::Browser;

use crate::{App, cm_body, emulator};

/// Checks the page as every page is checked: no serious or critical
/// accessibility violation, every control reachable with the keyboard;
/// then photographs it.
async fn check(b: &Browser, name: &str) {
    b.assert_accessible().await;
    let missed = b.unreachable_by_keyboard().await;
    assert!(
        missed.is_empty(),
        "{name}: not reachable by Tab: {missed:?}"
    );
    b.screenshot(name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_works_in_the_console() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start().await;
    app.add_user("ada", Role::Admin, "ada's long password")
        .await;

    // Sign in through the form; a wrong password first.
    b.goto(&format!("{}/", app.url)).await;
    assert!(b.path().await.starts_with("/sign-in"), "{}", b.path().await);
    check(&b, "sign-in").await;
    b.fill("#name", "ada").await;
    b.fill("#password", "not the password").await;
    b.click("button[type=submit]").await;
    b.wait_for_text("the name or the password is wrong", Duration::from_secs(5))
        .await;
    b.assert_accessible().await;
    b.fill("#password", "ada's long password").await;
    b.click("button[type=submit]").await;
    b.wait_for_text("ada (admin)", Duration::from_secs(5)).await;
    assert_eq!(b.path().await, "/");
    check(&b, "dashboard-empty").await;

    // A CM added while the dashboard is open: its init shows up and ends
    // there without a reload.
    let emu = emulator().await;
    let added = app.post("/api/v1/elements", &cm_body("cm1", &emu)).await;
    assert_eq!(added.status, 201, "{added:?}");
    b.wait_for_text("Communication Manager", Duration::from_secs(30))
        .await;
    let job = added.body["job"]["id"].as_i64().unwrap();
    app.wait_job(job).await;
    b.wait_for_text("No job is running or waiting", Duration::from_secs(30))
        .await;
    assert_eq!(
        b.client
            .execute("return document.documentElement.dataset.live", vec![])
            .await
            .unwrap(),
        "on",
        "the page follows the event stream"
    );
    check(&b, "dashboard").await;

    // Every other page, as an admin sees it.
    let station = app
        .get("/api/v1/elements/cm1/objects?type=station&limit=1")
        .await
        .body["items"][0]["key"]
        .as_str()
        .expect("a station")
        .to_string();
    for (name, path) in [
        ("elements", "/elements".to_string()),
        ("element", "/elements/cm1".into()),
        ("element-new", "/elements/new?kind=cm".into()),
        ("element-edit", "/elements/cm1/edit".into()),
        ("element-import", "/elements/import".into()),
        ("synchronization", "/sync/cm".into()),
        ("jobs", "/jobs".into()),
        ("jobs-completed", "/jobs?view=completed".into()),
        ("job", format!("/jobs/{job}")),
        ("schedules", "/schedules".into()),
        ("schedule-new", "/schedules/new".into()),
        ("data", "/data".into()),
        ("stations", "/data/cm1?type=station".into()),
        ("station", format!("/data/cm1/station/{station}")),
        ("search", format!("/search?q={station}")),
        ("administration", "/admin".into()),
    ] {
        b.goto(&format!("{}{path}", app.url)).await;
        assert_eq!(b.path().await, path, "{name}");
        check(&b, name).await;
    }

    // Signing out leads back to the form.
    b.click("form[action='/sign-out'] button").await;
    b.wait_for_text("Sign in", Duration::from_secs(5)).await;
    assert!(b.path().await.starts_with("/sign-in"));
    b.quit().await;
}
