//! The `destctl` binary: parse, set up logging, run the command, report. Everything else is in
//! [`destctl::commands`].

use clap::Parser;
use destctl::commands::{self, Cli, Context};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1, never clap's 2 (2 means "changes present").
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let ctx = Context::detect();
    commands::init_logging(cli.global.verbose, &ctx);
    match commands::run(&cli.command, &ctx) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => ExitCode::from(commands::report(&e, &ctx)),
    }
}
