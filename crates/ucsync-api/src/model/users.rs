//! The bodies of `/users`: the console's users — one to add, a change, and a
//! user as shown. A password is write-only: it is read into a
//! [`Password`] (never printed, wiped when dropped) and answered nowhere.

use serde::{Deserialize, Serialize};
use ucsync_core::{Password, Role};
use ucsync_store as store;
use utoipa::ToSchema;

use super::paging::page;
use super::{FieldError, RoleSchema};
use crate::password::MIN_LENGTH;

page!(UserPage, UserView, "A page of console users.");

/// The longest password taken, in characters: enough for any passphrase,
/// and a bound on what argon2 is given to hash.
pub const MAX_PASSWORD_LENGTH: usize = 1024;

/// The longest user name, in characters.
pub const MAX_NAME_LENGTH: usize = 64;

/// A user to add.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// The name the user signs in with: 1 to 64 characters, without white
    /// space or control characters.
    #[schema(
        example = "jsmith",
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    /// 12 to 1024 characters; stored only as an argon2id hash.
    #[serde(with = "password_text")]
    #[schema(value_type = String, write_only, min_length = 12, max_length = 1024, format = Password)]
    pub password: Password,
}

impl NewUserBody {
    /// The name and role, checked with the password.
    pub fn parse(&self) -> Result<(String, Role), FieldError> {
        let name = user_name(&self.name)?;
        password(&self.password)?;
        Ok((name, self.role))
    }
}

/// A change to a user: a field left out stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The admin role is not taken from the last admin user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RoleSchema>)]
    pub role: Option<Role>,
    /// A new password, 12 to 1024 characters.
    #[serde(
        default,
        with = "password_text::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, write_only, min_length = 12, max_length = 1024, format = Password)]
    pub password: Option<Password>,
}

impl UserPatch {
    /// Checks the new password, if there is one.
    pub fn check(&self) -> Result<(), FieldError> {
        self.password.as_ref().map_or(Ok(()), password)
    }
}

/// A user of the console. Never its password nor the password's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub created_at: String,
    /// The last time the user signed in to the console; `null` if never.
    pub last_sign_in_at: Option<String>,
}

impl From<store::User> for UserView {
    fn from(u: store::User) -> UserView {
        UserView {
            name: u.name,
            role: u.role,
            created_at: store::time_text(u.created_at),
            last_sign_in_at: u.last_sign_in_at.map(store::time_text),
        }
    }
}

/// A user name as the document's pattern and `maxLength` say: characters,
/// none of them white space or control.
pub fn user_name(value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new("name", "name must not be empty"));
    }
    if value.chars().count() > MAX_NAME_LENGTH
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new(
            "name",
            format!(
                "name must be at most {MAX_NAME_LENGTH} characters, without spaces or control characters"
            ),
        ));
    }
    Ok(value.to_string())
}

/// A password long enough, counted in characters as `minLength` counts.
fn password(p: &Password) -> Result<(), FieldError> {
    let n = p.expose().chars().count();
    if n < MIN_LENGTH {
        return Err(FieldError::new(
            "password",
            format!("password must be at least {MIN_LENGTH} characters long"),
        ));
    }
    if n > MAX_PASSWORD_LENGTH {
        return Err(FieldError::new(
            "password",
            format!("password must be at most {MAX_PASSWORD_LENGTH} characters long"),
        ));
    }
    Ok(())
}

/// A password in a body, as JSON text: read straight into a [`Password`];
/// written only by the CLI, which sends it.
mod password_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use ucsync_core::Password;

    pub(crate) fn serialize<S: Serializer>(p: &Password, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.expose())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Password, D::Error> {
        String::deserialize(d).map(Password::new)
    }

    pub(crate) mod opt {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            p: &Option<Password>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match p {
                Some(p) => s.serialize_some(p.expose()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Password>, D::Error> {
            Option::<String>::deserialize(d).map(|p| p.map(Password::new))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(name: &str, password: &str) -> NewUserBody {
        NewUserBody {
            name: name.into(),
            role: Role::Admin,
            password: Password::new(password),
        }
    }

    #[test]
    fn a_new_user_needs_a_name_and_a_long_enough_password() {
        assert_eq!(
            body("jsmith", "twelve chars").parse(),
            Ok(("jsmith".to_string(), Role::Admin))
        );
        // Characters, not bytes: twelve of them, in 24 bytes.
        assert!(body("jsmith", &"é".repeat(12)).parse().is_ok());
        let field = |b: NewUserBody| b.parse().unwrap_err().field;
        assert_eq!(field(body("jsmith", "eleven char")), "password");
        assert_eq!(field(body("jsmith", &"x".repeat(1025))), "password");
        assert_eq!(field(body("", "twelve chars")), "name");
        assert_eq!(field(body("j smith", "twelve chars")), "name");
        assert_eq!(field(body(&"j".repeat(65), "twelve chars")), "name");
        assert!(body(&"j".repeat(64), "twelve chars").parse().is_ok());
    }

    #[test]
    fn a_password_is_read_but_never_printed() {
        let b: NewUserBody = serde_json::from_value(serde_json::json!({
            "name": "jsmith", "role": "read-only", "password": "correct horse battery"
        }))
        .unwrap();
        assert_eq!(b.password.expose(), "correct horse battery");
        assert!(!format!("{b:?}").contains("horse"), "{b:?}");
        let p: UserPatch =
            serde_json::from_value(serde_json::json!({"password": "correct horse battery"}))
                .unwrap();
        assert!(!format!("{p:?}").contains("horse"), "{p:?}");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"password": "correct horse battery"}),
            "the CLI sends it as it was given"
        );
        let empty: UserPatch = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(empty.role.is_none() && empty.password.is_none());
        assert_eq!(serde_json::to_value(&empty).unwrap(), serde_json::json!({}));
        assert!(
            serde_json::from_value::<UserPatch>(serde_json::json!({"name": "x"})).is_err(),
            "unknown fields are refused"
        );
        assert_eq!(
            UserPatch {
                password: Some(Password::new("short")),
                ..UserPatch::default()
            }
            .check()
            .unwrap_err()
            .field,
            "password"
        );
    }
}
