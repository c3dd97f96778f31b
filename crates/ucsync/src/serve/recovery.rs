//! `ucsync token reset-admin`: a new admin token made on the server itself,
//! with the service running or not, for when no admin token is left or its
//! secret is lost. Whoever can read the data directory can do this, and no
//! one else: it opens the database with the installation key kept there.

use std::path::PathBuf;

use anyhow::{Context, bail};
use ucsync_core::{Role, SecretKey};

use super::{Settings, open_store, write_private};

/// The name of a token `reset-admin` makes.
pub const RESET_TOKEN_NAME: &str = "admin-reset";

/// Makes a new admin token in the service's database and writes its secret
/// to `<data dir>/admin.token` (mode 0600), where the CLI reads it; answers
/// the token's id and that file. Other tokens are left as they are.
pub async fn reset_admin(
    settings: &Settings,
    key_from_env: Option<String>,
) -> anyhow::Result<(i64, PathBuf)> {
    let dir = &settings.data_dir;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory: give the service's data directory (--data-dir)",
            dir.display()
        );
    }
    super::datadir::prepare(dir)?;
    // Never a new key: one made here would not open what the service stored.
    let secret = match key_from_env {
        Some(hex) => SecretKey::from_hex(hex.trim()).context("UCSYNC_SECRET_KEY")?,
        None => {
            let path = settings.data_path("secret.key");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the installation key {}: give the service's data directory (--data-dir), or its key in UCSYNC_SECRET_KEY",
                    path.display()
                )
            })?;
            SecretKey::from_hex(text.trim()).with_context(|| path.display().to_string())?
        }
    };
    if settings.database_url.is_none() && !settings.data_path("ucsync.db").is_file() {
        bail!(
            "{} holds no database: give the service's data directory (--data-dir), or its PostgreSQL URL (--database)",
            dir.display()
        );
    }
    let store = open_store(settings, &secret).await?;
    let (token, secret) = ucsync_api::create_token(store.as_ref(), RESET_TOKEN_NAME, Role::Admin)
        .await
        .context("cannot create the token")?;
    let path = settings.data_path("admin.token");
    write_private(&path, &secret)?;
    tracing::info!(token = token.id, path = %path.display(), "made a new admin token");
    Ok((token.id, path))
}
