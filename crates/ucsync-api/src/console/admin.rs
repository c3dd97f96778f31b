//! Administration: the console's users (admins only), API tokens (a new
//! token's secret shown once) and the service's settings, read only.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use ucsync_core::Role;

use super::form::{ConfirmPage, FormErrors};
use super::{Action, Failure, Frame, Operator, PageResult, fail, render, words};
use crate::model::{NewTokenBody, NewUserBody, TokenView, UserPatch, UserView};
use crate::routes::{tokens, users};
use crate::{ApiError, ApiState};

/// An API error beside the input of its field, of the form whose inputs
/// are `inputs`.
fn form_errors(e: &ApiError, inputs: &[&str]) -> FormErrors {
    FormErrors::of_api(e, |f| inputs.contains(&f).then_some(f))
}

struct UserRow {
    name: String,
    /// The name as a path segment.
    path: String,
    role: &'static str,
    created_at: String,
    last_sign_in_at: String,
}

impl From<UserView> for UserRow {
    fn from(u: UserView) -> UserRow {
        UserRow {
            path: super::session::url_escape(&u.name),
            name: u.name,
            role: u.role.as_str(),
            created_at: words::time(&u.created_at),
            last_sign_in_at: u
                .last_sign_in_at
                .as_deref()
                .map(words::time)
                .unwrap_or_default(),
        }
    }
}

struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    created_at: String,
    last_used_at: String,
}

impl From<TokenView> for TokenRow {
    fn from(t: TokenView) -> TokenRow {
        TokenRow {
            id: t.id,
            name: t.name,
            role: t.role.as_str(),
            created_at: words::time(&t.created_at),
            last_used_at: t
                .last_used_at
                .as_deref()
                .map(words::time)
                .unwrap_or_default(),
        }
    }
}

