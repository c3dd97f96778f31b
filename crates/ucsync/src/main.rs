//! `ucsync`: the one binary — the service, its CLI client, the demo, the
//! element emulators and the OSSI tool.

mod client;
mod demo;
mod emulate;
mod known_hosts;
mod ossi;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ucsync",
    version,
    about = "An open System Manager for unified-communications elements"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The one-command tour: three emulated CMs kept in sync by the service, through its API.
    Demo(demo::DemoArgs),
    /// Run an element emulator, for labs and tests.
    Emulate {
        #[command(subcommand)]
        element: emulate::Element,
    },
    /// Run OSSI commands against a CM (or an emulator) and print the records.
    Ossi(ossi::OssiArgs),
    /// The System Manager service: REST API, job runner, scheduler.
    #[command(after_help = ucsync::serve::settings::SETTINGS_HELP)]
    Serve(ucsync::serve::ServeArgs),
    /// The elements the service keeps in sync.
    Element {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::ElementCmd,
    },
    /// Ask for syncs of elements, and follow them.
    Sync {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::SyncCmd,
    },
    /// Sync jobs: list, show, changes, stop.
    Job {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::JobCmd,
    },
    /// When sync jobs run by themselves.
    Schedule {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::ScheduleCmd,
    },
    /// Find objects by the start of their key or name, across all elements.
    Search(client::SearchArgs),
    /// An element's synchronized objects: one object's history.
    Object {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::ObjectCmd,
    },
    /// API tokens.
    Token {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::TokenCmd,
    },
    /// Users of the web console: add, list, passwd, remove.
    User {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::UserCmd,
    },
    /// The services sharing the database: which node does what.
    Node {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::NodeCmd,
    },
    /// What ucsync reads from each element kind: the CM field catalogue in effect.
    Catalog {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::CatalogCmd,
    },
    /// Alarms on elements: list, show, acknowledge; webhook delivery logs.
    Alarm {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        cmd: client::AlarmCmd,
    },
}

/// Exit status 1: the operation failed.
const FAILED: u8 = 1;
/// Exit status 2: bad usage or bad input.
const BAD_INPUT: u8 = 2;

/// An error that carries its exit status.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Exit {
    fn from(e: E) -> Self {
        Exit {
            code: FAILED,
            error: e.into(),
        }
    }
}

pub fn bad_input(error: anyhow::Error) -> Exit {
    Exit {
        code: BAD_INPUT,
        error,
    }
}

/// Logs to stderr, coloured only on a terminal: escape codes in a file or
/// a journal are noise.
fn init_logging(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("UCSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => {
                init_logging("warn");
                demo::run(args).await
            }
            Command::Emulate { element } => {
                init_logging("info");
                emulate::run(element).await
            }
            Command::Ossi(args) => {
                init_logging("warn");
                ossi::run(args).await
            }
            Command::Serve(flags) => {
                init_logging("info");
                let settings =
                    ucsync::serve::Settings::load(&flags, std::env::vars()).map_err(bad_input)?;
                ucsync::serve::run_with(settings).await.map_err(Exit::from)
            }
            Command::Element { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Element(cmd)).await
            }
            Command::Sync { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Sync(cmd)).await
            }
            Command::Job { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Job(cmd)).await
            }
            Command::Schedule { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Schedule(cmd)).await
            }
            Command::Search(args) => {
                init_logging("warn");
                let conn = args.conn.clone();
                client::run(&conn, client::Noun::Search(args)).await
            }
            Command::Object { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Object(cmd)).await
            }
            Command::Token {
                conn,
                cmd:
                    client::TokenCmd::ResetAdmin {
                        config,
                        database_url,
                    },
            } => {
                init_logging("warn");
                client::reset_admin(conn.data_dir, config, database_url).await
            }
            Command::Token { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Token(cmd)).await
            }
            Command::User { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::User(cmd)).await
            }
            Command::Node { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Node(cmd)).await
            }
            Command::Catalog { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Catalog(cmd)).await
            }
            Command::Alarm { conn, cmd } => {
                init_logging("warn");
                client::run(&conn, client::Noun::Alarm(cmd)).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every subcommand, with the path to it, that has no
    /// help line.
    fn without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                out.push(format!("{path} {} (the subcommand)", sub.get_name()));
            }
            without_help(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// The long help of `ucsync <path…>`.
    fn help(path: &[&str]) -> String {
        let mut cmd = super::Cli::command();
        let mut at = &mut cmd;
        for name in path {
            at = at.find_subcommand_mut(name).expect(name);
        }
        at.render_long_help().to_string()
    }

    #[test]
    fn help_says_what_an_operator_needs() {
        let add = help(&["element", "add"]);
        for port in ["5022", "50804", "50805", "389", "636"] {
            assert!(add.contains(port), "{port} missing from:\n{add}");
        }
        assert!(help(&["ossi"]).contains("UCSYNC_CM_PASSWORD"));
        let serve = help(&["serve"]);
        assert!(
            serve.contains(ucsync::serve::settings::SETTINGS_HELP),
            "{serve}"
        );
        assert!(help(&["job"]).contains("changes"));
        assert!(help(&[]).contains("changes"), "the job line names it");
    }

    #[test]
    fn every_argument_and_subcommand_has_a_help_line() {
        let mut missing = Vec::new();
        without_help(&super::Cli::command(), "ucsync", &mut missing);
        assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    }
}
