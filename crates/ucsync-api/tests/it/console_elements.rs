//! The console's Elements pages: the list with its filter and paging, an
//! element's page, adding through a form per kind, changing, removing
//! through a confirmation, checking the connection and accepting a key,
//! the bulk import with its preview and the CSV export — as an admin sees
//! them and as a read-only user is refused them.

use reqwest::Method;
use serde_json::{Value, json};
use ucsync_testkit::Page;

use crate::{App, OWN, cm_body, emulator};

/// Adds a messaging element through the API, at a fixed address.
async fn messaging(app: &App, name: &str, port: u16) {
    let a = app
        .post(
            "/api/v1/elements",
            &json!({"name": name, "kind": "messaging", "host": "127.0.0.10", "port": port,
                    "login": "cn=ucsync", "password": "pw"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
}

/// The element names the API lists.
async fn names(app: &App) -> Vec<String> {
    let a = app.get("/api/v1/elements").await;
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// The text between `before` and the next `after` on a page.
fn between(page: &Page, before: &str, after: &str) -> String {
    let at = page
        .html
        .find(before)
        .unwrap_or_else(|| panic!("no {before}: {}", page.html));
    let rest = &page.html[at + before.len()..];
    rest[..rest.find(after).unwrap()].to_string()
}

#[tokio::test]
async fn the_list_and_an_elements_page_as_an_admin_and_a_reader_see_them() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let emu = emulator().await;
    let init = app.add_cm("cm1", &emu).await;
    assert_eq!(init["state"], "succeeded", "{init}");
    messaging(&app, "mm1", 636).await;

    let list = admin.get("/elements").await;
    assert_eq!(list.status, 200, "{}", list.html);
    assert!(
        list.has("<a href=\"/elements/cm1\">cm1</a>"),
        "{}",
        list.html
    );
    assert!(list.has("Communication Manager"));
    assert!(list.has("Elements 1–2 of 2"));
    assert!(list.has("/elements/new?kind=cm-messaging"));
    assert!(list.has("aria-current=\"page\">Elements</a>"));
    insta::assert_snapshot!("elements_admin", list.stable());
    let read_only = reader.get("/elements").await;
    assert_eq!(read_only.status, 200);
    assert!(!read_only.has("/elements/new"), "{}", read_only.html);
    assert!(!read_only.has("/check"));
    insta::assert_snapshot!("elements_reader", read_only.stable());

    // A messaging element's page: no key or time of the emulator's to hide.
    let page = admin.get("/elements/mm1").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(!page.has("pw"), "never the password");
    insta::assert_snapshot!("element_admin", page.stable());
    let page = reader.get("/elements/mm1").await;
    assert!(!page.has("/elements/mm1/edit") && !page.has("method=\"post\" action=\"/elements"));
    insta::assert_snapshot!("element_reader", page.stable());

    // A CM's page: its objects per type and its init job.
    let page = reader.get("/elements/cm1").await;
    assert!(
        page.has(&format!("<a href=\"/jobs/{}\">", init["id"])),
        "{}",
        page.html
    );
    assert!(page.has("<th scope=\"row\">station</th>"), "{}", page.html);
    assert_eq!(admin.get("/elements/nope").await.status, 404);
}

#[tokio::test]
async fn the_list_is_filtered_and_paged() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    for (i, name) in ["mm1", "mm2", "vm3"].iter().enumerate() {
        messaging(&app, name, 700 + i as u16).await;
    }
    let p = admin.get("/elements?q=mm").await;
    assert!(p.has("Elements 1–2 of 2") && !p.has(">vm3<"), "{}", p.html);
    let p = admin.get("/elements?kind=cm").await;
    assert!(
        p.has("No element matches the filter. (0 of 0)"),
        "{}",
        p.html
    );
    let p = admin
        .get("/elements?kind=messaging&state=never-synced")
        .await;
    assert!(p.has("Elements 1–3 of 3"), "{}", p.html);
    let p = admin.get("/elements?state=in-sync").await;
    assert!(p.has("(0 of 0)"), "{}", p.html);

    let p = admin.get("/elements?limit=2").await;
    assert!(p.has("Elements 1–2 of 3"), "{}", p.html);
    assert!(
        p.has("href=\"/elements?offset=2&#38;limit=2\" rel=\"next\""),
        "{}",
        p.html
    );
    let p = admin.get("/elements?offset=2&limit=2").await;
    assert!(p.has("Elements 3–3 of 3") && p.has(">vm3<"), "{}", p.html);
    assert!(p.has("rel=\"prev\"") && !p.has("rel=\"next\""));

    for q in ["kind=pbx", "state=fine", "limit=0", "offset=x"] {
        let p = admin.get(&format!("/elements?{q}")).await;
        assert_eq!(p.status, 400, "{q}: {}", p.html);
    }
}

#[tokio::test]
async fn a_cm_added_through_its_form_gets_its_init() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    let emu = emulator().await;
    let form = admin.get("/elements/new?kind=cm").await;
    assert_eq!(form.status, 200, "{}", form.html);
    for field in [
        "name",
        "host",
        "port",
        "login",
        "notify_sync",
        "own_logins",
        "host_key",
    ] {
        assert!(
            form.has(&format!("id=\"f-{field}\"")),
            "{field}: {}",
            form.html
        );
    }
    assert!(
        !form.has("id=\"f-tls\"") && !form.has("id=\"f-cm\""),
        "a CM has neither"
    );
    assert_eq!(form.input("port").as_deref(), Some("5022"));
    let port = emu.addr().port().to_string();
    let p = admin
        .submit(
            "/elements/new?kind=cm",
            "/elements",
            &[
                ("kind", "cm"),
                ("name", "cm1"),
                ("host", "127.0.0.1"),
                ("alternate_host", ""),
                ("port", &port),
                ("login", OWN.0),
                ("password", OWN.1),
                ("own_logins", "init"),
                ("host_key", ""),
            ],
        )
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, Some("/elements/cm1")),
        "{}",
        p.html
    );
    let e = app.get("/api/v1/elements/cm1").await;
    assert_eq!(e.body["settings"]["own_logins"], json!(["init", "ucsync"]));
    assert_eq!(e.body["settings"]["notify_sync"], false);
    let jobs = app.get("/api/v1/jobs?element=cm1").await;
    let job = &jobs.body["items"][0];
    assert_eq!(job["trigger"], "element-added", "{jobs:?}");
    let page = admin.get("/elements/cm1").await;
    assert!(
        page.has(&format!("<a href=\"/jobs/{}\">", job["id"])),
        "{}",
        page.html
    );
    let done = app.wait_job(job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // Each messaging kind has its form; an unknown kind has none.
    for kind in [
        "ip-office",
        "messaging",
        "cm-messaging",
        "modular-messaging",
    ] {
        let f = admin.get(&format!("/elements/new?kind={kind}")).await;
        assert_eq!(f.status, 200, "{kind}");
        assert!(
            f.has("id=\"f-tls\"") && !f.has("id=\"f-notify_sync\""),
            "{kind}"
        );
        assert_eq!(f.has("id=\"f-cm\""), kind != "ip-office", "{kind}");
    }
    assert_eq!(admin.get("/elements/new?kind=pbx").await.status, 400);
}

