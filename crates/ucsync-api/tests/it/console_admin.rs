//! The console's administration: users (admins only), tokens (a secret
//! shown once), the settings; a read-only user sees no action and is
//! refused every one.

use ucsync_testkit::Console;

use crate::App;

#[tokio::test]
async fn an_admin_adds_changes_and_removes_users() {
    let app = App::start_with(|s| {
        s.service_settings = vec![("init_pool".into(), "8".into())];
    })
    .await;
    let (admin, reader) = app.consoles().await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status, 200, "{}", page.html);
    insta::assert_snapshot!("admin_for_an_admin", page.stable());

    // The API's rules, beside their field.
    let short = admin
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("name", "ops"),
                ("role", "read-only"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400, "{}", short.html);
    assert!(
        short.has("id=\"new-user-password-error\""),
        "{}",
        short.html
    );
    assert!(short.has("value=\"ops\""), "the name is kept");
    let taken = admin
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("name", "rex"),
                ("role", "admin"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(taken.status, 400);
    assert!(taken.has("already exists"), "{}", taken.html);

    let added = admin
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("name", "ops"),
                ("role", "read-only"),
                ("password", "ops's long password"),
            ],
        )
        .await;
    assert_eq!(
        (added.status.as_u16(), added.location()),
        (303, Some("/admin#users"))
    );
    let ops = Console::signed_in(&app, "ops", "ops's long password").await;
    assert!(
        ops.get("/")
            .await
            .has("ops <span class=\"role\">(read-only)</span>")
    );

    // A new role takes effect in the open session; a new password ends it.
    let changed = admin
        .submit(
            "/admin",
            "/admin/users/ops",
            &[("role", "admin"), ("password", "")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.html);
    assert!(
        ops.get("/")
            .await
            .has("ops <span class=\"role\">(admin)</span>")
    );
    admin
        .submit(
            "/admin",
            "/admin/users/ops",
            &[("role", "admin"), ("password", "ops's newer password")],
        )
        .await;
    assert_eq!(ops.get("/").await.status, 303, "signed out");

    // Removing asks first, and the last admin stays.
    let ask = admin.get("/admin/users/ops/remove").await;
    assert!(ask.has("Remove user ops?"), "{}", ask.html);
    let removed = admin
        .submit("/admin/users/ops/remove", "/admin/users/ops/remove", &[])
        .await;
    assert_eq!(removed.status, 303);
    assert!(app.store.user_sign_in("ops").await.unwrap().is_none());
    let last = admin
        .submit("/admin", "/admin/users/ada", &[("role", "read-only")])
        .await;
    assert_eq!(last.status, 409, "{}", last.html);
    assert!(last.has("last admin"), "{}", last.html);

    // A reader sees tokens and settings, no user and no action; its forms are refused.
    let page = reader.get("/admin").await;
    assert_eq!(page.status, 200);
    assert!(!page.has("id=\"users\"") && !page.has("<form method=\"post\" action=\"/admin"));
    assert!(page.has("init_pool"));
    insta::assert_snapshot!("admin_for_a_reader", page.stable());
    let refused = reader
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("name", "x"),
                ("role", "admin"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(reader.get("/admin/users/rex/remove").await.status, 403);
    // And a form without the session's token, from an admin.
    let forged = admin
        .post(
            "/admin/users",
            &[
                ("name", "x"),
                ("role", "admin"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        app.store.users().await.unwrap().len(),
        2,
        "nobody was added"
    );
}

#[tokio::test]
async fn a_token_is_shown_once_and_revoked() {
    let app = App::start().await;
    let (admin, _) = app.consoles().await;
    let made = admin
        .submit(
            "/admin",
            "/admin/tokens",
            &[("name", "nightly"), ("role", "read-only")],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.html);
    assert_eq!(made.headers["cache-control"], "no-store");
    let secret = made.input("secret").expect("the secret is on the page");
    assert!(secret.starts_with("ucs_"), "{secret}");
    let a = app
        .call_as(
            Some(&secret),
            reqwest::Method::GET,
            "/api/v1/elements",
            None,
        )
        .await;
    assert_eq!(a.status, 200, "the secret works");
    let again = admin.get("/admin").await;
    assert!(!again.has(&secret), "shown once");

    let id = app
        .store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "nightly")
        .unwrap()
        .id;
    let revoked = admin
        .submit(
            &format!("/admin/tokens/{id}/revoke"),
            &format!("/admin/tokens/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    let a = app
        .call_as(
            Some(&secret),
            reqwest::Method::GET,
            "/api/v1/elements",
            None,
        )
        .await;
    assert_eq!(a.status, 401);
    let empty = admin
        .submit(
            "/admin",
            "/admin/tokens",
            &[("name", " "), ("role", "admin")],
        )
        .await;
    assert_eq!(empty.status, 400);
    assert!(empty.has("id=\"new-token-name-error\""), "{}", empty.html);
}
