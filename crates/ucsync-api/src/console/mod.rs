//! The web console: System Manager's pages, rendered on the server from
//! templates (askama) and served beside the API. Every page reads and every
//! form acts through the same engine and store calls as the REST API's
//! handlers (`crate::routes`), so no rule has a second copy here: this
//! module knows sessions, forms and HTML, nothing of synchronization.
//!
//! Pages work without script; `assets/console.js` only enhances them (live
//! updates from the event stream, select-all, confirmations). Nothing is
//! fetched from outside the service, and every response carries a
//! Content-Security-Policy that allows no inline script
//! ([`security_headers`]).

mod admin;
mod assets;
mod dashboard;
mod data;
mod element_admin;
mod element_form;
mod elements;
mod events;
mod form;
mod import;
mod jobs;
mod rows;
mod schedules;
mod session;
mod sign_in;
mod sync;
mod words;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::{ApiError, ApiState};
pub(crate) use session::{Action, Operator};
pub(crate) use sign_in::SignIns;

/// The console's routes.
pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/console/events", get(events::stream))
        .route(
            "/sync/force-init",
            get(sync::confirmation).post(sync::confirm),
        )
        .route("/sync/{group}", get(sync::page).post(sync::act))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/stop", post(jobs::stop))
        .route("/schedules", get(schedules::list).post(schedules::add))
        .route("/schedules/new", get(schedules::new_form))
        .route("/schedules/{id}", post(schedules::edit))
        .route("/schedules/{id}/edit", get(schedules::edit_form))
        .route("/schedules/{id}/enable", post(schedules::enable))
        .route("/schedules/{id}/disable", post(schedules::disable))
        .route(
            "/schedules/{id}/remove",
            get(schedules::remove_form).post(schedules::remove),
        )
        .route("/data", get(data::elements))
        .route("/data/{element}", get(data::objects))
        .route("/data/{element}/{type}/{key}", get(data::object))
        .route("/search", get(data::search))
        .route("/elements", get(elements::list).post(elements::add))
        .route("/elements/new", get(elements::new))
        .route("/elements/export.csv", get(elements::export))
        .route("/elements/import", get(import::form).post(import::preview))
        .route("/elements/import/confirm", post(import::confirm))
        .route("/elements/{name}", get(elements::page))
        .route(
            "/elements/{name}/edit",
            get(element_admin::edit_page).post(element_admin::edit),
        )
        .route(
            "/elements/{name}/remove",
            get(element_admin::remove_page).post(element_admin::remove),
        )
        .route("/elements/{name}/check", post(element_admin::check))
        .route("/elements/{name}/accept", post(element_admin::accept))
        .route("/jobs/{id}/apply", post(jobs::apply))
        .route("/assets/{name}", get(assets::asset))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{name}", post(admin::change_user))
        .route(
            "/admin/users/{name}/remove",
            get(admin::confirm_remove_user).post(admin::remove_user),
        )
        .route("/admin/tokens", post(admin::add_token))
        .route(
            "/admin/tokens/{id}/revoke",
            get(admin::confirm_revoke_token).post(admin::revoke_token),
        )
}

/// The sections of the console, in the order of its menu: a label and the
/// path of its first page.
const SECTIONS: &[(&str, &str)] = &[
    ("Dashboard", "/"),
    ("Elements", "/elements"),
    ("Synchronization", "/sync/cm"),
    ("Jobs", "/jobs"),
    ("Schedules", "/schedules"),
    ("Data", "/data"),
    ("Administration", "/admin"),
];

/// A link of the menu.
pub(crate) struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// What every page's frame shows: its title, the menu with the page's
/// section marked, and who is signed in (with the session's form token for
/// the sign-out and every other form).
pub(crate) struct Frame {
    pub title: String,
    pub section: &'static str,
    pub operator: Operator,
    /// The search box's text.
    pub q: String,
    /// This page's path and query, where its forms come back to.
    pub path: String,
}

impl Frame {
    pub(crate) fn new(
        operator: &Operator,
        section: &'static str,
        title: impl Into<String>,
    ) -> Frame {
        Frame {
            title: title.into(),
            section,
            operator: operator.clone(),
            q: String::new(),
            path: operator.here.clone(),
        }
    }

    pub(crate) fn nav(&self) -> Vec<NavItem> {
        SECTIONS
            .iter()
            .map(|&(label, href)| NavItem {
                label,
                href,
                current: label == self.section,
            })
            .collect()
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.operator.is_admin()
    }
}

/// A page's answer: the template rendered, or a failure.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            ApiError::internal(format!("a console page did not render: {e}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the service log has the details",
            )
                .into_response()
        }
    }
}

/// Why a page or an action could not be served, as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub(crate) fn forbidden(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure {
            status: e.status(),
            message: e.message,
        }
    }
}

impl From<ucsync_store::StoreError> for Failure {
    fn from(e: ucsync_store::StoreError) -> Failure {
        ApiError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Option<Frame>,
    failure: Failure,
}

/// The page of a failure, within the console's frame when someone is
/// signed in.
pub(crate) fn page_error(operator: Option<&Operator>, failure: Failure) -> Response {
    let status = failure.status;
    let title = status.canonical_reason().unwrap_or("Error").to_string();
    let page = ErrorPage {
        frame: operator.map(|o| Frame::new(o, "", title)),
        failure,
    };
    (status, render(&page)).into_response()
}

/// What a page's handler answers: the page, or the page of its failure.
pub(crate) type PageResult = Result<Response, Response>;

/// Maps a failure of a signed-in page to its error page.
pub(crate) fn fail(operator: &Operator) -> impl Fn(Failure) -> Response + '_ {
    move |f| page_error(Some(operator), f)
}

/// Scripts from this service only, none inline; styles and images from it
/// alone; no frames, no plug-ins, forms posted only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The headers every response of the service carries: the console's
/// policy, no framing (clickjacking), no referrer to other sites, and no
/// guessing of content types.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
