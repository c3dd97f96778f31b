//! Console users on SQLite: the last admin is never removed nor demoted
//! (the one writer counts and changes in one transaction).

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};
use ucsync_core::Role;

use super::{SqliteStore, all, db, first, now, value};
use crate::model::*;
use crate::rows::{self, USER_COLUMNS};
use crate::{Result, StoreError};

/// Whether `name` is the only admin.
fn last_admin(tx: &Transaction<'_>, name: &str) -> Result<bool> {
    let admin = Role::Admin.as_str();
    let admins: i64 = value(tx, "SELECT count(*) FROM users WHERE role = ?1", [admin])?;
    let is: i64 = value(
        tx,
        "SELECT count(*) FROM users WHERE name = ?1 AND role = ?2",
        [name, admin],
    )?;
    Ok(is == 1 && admins <= 1)
}

impl SqliteStore {
    pub(crate) async fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<User> {
        let (name, hash) = (name.to_string(), password_hash.to_string());
        self.write(move |c, _| {
            let sql = format!(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO NOTHING RETURNING {USER_COLUMNS}"
            );
            first(c, &sql, params![name, role.as_str(), hash, now()], |r| {
                rows::user(r)
            })?
            .ok_or(StoreError::UserExists(name))
        })
        .await
    }

    pub(crate) async fn users(&self) -> Result<Vec<User>> {
        self.read(|c, _| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
            all(&mut c.prepare(&sql).map_err(db)?, [], rows::user)
        })
        .await
    }

    pub(crate) async fn user_sign_in(&self, name: &str) -> Result<Option<(User, String)>> {
        let name = name.to_string();
        self.read(move |c, _| {
            let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1");
            first(c, &sql, [name], |r| {
                Ok((rows::user(r)?, r.get(4).map_err(db)?))
            })
        })
        .await
    }

    pub(crate) async fn record_sign_in(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let name = name.to_string();
        self.write(move |c, _| {
            c.execute(
                "UPDATE users SET last_sign_in_at = ?2 WHERE name = ?1",
                params![name, rows::time_text(at)],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn update_user(
        &self,
        name: &str,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<UserChange> {
        let (name, hash) = (name.to_string(), password_hash.map(str::to_string));
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            if role.is_some_and(|r| r != Role::Admin) && last_admin(&tx, &name)? {
                return Ok(UserChange::LastAdmin);
            }
            let sql = format!(
                "UPDATE users SET role = coalesce(?2, role), password_hash = coalesce(?3, password_hash) \
                 WHERE name = ?1 RETURNING {USER_COLUMNS}"
            );
            let role = role.map(|r| r.as_str());
            let user = first(&tx, &sql, params![name, role, hash], |r| rows::user(r))?;
            if hash.is_some() {
                // A new password signs the user out everywhere.
                tx.execute("DELETE FROM sessions WHERE user_name = ?1", [&name])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(match user {
                Some(u) => UserChange::Done(Some(u)),
                None => UserChange::NoUser,
            })
        })
        .await
    }

    pub(crate) async fn remove_user(&self, name: &str) -> Result<UserChange> {
        let name = name.to_string();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            if last_admin(&tx, &name)? {
                return Ok(UserChange::LastAdmin);
            }
            let n = tx
                .execute("DELETE FROM users WHERE name = ?1", [&name])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(if n > 0 {
                UserChange::Done(None)
            } else {
                UserChange::NoUser
            })
        })
        .await
    }
}
