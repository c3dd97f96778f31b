//! Console users on PostgreSQL: the admins' rows are locked while the last
//! admin is counted, so two changes at once never leave none.

use chrono::{DateTime, Utc};
use ucsync_core::Role;

use super::{PgStore, db, get, is_unique_violation};
use crate::model::*;
use crate::rows::{self, USER_COLUMNS};
use crate::{Result, StoreError};

/// Whether `name` is the only admin, with the admins' rows locked until
/// the transaction ends.
async fn last_admin(tx: &deadpool_postgres::Transaction<'_>, name: &str) -> Result<bool> {
    let admins = tx
        .query(
            "SELECT name FROM users WHERE role = $1 FOR UPDATE",
            &[&Role::Admin.as_str()],
        )
        .await
        .map_err(db)?;
    let names: Vec<String> = admins.iter().map(|r| get(r, 0)).collect::<Result<_>>()?;
    Ok(names.len() <= 1 && names.iter().any(|n| n == name))
}

impl PgStore {
    pub(crate) async fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<User> {
        let c = self.client().await?;
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, now()) \
                     RETURNING {USER_COLUMNS}"
                ),
                &[&name, &role.as_str(), &password_hash],
            )
            .await;
        match r {
            Ok(r) => rows::user(&r),
            Err(e) if is_unique_violation(&e, "users_pkey") => {
                Err(StoreError::UserExists(name.to_string()))
            }
            Err(e) => Err(db(e)),
        }
    }

    pub(crate) async fn users(&self) -> Result<Vec<User>> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(rows::user)
        .collect()
    }

    pub(crate) async fn user_sign_in(&self, name: &str) -> Result<Option<(User, String)>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = $1"),
                &[&name],
            )
            .await
            .map_err(db)?;
        r.map(|r| Ok((rows::user(&r)?, get(&r, 4)?))).transpose()
    }

    pub(crate) async fn record_sign_in(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE users SET last_sign_in_at = $2 WHERE name = $1",
            &[&name, &at],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn update_user(
        &self,
        name: &str,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<UserChange> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        if role.is_some_and(|r| r != Role::Admin) && last_admin(&tx, name).await? {
            return Ok(UserChange::LastAdmin);
        }
        let role = role.map(|r| r.as_str());
        let r = tx
            .query_opt(
                &format!(
                    "UPDATE users SET role = coalesce($2, role), password_hash = coalesce($3, password_hash) \
                     WHERE name = $1 RETURNING {USER_COLUMNS}"
                ),
                &[&name, &role, &password_hash],
            )
            .await
            .map_err(db)?;
        let user = r.map(|r| rows::user(&r)).transpose()?;
        if password_hash.is_some() {
            // A new password signs the user out everywhere.
            tx.execute("DELETE FROM sessions WHERE user_name = $1", &[&name])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(match user {
            Some(u) => UserChange::Done(Some(u)),
            None => UserChange::NoUser,
        })
    }

    pub(crate) async fn remove_user(&self, name: &str) -> Result<UserChange> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        if last_admin(&tx, name).await? {
            return Ok(UserChange::LastAdmin);
        }
        let n = tx
            .execute("DELETE FROM users WHERE name = $1", &[&name])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(if n > 0 {
            UserChange::Done(None)
        } else {
            UserChange::NoUser
        })
    }
}
