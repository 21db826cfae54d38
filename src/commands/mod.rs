//! The command layer, on top of every other module: the clap types ([`cli`]), one module per
//! subcommand with one entry point each (`run(args, ctx) -> Result<Exit, Error>`, async for
//! the commands that talk to a Flow Service), and the one place errors become messages, hints
//! and exit codes ([`error::report`]). Only this layer prints; the library returns values and
//! diagnostics.
// The one layer that prints (the rest of the crate is held to it by these lints).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod apply;
pub mod cli;
pub(crate) mod docs;
pub(crate) mod drift;

pub use cli::Cli;
pub(crate) mod emulator;
pub(crate) mod envs;
pub(crate) mod error;
pub(crate) mod import;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod schema;
pub(crate) mod status;
pub(crate) mod validate;

pub use error::{Error, exit_code, hint, report};

use crate::diagnostics::color_allowed;
use cli::Command;
use std::io::IsTerminal;

/// What every command may know about the terminal, decided once at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Colours on stderr (diagnostics, the plan shown before an apply, logs).
    pub stderr_color: bool,
    /// Colours on stdout (`plan --format text`).
    pub stdout_color: bool,
    /// stderr is a terminal (progress bars).
    pub stderr_terminal: bool,
    /// stdin is a terminal (an apply may ask for confirmation).
    pub stdin_terminal: bool,
}

impl Context {
    /// The context of this process: colour only on a terminal and when `NO_COLOR` is unset or
    /// empty.
    pub fn detect() -> Context {
        let allowed = color_allowed(std::env::var_os("NO_COLOR").as_deref());
        let stderr_terminal = std::io::stderr().is_terminal();
        Context {
            stderr_color: allowed && stderr_terminal,
            stdout_color: allowed && std::io::stdout().is_terminal(),
            stderr_terminal,
            stdin_terminal: std::io::stdin().is_terminal(),
        }
    }
}

/// How a command that did not fail ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exit 0.
    Success,
    /// Exit 2: `plan --detailed-exitcode` found changes, `drift` drift, or `status` an unhealthy flow.
    Changes,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Changes => 2,
        }
    }
}

/// Runs `command`.
pub fn run(command: &Command, ctx: &Context) -> Result<Exit, Error> {
    match command {
        Command::Validate(args) => validate::run(args, ctx),
        Command::Schema(args) => schema::run(args, ctx),
        // One worker is plenty for a plan (a handful of list calls; the flow pages are parsed
        // on the main thread) and keeps its footprint the same on any number of cores.
        Command::Plan(args) => block_on(plan::run(args, ctx), Some(1)),
        Command::Emulator(args) => block_on(emulator::run(args, ctx), None),
        Command::Apply(args) => block_on(apply::run(args, ctx), None),
        Command::Drift(args) => block_on(drift::run(args, ctx), Some(1)),
        Command::Status(args) => block_on(status::run(args, ctx), Some(1)),
        Command::Import(args) => block_on(import::run(args, ctx), Some(1)),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    }
}

/// Runs an async command on a fresh multi-threaded runtime with `workers` worker threads
/// (`None`: one per core).
fn block_on(
    fut: impl Future<Output = Result<Exit, Error>>,
    workers: Option<usize>,
) -> Result<Exit, Error> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder
        .build()
        .map_err(|source| Error::Runtime { source })?
        .block_on(fut)
}

/// Sends logs (`tracing`) to stderr: `-v` info, `-vv` debug, `-vvv` trace, warnings without;
/// `RUST_LOG` overrides.
pub fn init_logging(verbose: u8, ctx: &Context) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ctx.stderr_color)
        .try_init();
}

/// Manifest warnings, when there are any, on stderr.
fn show_warnings(loaded: &crate::manifest::Loaded, ctx: &Context) {
    if !loaded.warnings.is_empty() {
        eprint!("{}", loaded.render_warnings(ctx.stderr_color));
    }
}