#[tokio::test]
async fn a_refused_form_shows_the_apis_error_beside_its_field() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    messaging(&app, "mm1", 636).await;
    let send = |kind: &'static str, name: &'static str, port: &'static str| {
        let admin = &admin;
        async move {
            admin
                .submit(
                    &format!("/elements/new?kind={kind}"),
                    "/elements",
                    &[
                        ("kind", kind),
                        ("name", name),
                        ("host", "127.0.0.11"),
                        ("port", port),
                        ("login", "cn=ucsync"),
                        ("password", "the secret"),
                        ("tls", "true"),
                        ("cm", ""),
                    ],
                )
                .await
        }
    };
    let p = send("cm-messaging", "mm2", "70000").await;
    assert_eq!(p.status, 400, "{}", p.html);
    assert!(
        p.has("<span class=\"field-error\" id=\"f-port-error\">port must be from 1 to 65535, not 70000</span>"),
        "{}",
        p.html
    );
    assert!(p.has("f-port-error\" aria-invalid=\"true\""), "{}", p.html);
    assert_eq!(
        p.input("name").as_deref(),
        Some("mm2"),
        "the values are kept"
    );
    assert!(!p.has("the secret"), "never the password");

    let p = send("cm-messaging", "mm2", "636").await;
    assert_eq!(p.status, 400);
    assert!(p.has("id=\"f-cm-error\">cm is required"), "{}", p.html);
    let p = send("messaging", "mm1", "637").await;
    assert_eq!(p.status, 400);
    assert!(p.has("id=\"f-name-error\">"), "a taken name: {}", p.html);
    let p = send("messaging", "mm2", "x").await;
    assert_eq!(p.status, 400);
    assert!(p.has("id=\"f-port-error\">"), "{}", p.html);
    assert_eq!(names(&app).await, ["mm1"]);
}

