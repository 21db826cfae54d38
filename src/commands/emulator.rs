//! `destctl emulator`: serves the Flow Service and IMS emulator until Ctrl-C.

use super::cli::EmulatorArgs;
use super::{Context, Error, Exit};
use crate::emulator::{Emulator, FLOW_SERVICE_BASE};

/// Runs the emulator until Ctrl-C; says where it listens on stderr.
pub(crate) async fn run(args: &EmulatorArgs, _ctx: &Context) -> Result<Exit, Error> {
    let running = Emulator::start(args.config()).await?;
    eprintln!(
        "destctl emulator listening on {} (IMS: {0}/ims/token/v3, Flow Service: {0}{}){}",
        running.base_url(),
        FLOW_SERVICE_BASE,
        match &args.state {
            Some(p) => format!(", state in {}", p.display()),
            None => ", state in memory".to_owned(),
        }
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("destctl emulator: stopping");
    running.shutdown().await;
    Ok(Exit::Success)
}
