//! The console's sign-in, sessions, form tokens and headers, and its pages
//! as an admin and a read-only user see them.

use std::time::Duration;

use reqwest::Method;
use ucsync_core::Role;
use ucsync_testkit::{Console, Page};

use crate::{App, emulator};

fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_user_signs_in_with_a_strict_cookie_and_out_again() {
    let app = App::start().await;
    app.add_user("ada", Role::Admin, "ada's long password")
        .await;
    let c = Console::new(&app);

    // Without a session, a page sends the browser to the sign-in form and back.
    let p = c.get("/?view=all").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location(), Some("/sign-in?next=%2F%3Fview%3Dall"));
    let form = c.get("/sign-in?next=%2F").await;
    assert_eq!(form.status, 200);
    assert!(header(&form, "set-cookie").contains("ucsync_sign_in="));

    let p = c.sign_in("ada", "ada's long password").await;
    assert_eq!((p.status.as_u16(), p.location()), (303, Some("/")));
    let cookie = p
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("ucsync_session="))
        .expect("a session cookie")
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let user = app.store.user_sign_in("ada").await.unwrap().unwrap().0;
    assert!(user.last_sign_in_at.is_some());

    // The user's name and role are on every page.
    let home = c.get("/").await;
    assert_eq!(home.status, 200, "{}", home.html);
    assert!(
        home.has("ada <span class=\"role\">(admin)</span>"),
        "{}",
        home.html
    );

    // Signing out needs the page's token, then ends the session for good.
    let refused = c.post("/sign-out", &[("csrf", "not the token")]).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.has("reload the page and try again"),
        "{}",
        refused.html
    );
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let out = c.submit("/", "/sign-out", &[]).await;
    assert_eq!(
        (out.status.as_u16(), out.location()),
        (303, Some("/sign-in"))
    );
    assert_eq!(c.get("/").await.status, 303);
    c.set_cookie("ucsync_session", &session);
    assert_eq!(c.get("/").await.status, 303, "the old cookie is worthless");
}

#[tokio::test]
async fn sign_in_refuses_wrong_passwords_forged_forms_and_locks_an_address_out() {
    let app = App::start().await;
    app.add_user("ada", Role::Admin, "ada's long password")
        .await;
    let c = Console::new(&app);
    let p = c.sign_in("ada", "a wrong password").await;
    assert_eq!(p.status, 401);
    assert!(p.has("the name or the password is wrong"), "{}", p.html);
    let p = c.sign_in("nobody", "ada's long password").await;
    assert_eq!(p.status, 401, "an unknown name answers alike");
    assert!(p.has("the name or the password is wrong"));

    // A form posted from elsewhere has no sign-in cookie to match.
    let forged = Console::new(&app);
    let p = forged
        .post(
            "/sign-in",
            &[
                ("name", "ada"),
                ("password", "ada's long password"),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.html);

    // Five failures from one address lock it out, right password or not;
    // another address is not concerned.
    let far = Console::from_address(&app, "127.0.0.2".parse().unwrap());
    for _ in 0..5 {
        assert_eq!(far.sign_in("ada", "guess").await.status, 401);
    }
    let p = far.sign_in("ada", "ada's long password").await;
    assert_eq!(p.status, 429, "{}", p.html);
    assert!(
        p.has("too many failed sign-ins from your address"),
        "{}",
        p.html
    );
    assert_eq!(c.sign_in("ada", "ada's long password").await.status, 303);
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = App::start_with(|s| s.session_idle = Duration::from_millis(500)).await;
    let (admin, _) = app.consoles().await;
    assert_eq!(admin.get("/").await.status, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let p = admin.get("/").await;
    assert_eq!(p.status, 303, "{}", p.html);
}

#[tokio::test]
async fn a_new_password_ends_the_users_sessions() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    app.store
        .update_user(
            "rex",
            None,
            Some(&ucsync_api::password::hash("a new long password")),
        )
        .await
        .unwrap();
    assert_eq!(reader.get("/").await.status, 303);
    assert_eq!(admin.get("/").await.status, 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    let page = admin.get("/").await;
    let api = app
        .call_as(None, Method::GET, "/api/v1/elements", None)
        .await;
    let sign_in = Console::new(&app).get("/sign-in").await;
    for headers in [&page.headers, &api.headers, &sign_in.headers] {
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    // No inline script, no style attribute, nothing from elsewhere.
    for html in [&page.html, &sign_in.html] {
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "{html}"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn assets_are_embedded_and_revalidated() {
    let app = App::start().await;
    let c = Console::new(&app);
    let css = c.get("/assets/console.css").await;
    assert_eq!(css.status, 200);
    assert!(header(&css, "content-type").starts_with("text/css"));
    let etag = header(&css, "etag").to_string();
    let again = c
        .send_with("/assets/console.css", "if-none-match", &etag)
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(c.get("/assets/console.js").await.status, 200);
    assert_eq!(c.get("/assets/other.js").await.status, 404);
}

#[tokio::test]
async fn the_dashboard_shows_elements_jobs_and_schedules_without_actions_for_a_reader() {
    let app = App::start().await;
    let (admin, reader) = app.consoles().await;
    let empty = admin.get("/").await;
    assert!(
        empty.has("No element yet. <a href=\"/elements\">Add one</a>."),
        "{}",
        empty.html
    );
    let read_only = reader.get("/").await;
    assert!(read_only.has("No element yet.</p>"), "{}", read_only.html);
    assert!(!read_only.has("Add one"));

    let emu = emulator().await;
    app.add_cm("cm1", &emu).await;
    emu.shutdown().await.unwrap();
    let failed = app.sync_one("cm1", "incremental").await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let p = admin.get("/").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("<th scope=\"row\">Communication Manager</th>"),
        "{}",
        p.html
    );
    assert!(
        p.has(&format!("<a href=\"/jobs/{}\">", failed["id"])),
        "the failure is listed"
    );
    assert!(p.has("Failed"));
    assert!(p.has("Daily incremental") || p.has("Next scheduled runs"));
    insta::assert_snapshot!("dashboard", p.stable());
}
