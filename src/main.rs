//! The `destctl` command line; the library does the work. Each subcommand is one variant
//! wrapping its library `Args` struct; [`report`] is the one place errors become messages and
//! exit codes.

use clap::{Parser, Subcommand};
use destctl::Error;
use destctl::cli::GlobalArgs;
use destctl::diagnostics::stderr_color;
use destctl::target::TargetOptions;
use std::process::ExitCode;

/// The environment variables, listed under the top-level help.
const ENVIRONMENT: &str = "\
Environment (commands that talk to a Flow Service):
  DESTCTL_ENDPOINT   platform base URL (--endpoint); unset: the embedded emulator
  AEP_SANDBOX        sandbox name (--sandbox), default prod
  AEP_CLIENT_ID, AEP_CLIENT_SECRET, AEP_ORG_ID, AEP_SCOPES
                     OAuth server-to-server credentials; or AEP_ACCESS_TOKEN for a ready token
  DESTCTL_IMS_URL    IMS base URL (--ims-url)
  NO_COLOR           no colour; RUST_LOG: log filter (see -v)

Exit codes: 0 success or no changes, 1 error, 2 changes present (plan --detailed-exitcode)";

/// Adobe Experience Platform batch destinations as code.
#[derive(Debug, Parser)]
#[command(name = "destctl", version, about, propagate_version = true, after_help = ENVIRONMENT)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests offline (no network, no secret values needed).
    Validate(destctl::manifest::cli::ValidateArgs),
    /// Write the JSON Schemas of the manifest kinds.
    Schema(destctl::schema::SchemaArgs),
    /// Show the changes that would bring live state to the manifests.
    Plan {
        #[command(flatten)]
        args: destctl::plan::cli::PlanArgs,
        #[command(flatten)]
        target: TargetOptions,
    },
    /// Serve a local Flow Service and IMS emulator.
    Emulator(destctl::emulator::EmulatorArgs),
    /// Execute a plan (computed now, or a saved one) with If-Match etags.
    Apply {
        #[command(flatten)]
        args: destctl::apply::ApplyArgs,
        #[command(flatten)]
        target: TargetOptions,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1, never clap's 2 (2 means "changes present").
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    init_logging(cli.global.verbose);
    let result = match &cli.command {
        Command::Validate(args) => destctl::manifest::cli::validate(args),
        Command::Schema(args) => destctl::schema::run(args),
        Command::Emulator(args) => block_on(destctl::emulator::run(args.clone())),
        Command::Apply { args, target } => block_on(destctl::apply::run(args, target)),
        Command::Plan { args, target } => match block_on(destctl::plan::cli::run(args, target)) {
            Ok(outcome) => return ExitCode::from(outcome.exit_code(args.detailed_exitcode)),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Runs an async command on a fresh multi-threaded runtime.
fn block_on<T, E: Into<Error>>(
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    let rt = tokio::runtime::Runtime::new().map_err(|source| Error::Runtime { source })?;
    rt.block_on(fut).map_err(Into::into)
}

/// Prints an error on stderr and returns its exit code.
fn report(err: &Error) -> ExitCode {
    let color = stderr_color();
    match err {
        Error::Manifest(m) => {
            eprint!("{}", m.render(color));
            eprintln!("error: {m}");
        }
        other => {
            let mut msg = format!("error: {other}");
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!(": {text}"));
                }
                source = s.source();
            }
            eprintln!("{msg}");
            let hint = match other {
                Error::Client(c) => c.hint(),
                _ => destctl::client::find_hint(other),
            };
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
        }
    }
    ExitCode::from(err.exit_code())
}

fn init_logging(verbose: u8) {
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
        .with_ansi(stderr_color())
        .try_init();
}
