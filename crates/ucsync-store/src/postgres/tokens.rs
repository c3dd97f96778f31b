//! API tokens on PostgreSQL: only a hash of each token's secret is stored,
//! a token's use is recorded at most once a minute (by the database's
//! clock), and the last admin token is never removed.

use tokio_postgres::types::ToSql;
use ucsync_core::Role;

use super::{PgStore, db, get, is_unique_violation};
use crate::model::*;
use crate::rows::{self, TOKEN_COLUMNS};
use crate::rules::TOKEN_USE_EVERY;
use crate::{Result, StoreError};

impl PgStore {
    pub(crate) async fn create_token(
        &self,
        name: &str,
        role: Role,
        secret_hash: &[u8; 32],
    ) -> Result<Token> {
        let c = self.client().await?;
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO tokens (name, role, secret_hash, created_at) VALUES ($1, $2, $3, now()) RETURNING {TOKEN_COLUMNS}"
                ),
                &[&name, &role.as_str(), &&secret_hash[..]],
            )
            .await;
        match r {
            Ok(r) => rows::token(&r),
            // Not the database's message: its detail shows the hash.
            Err(e) if is_unique_violation(&e, "tokens_secret_hash_key") => Err(
                StoreError::Database("a token with this secret already exists".into()),
            ),
            Err(e) => Err(db(e)),
        }
    }

    pub(crate) async fn tokens(&self) -> Result<Vec<Token>> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id"),
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(rows::token)
        .collect()
    }

    pub(crate) async fn token_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<Token>> {
        // Every API request looks its token up: a read, and a write only when
        // the recorded use is a minute old, so that requests do not queue on
        // the token's row lock and write a row version each.
        let c = self.client().await?;
        let find = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS}, last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2) \
                 FROM tokens WHERE secret_hash = $1"
            ))
            .await
            .map_err(db)?;
        let hash: &(dyn ToSql + Sync) = &&secret_hash[..];
        let every = TOKEN_USE_EVERY.as_seconds_f64();
        let Some(row) = c.query_opt(&find, &[hash, &every]).await.map_err(db)? else {
            return Ok(None);
        };
        if !get::<bool>(&row, 5)? {
            return rows::token(&row).map(Some);
        }
        let record = c
            .prepare_cached(&format!(
                "UPDATE tokens SET last_used_at = now() WHERE secret_hash = $1 \
                 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)) \
                 RETURNING {TOKEN_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        match c.query_opt(&record, &[hash, &every]).await.map_err(db)? {
            Some(r) => rows::token(&r).map(Some),
            // Another request recorded the use first, or the token was
            // deleted meanwhile: as it is now.
            None => c
                .query_opt(&find, &[hash, &every])
                .await
                .map_err(db)?
                .map(|r| rows::token(&r))
                .transpose(),
        }
    }

    pub(crate) async fn delete_token(&self, id: i64) -> Result<TokenRemoval> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // Two removals at once must not take the last two admin tokens: the
        // admin rows are locked while one is counted and removed.
        let admin = Role::Admin.as_str();
        let admins = tx
            .query(
                "SELECT id FROM tokens WHERE role = $1 FOR UPDATE",
                &[&admin],
            )
            .await
            .map_err(db)?;
        let is_admin = admins.iter().any(|r| r.get::<_, i64>(0) == id);
        let out = if is_admin && admins.len() <= 1 {
            TokenRemoval::LastAdmin
        } else {
            let n = tx
                .execute("DELETE FROM tokens WHERE id = $1", &[&id])
                .await
                .map_err(db)?;
            if n > 0 {
                TokenRemoval::Removed
            } else {
                TokenRemoval::NoToken
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(out)
    }
}
