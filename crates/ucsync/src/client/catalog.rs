//! `ucsync catalog show`: the catalogues in effect on the service — for a
//! CM, the built-in field catalogue with the site's file (the service's
//! `cm_catalog` setting) applied.

use clap::Subcommand;
use ucsync_api::model::{CatalogView, CmTypeView};

use super::render::{self, opt};
use super::{ApiClient, Output, OutputArg, print, print_json};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCmd {
    /// The CM catalogue in effect: each object type ucsync synchronizes,
    /// with its key, name and secret field ids — the built-in catalogue
    /// with the site's file (the service's cm_catalog setting) applied;
    /// `*` marks what the site's file sets.
    Show {
        #[command(flatten)]
        output: OutputArg,
    },
}

pub(super) async fn run(client: &ApiClient, cmd: CatalogCmd) -> Result<(), Exit> {
    match cmd {
        CatalogCmd::Show { output } => {
            let v = client.get_value(&["catalog"], &[]).await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&show_table(&client.typed(v)?)),
            }
        }
    }
}

/// `value`, marked when the site's file set `part`.
fn marked(value: String, site: &[String], part: &str) -> String {
    if site.iter().any(|s| s == part) {
        format!("{value} *")
    } else {
        value
    }
}

pub(super) fn show_table(c: &CatalogView) -> String {
    let cm = &c.cm;
    let source = match &cm.site_file {
        Some(f) => format!("built in, with {f} applied (* marks what it sets)"),
        None => "built in".to_string(),
    };
    let head = render::fields(&[
        ("CM catalogue", source),
        (
            "version",
            marked(
                format!("{} {}", cm.version.form, cm.version.field),
                &cm.site,
                "version",
            ),
        ),
        (
            "init forms",
            marked(cm.init_forms.join(", "), &cm.site, "init_forms"),
        ),
    ]);
    let mut t = render::table(&["TYPE", "KEY", "KEY KIND", "NAME", "SECRET"]);
    for ty in &cm.types {
        t.add_row(type_row(ty));
    }
    format!("{head}\n{t}")
}

fn type_row(ty: &CmTypeView) -> [String; 5] {
    let secret = if ty.secret.is_empty() {
        "-".to_string()
    } else {
        ty.secret.join(", ")
    };
    [
        ty.object_type.clone(),
        marked(opt(ty.key.as_deref()), &ty.site, "key"),
        marked(opt(ty.key_kind.map(|k| k.as_str())), &ty.site, "key_kind"),
        marked(opt(ty.name.as_deref()), &ty.site, "name"),
        marked(secret, &ty.site, "secret"),
    ]
}
