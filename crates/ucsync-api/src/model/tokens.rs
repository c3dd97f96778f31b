//! The bodies of `/tokens`: a token to create, a token as shown, and the
//! secret shown once.

use serde::{Deserialize, Serialize};
use ucsync_core::Role;
use ucsync_store as store;
use utoipa::ToSchema;

use super::paging::page;
use super::{FieldError, RoleSchema, non_empty};

page!(TokenPage, TokenView, "A page of API tokens.");

/// A token to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Who or what uses it; jobs it requests show it as `requested_by`. At
    /// most 64 characters, no control characters, not only white space.
    #[schema(
        example = "nightly-script",
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
}

impl NewTokenBody {
    pub fn parse(&self) -> Result<(String, Role), FieldError> {
        let name = non_empty("name", &self.name)?;
        // Characters, as the document's maxLength counts them.
        if name.chars().count() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(FieldError::new(
                "name",
                "name must be at most 64 characters, without control characters",
            ));
        }
        Ok((name, self.role))
    }
}

/// An API token. Its secret is shown once, when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<store::Token> for TokenView {
    fn from(t: store::Token) -> TokenView {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: store::time_text(t.created_at),
            last_used_at: t.last_used_at.map(store::time_text),
        }
    }
}

/// A token just created, with its secret: shown this once, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub token: TokenView,
    /// `ucs_` and 43 characters; send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}
