//! `ucsync object history ELEMENT TYPE KEY`: one object's changes across
//! jobs, notify sync and changes made through ucsync, newest first.

use clap::Subcommand;
use ucsync_api::model::HistoryPage;

use super::render::{self, opt};
use super::{ApiClient, ListOutputArg, PageArgs, print_listing};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum ObjectCmd {
    /// One object's changes, newest first: when, what, the element login
    /// that made each, and in which job (none: notify sync, or a change
    /// made through ucsync).
    History {
        /// The element's name.
        element: String,
        /// The object type (`station`, `user`, …).
        #[arg(value_name = "TYPE")]
        object_type: String,
        /// The object's key.
        key: String,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
}

pub(super) async fn run(client: &ApiClient, cmd: ObjectCmd) -> Result<(), Exit> {
    match cmd {
        ObjectCmd::History {
            element,
            object_type,
            key,
            page,
            output,
        } => {
            let v = client
                .get_value(
                    &[
                        "elements",
                        &element,
                        "objects",
                        &object_type,
                        &key,
                        "history",
                    ],
                    &page.query(),
                )
                .await?;
            print_listing(client, v, output.output, history_table)
        }
    }
}

pub(super) fn history_table(page: &HistoryPage) -> render::Listing {
    let mut t = render::table(&["AT", "OP", "BY", "AT ELEMENT", "JOB"]);
    for h in &page.items {
        t.add_row([
            render::time(&h.at),
            h.op.clone(),
            opt(h.by_login.as_deref()),
            opt(h.at_element.as_deref()),
            h.job.map_or_else(|| "-".to_string(), |j| j.to_string()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "change",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
