//! Console users through `/users`: added with a hashed password, listed
//! without it, changed, removed; the last admin stays; admin tokens only,
//! even to list.

use reqwest::Method;
use serde_json::json;

use crate::{App, redact};

const PASSWORD: &str = "correct horse battery";

/// The stored hash of `name`'s password.
async fn stored_hash(app: &App, name: &str) -> String {
    app.store.user_sign_in(name).await.unwrap().unwrap().1
}

#[tokio::test]
async fn users_are_added_listed_changed_and_removed() {
    let app = App::start().await;
    let a = app
        .post(
            "/api/v1/users",
            &json!({"name": "jsmith", "role": "admin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    insta::assert_json_snapshot!("user_added", redact(&a.body));
    assert!(!a.text.contains(PASSWORD));
    let hash = stored_hash(&app, "jsmith").await;
    assert!(ucsync_api::password::verify(&hash, PASSWORD), "{hash}");
    assert!(!a.text.contains(&hash), "never the hash either");

    let again = app
        .post(
            "/api/v1/users",
            &json!({"name": "jsmith", "role": "read-only", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "user-exists"),
        "{again:?}"
    );
    assert!(
        ucsync_api::password::verify(&stored_hash(&app, "jsmith").await, PASSWORD),
        "the user already there is left as it was"
    );

    let viewer = app
        .post(
            "/api/v1/users",
            &json!({"name": "viewer", "role": "read-only", "password": "twelve chars"}),
        )
        .await;
    assert_eq!(viewer.status, 201, "{viewer:?}");
    let list = app.get("/api/v1/users").await;
    assert_eq!(list.status, 200, "{list:?}");
    let rows: Vec<(&str, &str)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["name"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("jsmith", "admin"), ("viewer", "read-only")]);
    assert_eq!(list.body["total"], 2);
    assert!(list.body["items"][0]["last_sign_in_at"].is_null());
    assert!(!list.text.contains("argon2"), "{}", list.text);
    let paged = app.get("/api/v1/users?offset=1&limit=1").await;
    assert_eq!(paged.body["items"][0]["name"], "viewer", "{paged:?}");

    // A new password replaces the old one; the role stays.
    let changed = app
        .patch(
            "/api/v1/users/viewer",
            &json!({"password": "another good password"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["role"], "read-only");
    let hash = stored_hash(&app, "viewer").await;
    assert!(ucsync_api::password::verify(&hash, "another good password"));
    assert!(!ucsync_api::password::verify(&hash, "twelve chars"));
    let promoted = app
        .patch("/api/v1/users/viewer", &json!({"role": "admin"}))
        .await;
    assert_eq!(promoted.body["role"], "admin", "{promoted:?}");
    assert!(
        ucsync_api::password::verify(&stored_hash(&app, "viewer").await, "another good password"),
        "the password stays"
    );

    assert_eq!(app.delete("/api/v1/users/viewer").await.status, 204);
    let gone = app.delete("/api/v1/users/viewer").await;
    assert_eq!((gone.status.as_u16(), gone.code()), (404, "no-user"));
    let nobody = app
        .patch("/api/v1/users/viewer", &json!({"role": "admin"}))
        .await;
    assert_eq!((nobody.status.as_u16(), nobody.code()), (404, "no-user"));
    assert_eq!(app.get("/api/v1/users").await.body["total"], 1);
}

#[tokio::test]
async fn the_last_admin_user_is_neither_removed_nor_demoted() {
    let app = App::start().await;
    for (name, role) in [("root", "admin"), ("viewer", "read-only")] {
        let a = app
            .post(
                "/api/v1/users",
                &json!({"name": name, "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    let removed = app.delete("/api/v1/users/root").await;
    assert_eq!(
        (removed.status.as_u16(), removed.code()),
        (409, "last-admin-user"),
        "{removed:?}"
    );
    assert!(removed.message().contains("'root'"), "{removed:?}");
    let demoted = app
        .patch("/api/v1/users/root", &json!({"role": "read-only"}))
        .await;
    assert_eq!(
        (demoted.status.as_u16(), demoted.code()),
        (409, "last-admin-user"),
        "{demoted:?}"
    );
    // A read-only user goes freely; the last admin may change its password.
    assert_eq!(app.delete("/api/v1/users/viewer").await.status, 204);
    let a = app
        .patch(
            "/api/v1/users/root",
            &json!({"password": "a new password!"}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    // With a second admin, either may go.
    app.post(
        "/api/v1/users",
        &json!({"name": "deputy", "role": "admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(app.delete("/api/v1/users/root").await.status, 204);
    let users = app.store.users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "deputy");
}

#[tokio::test]
async fn a_read_only_token_may_not_even_list_users() {
    let app = App::start().await;
    let listed = app
        .call_as(Some(&app.reader), Method::GET, "/api/v1/users", None)
        .await;
    assert_eq!(
        (listed.status.as_u16(), listed.code()),
        (403, "read-only-token"),
        "{listed:?}"
    );
    assert!(listed.message().contains("'reader-test'"), "{listed:?}");
    let added = app
        .call_as(
            Some(&app.reader),
            Method::POST,
            "/api/v1/users",
            Some(&json!({"name": "x", "role": "admin", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        (added.status.as_u16(), added.code()),
        (403, "read-only-token")
    );
    assert!(app.store.users().await.unwrap().is_empty());
}

#[tokio::test]
async fn user_bodies_are_checked() {
    let app = App::start().await;
    for (body, field) in [
        (json!({"role": "admin", "password": PASSWORD}), "name"),
        (
            json!({"name": "", "role": "admin", "password": PASSWORD}),
            "name",
        ),
        (
            json!({"name": "j smith", "role": "admin", "password": PASSWORD}),
            "name",
        ),
        (
            json!({"name": "j".repeat(65), "role": "admin", "password": PASSWORD}),
            "name",
        ),
        (
            json!({"name": "j", "role": "root", "password": PASSWORD}),
            "role",
        ),
        (json!({"name": "j", "role": "admin"}), "password"),
        (
            json!({"name": "j", "role": "admin", "password": "eleven char"}),
            "password",
        ),
        (
            json!({"name": "j", "role": "admin", "password": PASSWORD, "email": "x"}),
            "email",
        ),
    ] {
        let a = app.post("/api/v1/users", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", field),
            "{body}: {a:?}"
        );
        assert!(!a.text.contains(PASSWORD), "never echoed: {a:?}");
    }
    let short = app
        .post(
            "/api/v1/users",
            &json!({"name": "j", "role": "admin", "password": "eleven char"}),
        )
        .await;
    assert!(short.message().contains("12"), "{short:?}");
    app.post(
        "/api/v1/users",
        &json!({"name": "j", "role": "admin", "password": PASSWORD}),
    )
    .await;
    for (body, field) in [
        (json!({"password": "short"}), "password"),
        (json!({"role": "root"}), "role"),
        (json!({"name": "k"}), "name"),
    ] {
        let a = app.patch("/api/v1/users/j", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", field),
            "{body}: {a:?}"
        );
    }
    assert!(ucsync_api::password::verify(
        &stored_hash(&app, "j").await,
        PASSWORD
    ));
}
