//! The console's data: elements with their objects per type, a CM's
//! stations paged, a station's page with its history (the outside login
//! that changed it, in which job), the same history from the REST API, and
//! the search.

use serde_json::json;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_testkit::emulators::sat;

use crate::{App, OUTSIDE, emulator_with};

#[tokio::test]
async fn a_stations_change_by_an_outside_login_is_in_its_history() {
    let emu = emulator_with(|s| {
        s.counts = [("station".to_string(), 12)].into_iter().collect();
    })
    .await;
    let app = App::start().await;
    let init = app.add_cm("cm1", &emu).await;
    assert_eq!(init["state"], "succeeded", "{init}");
    let (admin, reader) = app.consoles().await;

    // Every element with its objects per type.
    let data = admin.get("/data").await;
    assert_eq!(data.status, 200, "{}", data.html);
    assert!(
        data.has("<a href=\"/data/cm1?type=station\">station</a> 12"),
        "{}",
        data.html
    );
    insta::assert_snapshot!("data_admin", data.stable());
    let read = reader.get("/data").await;
    assert_eq!(read.status, 200);

    // The CM's stations, a page at a time, through the store's paging.
    let first = admin.get("/data/cm1?type=station&limit=5").await;
    assert_eq!(first.status, 200, "{}", first.html);
    assert!(first.has("Objects 1 to 5 of 12"), "{}", first.html);
    assert!(
        first.has("href=\"/data/cm1?type=station&#38;offset=5&#38;limit=5\""),
        "{}",
        first.html
    );
    insta::assert_snapshot!("data_stations", first.stable());
    let last = admin.get("/data/cm1?type=station&offset=10&limit=5").await;
    assert!(last.has("Objects 11 to 12 of 12"), "{}", last.html);
    assert!(!last.has("rel=\"next\""));
    let one = admin.get("/data/cm1?type=station&key=1001").await;
    assert!(one.has("href=\"/data/cm1/station/1001\""), "{}", one.html);
    assert!(
        !one.has("/data/cm1/station/1002\""),
        "the key filter: {}",
        one.html
    );

    // Someone changes station 1001 on the CM over SAT; an incremental reads it.
    let craft = sat(emu.addr().port(), OUTSIDE).await;
    let rename = Request::write(
        "change station 1001",
        &[(station::NAME, Value::Set("Outside, History".into()))],
    )
    .unwrap();
    craft.run(&rename).await.unwrap();
    let job = app.sync_one("cm1", "incremental").await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (init_id, job_id) = (init["id"].as_i64().unwrap(), job["id"].as_i64().unwrap());

    // The REST history: newest first, with the login, in which job.
    let h = app
        .get("/api/v1/elements/cm1/objects/station/1001/history")
        .await;
    assert_eq!(h.status, 200, "{h:?}");
    assert_eq!(h.body["total"], 2, "{h:?}");
    let newest = &h.body["items"][0];
    assert_eq!(
        (&newest["job"], &newest["op"], &newest["by_login"]),
        (&json!(job_id), &json!("change"), &json!(OUTSIDE.0)),
        "{h:?}"
    );
    assert_eq!(h.body["items"][1]["job"], init_id);
    let paged = app
        .get("/api/v1/elements/cm1/objects/station/1001/history?offset=1&limit=1")
        .await;
    assert_eq!(
        paged.body["items"].as_array().unwrap().len(),
        1,
        "{paged:?}"
    );
    assert_eq!(paged.body["items"][0]["job"], init_id);
    let none = app
        .get("/api/v1/elements/cm9/objects/station/1001/history")
        .await;
    assert_eq!((none.status.as_u16(), none.code()), (404, "no-element"));

    // The station's page: its fields (as the API shows them) and history.
    let page = admin.get("/data/cm1/station/1001").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.has("Outside, History"), "{}", page.html);
    assert!(
        page.has(&format!("<a href=\"/jobs/{job_id}\">Job {job_id}</a>")),
        "{}",
        page.html
    );
    assert!(
        page.has(&format!("<td>{}</td>", OUTSIDE.0)),
        "the login: {}",
        page.html
    );
    assert!(page.has("<td>Changed</td>"));
    let view = app
        .get("/api/v1/elements/cm1/objects?type=station&key=1001")
        .await;
    for f in view.body["items"][0]["secret_fields"].as_array().unwrap() {
        assert!(page.has(&format!(
            "<th scope=\"row\">{}</th><td><span class=\"note\">(secret, not shown)",
            f.as_str().unwrap()
        )));
    }
    // The CM's own clock, as its history writes it, changes from run to run.
    let at_element = format!("<td>{}</td>", newest["at_element"].as_str().unwrap());
    assert!(page.has(&at_element), "{}", page.html);
    let stable =
        |p: &ucsync_testkit::Page| p.stable().replace(&at_element, "<td>[at element]</td>");
    insta::assert_snapshot!("data_object_admin", stable(&page));
    let read = reader.get("/data/cm1/station/1001").await;
    assert_eq!(read.status, 200);
    insta::assert_snapshot!("data_object_reader", stable(&read));

    // The search finds it by its new name, and links to its page.
    let found = admin.get("/search?q=outside").await;
    assert_eq!(found.status, 200, "{}", found.html);
    assert!(
        found.has("<a href=\"/data/cm1/station/1001\">1001</a>"),
        "{}",
        found.html
    );
    assert!(found.has("value=\"outside\""), "the box keeps the text");
    insta::assert_snapshot!("search", found.stable());
    let empty = admin.get("/search?q=+").await;
    assert_eq!(empty.status, 400, "{}", empty.html);
    assert!(empty.has("q is required"));

    // No page of data has an action; a reader's POST is refused anyway.
    for p in [&data, &first, &page, &found] {
        assert!(
            !p.html.contains("method=\"post\" action=\"/data"),
            "{}",
            p.html
        );
    }
    let token = reader.get("/data").await.csrf();
    let p = reader.post("/schedules", &[("csrf", &token)]).await;
    assert_eq!(p.status, 403);
    let p = admin.post("/schedules", &[]).await;
    assert_eq!(p.status, 403, "without the token");
}
