//! The REST API and web console of `ucsync serve`, as a library:
//! [`router`] gives the whole HTTP service for a bound listener, so tests run
//! it in-process.
//!
//! Everything under `/api/v1` needs a bearer token ([`auth`]); a read-only
//! token may only GET. Request and response bodies are in [`model`] (shared
//! with the CLI client), errors come from the one table of
//! [`model::ErrorCode`], and the OpenAPI document is generated from the
//! handlers' annotations ([`openapi`]) and served at `/api/v1/openapi.json`.
//! Outside `/api/v1`: `/healthz` (no token), `/metrics` (Prometheus text;
//! any API token, or the `metrics_token` that is good for it alone)
//! and the web console ([`console`]) at `/`, whose pages sign users in
//! with sessions rather than tokens.
//!
//! The API only asks: jobs are queued and run by the engine's runner, and
//! schedules fired by its scheduler.

pub mod auth;
mod console;
pub mod error;
mod extract;
mod metrics;
pub mod model;
pub mod password;
mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use ucsync_engine::Runner;
use ucsync_store::Store;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as OpenApiDoc, Ref, ResponseBuilder, SecurityRequirement,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use auth::{Caller, create_token};
pub use error::ApiError;

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The zone of schedules that name none.
    pub default_time_zone: Tz,
    /// How often an idle event stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// The largest request body.
    pub max_body: usize,
    /// Where elements may be: a host given as an address outside these is
    /// refused when an element is added or changed.
    pub element_networks: ucsync_core::ElementNetworks,
    /// A secret that `GET /metrics` takes besides any API token.
    pub metrics_token: Option<auth::MetricsToken>,
    /// The API and the console are served over HTTPS: every response
    /// carries `Strict-Transport-Security`, and whatever sets a cookie
    /// (console sessions) marks it `Secure` when this is on.
    pub https: bool,
    /// Event streams (`GET /api/v1/events`) open at once.
    pub max_event_streams: usize,
    /// The names of the webhooks alarms are delivered to (their delivery
    /// logs are read by name).
    pub webhooks: Vec<String>,
    /// A console session unused for this long ends.
    pub session_idle: Duration,
    /// The service's settings as the console's administration page shows
    /// them (name and value; secrets left out by whoever fills this in).
    pub service_settings: Vec<(String, String)>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            default_time_zone: chrono_tz::UTC,
            keep_alive: Duration::from_secs(15),
            max_body: 1 << 20,
            element_networks: ucsync_core::ElementNetworks::default(),
            metrics_token: None,
            https: false,
            max_event_streams: 100,
            webhooks: Vec::new(),
            session_idle: Duration::from_secs(30 * 60),
            service_settings: Vec::new(),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub runner: Runner,
    pub settings: Arc<ApiSettings>,
    metrics: Arc<metrics::Metrics>,
    /// Ends the event streams, which would otherwise hold a graceful
    /// shutdown open for as long as a client listens.
    shutdown: CancellationToken,
    /// A place per open event stream.
    streams: Arc<tokio::sync::Semaphore>,
    /// The console's failed sign-ins per address, and its password checks.
    sign_ins: Arc<console::SignIns>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    pub fn new(runner: Runner, settings: ApiSettings) -> ApiState {
        ApiState {
            runner,
            streams: Arc::new(tokio::sync::Semaphore::new(settings.max_event_streams)),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::default()),
            shutdown: CancellationToken::new(),
            sign_ins: Arc::default(),
        }
    }

    /// Ends the event streams when `shutdown` is cancelled: give it the
    /// token that stops the server.
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> ApiState {
        self.shutdown = shutdown;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.runner.store()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ucsync",
        description = "The REST API of ucsync, an open System Manager that keeps one database in sync with Communication Manager, IP Office and Messaging elements.\n\nEvery call under `/api/v1` needs `Authorization: Bearer <token>`; a read-only token may only GET, and not even that under `/users`. Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}` with a stable code. Lists take `offset` and `limit` (1 to 1000, default 50).",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "elements", description = "The elements ucsync keeps in sync"),
        (name = "jobs", description = "Sync jobs"),
        (name = "schedules", description = "When sync jobs run by themselves"),
        (name = "objects", description = "The synchronized data, and administering it through ucsync"),
        (name = "tokens", description = "API tokens"),
        (name = "users", description = "The web console's users: admin tokens only, even to list them"),
        (name = "nodes", description = "The services sharing the database: which node does what"),
        (name = "alarms", description = "Alarms on elements, and their delivery to webhooks"),
        (name = "catalog", description = "What ucsync reads from each element kind: the catalogues in effect"),
        (name = "service", description = "Events, health, metrics and this document"),
    )
)]
struct ApiDoc;

