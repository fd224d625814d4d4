//! The `switchboard` command: the server and the operator's tools. This
//! file is the command line only; each command lives in its module.

mod admin;
mod bulk;
mod config;
mod db;
mod logging;
mod serve;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc: a list or search page builds and drops some 800 small strings;
/// glibc's allocator spent a quarter of a search's CPU on them (issue 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SWITCHBOARD_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "switchboard", version = VERSION, about = "Contact-center agent administration server")]
struct Cli {
    /// A configuration file (TOML) whose keys are the long flags' names, e.g.
    /// `database_url = "…"`. Flags and SWITCHBOARD_* variables override it.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    log: logging::LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(serve::ServeArgs),
    /// Operator commands that work directly on the database (also while serve runs).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Import a CSV or JSON file of agents, skills, … (docs/import.md).
    Import(bulk::ImportArgs),
    /// Export agents, skills, … as CSV or JSON that `import` reads back.
    Export(bulk::ExportArgs),
    /// The configuration `serve` would run with.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a running server whether it is ready (exit 0) or not (exit 1);
    /// the container's HEALTHCHECK.
    Healthcheck(serve::HealthArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `switchboard man > switchboard.1`.
    Man,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective settings of `serve` as a configuration file, each
    /// with where it came from; passwords replaced by ***.
    Show(serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    // One line, not a backtrace, whatever RUST_BACKTRACE says; servers log it.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("panic");
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        if tracing::dispatcher::has_been_set() {
            tracing::error!(at, "internal error: {msg}");
        } else {
            eprintln!("error: internal error: {msg} (at {at})");
        }
    }));
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, causes joined ("opening database x: …"), no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    // clap takes each variable's value when the flag is defined: the
    // definitions that read them come after the file is applied.
    config::load(&Cli::command())?;
    let mut cmd = Cli::command();
    let matches = cmd.get_matches_mut();
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd)).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "switchboard", &mut out);
            return print_out(String::from_utf8_lossy(&out).trim_end());
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            return print_out(String::from_utf8_lossy(&out).trim_end());
        }
        Command::Config(ConfigCommand::Show(args)) => {
            let mut values = toml::Table::try_from(&args)?;
            values.extend(toml::Table::try_from(&cli.log)?);
            let show = cmd.find_subcommand_mut("config").and_then(|c| c.find_subcommand_mut("show")).expect("config show");
            let m = matches.subcommand_matches("config").and_then(|m| m.subcommand_matches("show")).expect("config show matches");
            return print_out(config::show(show, m, &values).trim_end());
        }
        Command::Healthcheck(args) => return serve::healthcheck(args),
        _ => {}
    }
    logging::init(&cli.log)?;
    switchboard_store::install_tls_provider();
    switchboard_http::set_build_commit(env!("SWITCHBOARD_COMMIT"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Admin(cmd) => admin::admin(cmd).await,
            Command::Import(args) => match bulk::import(args).await? {
                0 => Ok(()),
                code => std::process::exit(code),
            },
            Command::Export(args) => bulk::export(args).await,
            Command::Config(_) | Command::Healthcheck(_) | Command::Completions { .. } | Command::Man => unreachable!("handled above"),
        }
    })
}

/// Prints a command's output; a reader that went away (`| head`) is not an
/// error worth a panic.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
