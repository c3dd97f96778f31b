//! The console's Jobs pages: the Scheduler's views with filters and
//! paging, a job's page, and stopping a running job from the list.

use std::time::Duration;

use serde_json::json;
use ucsync_testkit::Page;

use crate::{App, emulator, emulator_with};

/// The ids of the jobs a page's table lists, in order.
fn listed(p: &Page) -> Vec<i64> {
    p.html
        .split("<td><a href=\"/jobs/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// A page without what differs from run to run besides times: durations.
fn stable(p: &Page) -> String {
    let s = p.stable();
    match (s.find("<dt>Duration</dt><dd>"), s.find("<dt>Duration</dt>")) {
        (Some(at), Some(_)) => {
            let end = at + s[at..].find("</dd>").unwrap();
            format!("{}<dt>Duration</dt><dd>[duration]{}", &s[..at], &s[end..])
        }
        _ => s,
    }
}

#[tokio::test]
async fn the_jobs_page_filters_by_view_type_trigger_and_state_and_pages() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let init = app.add_cm("cm1", &emu).await["id"].as_i64().unwrap();
    let mut incrementals = Vec::new();
    for _ in 0..3 {
        incrementals.push(
            app.sync_one("cm1", "incremental").await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    incrementals.reverse();

    let all = admin.get("/jobs").await;
    assert_eq!(all.status, 200, "{}", all.html);
    let mut newest_first = incrementals.clone();
    newest_first.push(init);
    assert_eq!(listed(&all), newest_first);
    assert!(
        all.has("<a href=\"/jobs\" aria-current=\"page\">Jobs</a>"),
        "{}",
        all.html
    );
    assert!(all.has("<div id=\"jobs-live\" data-live>"));
    insta::assert_snapshot!("jobs_admin", all.stable());
    insta::assert_snapshot!("jobs_reader", reader.get("/jobs").await.stable());

    let by = |q: &'static str| {
        let admin = &admin;
        async move {
            let p = admin.get(q).await;
            assert_eq!(p.status, 200, "{q}: {}", p.html);
            listed(&p)
        }
    };
    assert_eq!(by("/jobs?trigger=element-added").await, [init]);
    assert_eq!(
        by("/jobs?type=incremental&trigger=on-demand").await,
        incrementals
    );
    assert_eq!(by("/jobs?type=init&element=cm1").await, [init]);
    assert_eq!(by("/jobs?element=cm2").await, Vec::<i64>::new());
    assert_eq!(by("/jobs?view=completed").await, newest_first);
    assert_eq!(by("/jobs?view=pending").await, Vec::<i64>::new());
    assert_eq!(by("/jobs?view=running").await, Vec::<i64>::new());
    assert_eq!(by("/jobs?state=failed").await, Vec::<i64>::new());
    assert_eq!(
        by("/jobs?view=running&state=succeeded").await,
        Vec::<i64>::new()
    );
    // The filter form sends its empty fields: "any".
    assert_eq!(
        by("/jobs?view=completed&element=&type=&state=&trigger=on-demand").await,
        incrementals
    );

    // Paging: two a page, newer and older links that keep the filters.
    let first = admin.get("/jobs?view=completed&limit=2").await;
    assert_eq!(listed(&first), &newest_first[..2]);
    assert!(!first.has("rel=\"prev\""));
    assert!(
        first.has(
            "<a href=\"/jobs?view=completed&#38;offset=2&#38;limit=2\" rel=\"next\">Older jobs</a>"
        ),
        "{}",
        first.html
    );
    let second = admin.get("/jobs?view=completed&offset=2&limit=2").await;
    assert_eq!(listed(&second), &newest_first[2..]);
    assert!(
        second.has("<a href=\"/jobs?view=completed&#38;limit=2\" rel=\"prev\">Newer jobs</a>"),
        "{}",
        second.html
    );
    assert!(!second.has("rel=\"next\""), "no page after the last");

    // A filter that does not parse is refused, on the page as in the API.
    let bad = admin.get("/jobs?type=full").await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    assert_eq!(admin.get("/jobs?limit=0").await.status, 400);

    // The same filters in the API.
    let api = app
        .get("/api/v1/jobs?view=completed&type=incremental&trigger=on-demand&element=cm1&limit=2&offset=1")
        .await;
    assert_eq!(api.status, 200, "{api:?}");
    let ids: Vec<i64> = api.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, &incrementals[1..]);
    let none = app.get("/api/v1/jobs?view=pending&state=succeeded").await;
    assert_eq!(none.body["items"], json!([]));
    let refused = app.get("/api/v1/jobs?view=later").await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (400, "invalid-query")
    );
}

