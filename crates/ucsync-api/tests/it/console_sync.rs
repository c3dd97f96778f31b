//! The console's Synchronization pages: the table of elements per kind,
//! initialize and incremental for the selected ones, and force initialize
//! through its confirmation page (a preview of each, applied once
//! confirmed, refused when stale).

use serde_json::json;
use ucsync_core::Password;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{SatClient, SatConfig};
use ucsync_testkit::{Console, Page};

use crate::{App, OUTSIDE, emulator};

async fn outside(port: u16) -> SatClient {
    let mut cfg = SatConfig::new("127.0.0.1", port, OUTSIDE.0, Password::new(OUTSIDE.1));
    cfg.sessions = 1;
    SatClient::connect(cfg).await.unwrap()
}

/// Removes `n` stations an outside login can remove, from 1300 down;
/// returns their extensions.
async fn remove_stations(craft: &SatClient, n: usize) -> Vec<u32> {
    let mut removed = Vec::new();
    for ext in (1001..=1300).rev() {
        if removed.len() < n
            && craft
                .command(&format!("remove station {ext}"))
                .await
                .is_ok()
        {
            removed.push(ext);
        }
    }
    assert_eq!(removed.len(), n);
    removed
}

async fn stations(app: &App, name: &str) -> u64 {
    let e = app.get(&format!("/api/v1/elements/{name}")).await;
    e.body["objects_by_type"]["station"].as_u64().unwrap_or(0)
}

/// The job ids of a redirect to `…?{param}=1,2`.
fn ids_in(p: &Page, param: &str) -> Vec<i64> {
    let to = p
        .location()
        .unwrap_or_else(|| panic!("no redirect: {}", p.html));
    let at = to
        .find(&format!("{param}="))
        .unwrap_or_else(|| panic!("{to}"));
    to[at + param.len() + 1..]
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect()
}

