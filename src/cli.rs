//! Options shared by every subcommand (the target AEP sandbox, logging).

/// Global options; commands that talk to a Flow Service read the target from here.
#[derive(Clone, Debug, clap::Args)]
pub struct GlobalArgs {
    /// Platform base URL (e.g. https://platform.adobe.io, or an emulator's http://127.0.0.1:PORT);
    /// without it and without credentials, the embedded emulator is the target.
    #[arg(long, env = "DESTCTL_ENDPOINT", global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// AEP sandbox name (x-sandbox-name).
    #[arg(long, env = "AEP_SANDBOX", default_value = "prod", global = true)]
    pub sandbox: String,
    /// IMS base URL for OAuth server-to-server tokens.
    #[arg(long, env = "DESTCTL_IMS_URL", global = true, value_name = "URL")]
    pub ims_url: Option<String>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}