#[tokio::test]
async fn a_job_page_shows_its_types_timing_counts_log_and_changes() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let init = app.add_cm("cm1", &emu).await;
    let id = init["id"].as_i64().unwrap();
    let p = admin.get(&format!("/jobs/{id}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.has(&format!("<h1>Job {id} on cm1</h1>")), "{}", p.html);
    for part in [
        "<dt>Trigger</dt><dd>Element added</dd>",
        "<dt>Requested by</dt><dd>admin-test</dd>",
        "<h2 id=\"log-h\">Log</h2>",
        "<h2 id=\"changes-h\">Changes</h2>",
    ] {
        assert!(p.has(part), "{part}: {}", p.html);
    }
    assert!(!p.has("/stop\""), "a finished job has no Stop");
    insta::assert_snapshot!("job_admin", stable(&p));
    insta::assert_snapshot!(
        "job_reader",
        stable(&reader.get(&format!("/jobs/{id}")).await)
    );
    assert_eq!(admin.get("/jobs/4242").await.status, 404);

    // An incremental that saw a change: the change with the CM login.
    let craft = {
        use ucsync_core::Password;
        use ucsync_sat::{SatClient, SatConfig};
        let mut cfg = SatConfig::new(
            "127.0.0.1",
            emu.addr().port(),
            crate::OUTSIDE.0,
            Password::new(crate::OUTSIDE.1),
        );
        cfg.sessions = 1;
        SatClient::connect(cfg).await.unwrap()
    };
    let r = ucsync_ossi::Request::write(
        "change station 1001",
        &[(
            ucsync_ossi::wellknown::station::NAME,
            ucsync_ossi::Value::Set("Seen, Change".into()),
        )],
    )
    .unwrap();
    craft.run(&r).await.unwrap();
    let incr = app.sync_one("cm1", "incremental").await;
    let p = admin.get(&format!("/jobs/{}", incr["id"])).await;
    assert!(
        p.has(&format!(
            "<tr><td>station</td><td>1001</td><td>Changed</td><td>{}</td>",
            crate::OUTSIDE.0
        )),
        "{}",
        p.html
    );
    assert!(p.has("Changes 1 to 1 of 1"), "{}", p.html);
}

#[tokio::test]
async fn a_running_job_shows_its_progress_and_stops_from_the_jobs_page() {
    // A slow CM, so that its init is still running when the stop comes.
    let emu = emulator_with(|s| s.latency = Duration::from_millis(20)).await;
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let a = app
        .post("/api/v1/elements", &crate::cm_body("cm1", &emu))
        .await;
    let id = a.body["job"]["id"].as_i64().unwrap();
    // Until it reads its first objects.
    let mut running = None;
    for _ in 0..400 {
        let p = admin.get("/jobs?view=running").await;
        if p.has("<progress ") {
            running = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = running.expect("the init reads");
    assert_eq!(listed(&running), [id]);
    assert!(
        running.has("<div class=\"note\">station "),
        "{}",
        running.html
    );
    assert!(running.has(&format!("aria-label=\"Stop job {id}\"")));
    assert!(!reader.get("/jobs?view=running").await.has("/stop\""));
    let page = admin.get(&format!("/jobs/{id}")).await;
    assert!(
        page.has("<div id=\"job-live\" data-live>") && page.has("so far"),
        "{}",
        page.html
    );

    // A force initialize asked meanwhile waits behind it: pending (an
    // incremental would join it).
    let q = app
        .post(
            "/api/v1/sync",
            &json!({"type": "force-init", "elements": ["cm1"]}),
        )
        .await;
    let queued = q.body["jobs"][0]["job"]["id"].as_i64().unwrap();
    assert_eq!(listed(&admin.get("/jobs?view=pending").await), [queued]);

    // The reader's stop, and one without the token, are refused.
    let csrf = reader.get("/jobs").await.csrf();
    let path = format!("/jobs/{id}/stop");
    assert_eq!(reader.post(&path, &[("csrf", &csrf)]).await.status, 403);
    assert_eq!(admin.post(&path, &[]).await.status, 403);
    assert_eq!(
        reader
            .post(&format!("/jobs/{id}/apply"), &[("csrf", &csrf)])
            .await
            .status,
        403
    );

    let p = admin
        .submit(
            "/jobs?view=running",
            &path,
            &[("back", "/jobs?view=running")],
        )
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, Some("/jobs?view=running")),
        "{}",
        p.html
    );
    let done = app.wait_job(id).await;
    assert_eq!(done["state"], "stopped", "{done}");
    // Then the force initialize: stop it too.
    let p = admin
        .submit(
            &format!("/jobs/{queued}"),
            &format!("/jobs/{queued}/stop"),
            &[("back", "/jobs")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    let done = app.wait_job(queued).await;
    assert_eq!(done["state"], "stopped", "{done}");
    let p = admin.get(&format!("/jobs/{queued}")).await;
    assert!(
        p.has("<dt>Asked for</dt><dd>Force initialize"),
        "{}",
        p.html
    );
}

#[tokio::test]
async fn a_refused_init_shows_what_it_would_have_deleted() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    app.add_cm("cm1", &emu).await;
    // An outside login removes 60 of the 300 stations (20 %, the
    // discrepancy threshold), skipping those a group still uses: its
    // session does not retry an "in use" answer, as ucsync's would.
    let (login, password) = crate::OUTSIDE;
    let mut c = ucsync_sat::SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        login,
        ucsync_core::Password::new(password),
    );
    c.sessions = 1;
    c.transient_attempts = 1;
    let craft = ucsync_sat::SatClient::connect(c).await.unwrap();
    let mut removed = Vec::new();
    for ext in (1001..=1300).rev() {
        if removed.len() < 60
            && craft
                .command(&format!("remove station {ext}"))
                .await
                .is_ok()
        {
            removed.push(ext.to_string());
        }
    }
    assert_eq!(removed.len(), 60);
    let id = app.sync_one("cm1", "init").await["id"].as_i64().unwrap();
    let job = app.wait_job(id).await;
    assert_eq!(job["state"], "failed", "{job}");

    let p = admin.get(&format!("/jobs/{id}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.has("Its plan, not applied"), "{}", p.html);
    // Its would-be deletions per type, the first of them by key.
    removed.sort();
    let row = format!(
        "<tr><th scope=\"row\">station</th><td>0</td><td>0</td><td>60</td><td>{}",
        removed[0]
    );
    assert!(p.has(&row), "{row}: {}", p.html);
    assert!(
        p.has(&format!("action=\"/jobs/{id}/apply\"")),
        "an admin may apply it: {}",
        p.html
    );
}