/// Sends the force initialize of `cm1` and waits for its preview.
async fn preview_force_init(app: &App, admin: &Console) -> i64 {
    let p = admin
        .submit(
            "/sync/cm",
            "/sync/cm",
            &[("elements", "cm1"), ("action", "force-init")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    assert!(p.location().unwrap().starts_with("/sync/force-init?jobs="));
    let ids = ids_in(&p, "jobs");
    assert_eq!(ids.len(), 1);
    let job = app.wait_job(ids[0]).await;
    assert_eq!(
        (&job["dry_run"], &job["requested"], &job["state"]),
        (&json!(true), &json!("force-init"), &json!("succeeded")),
        "{job}"
    );
    ids[0]
}

#[tokio::test]
async fn the_sync_pages_list_elements_per_kind_with_actions_for_an_admin_only() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let (emu1, emu2) = (emulator().await, emulator().await);
    app.add_cm("cm1", &emu1).await;
    app.add_cm("cm2", &emu2).await;
    app.add_messaging("mm1").await;

    let p = admin.get("/sync/cm").await;
    assert_eq!(p.status, 200, "{}", p.html);
    for name in ["cm1", "cm2"] {
        assert!(
            p.has(&format!(
                "<input type=\"checkbox\" name=\"elements\" value=\"{name}\" aria-label=\"Select {name}\">"
            )),
            "{}",
            p.html
        );
    }
    assert!(!p.has("mm1"), "a messaging system is on its own page");
    assert!(p.has("data-select-all=\"elements\""));
    assert!(p.has("<a href=\"/sync/cm\" aria-current=\"page\">Synchronization</a>"));
    insta::assert_snapshot!("sync_cm_admin", p.stable());

    let r = reader.get("/sync/cm").await;
    assert_eq!(r.status, 200);
    assert!(r.has("cm1") && r.has("cm2"));
    assert!(!r.has("name=\"elements\"") && !r.has("<button type=\"submit\" name=\"action\""));
    insta::assert_snapshot!("sync_cm_reader", r.stable());

    let m = admin.get("/sync/messaging").await;
    assert!(m.has("value=\"mm1\"") && !m.has("cm1"), "{}", m.html);
    assert!(m.has("<div class=\"note\">Messaging</div>"), "{}", m.html);
    let none = admin.get("/sync/ip-office").await;
    assert!(none.has("No element of this kind yet."), "{}", none.html);
    assert_eq!(admin.get("/sync/nope").await.status, 404);
    // A link back with elements selected checks them.
    let sel = admin.get("/sync/cm?select=cm2").await;
    assert!(sel.has("value=\"cm2\" aria-label=\"Select cm2\" checked"));
    assert!(!sel.has("value=\"cm1\" aria-label=\"Select cm1\" checked"));
}

#[tokio::test]
async fn an_incremental_of_two_selected_cms_queues_a_job_each_and_shows_them() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let (emu1, emu2) = (emulator().await, emulator().await);
    app.add_cm("cm1", &emu1).await;
    app.add_cm("cm2", &emu2).await;

    let p = admin
        .submit(
            "/sync/cm",
            "/sync/cm",
            &[
                ("elements", "cm1"),
                ("elements", "cm2"),
                ("action", "incremental"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    let ids = ids_in(&p, "queued");
    assert_eq!(ids.len(), 2);
    let mut elements = Vec::new();
    for id in &ids {
        let j = app.wait_job(*id).await;
        assert_eq!(
            (&j["type"], &j["trigger"], &j["requested_by"], &j["state"]),
            (
                &json!("incremental"),
                &json!("on-demand"),
                &json!("ada"),
                &json!("succeeded")
            ),
            "{j}"
        );
        elements.push(j["element"].as_str().unwrap().to_string());
    }
    elements.sort();
    assert_eq!(elements, ["cm1", "cm2"]);
    let shown = admin.get(p.location().unwrap()).await;
    for id in &ids {
        assert!(
            shown.has(&format!("<a href=\"/jobs/{id}\">job {id}</a>")),
            "{}",
            shown.html
        );
    }

    // Initialize, the same way.
    let p = admin
        .submit(
            "/sync/cm",
            "/sync/cm",
            &[("elements", "cm1"), ("action", "init")],
        )
        .await;
    let init = app.wait_job(ids_in(&p, "queued")[0]).await;
    assert_eq!(
        (&init["type"], &init["element"]),
        (&json!("init"), &json!("cm1"))
    );

    // Nothing selected: the page again, with the error by the table.
    let p = admin
        .submit("/sync/cm", "/sync/cm", &[("action", "incremental")])
        .await;
    assert_eq!(p.status, 400, "{}", p.html);
    assert!(
        p.has("<p class=\"error field-error\" role=\"alert\" id=\"elements-error\">nothing is selected: select at least one element</p>"),
        "{}",
        p.html
    );
    assert!(p.has("aria-describedby=\"elements-error\""));
    // An unknown element: refused as the API refuses it, nothing queued.
    let before = app.store.jobs(None, None, 0, 0).await.unwrap().len();
    let p = admin
        .submit(
            "/sync/cm",
            "/sync/cm",
            &[
                ("elements", "cm1"),
                ("elements", "gone"),
                ("action", "init"),
            ],
        )
        .await;
    assert_eq!(p.status, 404, "{}", p.html);
    assert!(
        p.has("no element &#39;gone&#39;") || p.has("no element 'gone'"),
        "{}",
        p.html
    );
    assert_eq!(
        app.store.jobs(None, None, 0, 0).await.unwrap().len(),
        before
    );

    // A reader, and a form without the session's token, are refused.
    let csrf = reader.get("/sync/cm").await.csrf();
    let fields = [
        ("elements", "cm1"),
        ("action", "incremental"),
        ("csrf", csrf.as_str()),
    ];
    assert_eq!(reader.post("/sync/cm", &fields).await.status, 403);
    assert_eq!(
        reader
            .post("/sync/force-init", &[("jobs", "1"), ("csrf", &csrf)])
            .await
            .status,
        403
    );
    let p = admin
        .post(
            "/sync/cm",
            &[("elements", "cm1"), ("action", "incremental")],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert_eq!(
        app.store.jobs(None, None, 0, 0).await.unwrap().len(),
        before
    );
}

#[tokio::test]
async fn force_initialize_shows_what_it_would_delete_and_applies_it_once_confirmed() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    app.add_cm("cm1", &emu).await;
    let craft = outside(emu.addr().port()).await;
    let removed = remove_stations(&craft, 3).await;
    let before = stations(&app, "cm1").await;

    let id = preview_force_init(&app, &admin).await;
    let page = format!("/sync/force-init?jobs={id}");
    let p = admin.get(&page).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.has("3 objects would be deleted."), "{}", p.html);
    let first: Vec<String> = {
        let mut r = removed.clone();
        r.sort();
        r.iter().map(u32::to_string).collect()
    };
    assert!(
        p.has(&format!(
            "<tr><th scope=\"row\">station</th><td>3</td><td>0</td><td>0</td><td>{}</td></tr>",
            first.join(", ")
        )),
        "{}",
        p.html
    );
    assert!(p.has("<form method=\"post\" action=\"/sync/force-init\">"));
    insta::assert_snapshot!("force_init_confirm", p.stable());
    let r = reader.get(&page).await;
    assert!(r.has("3 objects would be deleted.") && !r.has("action=\"/sync/force-init\""));
    assert_eq!(stations(&app, "cm1").await, before, "nothing applied yet");

    // The preview's own page shows the plan, with Apply for an admin only.
    let j = admin.get(&format!("/jobs/{id}")).await;
    assert!(
        j.has("Its plan, not applied")
            && j.has(
                "action=\"/jobs/{id}/apply\""
                    .replace("{id}", &id.to_string())
                    .as_str()
            ),
        "{}",
        j.html
    );
    let rj = reader.get(&format!("/jobs/{id}")).await;
    assert!(
        rj.has("Its plan, not applied") && !rj.has("/apply\""),
        "{}",
        rj.html
    );

    let id_text = id.to_string();
    let done = admin
        .submit(&page, "/sync/force-init", &[("jobs", &id_text)])
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(
        done.location(),
        Some(format!("/jobs?applied={id}").as_str())
    );
    assert_eq!(stations(&app, "cm1").await, before - 3);
    let j = app.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(j.body["applied_by"], "ada", "{j:?}");
    assert_eq!(j.body["counts"]["deleted"], 3);
    let list = admin.get(done.location().unwrap()).await;
    assert!(
        list.has(&format!("Plans applied: <a href=\"/jobs/{id}\">")),
        "{}",
        list.html
    );
}

#[tokio::test]
async fn a_stale_plan_is_refused_with_a_link_to_preview_again() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    app.add_cm("cm1", &emu).await;
    let id = preview_force_init(&app, &admin).await;
    let page = format!("/sync/force-init?jobs={id}");
    let form = admin.get(&page).await;
    assert!(form.has("Nothing would change"), "{}", form.html);

    // Someone changes the CM after the preview.
    let craft = outside(emu.addr().port()).await;
    let r = Request::write(
        "change station 1001",
        &[(station::NAME, Value::Set("After, Preview".into()))],
    )
    .unwrap();
    craft.run(&r).await.unwrap();

    let id_text = id.to_string();
    let p = admin
        .submit(&page, "/sync/force-init", &[("jobs", &id_text)])
        .await;
    assert_eq!(p.status, 409, "{}", p.html);
    assert!(
        p.has("Not applied: the plan is stale: run the preview again"),
        "{}",
        p.html
    );
    assert!(
        p.has("<a href=\"/sync/cm?select=cm1\">Preview again</a>"),
        "{}",
        p.html
    );
    assert!(
        !p.has("action=\"/sync/force-init\""),
        "nothing left to confirm"
    );
    // The same refusal from the job's own page.
    let p = admin
        .submit(&format!("/jobs/{id}"), &format!("/jobs/{id}/apply"), &[])
        .await;
    assert_eq!(p.status, 409, "{}", p.html);
    assert!(
        p.has("the plan is stale: run the preview again"),
        "{}",
        p.html
    );
    assert!(p.has("<a href=\"/sync/cm?select=cm1\">Preview again</a>"));
    let j = app.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(j.body["applied_at"], json!(null));
}
