//! Options shared by every subcommand. Commands that talk to a Flow Service flatten
//! [`crate::target::TargetOptions`] into their own arguments, so `--endpoint`, `--sandbox` and
//! `--ims-url` follow the subcommand (`destctl plan --sandbox dev`).

/// Global options.
#[derive(Clone, Debug, clap::Args)]
pub struct GlobalArgs {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}
