//! `ucsync search TEXT`: objects whose key or name starts with the text,
//! across all elements.

use clap::Args;
use ucsync_api::model::SearchPage;

use super::render::{self, opt};
use super::{ApiClient, Conn, ListOutputArg, PageArgs, print_listing};
use crate::Exit;

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// The start of a key or a name (case-insensitive).
    pub text: String,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub output: ListOutputArg,
    #[command(flatten)]
    pub conn: Conn,
}

pub(super) fn query(args: &SearchArgs) -> Vec<(&'static str, String)> {
    let mut q = vec![("q", args.text.clone())];
    q.extend(args.page.query());
    q
}

pub(super) async fn run(client: &ApiClient, args: SearchArgs) -> Result<(), Exit> {
    let v = client.get_value(&["search"], &query(&args)).await?;
    print_listing(client, v, args.output.output, table)
}

pub(super) fn table(page: &SearchPage) -> render::Listing {
    let mut t = render::table(&["ELEMENT", "TYPE", "KEY", "NAME"]);
    for h in &page.items {
        t.add_row([
            h.element.clone(),
            h.object_type.clone(),
            h.key.clone(),
            opt(h.name.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "object",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
