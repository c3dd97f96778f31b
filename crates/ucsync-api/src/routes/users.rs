//! `/users`: the console's users, administered with an admin token only —
//! a read-only token may not even list them. Each rule is one function of
//! the state and the parsed body ([`add_user`], [`change_user`],
//! [`remove_user`]), which the handlers call and the console's forms can
//! call as they are. Passwords are hashed (argon2id, slow on purpose) on
//! the blocking pool, and never logged nor answered.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ucsync_core::{Password, Role};
use ucsync_store::UserChange;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ErrorBody, ErrorCode, NewUserBody, PageQuery, UserPage, UserPatch, UserView, user_name,
};
use crate::password;

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, post_user))
        .routes(routes!(patch_user, delete_user))
}

/// Refuses a read-only caller on a GET too (the authentication refuses it
/// every other method): the users' names and roles are an administrator's
/// business.
fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    tracing::warn!(token = %caller.name, "read-only token refused on /users");
    Err(ApiError::new(
        ErrorCode::ReadOnlyToken,
        format!(
            "token '{}' is read-only: users are administered, and listed, with an admin token only",
            caller.name
        ),
    ))
}

/// Every user, by name.
pub(crate) async fn users(s: &ApiState) -> Result<Vec<UserView>, ApiError> {
    Ok(s.store()
        .users()
        .await?
        .into_iter()
        .map(UserView::from)
        .collect())
}

/// Adds a user: the name must be free, the password long enough.
pub(crate) async fn add_user(
    s: &ApiState,
    by: &str,
    body: NewUserBody,
) -> Result<UserView, ApiError> {
    let (name, role) = body.parse()?;
    let hash = hash(body.password).await?;
    let user = s.store().add_user(&name, role, &hash).await?;
    tracing::info!(user = %user.name, %role, by, "user added");
    Ok(user.into())
}

/// Changes a user's role or password; the last admin keeps the admin role.
pub(crate) async fn change_user(
    s: &ApiState,
    by: &str,
    name: &str,
    patch: UserPatch,
) -> Result<UserView, ApiError> {
    patch.check()?;
    known(name)?;
    let hash = match patch.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let change = s
        .store()
        .update_user(name, patch.role, hash.as_deref())
        .await?;
    let user = done(change, name, "given another role")?
        .ok_or_else(|| ApiError::internal(format!("user '{name}' changed but not answered")))?;
    tracing::info!(
        user = %user.name, role = %user.role, password_changed = hash.is_some(), by,
        "user changed"
    );
    Ok(user.into())
}

/// Removes a user, unless it is the last admin.
pub(crate) async fn remove_user(s: &ApiState, by: &str, name: &str) -> Result<(), ApiError> {
    known(name)?;
    done(s.store().remove_user(name).await?, name, "removed")?;
    tracing::info!(user = %name, by, "user removed");
    Ok(())
}

/// A name no user can have (one with a control character, say) is not
/// looked for: it is nobody's.
fn known(name: &str) -> Result<(), ApiError> {
    user_name(name).map(drop).map_err(|_| no_user(name))
}

fn no_user(name: &str) -> ApiError {
    ApiError::new(ErrorCode::NoUser, format!("no user '{name}'"))
}

/// The user a change left, or why there is none: 404, or 409 for the last
/// admin (`refused` says what it was not).
fn done(
    change: UserChange,
    name: &str,
    refused: &str,
) -> Result<Option<ucsync_store::User>, ApiError> {
    match change {
        UserChange::Done(user) => Ok(user),
        UserChange::NoUser => Err(no_user(name)),
        UserChange::LastAdmin => Err(ApiError::new(
            ErrorCode::LastAdminUser,
            format!(
                "user '{name}' is the last admin user and is not {refused}, or nobody could administer the console: make another user admin first (`ucsync user add NAME --role admin`)"
            ),
        )),
    }
}

/// The password's argon2id hash, made on the blocking pool; the password
/// is wiped when the hash is made.
async fn hash(p: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(p.expose()))
        .await
        .map_err(ApiError::internal)
}

/// The console's users, by name; never their passwords.
#[utoipa::path(get, path = "/users", tag = "users", params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 403, description = "A read-only token (`read-only-token`): users are administered, and listed, with an admin token only", body = ErrorBody),
    ))]
async fn list_users(
    State(s): State<ApiState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<UserPage>, ApiError> {
    admin_only(&caller)?;
    let page = page.parse().map_err(ApiError::query)?;
    let all = users(&s).await?;
    Ok(Json(UserPage {
        items: page.slice(&all),
        offset: page.offset,
        limit: page.limit,
        total: Some(all.len() as u64),
    }))
}

/// Adds a user of the console.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUserBody,
    responses(
        (status = 201, description = "Added", body = UserView),
        (status = 403, description = "A read-only token (`read-only-token`): users are administered, and listed, with an admin token only", body = ErrorBody),
        (status = 409, description = "A user of that name exists (`user-exists`)", body = ErrorBody),
    ))]
async fn post_user(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(add_user(&s, &caller.name, body).await?),
    ))
}

/// Changes a user's role or password.
#[utoipa::path(patch, path = "/users/{name}", tag = "users", request_body = UserPatch,
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 403, description = "A read-only token (`read-only-token`): users are administered, and listed, with an admin token only", body = ErrorBody),
        (status = 404, description = "No such user (`no-user`)", body = ErrorBody),
        (status = 409, description = "The last admin user keeps the admin role (`last-admin-user`)", body = ErrorBody),
    ))]
async fn patch_user(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(change_user(&s, &caller.name, &name, patch).await?))
}

/// Removes a user.
#[utoipa::path(delete, path = "/users/{name}", tag = "users",
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "A read-only token (`read-only-token`): users are administered, and listed, with an admin token only", body = ErrorBody),
        (status = 404, description = "No such user (`no-user`)", body = ErrorBody),
        (status = 409, description = "The last admin user (`last-admin-user`): make another user admin first", body = ErrorBody),
    ))]
async fn delete_user(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    remove_user(&s, &caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
