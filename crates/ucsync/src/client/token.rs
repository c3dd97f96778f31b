//! `ucsync token create|list|remove`: API tokens. A new token's secret is
//! shown once, alone on standard output, so a script can capture it.

use clap::Subcommand;
use reqwest::Method;
use ucsync_api::model::{NewTokenBody, TokenCreated, TokenPage};
use ucsync_core::Role;

use super::render::{self, opt_time};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, print, print_json, print_listing,
};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCmd {
    /// Create a token and print its secret (shown this once).
    Create {
        /// admin (everything) or read-only (GET only).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Who or what uses it; the jobs it asks for show this name.
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// All tokens (never their secrets).
    List {
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// Revoke a token (the last admin token stays).
    Remove {
        /// The token's number (`token list` shows it).
        id: i64,
    },
    /// On the server: make a new admin token in the service's database,
    /// running or not, and write its secret to <data dir>/admin.token — for
    /// when no admin token is left or its secret is lost. Reads the data
    /// directory (--data-dir) and the installation key in it; needs no token.
    ResetAdmin {
        /// The service's TOML settings file (for its data directory and database).
        #[arg(long, value_name = "FILE")]
        config: Option<std::path::PathBuf>,
        /// The service's PostgreSQL URL, when it uses one.
        #[arg(long = "database", value_name = "URL")]
        database_url: Option<String>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// `ucsync token reset-admin`: on the server, without the API.
pub(crate) async fn reset_admin(
    data_dir: Option<std::path::PathBuf>,
    config: Option<std::path::PathBuf>,
    database_url: Option<String>,
) -> Result<(), Exit> {
    let mut flags = ucsync::serve::ServeArgs::new(config);
    if let Some(dir) = data_dir {
        flags = flags.set("data_dir", dir);
    }
    if let Some(url) = database_url {
        flags = flags.set("database_url", url);
    }
    let settings = ucsync::serve::Settings::load(&flags, std::env::vars())?;
    let (id, path) =
        ucsync::serve::recovery::reset_admin(&settings, std::env::var("UCSYNC_SECRET_KEY").ok())
            .await?;
    print(&format!(
        "made admin token {id} ({}): its secret is in {}",
        ucsync::serve::recovery::RESET_TOKEN_NAME,
        path.display()
    ))
}

pub(super) async fn run(client: &ApiClient, cmd: TokenCmd) -> Result<(), Exit> {
    match cmd {
        TokenCmd::Create { role, name, output } => {
            let body = NewTokenBody { name, role };
            let v = client
                .call(Method::POST, &["tokens"], &[], Some(&body))
                .await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let created: TokenCreated = client.typed(v)?;
                    let t = &created.token;
                    eprintln!(
                        "created {} token {} ({}): keep the secret now, it is not shown again",
                        t.role, t.id, t.name
                    );
                    print(&created.secret)
                }
            }
        }
        TokenCmd::List { page, output } => {
            let v = client.get_value(&["tokens"], &page.query()).await?;
            print_listing(client, v, output.output, list_table)
        }
        TokenCmd::Remove { id } => {
            client
                .call(
                    Method::DELETE,
                    &["tokens", &id.to_string()],
                    &[],
                    None::<&()>,
                )
                .await?;
            print(&format!("removed token {id}"))
        }
        TokenCmd::ResetAdmin { .. } => unreachable!("run on the server, without the API"),
    }
}

pub(super) fn list_table(page: &TokenPage) -> render::Listing {
    let mut t = render::table(&["ID", "NAME", "ROLE", "CREATED", "LAST USED"]);
    for k in &page.items {
        t.add_row([
            k.id.to_string(),
            k.name.clone(),
            k.role.to_string(),
            render::time(&k.created_at),
            opt_time(k.last_used_at.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "token",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