/// What every operation shares: bearer security (none for `/healthz`), and
/// the errors any of them may answer, so each handler documents only its own.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ucs_…")
                    .build(),
            ),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = path == "/healthz";
            let ops = [
                (true, &mut item.get),
                (false, &mut item.post),
                (false, &mut item.put),
                (false, &mut item.patch),
                (false, &mut item.delete),
            ];
            for (is_get, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description).into());
                };
                if public {
                    op.security = Some(Vec::new());
                } else {
                    op.security = Some(vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                    add(
                        "401",
                        "No token, or one that is not known (`missing-token`, `invalid-token`)",
                    );
                    if !is_get {
                        add("403", "A read-only token (`read-only-token`)");
                    }
                }
                let has_input = op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if has_input {
                    add(
                        "400",
                        "Bad input: the message names the field (`invalid-json`, `invalid-field`, `invalid-body`, `invalid-query`, `invalid-path`)",
                    );
                }
                if op.request_body.is_some() {
                    add("413", "The body is too large (`payload-too-large`)");
                    add(
                        "415",
                        "The body is not sent as application/json (`unsupported-media-type`)",
                    );
                }
                add("500", "An error inside the service (`internal`)");
            }
        }
    }
}

/// The routes that need a token, with their OpenAPI document.
fn secured() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            routes::elements::router()
                .merge(routes::import::router())
                .merge(routes::jobs::router())
                .merge(routes::schedules::router())
                .merge(routes::objects::router())
                .merge(routes::tokens::router())
                .merge(routes::users::router())
                .merge(routes::nodes::router())
                .merge(routes::catalog::router())
                .merge(routes::alarms::router())
                .merge(routes::service::router()),
        )
        .merge(routes::service::outside())
}

/// The OpenAPI 3.1 document of the API, as served at `/api/v1/openapi.json`.
pub fn openapi() -> Arc<OpenApiDoc> {
    static DOC: OnceLock<Arc<OpenApiDoc>> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = secured().merge(routes::service::public()).split_for_parts();
        Common.modify(&mut doc);
        Arc::new(doc)
    })
    .clone()
}

/// The whole HTTP service: the API under `/api/v1`, `/healthz`, `/metrics`
/// and the console at `/`. Starts the task that times finished jobs for
/// `/metrics`, so call it within a tokio runtime.
pub fn router(state: ApiState) -> Router {
    metrics::spawn_recorder(&state);
    let https = state.settings.https;
    let (secured, _) = secured().split_for_parts();
    let secured = secured.route_layer(from_fn_with_state(state.clone(), auth::require_token));
    let (public, _) = routes::service::public().split_for_parts();
    let router = secured
        .merge(public)
        .merge(console::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.settings.max_body,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal("a handler panicked"))
        }))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::map_response(console::security_headers))
        .with_state(state);
    if https {
        router.layer(axum::middleware::map_response(strict_transport_security))
    } else {
        router
    }
}

/// Browsers that reached the service over HTTPS keep to it for a year.
async fn strict_transport_security(
    mut response: axum::response::Response,
) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000"),
    );
    response
}