#[tokio::test]
async fn changing_an_element_keeps_the_apis_rules() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    messaging(&app, "mm1", 636).await;
    let form = admin.get("/elements/mm1/edit").await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert_eq!(form.input("host").as_deref(), Some("127.0.0.10"));
    assert!(!form.has("id=\"f-name\""), "the name stays");
    let base = [
        ("host", "127.0.0.10"),
        ("port", "636"),
        ("login", "cn=other"),
        ("tls", "true"),
        ("password", ""),
    ];
    let p = admin
        .submit("/elements/mm1/edit", "/elements/mm1/edit", &base)
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, Some("/elements/mm1")),
        "{}",
        p.html
    );
    assert_eq!(
        app.get("/api/v1/elements/mm1").await.body["login"],
        "cn=other"
    );

    // A new host needs the password again, said beside the password.
    let mut moved = base;
    moved[0].1 = "127.0.0.12";
    let p = admin
        .submit("/elements/mm1/edit", "/elements/mm1/edit", &moved)
        .await;
    assert_eq!(p.status, 400, "{}", p.html);
    assert!(
        p.has("id=\"f-password-error\">changing host sends"),
        "{}",
        p.html
    );
    assert_eq!(p.input("host").as_deref(), Some("127.0.0.12"));
    moved[4].1 = "pw2";
    let p = admin
        .submit("/elements/mm1/edit", "/elements/mm1/edit", &moved)
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    assert_eq!(
        app.get("/api/v1/elements/mm1").await.body["host"],
        "127.0.0.12"
    );
}

#[tokio::test]
async fn removing_goes_through_a_confirmation_refused_while_a_job_runs() {
    let emu = crate::emulator_with(|s| s.latency = std::time::Duration::from_millis(20)).await;
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    let a = app.post("/api/v1/elements", &cm_body("cm1", &emu)).await;
    let id = a.body["job"]["id"].as_i64().unwrap();
    let busy = admin.get("/elements/cm1/remove").await;
    assert_eq!(busy.status, 409, "{}", busy.html);
    assert!(busy.has(&format!("job {id} is")), "{}", busy.html);
    assert!(!busy.has("action=\"/elements/cm1/remove\""));
    let p = admin
        .post("/elements/cm1/remove", &[("csrf", &busy.csrf())])
        .await;
    assert_eq!(p.status, 409, "{}", p.html);

    app.call(Method::POST, &format!("/api/v1/jobs/{id}/stop"), None)
        .await;
    app.wait_job(id).await;
    let objects = app.get("/api/v1/elements/cm1").await.body["objects"].clone();
    let confirm = admin.get("/elements/cm1/remove").await;
    assert_eq!(confirm.status, 200, "{}", confirm.html);
    assert!(
        confirm.has(&format!("Remove cm1 and its {objects} objects")),
        "{}",
        confirm.html
    );
    let p = admin
        .submit("/elements/cm1/remove", "/elements/cm1/remove", &[])
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, Some("/elements")),
        "{}",
        p.html
    );
    assert_eq!(app.get("/api/v1/elements/cm1").await.status, 404);
}

#[tokio::test]
async fn checking_shows_the_key_and_a_new_one_is_accepted() {
    let emu = emulator().await;
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    app.add_cm("cm1", &emu).await;
    let p = admin
        .submit("/elements/cm1", "/elements/cm1/check", &[])
        .await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.has("R020x.01.0.974.0"), "{}", p.html);
    assert!(p.has("(the pinned one)"), "{}", p.html);
    let key = between(&p, "<code>", "</code>");
    assert_eq!(
        app.get("/api/v1/elements/cm1").await.body["settings"]["host_key"],
        key.as_str()
    );

    // Another key pinned: the check is refused naming the key the CM shows,
    // and that key is accepted from the page.
    let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    app.patch(
        "/api/v1/elements/cm1",
        &json!({"password": OWN.1, "host_key": other}),
    )
    .await;
    let p = admin
        .submit("/elements/cm1", "/elements/cm1/check", &[])
        .await;
    assert_eq!(p.status, 502, "{}", p.html);
    assert!(
        p.has(&key) && p.has("action=\"/elements/cm1/accept\""),
        "{}",
        p.html
    );
    let p = admin
        .submit(
            "/elements/cm1",
            "/elements/cm1/accept",
            &[("fingerprint", &key)],
        )
        .await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, Some("/elements/cm1")),
        "{}",
        p.html
    );
    let e = app.get("/api/v1/elements/cm1").await;
    assert_eq!(e.body["settings"]["host_key"], key.as_str());
    let p = admin
        .submit("/elements/cm1", "/elements/cm1/check", &[])
        .await;
    assert!(p.has("(the pinned one)"), "{}", p.html);
}

