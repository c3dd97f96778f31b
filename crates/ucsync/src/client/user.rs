//! `ucsync user add|list|passwd|remove`: the web console's users. A
//! password never goes on the command line: it comes from
//! UCSYNC_USER_PASSWORD, else it is asked twice on the terminal.

use anyhow::{Context, anyhow};
use clap::Subcommand;
use reqwest::Method;
use ucsync_api::model::{NewUserBody, UserPage, UserPatch, UserView};
use ucsync_core::{Password, Role};

use super::render::{self, opt_time};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, print, print_json, print_listing,
};
use crate::{Exit, FAILED, bad_input};

/// Where a new password is read when it is not asked on the terminal.
pub(crate) const PASSWORD_ENV: &str = "UCSYNC_USER_PASSWORD";

#[derive(Debug, Subcommand)]
pub(crate) enum UserCmd {
    /// Add a user of the web console. The password (at least 12 characters)
    /// comes from UCSYNC_USER_PASSWORD, else it is asked twice on the terminal.
    Add {
        /// The name the user signs in with.
        name: String,
        /// admin (everything) or read-only (looks, changes nothing).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        output: OutputArg,
    },
    /// All users, with their roles and last sign-in (never their passwords).
    List {
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// Set a user's password: from UCSYNC_USER_PASSWORD, else asked twice
    /// on the terminal.
    Passwd {
        /// The user's name.
        name: String,
    },
    /// Remove a user (the last admin user stays).
    Remove {
        /// The user's name.
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// A new password: `from_env` when it is set; else asked twice with `ask`
/// when there is a terminal, and refused when the two differ.
pub(crate) fn new_password(
    from_env: Option<String>,
    terminal: bool,
    name: &str,
    mut ask: impl FnMut(&str) -> std::io::Result<String>,
) -> Result<Password, Exit> {
    if let Some(p) = from_env {
        return Ok(Password::new(p));
    }
    if !terminal {
        return Err(bad_input(anyhow!(
            "no password: set {PASSWORD_ENV} or run on a terminal"
        )));
    }
    let first = Password::new(
        ask(&format!("new password of {name}: ")).context("cannot read the password")?,
    );
    let again =
        Password::new(ask("the same password again: ").context("cannot read the password")?);
    if first != again {
        return Err(Exit {
            code: FAILED,
            error: anyhow!("the two passwords differ: nothing was changed"),
        });
    }
    Ok(first)
}

/// The password as the subcommand reads it: the environment, else the terminal.
fn password_for(name: &str) -> Result<Password, Exit> {
    use std::io::IsTerminal;
    new_password(
        std::env::var(PASSWORD_ENV).ok(),
        std::io::stdin().is_terminal(),
        name,
        |prompt: &str| rpassword::prompt_password(prompt),
    )
}

/// The body, checked here with the API's own rule so that a short password
/// is refused before anything is sent.
pub(crate) fn add_body(name: String, role: Role, password: Password) -> Result<NewUserBody, Exit> {
    let body = NewUserBody {
        name,
        role,
        password,
    };
    body.parse().map_err(|e| bad_input(anyhow!("{e}")))?;
    Ok(body)
}

/// The patch that sets a password, checked as [`add_body`] is.
pub(crate) fn passwd_patch(password: Password) -> Result<UserPatch, Exit> {
    let patch = UserPatch {
        password: Some(password),
        ..UserPatch::default()
    };
    patch.check().map_err(|e| bad_input(anyhow!("{e}")))?;
    Ok(patch)
}

pub(super) async fn run(client: &ApiClient, cmd: UserCmd) -> Result<(), Exit> {
    match cmd {
        UserCmd::Add { name, role, output } => {
            let body = add_body(name.clone(), role, password_for(&name)?)?;
            add(client, &body, output.output).await
        }
        UserCmd::List { page, output } => {
            let v = client.get_value(&["users"], &page.query()).await?;
            print_listing(client, v, output.output, list_table)
        }
        UserCmd::Passwd { name } => {
            let patch = passwd_patch(password_for(&name)?)?;
            passwd(client, &name, &patch).await
        }
        UserCmd::Remove { name } => remove(client, &name).await,
    }
}

pub(crate) async fn add(
    client: &ApiClient,
    body: &NewUserBody,
    output: Output,
) -> Result<(), Exit> {
    let v = client
        .call(Method::POST, &["users"], &[], Some(body))
        .await?;
    match output {
        Output::Json => print_json(&v),
        Output::Table => {
            let user: UserView = client.typed(v)?;
            print(&format!("added {} user {}", user.role, user.name))
        }
    }
}

pub(crate) async fn passwd(client: &ApiClient, name: &str, patch: &UserPatch) -> Result<(), Exit> {
    client
        .call(Method::PATCH, &["users", name], &[], Some(patch))
        .await?;
    print(&format!("changed the password of {name}"))
}

pub(crate) async fn remove(client: &ApiClient, name: &str) -> Result<(), Exit> {
    client
        .call(Method::DELETE, &["users", name], &[], None::<&()>)
        .await?;
    print(&format!("removed user {name}"))
}

pub(super) fn list_table(page: &UserPage) -> render::Listing {
    let mut t = render::table(&["NAME", "ROLE", "CREATED", "LAST SIGN-IN"]);
    for u in &page.items {
        t.add_row([
            u.name.clone(),
            u.role.to_string(),
            render::time(&u.created_at),
            opt_time(u.last_sign_in_at.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "user",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
