//! The console in a real browser (headless Chromium through WebDriver),
//! one session through the tasks an administrator does, with axe-core and
//! a Tab walk run on every page and a screenshot of each step under
//! `target/console/`. Fails under `CI=true` without Chromium, its driver or
//! axe-core; skips elsewhere, saying so.

use std::time::Duration;

use ucsync_core::Role;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_testkit::browser::Browser;
use ucsync_testkit::emulators::sat;

use crate::{App, OUTSIDE, OWN, cm_body, emulator_with};

const LONG: Duration = Duration::from_secs(60);

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

/// The newest job of `element`, through the API, once no job is open.
async fn last_job(app: &App, element: &str) -> serde_json::Value {
    app.idle().await;
    app.get(&format!("/api/v1/jobs?element={element}&limit=1"))
        .await
        .body["items"][0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_works_in_the_console() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = App::start().await;
    app.add_user("ada", Role::Admin, "ada's long password")
        .await;
    // A CM slow enough that its init is seen running.
    let emu = emulator_with(|s| {
        s.counts = [("station".to_string(), 40)].into_iter().collect();
        s.latency = Duration::from_millis(20);
    })
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

    // Add the CM through its form; watch its init end on the jobs page,
    // which is not loaded again meanwhile.
    b.goto(&format!("{}/elements/new?kind=cm", app.url)).await;
    check(&b, "element-new").await;
    let port = emu.addr().port().to_string();
    for (field, value) in [
        ("#f-name", "cm1"),
        ("#f-host", "127.0.0.1"),
        ("#f-port", port.as_str()),
        ("#f-login", OWN.0),
        ("#f-password", OWN.1),
    ] {
        b.fill(field, value).await;
    }
    b.click("form.form button[type=submit]").await;
    b.wait_for_path("/elements/cm1", Duration::from_secs(10))
        .await;
    b.goto(&format!("{}/jobs", app.url)).await;
    b.client
        .execute("window.__stayed = true; return true;", vec![])
        .await
        .unwrap();
    b.wait_for_text("Passed", LONG).await;
    let stayed = b
        .client
        .execute("return window.__stayed === true", vec![])
        .await
        .unwrap();
    assert_eq!(stayed, true, "the jobs page changed without a reload");
    check(&b, "jobs-init-passed").await;
    let init = last_job(&app, "cm1").await;
    assert_eq!(init["state"], "succeeded", "{init}");

    // Someone renames a station over SAT; an incremental from the
    // Synchronization page, with its checkbox, reads it.
    let craft = sat(emu.addr().port(), OUTSIDE).await;
    let rename = Request::write(
        "change station 1001",
        &[(station::NAME, Value::Set("Outside, Browser".into()))],
    )
    .unwrap();
    craft.run(&rename).await.unwrap();
    b.goto(&format!("{}/sync/cm", app.url)).await;
    check(&b, "synchronization").await;
    b.click("input[name=elements][value=cm1]").await;
    b.click("button[value=incremental]").await;
    b.wait_for_path("/jobs", Duration::from_secs(10)).await;
    let job = last_job(&app, "cm1").await;
    assert_eq!(
        (&job["type"], &job["state"]),
        (
            &serde_json::json!("incremental"),
            &serde_json::json!("succeeded")
        ),
        "{job}"
    );

    // The station's page: the change, and the login that made it.
    b.goto(&format!("{}/data/cm1/station/1001", app.url)).await;
    b.wait_for_text("Outside, Browser", Duration::from_secs(5))
        .await;
    assert!(b.text().await.contains(OUTSIDE.0), "{}", b.text().await);
    check(&b, "station-history").await;

    // Force initialize through its confirmation page.
    b.goto(&format!("{}/sync/cm", app.url)).await;
    b.click("input[name=elements][value=cm1]").await;
    b.click("button[value=force-init]").await;
    b.wait_for_path("/sync/force-init", Duration::from_secs(10))
        .await;
    b.wait_for_text("Force initialize: apply these plans", LONG)
        .await;
    check(&b, "force-init-confirmation").await;
    b.click("form[action='/sync/force-init'] button[type=submit]")
        .await;
    b.wait_for_path("/jobs", Duration::from_secs(10)).await;
    let applied = last_job(&app, "cm1").await;
    assert_eq!(applied["state"], "succeeded", "{applied}");

    // A schedule: every two hours on cm1.
    b.goto(&format!("{}/schedules/new", app.url)).await;
    b.fill("#name", "cm1 every two hours").await;
    b.click("#target-elements").await;
    b.fill("#elements", "cm1").await;
    // A date field is typed in the browser's locale: set its value.
    b.client
        .execute(
            "document.getElementById('first_run').value = '2030-01-01T08:00'; return true;",
            vec![],
        )
        .await
        .unwrap();
    b.click("#repeat-every").await;
    b.fill("#every_n", "2").await;
    b.client
        .execute(
            "document.getElementById('every_unit').value = 'hours'; return true;",
            vec![],
        )
        .await
        .unwrap();
    b.click("main form button[type=submit]").await;
    b.wait_for_path("/schedules", Duration::from_secs(10)).await;
    b.wait_for_text("cm1 every two hours", Duration::from_secs(10))
        .await;
    check(&b, "schedules").await;

    // A long init stopped from the jobs page (its form asks first).
    let slow = emulator_with(|s| {
        s.counts = [("station".to_string(), 400)].into_iter().collect();
        s.latency = Duration::from_millis(50);
    })
    .await;
    let added = app.post("/api/v1/elements", &cm_body("cm2", &slow)).await;
    assert_eq!(added.status, 201, "{added:?}");
    let id = added.body["job"]["id"].as_i64().unwrap();
    b.goto(&format!("{}/jobs?view=running", app.url)).await;
    let stop = format!("button[aria-label='Stop job {id}']");
    b.find(&stop).await;
    check(&b, "jobs-running").await;
    b.click(&stop).await;
    b.client.accept_alert().await.unwrap();
    let stopped = app.wait_job(id).await;
    assert_eq!(stopped["state"], "stopped", "{stopped}");

    // A page left closes its event stream: over HTTP/1.1 Chromium opens at
    // most six connections to a server, and the streams of six live pages
    // kept for going back stalled the next page for a minute.
    let walk = std::time::Instant::now();
    for path in [
        "/",
        "/elements",
        "/elements/cm1",
        "/jobs",
        "/jobs?view=completed",
        "/",
        "/elements",
        "/schedules",
    ] {
        b.goto(&format!("{}{path}", app.url)).await;
        assert_eq!(b.path().await, path);
    }
    assert!(
        walk.elapsed() < Duration::from_secs(30),
        "eight pages took {:?}",
        walk.elapsed()
    );

    // Every other page, as an admin sees it.
    for (name, path) in [
        ("dashboard", "/".to_string()),
        ("elements", "/elements".into()),
        ("element", "/elements/cm1".into()),
        ("element-edit", "/elements/cm1/edit".into()),
        ("element-import", "/elements/import".into()),
        ("jobs-completed", "/jobs?view=completed".into()),
        ("job", format!("/jobs/{}", init["id"])),
        ("schedule-new", "/schedules/new".into()),
        ("data", "/data".into()),
        ("stations", "/data/cm1?type=station".into()),
        ("search", "/search?q=Outside".into()),
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
