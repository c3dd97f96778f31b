//! `ucsync node list`: the services sharing the database, which node does
//! what.

use clap::Subcommand;
use ucsync_api::model::NodePage;

use super::render::{self, opt, opt_time};
use super::{ApiClient, ListOutputArg, PageArgs, print_listing};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCmd {
    /// The nodes: version, start, last heartbeat, jobs running, addresses;
    /// a node whose heartbeat stopped is shown lost.
    List {
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
}

pub(super) async fn run(client: &ApiClient, cmd: NodeCmd) -> Result<(), Exit> {
    match cmd {
        NodeCmd::List { page, output } => {
            let v = client.get_value(&["nodes"], &page.query()).await?;
            print_listing(client, v, output.output, list_table)
        }
    }
}

pub(super) fn list_table(page: &NodePage) -> render::Listing {
    let mut t = render::table(&[
        "NAME",
        "STATE",
        "VERSION",
        "STARTED",
        "LAST HEARTBEAT",
        "JOBS",
        "HTTP",
        "SYSLOG",
    ]);
    for n in &page.items {
        t.add_row([
            n.name.clone(),
            if n.lost { "lost" } else { "alive" }.to_string(),
            opt(n.version.as_deref()),
            opt_time(n.started_at.as_deref()),
            opt_time(n.last_heartbeat.as_deref()),
            n.jobs_running.to_string(),
            opt(n.http.as_deref()),
            opt(n.syslog.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "node",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
