//! Tokens: made, listed without secrets, refused once deleted; roles;
//! malformed headers.

use reqwest::Method;
use serde_json::json;

use crate::{App, redact};

#[tokio::test]
async fn tokens_are_made_used_and_deleted() {
    let app = App::start().await;
    let a = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "script", "role": "read-only"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let secret = a.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ucs_") && secret.len() == 47, "{secret}");
    insta::assert_json_snapshot!("token_created", redact(&a.body));
    let id = a.body["token"]["id"].as_i64().unwrap();

    // It works for GET, as read-only.
    let list = app
        .call_as(Some(&secret), Method::GET, "/api/v1/tokens", None)
        .await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&secret), "listed without secrets");
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin-test", "reader-test", "script"]);
    let refused = app
        .call_as(
            Some(&secret),
            Method::POST,
            "/api/v1/tokens",
            Some(&json!({"name": "x", "role": "admin"})),
        )
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (403, "read-only-token")
    );
    assert!(refused.message().contains("'script'"));

    assert_eq!(
        app.delete(&format!("/api/v1/tokens/{id}")).await.status,
        204
    );
    let gone = app
        .call_as(Some(&secret), Method::GET, "/api/v1/tokens", None)
        .await;
    assert_eq!((gone.status.as_u16(), gone.code()), (401, "invalid-token"));
    let again = app.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!((again.status.as_u16(), again.code()), (404, "no-token"));

    // The only admin token stays: without it nobody could administer.
    let admin = list.body["items"][0]["id"].as_i64().unwrap();
    let last = app.delete(&format!("/api/v1/tokens/{admin}")).await;
    assert_eq!(
        (last.status.as_u16(), last.code()),
        (409, "last-admin-token"),
        "{last:?}"
    );
    assert_eq!(app.get("/api/v1/tokens").await.status, 200);
}

#[tokio::test]
async fn token_bodies_are_checked() {
    let app = App::start().await;
    for (body, field) in [
        (json!({"role": "admin"}), "name"),
        (json!({"name": "", "role": "admin"}), "name"),
        (json!({"name": "x".repeat(65), "role": "admin"}), "name"),
        (json!({"name": "a"}), "role"),
        (json!({"name": "a", "role": "root"}), "role"),
        (
            json!({"name": "a", "role": "admin", "expires": 1}),
            "expires",
        ),
    ] {
        let a = app.post("/api/v1/tokens", &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code(), a.field()),
            (400, "invalid-field", field),
            "{body}: {a:?}"
        );
    }
}

#[tokio::test]
async fn malformed_authorization_is_refused() {
    let app = App::start().await;
    for value in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "ucs_abc",
        "Bearer ucs_abc",
        "Bearer x y",
    ] {
        let resp = app
            .client
            .get(format!("{}/api/v1/elements", app.url))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        let a = crate::answer(resp).await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (401, "invalid-token"),
            "{value}: {a:?}"
        );
        assert!(a.headers.contains_key("www-authenticate"));
        assert!(!a.text.contains("ucs_abc"), "the token is not echoed");
    }
    // The scheme is case-insensitive.
    let resp = app
        .client
        .get(format!("{}/api/v1/elements", app.url))
        .header("authorization", format!("bearer {}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn jobs_are_requested_by_the_tokens_name() {
    let app = App::start().await;
    let a = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "nightly", "role": "admin"}),
        )
        .await;
    let secret = a.body["secret"].as_str().unwrap().to_string();
    // A CM nobody answers for: the job fails, but it was asked for by "nightly".
    let e = app
        .call_as(
            Some(&secret),
            Method::POST,
            "/api/v1/elements",
            Some(
                &json!({"name": "cm9", "kind": "cm", "host": "127.0.0.1", "port": 1,
                         "login": "u", "password": "p"}),
            ),
        )
        .await;
    assert_eq!(e.status, 201, "{e:?}");
    assert_eq!(e.body["job"]["requested_by"], "nightly");
}
