//! `/metrics` scraped as Prometheus would: with the service's
//! `metrics_token`, which opens nothing else; `/healthz` without a token.

use crate::service::Serve;

#[tokio::test]
async fn prometheus_scrapes_metrics_with_the_metrics_token_alone() {
    let data = tempfile::tempdir().unwrap();
    let secret = "scrape-me-please-0123456789";
    let serve = Serve::start_with(data.path(), &[("UCSYNC_METRICS_TOKEN", secret)]);
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = http.get(format!("{}{path}", serve.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };
    let (status, text) = get("/metrics", Some(secret)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("# TYPE ucsync_"), "{text}");
    // Good for /metrics only.
    let (status, text) = get("/api/v1/elements", Some(secret)).await;
    assert_eq!(status, 401, "{text}");
    // Any other secret, or none, is refused; an API token still reads it.
    assert_eq!(get("/metrics", Some("scrape-me-please-x")).await.0, 401);
    assert_eq!(get("/metrics", None).await.0, 401);
    assert_eq!(get("/metrics", Some(&serve.token)).await.0, 200);
    // Health stays open.
    assert_eq!(get("/healthz", None).await.0, 200);
}
