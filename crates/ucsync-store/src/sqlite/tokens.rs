//! API tokens on SQLite: only a hash of each token's secret is stored, and
//! a token's use is recorded at most once a minute.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use ucsync_core::Role;

use super::{SqliteStore, all, db, first, now, value};
use crate::Result;
use crate::model::*;
use crate::rows::{self, TOKEN_COLUMNS};
use crate::rules::TOKEN_USE_EVERY;

fn token_by_hash(c: &Connection, hash: &[u8; 32]) -> Result<Option<Token>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?1");
    first(c, &sql, [&hash[..]], |r| rows::token(r))
}

impl SqliteStore {
    pub(super) async fn create_token(
        &self,
        name: &str,
        role: Role,
        secret_hash: &[u8; 32],
    ) -> Result<Token> {
        let name = name.to_string();
        let hash = *secret_hash;
        self.write(move |c, _| {
            let sql = format!("INSERT INTO tokens (name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING {TOKEN_COLUMNS}");
            let mut st = c.prepare(&sql).map_err(db)?;
            let mut rows = st.query(params![name, role.as_str(), &hash[..], now()]).map_err(db)?;
            match rows.next().map_err(db)? {
                Some(r) => rows::token(r),
                None => Err(crate::StoreError::Database("no token was added".into())),
            }
        })
        .await
    }

    pub(super) async fn tokens(&self) -> Result<Vec<Token>> {
        self.read(|c, _| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id");
            all(&mut c.prepare(&sql).map_err(db)?, [], rows::token)
        })
        .await
    }

    pub(super) async fn token_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<Token>> {
        let hash = *secret_hash;
        let found = self.read(move |c, _| token_by_hash(c, &hash)).await?;
        let at = Utc::now();
        let stale = at - TOKEN_USE_EVERY;
        match found {
            Some(t) if t.last_used_at.is_none_or(|u| u < stale) => {
                self.write(move |c, _| {
                    c.prepare_cached(
                        "UPDATE tokens SET last_used_at = ?2 WHERE secret_hash = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
                    )
                    .map_err(db)?
                    .execute(params![&hash[..], rows::time_text(at), rows::time_text(stale)])
                    .map_err(db)?;
                    // Read again: another request may have recorded the use
                    // first, or the token may have been deleted since.
                    token_by_hash(c, &hash)
                })
                .await
            }
            other => Ok(other),
        }
    }

    pub(super) async fn delete_token(&self, id: i64) -> Result<TokenRemoval> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let role: Option<String> = tx
                .query_row("SELECT role FROM tokens WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let admin = Role::Admin.as_str();
            let out = match role {
                None => TokenRemoval::NoToken,
                Some(r)
                    if r == admin
                        && value::<i64>(
                            &tx,
                            "SELECT count(*) FROM tokens WHERE role = ?1",
                            [admin],
                        )? <= 1 =>
                {
                    TokenRemoval::LastAdmin
                }
                Some(_) => {
                    tx.execute("DELETE FROM tokens WHERE id = ?1", [id])
                        .map_err(db)?;
                    TokenRemoval::Removed
                }
            };
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_core::SecretKey;

    /// A token's use is written when the recorded one is a minute old, not
    /// at every lookup.
    #[tokio::test]
    async fn token_use_is_recorded_once_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db"), SecretKey::generate())
            .await
            .unwrap();
        s.create_token("ops", Role::Admin, &[1; 32]).await.unwrap();
        let first = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        let used = rows::time_text(first.last_used_at.unwrap());
        assert_eq!(s.token_by_hash(&[1; 32]).await.unwrap().unwrap(), first);
        let old = Utc::now() - chrono::TimeDelta::seconds(61);
        let set = rows::time_text(old);
        let set_text = set.clone();
        s.write(move |c, _| {
            c.execute("UPDATE tokens SET last_used_at = ?1", [set])
                .map_err(db)
        })
        .await
        .unwrap();
        let later = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        let recorded = rows::time_text(later.last_used_at.unwrap());
        assert!(recorded > set_text && recorded >= used, "{recorded}");
    }
}
