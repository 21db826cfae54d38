//! `destctl import`.
use super::cli::ImportArgs;
use super::{Context, Error, Exit};

/// Runs `destctl import`.
pub(crate) async fn run(_args: &ImportArgs, _ctx: &Context) -> Result<Exit, Error> {
    Ok(Exit::Success)
}