/// What the forms were filled in with when one was refused.
#[derive(Debug, Default)]
struct Filled {
    user_name: String,
    user_role: String,
    user_errors: FormErrors,
    token_name: String,
    token_role: String,
    token_errors: FormErrors,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    frame: Frame,
    /// Only an admin sees the users.
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    settings: Vec<(String, String)>,
    filled: Filled,
    /// A token just made: its name and its secret, shown this once.
    created: Option<(String, String)>,
    roles: [&'static str; 2],
}

async fn admin_page(
    s: &ApiState,
    operator: &Operator,
    filled: Filled,
    created: Option<(String, String)>,
) -> Result<AdminPage, ApiError> {
    let users = if operator.is_admin() {
        users::users(s)
            .await?
            .into_iter()
            .map(UserRow::from)
            .collect()
    } else {
        Vec::new()
    };
    let tokens = s
        .store()
        .tokens()
        .await?
        .into_iter()
        .map(|t| TokenRow::from(TokenView::from(t)))
        .collect();
    Ok(AdminPage {
        frame: Frame::new(operator, "Administration", "Administration"),
        users,
        tokens,
        settings: s.settings.service_settings.clone(),
        filled,
        created,
        roles: [Role::Admin.as_str(), Role::ReadOnly.as_str()],
    })
}

async fn show(s: &ApiState, operator: &Operator, status: StatusCode, filled: Filled) -> PageResult {
    let page = admin_page(s, operator, filled, None)
        .await
        .map_err(|e| fail(operator)(e.into()))?;
    Ok((status, render(&page)).into_response())
}

/// `GET /admin`.
pub(crate) async fn page(State(s): State<ApiState>, operator: Operator) -> PageResult {
    show(&s, &operator, StatusCode::OK, Filled::default()).await
}

fn role(text: &str) -> Result<Role, ApiError> {
    text.parse::<Role>().map_err(|_| {
        ApiError::from(crate::model::FieldError::new(
            "role",
            format!("role must be admin or read-only, not '{text}'"),
        ))
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewUserForm {
    name: String,
    role: String,
    /// Moved into the API's body, whose password is wiped when dropped.
    password: String,
}

/// `POST /admin/users`: adds a user through the API's rules.
pub(crate) async fn add_user(
    State(s): State<ApiState>,
    Action { operator, form }: Action<NewUserForm>,
) -> PageResult {
    let NewUserForm {
        name,
        role: role_text,
        password,
    } = form;
    let added = match role(&role_text) {
        Ok(role) => {
            let body = NewUserBody {
                name: name.clone(),
                role,
                password: ucsync_core::Password::new(password),
            };
            users::add_user(&s, &operator.name, body).await
        }
        Err(e) => Err(e),
    };
    match added {
        Ok(_) => Ok(Redirect::to("/admin#users").into_response()),
        Err(e) if e.status() == StatusCode::INTERNAL_SERVER_ERROR => Err(fail(&operator)(e.into())),
        Err(e) => {
            let filled = Filled {
                user_name: name,
                user_role: role_text,
                user_errors: form_errors(&e, &["name", "role", "password"]),
                ..Filled::default()
            };
            show(&s, &operator, StatusCode::BAD_REQUEST, filled).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserChangeForm {
    role: Option<String>,
    password: Option<String>,
}

/// `POST /admin/users/{name}`: a new role or a new password (which signs
/// the user out everywhere).
pub(crate) async fn change_user(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, form }: Action<UserChangeForm>,
) -> PageResult {
    let failed = |e: ApiError| fail(&operator)(Failure::from(e));
    let role = match form.role.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => Some(role(r).map_err(failed)?),
        None => None,
    };
    let patch = UserPatch {
        role,
        password: form
            .password
            .filter(|p| !p.is_empty())
            .map(ucsync_core::Password::new),
    };
    users::change_user(&s, &operator.name, &name, patch)
        .await
        .map_err(failed)?;
    Ok(Redirect::to("/admin#users").into_response())
}

/// `GET /admin/users/{name}/remove`: asks first.
pub(crate) async fn confirm_remove_user(
    Path(name): Path<String>,
    operator: Operator,
) -> PageResult {
    operator.require_admin().map_err(fail(&operator))?;
    Ok(render(&ConfirmPage {
        frame: Frame::new(&operator, "Administration", format!("Remove user {name}")),
        question: format!("Remove user {name}?"),
        detail: "The user can no longer sign in; its open sessions end now.".into(),
        action: format!("/admin/users/{}/remove", super::session::url_escape(&name)),
        button: format!("Remove user {name}"),
        deleted: Vec::new(),
        back: "/admin#users".into(),
    }))
}

/// `POST /admin/users/{name}/remove`.
pub(crate) async fn remove_user(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, .. }: Action<Empty>,
) -> PageResult {
    users::remove_user(&s, &operator.name, &name)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(Redirect::to("/admin#users").into_response())
}

/// A form with no field but its token.
#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

#[derive(Debug, Deserialize)]
pub(crate) struct NewTokenForm {
    name: String,
    role: String,
}

/// `POST /admin/tokens`: makes a token and shows its secret, this once
/// (the answer is not kept by the browser).
pub(crate) async fn add_token(
    State(s): State<ApiState>,
    Action { operator, form }: Action<NewTokenForm>,
) -> PageResult {
    let made = match role(&form.role) {
        Ok(role) => {
            let body = NewTokenBody {
                name: form.name.clone(),
                role,
            };
            tokens::add(&s, &operator.caller(), body).await
        }
        Err(e) => Err(e),
    };
    match made {
        Ok(created) => {
            let page = admin_page(
                &s,
                &operator,
                Filled::default(),
                Some((created.token.name, created.secret)),
            )
            .await
            .map_err(|e| fail(&operator)(e.into()))?;
            let mut r = (StatusCode::CREATED, render(&page)).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
        Err(e) if e.status() == StatusCode::INTERNAL_SERVER_ERROR => Err(fail(&operator)(e.into())),
        Err(e) => {
            let filled = Filled {
                token_name: form.name,
                token_role: form.role,
                token_errors: form_errors(&e, &["name", "role"]),
                ..Filled::default()
            };
            show(&s, &operator, StatusCode::BAD_REQUEST, filled).await
        }
    }
}

/// `GET /admin/tokens/{id}/revoke`: asks first.
pub(crate) async fn confirm_revoke_token(Path(id): Path<i64>, operator: Operator) -> PageResult {
    operator.require_admin().map_err(fail(&operator))?;
    Ok(render(&ConfirmPage {
        frame: Frame::new(&operator, "Administration", format!("Revoke token {id}")),
        question: format!("Revoke token {id}?"),
        detail: "Requests with it are refused from now on.".into(),
        action: format!("/admin/tokens/{id}/revoke"),
        button: format!("Revoke token {id}"),
        deleted: Vec::new(),
        back: "/admin#tokens".into(),
    }))
}

/// `POST /admin/tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, .. }: Action<Empty>,
) -> PageResult {
    tokens::remove(&s, &operator.caller(), id)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(Redirect::to("/admin#tokens").into_response())
}