#[tokio::test]
async fn an_import_is_previewed_then_added_all_or_none() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    let form = admin.get("/elements/import").await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert!(form.has("enctype=\"multipart/form-data\""));

    let bad = "name,kind,host,port,login\n\
               mm1,messaging,127.0.0.10,636,cn=ucsync\n\
               mm2,messaging,127.0.0.10,0,cn=ucsync\n";
    let p = admin
        .upload(
            "/elements/import",
            "/elements/import",
            &[("password", "pw")],
            &[("file", "bad.csv", bad)],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.html);
    assert!(p.has("<td>2</td><td>mm1</td><td>would add"), "{}", p.html);
    assert!(
        p.has("<td>3</td><td>mm2</td><td class=\"bad\">error: invalid-field</td><td>port</td>"),
        "{}",
        p.html
    );
    assert!(
        !p.has("/elements/import/confirm"),
        "no import of a bad file"
    );
    assert!(names(&app).await.is_empty(), "nothing added");

    // A header the CSV reader refuses is said beside the file.
    let p = admin
        .upload(
            "/elements/import",
            "/elements/import",
            &[],
            &[("file", "x.csv", "name,kind,hots\n")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("id=\"f-file-error\">x.csv: line 1: unknown column"),
        "{}",
        p.html
    );

    // Rows without a password take the form's; a row without a port its kind's.
    let good = "name,kind,host,login,tls\n\
                mm1,messaging,127.0.0.10,cn=ucsync,\n\
                mm2,modular-messaging,127.0.0.11,cn=ucsync,no\n";
    let p = admin
        .upload(
            "/elements/import",
            "/elements/import",
            &[("password", "pw")],
            &[("file", "good.csv", good)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(!p.has(">pw<") && !p.has("\"pw\""), "never the password");
    assert!(names(&app).await.is_empty(), "a preview adds nothing");
    let id = p.input("id").expect("the preview's id");
    let done = admin
        .post(
            "/elements/import/confirm",
            &[("csrf", &p.csrf()), ("id", &id)],
        )
        .await;
    assert_eq!(
        (done.status.as_u16(), done.location()),
        (303, Some("/elements")),
        "{}",
        done.html
    );
    assert_eq!(names(&app).await, ["mm1", "mm2"]);
    let mm2 = app.get("/api/v1/elements/mm2").await;
    assert_eq!(
        (&mm2.body["port"], &mm2.body["settings"]["tls"]),
        (&json!(389), &json!(false))
    );
    let again = admin
        .post(
            "/elements/import/confirm",
            &[("csrf", &p.csrf()), ("id", &id)],
        )
        .await;
    assert_eq!(again.status, 404, "a preview imports once: {}", again.html);
}

#[tokio::test]
async fn the_export_is_the_clis_csv() {
    let app = App::start().await;
    let (_, reader) = app.consoles().await;
    messaging(&app, "mm1", 636).await;
    let p = reader.get("/elements/export.csv").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert_eq!(p.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        p.headers["content-disposition"],
        "attachment; filename=\"elements.csv\""
    );
    assert_eq!(
        p.html,
        "name,kind,host,port,login,alternate_host,notify_sync,own_logins,host_key,tls,ca_file,cm\n\
         mm1,messaging,127.0.0.10,636,cn=ucsync,,,,,true,,\n"
    );
    let rows = ucsync_api::model::read_csv(&p.html).unwrap();
    assert_eq!(rows[0].fields["name"], Value::from("mm1"), "it reads back");
}

#[tokio::test]
async fn a_reader_is_refused_every_action_and_a_form_needs_its_token() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    messaging(&app, "mm1", 636).await;
    for path in [
        "/elements/new?kind=cm",
        "/elements/mm1/edit",
        "/elements/mm1/remove",
        "/elements/import",
    ] {
        assert_eq!(reader.get(path).await.status, 403, "{path}");
    }
    let csrf = reader.get("/elements").await.csrf();
    for path in [
        "/elements",
        "/elements/mm1/edit",
        "/elements/mm1/remove",
        "/elements/mm1/check",
        "/elements/mm1/accept",
        "/elements/import/confirm",
    ] {
        let p = reader
            .post(
                path,
                &[
                    ("csrf", &csrf),
                    ("kind", "messaging"),
                    ("fingerprint", "x"),
                    ("id", "x"),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{path}: {}", p.html);
    }
    let file = "name,kind,host,port,login,password\nmm2,messaging,127.0.0.10,637,cn=x,pw\n";
    let p = reader
        .post_multipart(
            "/elements/import",
            &[("csrf", &csrf)],
            &[("file", "a.csv", file)],
        )
        .await;
    assert_eq!(p.status, 403);

    // The admin's forms without the session's token.
    let p = admin
        .post("/elements", &[("kind", "messaging"), ("name", "mm2")])
        .await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert_eq!(admin.post("/elements/mm1/remove", &[]).await.status, 403);
    let p = admin
        .post_multipart(
            "/elements/import",
            &[("csrf", "forged")],
            &[("file", "a.csv", file)],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert_eq!(names(&app).await, ["mm1"]);
}
