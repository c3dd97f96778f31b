//! `/tokens`: API tokens. A token's secret is answered once, at creation;
//! the store keeps only its hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use ucsync_store::TokenRemoval;

use crate::ApiState;
use crate::auth::{Caller, create_token};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ErrorBody, ErrorCode, NewTokenBody, PageQuery, TokenCreated, TokenPage, TokenView,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, add_token))
        .routes(routes!(delete_token))
}

/// API tokens, without their secrets.
#[utoipa::path(get, path = "/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, description = "A page of tokens", body = TokenPage)))]
async fn list_tokens(
    State(s): State<ApiState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<TokenPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    let all = s.store().tokens().await?;
    Ok(Json(TokenPage {
        items: page.slice(&all).into_iter().map(TokenView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(all.len() as u64),
    }))
}

/// Creates a token. Its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewTokenBody,
    responses((status = 201, description = "Created; keep the secret now", body = TokenCreated)))]
async fn add_token(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    Ok((StatusCode::CREATED, Json(add(&s, &caller, body).await?)))
}

/// Creates a token, as `POST /tokens` says.
pub(crate) async fn add(
    s: &ApiState,
    caller: &Caller,
    body: NewTokenBody,
) -> Result<TokenCreated, ApiError> {
    let (name, role) = body.parse()?;
    let (token, secret) = create_token(s.store().as_ref(), &name, role).await?;
    tracing::info!(token = %token.name, %role, by = %caller.name, "token created");
    Ok(TokenCreated {
        token: token.into(),
        secret,
    })
}

/// Deletes a token: requests with it are refused from now on.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such token (`no-token`)", body = ErrorBody),
        (status = 409, description = "The last admin token (`last-admin-token`): make another admin token first", body = ErrorBody),
    ))]
async fn delete_token(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    remove(&s, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a token, as `DELETE /tokens/{id}` says.
pub(crate) async fn remove(s: &ApiState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    match s.store().delete_token(id).await? {
        TokenRemoval::Removed => {}
        TokenRemoval::NoToken => {
            return Err(ApiError::new(ErrorCode::NoToken, format!("no token {id}")));
        }
        TokenRemoval::LastAdmin => {
            return Err(ApiError::new(
                ErrorCode::LastAdminToken,
                format!(
                    "token {id} is the last admin token, and without one nobody could administer the service: create another admin token first (`ucsync token create --role admin`)"
                ),
            ));
        }
    }
    tracing::info!(token = id, by = %caller.name, "token deleted");
    Ok(())
}
