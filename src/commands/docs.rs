//! `destctl completions SHELL` and `destctl man`: shell completions and the man page,
//! generated from the clap definition, on stdout.

use super::cli::{Cli, CompletionsArgs, ManArgs};
use super::{Error, Exit};
use clap::CommandFactory;
use std::io::Write;

fn stdout_error(source: std::io::Error) -> Error {
    Error::Io {
        path: "<stdout>".into(),
        source,
    }
}

/// Prints the completion script for `args.shell`.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<Exit, Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "destctl", &mut buf);
    std::io::stdout().write_all(&buf).map_err(stdout_error)?;
    Ok(Exit::Success)
}

/// Prints the man page of `destctl` (roff); with `--out DIR`, writes `destctl.1` and one
/// page per subcommand (`destctl-plan.1`, …) there instead.
pub(crate) fn man(args: &ManArgs) -> Result<Exit, Error> {
    let mut cmd = Cli::command();
    cmd.build();
    match &args.out {
        Some(dir) => {
            let io = |source| Error::Io {
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(io)?;
            clap_mangen::generate_to(cmd, dir).map_err(io)?;
            println!("{}", dir.display());
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(stdout_error)?;
            std::io::stdout().write_all(&buf).map_err(stdout_error)?;
        }
    }
    Ok(Exit::Success)
}
