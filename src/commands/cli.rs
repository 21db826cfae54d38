//! Every clap type of the command line: the top-level parser, one `Args` struct per
//! subcommand, and the conversions into the plain option structs the library takes. Help texts
//! live here and nowhere else.

use crate::emulator::{EmulatorConfig, FaultConfig, ImsCredential, Latency};
use crate::manifest::DEFAULT_PATH;
use crate::render::Format;
use crate::target::TargetOptions;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variables, listed under the top-level help.
const ENVIRONMENT: &str = "\
Environment (commands that talk to a Flow Service):
  DESTCTL_ENDPOINT   platform base URL (--endpoint); unset: the embedded emulator
  AEP_SANDBOX        sandbox name (--sandbox), default prod
  AEP_CLIENT_ID, AEP_CLIENT_SECRET, AEP_ORG_ID, AEP_SCOPES
                     OAuth server-to-server credentials; or AEP_ACCESS_TOKEN for a ready token
  DESTCTL_IMS_URL    IMS base URL (--ims-url)
  NO_COLOR           no colour; RUST_LOG: log filter (see -v)

Exit codes: 0 success or no changes, 1 error, 2 changes present (plan --detailed-exitcode)
            or an unhealthy flow (status)";

/// Adobe Experience Platform batch destinations as code.
#[derive(Debug, Parser)]
#[command(name = "destctl", version, about, propagate_version = true, after_help = ENVIRONMENT)]
pub struct Cli {
    /// Options of every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline (no network, no secret values needed).
    Validate(ValidateArgs),
    /// Write the JSON Schemas of the manifest kinds.
    Schema(SchemaArgs),
    /// Show the changes that would bring live state to the manifests.
    Plan(PlanArgs),
    /// Serve a local Flow Service and IMS emulator.
    Emulator(EmulatorArgs),
    /// Execute a plan (computed now, or a saved one) with If-Match etags.
    Apply(ApplyArgs),
    /// Report how live state differs from the manifests and who changed it (exit 2 on drift).
    Drift(DriftArgs),
    /// Export health of the managed flows: last runs, failures; exit 2 when unhealthy.
    Status(StatusArgs),
    /// Write manifests for live destination flows, to bring them under management.
    Import(ImportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `destctl man > destctl.1`.
    Man(ManArgs),
}

/// Arguments of `destctl man`.
#[derive(Clone, Debug, clap::Args)]
pub struct ManArgs {
    /// Write destctl.1 and one page per subcommand into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Arguments of `destctl completions`.
#[derive(Clone, Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Global options.
#[derive(Clone, Debug, clap::Args)]
pub struct GlobalArgs {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// The `--format` parser for the given formats, each with its help line: one output-format
/// type ([`Format`]) for every command, each command offering the formats it can write.
fn format_parser(
    values: &'static [(Format, &'static str, &'static str)],
) -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(
        values
            .iter()
            .map(|(_, name, help)| PossibleValue::new(*name).help(*help)),
    )
    .map(move |name: String| {
        values
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, _)| *f)
            .unwrap_or_default()
    })
}

/// The formats of `plan --format`.
const PLAN_FORMATS: &[(Format, &str, &str)] = &[
    (Format::Text, "text", "Human-readable, optionally coloured"),
    (Format::Json, "json", "The plan JSON document"),
    (
        Format::Markdown,
        "markdown",
        "A Markdown pull-request comment",
    ),
];

/// The formats of `drift --format`.
const DRIFT_FORMATS: &[(Format, &str, &str)] = &[
    (Format::Text, "text", "Human-readable"),
    (Format::Json, "json", "The versioned drift document"),
    (Format::Markdown, "markdown", "An issue body"),
    (
        Format::OpenMetrics,
        "openmetrics",
        "Gauges per Destination and totals (Prometheus textfile collector, pushgateway)",
    ),
];

/// The formats of `status --format`.
const STATUS_FORMATS: &[(Format, &str, &str)] = &[
    (Format::Text, "text", "For people"),
    (Format::Json, "json", "A versioned JSON document"),
    (
        Format::Markdown,
        "markdown",
        "A Markdown table (an issue or chat message)",
    ),
];

/// The formats of `apply --format`.
const REPORT_FORMATS: &[(Format, &str, &str)] = &[
    (Format::Text, "text", "For people"),
    (Format::Json, "json", "For machines"),
];

/// Which environments of the config file a run uses (`destctl.yaml`, see
/// docs/environments.md); shared by every command that takes `--env`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EnvArgs {
    /// The environments file [default: destctl.yaml in the current directory, if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run for this environment of the config file (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// Run for every environment of the config file.
    #[arg(long, conflicts_with = "envs")]
    pub all_envs: bool,
}

impl EnvArgs {
    /// The selection these flags make.
    pub fn selection(&self) -> crate::config::Selection {
        crate::config::Selection {
            names: self.envs.clone(),
            all: self.all_envs,
        }
    }
}

/// `--only`: the Destinations a run may touch; shared by the commands that take it.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ScopeArgs {
    /// Plan and touch only the Destinations with this name (repeatable; globs: * and ?).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
}

impl ScopeArgs {
    /// The scope these flags make.
    pub fn scope(&self) -> crate::model::Scope {
        crate::model::Scope::only(self.only.clone())
    }
}

/// Arguments of `destctl validate`.
#[derive(Clone, Debug, clap::Args)]
pub struct ValidateArgs {
    /// Manifest files or directories (read recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Environments.
    #[command(flatten)]
    pub env: EnvArgs,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `destctl schema`.
#[derive(Clone, Debug, clap::Args)]
pub struct SchemaArgs {
    /// Directory to write the schemas into.
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    pub out: PathBuf,
}

/// Arguments of `destctl plan`.
#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifest files or directories (read recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, default_value = "text", value_parser = format_parser(PLAN_FORMATS))]
    pub format: Format,
    /// Also write the JSON plan to this file (what `apply --plan` reads).
    #[arg(long, value_name = "PLAN.json")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when it has none, 1 on error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the deletion of managed Destinations that are no longer in the manifests.
    #[arg(long)]
    pub prune: bool,
    /// Environments.
    #[command(flatten)]
    pub env: EnvArgs,
    /// Scope.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The Flow Service to read.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `destctl drift`.
#[derive(Clone, Debug, clap::Args)]
pub struct DriftArgs {
    /// Manifest files or directories (read recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, default_value = "text", value_parser = format_parser(DRIFT_FORMATS))]
    pub format: Format,
    /// Unmanaged flows to leave out (one flow id or name glob a line; default:
    /// `.destctlignore` in the current directory, when it exists).
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Environments of the config file.
    #[command(flatten)]
    pub env: EnvArgs,
    /// The Destinations to look at.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The Flow Service to read.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `destctl apply` arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct ApplyArgs {
    /// Manifest files or directories (read recursively for *.yaml / *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Apply exactly this saved plan (from `destctl plan --out`) instead of planning now.
    #[arg(long, value_name = "PLAN.json", conflicts_with_all = ["paths", "prune", "only"])]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// How many Destinations are applied at the same time.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Delete managed flows (and their connections) no longer in the manifests.
    #[arg(long)]
    pub prune: bool,
    /// Report format.
    #[arg(long, default_value = "text", value_parser = format_parser(REPORT_FORMATS))]
    pub format: Format,
    /// How long to wait for another apply on the same sandbox to finish (e.g. 90s, 5m, 1h;
    /// 0 fails at once).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_or_zero)]
    pub lock_timeout: Duration,
    /// How long this run's lock lasts without renewal (it is renewed every quarter of that
    /// while the apply runs): how long a crashed run blocks the next one.
    #[arg(long, env = "DESTCTL_LOCK_TTL", value_name = "DURATION", default_value = "60s",
          value_parser = lock_ttl)]
    pub lock_ttl: Duration,
    /// Environments.
    #[command(flatten)]
    pub env: EnvArgs,
    /// Scope.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The Flow Service to write.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `destctl status`.
#[derive(Clone, Debug, clap::Args)]
pub struct StatusArgs {
    /// Manifest files or directories: the Destinations to report on.
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, default_value = "text", value_parser = format_parser(STATUS_FORMATS))]
    pub format: Format,
    /// A flow with no successful run in this window is flagged (e.g. 36h, 2d, 1w; at most 90d).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = window)]
    pub window: Duration,
    /// Environments.
    #[command(flatten)]
    pub env: EnvArgs,
    /// The Flow Service to read.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `destctl import`.
#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// Directory to write the manifests into (created if missing; existing files are not
    /// overwritten).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PATH)]
    pub out: PathBuf,
    /// Import this flow (repeatable); without --id, --name or --platform: every unmanaged
    /// destination flow.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Import the flows whose name matches this glob (`*`, `?`; repeatable).
    #[arg(long = "name", value_name = "GLOB")]
    pub names: Vec<String>,
    /// Import the flows of this platform (e.g. amazon-s3, adobe-campaign; repeatable).
    #[arg(long = "platform", value_name = "P")]
    pub platforms: Vec<String>,
    /// Environments (one: import reads one sandbox).
    #[command(flatten)]
    pub env: EnvArgs,
    /// The Flow Service to read.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// A window: a whole number with `s`, `m`, `h`, `d` or `w`; from one minute to 90 days.
fn window(value: &str) -> Result<Duration, FlagValueError> {
    let bad = || FlagValueError::NotAWindow(value.to_owned());
    let secs = crate::emulator::duration_secs(value).ok_or_else(bad)?;
    if !(60..=90 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

/// Target options of the commands that talk to the service. Secrets are read from the
/// environment (their flags are hidden and their values never shown in help).
// The doc comments are the help texts, bare URLs included.
#[allow(rustdoc::bare_urls)]
#[derive(Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Platform base URL, e.g. https://platform.adobe.io or an emulator's http://127.0.0.1:PORT
    #[arg(long, env = "DESTCTL_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// IMS base URL for the token exchange [default: the endpoint for a loopback emulator,
    /// otherwise https://ims-na1.adobelogin.com]
    #[arg(long, env = "DESTCTL_IMS_URL", value_name = "URL")]
    pub ims_url: Option<String>,
    /// Sandbox name [default: prod]
    #[arg(long, env = "AEP_SANDBOX", value_name = "NAME")]
    pub sandbox: Option<String>,
    /// Client id (API key); set AEP_CLIENT_ID.
    #[arg(long, env = "AEP_CLIENT_ID", hide = true, hide_env_values = true)]
    pub client_id: Option<String>,
    /// Client secret; set AEP_CLIENT_SECRET.
    #[arg(long, env = "AEP_CLIENT_SECRET", hide = true, hide_env_values = true,
          value_parser = secret)]
    pub client_secret: Option<SecretString>,
    /// IMS org id; set AEP_ORG_ID.
    #[arg(long, env = "AEP_ORG_ID", hide = true)]
    pub org_id: Option<String>,
    /// OAuth scopes, comma-separated; set AEP_SCOPES.
    #[arg(long, env = "AEP_SCOPES", hide = true)]
    pub scopes: Option<String>,
    /// A ready access token; set AEP_ACCESS_TOKEN.
    #[arg(long, env = "AEP_ACCESS_TOKEN", hide = true, hide_env_values = true,
          value_parser = secret)]
    pub access_token: Option<SecretString>,
    /// Timeout of each request, e.g. 30s, 500ms, 2m [default: 30s]
    #[arg(long, env = "DESTCTL_REQUEST_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub request_timeout: Option<Duration>,
    /// Timeout of each connection (TCP and TLS) [default: 10s]
    #[arg(long, env = "DESTCTL_CONNECT_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub connect_timeout: Option<Duration>,
    /// Time after which no request is sent and none awaited [default: 30m]
    #[arg(long, env = "DESTCTL_TOTAL_TIMEOUT", value_name = "DURATION", value_parser = duration)]
    pub total_timeout: Option<Duration>,
    /// Retries of a request that failed with 429, 5xx or a network error [default: 10]
    #[arg(long, env = "DESTCTL_MAX_RETRIES", value_name = "N")]
    pub max_retries: Option<u32>,
}

/// A duration: a number with `ms`, `s` (the default), `m` or `h`; not zero.
fn duration(value: &str) -> Result<Duration, FlagValueError> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| FlagValueError::NotADuration(value.to_owned()))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(FlagValueError::NotADuration(value.to_owned())),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 7.0 * 86_400.0 {
        return Err(FlagValueError::NotADuration(value.to_owned()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Reads a secret flag or variable straight into a [`SecretString`].
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(value.into())
}

impl std::fmt::Debug for TargetArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.options(), f)
    }
}

impl TargetArgs {
    /// The library's options (secrets wrapped so that they never reach a log).
    pub fn options(&self) -> TargetOptions {
        TargetOptions {
            endpoint: self.endpoint.clone(),
            ims_url: self.ims_url.clone(),
            sandbox: self.sandbox.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            org_id: self.org_id.clone(),
            scopes: self.scopes.clone(),
            access_token: self.access_token.clone(),
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            total_timeout: self.total_timeout,
            max_retries: self.max_retries,
        }
    }
}

/// Options of `destctl emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Keep state in FILE (written atomically after every change); in memory without it.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Answer 400 (2105) when x-sandbox-name is missing instead of using `prod`.
    #[arg(long)]
    pub strict_sandbox: bool,
    /// Lifetime of IMS tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub token_lifetime: u64,
    /// Accept only these IMS credentials (repeatable); with ORG_ID, the token works for that
    /// org only (403 403025 elsewhere). Without the option any non-empty pair is accepted.
    #[arg(
        long = "ims-credential",
        value_name = "CLIENT_ID:CLIENT_SECRET[:ORG_ID]"
    )]
    pub ims_credentials: Vec<ImsCredential>,
    /// Seed of the fault generator (same seed and request order, same faults).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// Probability (0-1) of answering 429 Too Many Requests.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_429: f64,
    /// Retry-After seconds sent with a 429.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub fault_retry_after: u64,
    /// Probability (0-1) of answering 500.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_500: f64,
    /// Probability (0-1) of answering 503.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_503: f64,
    /// Probability (0-1) of a lost answer: the request is served, then its connection is closed
    /// without the answer.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_lost: f64,
    /// Latency added to each Flow Service request: `MS` or `MIN..MAX` (random, milliseconds).
    #[arg(long, value_name = "MS|MIN..MAX", value_parser = latency)]
    pub fault_latency: Option<Latency>,
    /// Serve N Flow Service requests, then close the next one's connection without answering.
    #[arg(long, value_name = "N")]
    pub fault_close_after: Option<u64>,
    /// Once the Nth Flow Service request is answered, rename a flow (seeded pick) as a user in
    /// the AEP UI would (once).
    #[arg(long, value_name = "N")]
    pub fault_edit_after: Option<u64>,
    /// Probability (0-1), per Flow Service request, of such an out-of-band rename.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_edit_probability: f64,
    /// Seconds a client has to send a request's headers before its connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Largest request body in bytes; a larger one is answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_body: usize,
    /// Start the simulated clock at this instant (RFC 3339, e.g. 2026-12-01T00:00:00Z) instead
    /// of the real time; move it with POST /_emulator/clock (docs/emulator.md).
    #[arg(long, value_name = "INSTANT", value_parser = instant)]
    pub clock: Option<i64>,
}

/// Why a flag's value is refused.
#[derive(Debug, thiserror::Error)]
pub enum FlagValueError {
    /// A lease time under one second.
    #[error("`{0}` is under one second")]
    TooShort(String),
    /// Not a number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A number outside 0..=1.
    #[error("{0} is not a probability between 0 and 1")]
    NotAProbability(f64),
    /// Not a whole number of milliseconds.
    #[error("`{0}` is not a number of milliseconds")]
    NotMilliseconds(String),
    /// A range whose start is above its end.
    #[error("{0}: MIN is above MAX")]
    Reversed(String),
    /// Not a window of one minute to 90 days.
    #[error("`{0}` is not a window such as 24h, 2d or 1w (one minute to 90 days)")]
    NotAWindow(String),
    /// Not an RFC 3339 instant.
    #[error("`{0}` is not an RFC 3339 instant such as 2026-12-01T00:00:00Z")]
    NotAnInstant(String),
    /// Not a positive duration of at most a week.
    #[error("`{0}` is not a duration such as 30s, 500ms or 2m")]
    NotADuration(String),
}

/// An RFC 3339 instant, as epoch milliseconds.
fn instant(s: &str) -> Result<i64, FlagValueError> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| FlagValueError::NotAnInstant(s.to_owned()))
}

fn probability(s: &str) -> Result<f64, FlagValueError> {
    let p: f64 = s
        .parse()
        .map_err(|_| FlagValueError::NotANumber(s.to_owned()))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(FlagValueError::NotAProbability(p))
    }
}

/// A [`duration`], or zero (`0`, `0s`, …).
fn duration_or_zero(s: &str) -> Result<Duration, FlagValueError> {
    let digits = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty() && digits.chars().all(|c| c == '0' || c == '.') && digits.contains('0') {
        let unit = &s.trim()[digits.len()..];
        if matches!(unit, "" | "ms" | "s" | "m" | "h") {
            return Ok(Duration::ZERO);
        }
    }
    duration(s)
}

/// A [`duration`] of at least one second.
fn lock_ttl(s: &str) -> Result<Duration, FlagValueError> {
    let d = duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(FlagValueError::TooShort(s.to_owned()));
    }
    Ok(d)
}

fn latency(s: &str) -> Result<Latency, FlagValueError> {
    let ms = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| FlagValueError::NotMilliseconds(t.to_owned()))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (min, max) = (ms(a)?, ms(b)?);
            if min > max {
                return Err(FlagValueError::Reversed(s.to_owned()));
            }
            Ok(Latency::Random { min, max })
        }
        None => Ok(Latency::Fixed(ms(s)?)),
    }
}

impl EmulatorArgs {
    /// The configuration these options describe.
    pub fn config(&self) -> EmulatorConfig {
        EmulatorConfig {
            listen: self.listen,
            state_file: self.state.clone(),
            strict_sandbox: self.strict_sandbox,
            token_lifetime: Duration::from_secs(self.token_lifetime),
            credentials: self.ims_credentials.clone(),
            faults: FaultConfig {
                seed: self.fault_seed,
                p429: self.fault_429,
                retry_after_secs: self.fault_retry_after,
                p500: self.fault_500,
                p503: self.fault_503,
                p_lost: self.fault_lost,
                latency: self.fault_latency.unwrap_or_default(),
                close_after: self.fault_close_after,
                edit_after: self.fault_edit_after,
                p_edit: self.fault_edit_probability,
            },
            header_timeout: Duration::from_secs(self.header_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_body_bytes: self.max_body,
            clock_start_ms: self.clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use secrecy::ExposeSecret;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("destctl").chain(args.iter().copied()))
    }

    #[test]
    fn the_parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "0", "-1s", "5x", "s", "nan", "9999h"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_windows_and_clock_instants() {
        assert_eq!(window("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(window("2d").unwrap(), Duration::from_secs(2 * 86_400));
        assert_eq!(window("1w").unwrap(), Duration::from_secs(7 * 86_400));
        for bad in ["", "30s", "91d", "1.5h", "h", "2 d", "soon"] {
            assert!(window(bad).is_err(), "{bad}");
        }
        assert_eq!(instant("2026-12-01T17:00:00Z").unwrap(), 1_796_144_400_000);
        assert!(instant("2026-12-01").is_err());
        let Command::Status(s) = parse(&["status", "m", "--window", "36h"]).unwrap().command else {
            panic!("status");
        };
        assert_eq!(s.window, Duration::from_secs(36 * 3600));
        let Command::Import(i) = parse(&["import", "--id", "a", "--id", "b", "--name", "x*"])
            .unwrap()
            .command
        else {
            panic!("import");
        };
        assert_eq!((i.ids.len(), i.names.len()), (2, 1));
        assert!(parse(&["status", "--format", "openmetrics"]).is_err());
    }

    #[test]
    fn emulator_flags() {
        let Command::Emulator(a) = parse(&[
            "emulator",
            "--fault-429",
            "0.5",
            "--fault-latency",
            "5..10",
            "--fault-close-after",
            "3",
            "--fault-edit-after",
            "4",
            "--fault-edit-probability",
            "0.25",
        ])
        .unwrap()
        .command
        else {
            panic!("not the emulator")
        };
        let c = a.config();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.faults.p429, 0.5);
        assert_eq!(c.faults.close_after, Some(3));
        assert_eq!(c.faults.edit_after, Some(4));
        assert_eq!(c.faults.p_edit, 0.25);
        assert!(matches!(c.faults.latency, Latency::Random { .. }));
        assert!(parse(&["emulator", "--fault-edit-probability", "1.5"]).is_err());
        assert!(parse(&["emulator", "--fault-500", "2"]).is_err());
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.max_connections, 256);
        assert_eq!(c.max_body_bytes, 64 << 20);
        let Command::Emulator(a) = parse(&[
            "emulator",
            "--header-timeout",
            "3",
            "--max-connections",
            "8",
            "--max-body",
            "1024",
        ])
        .unwrap()
        .command
        else {
            panic!("not the emulator")
        };
        let c = a.config();
        assert_eq!(
            (c.header_timeout, c.max_connections, c.max_body_bytes),
            (Duration::from_secs(3), 8, 1024)
        );
        assert!(parse(&["emulator", "--header-timeout", "0"]).is_err());
        assert!(parse(&["emulator", "--max-connections", "0"]).is_err());
        assert!(parse(&["emulator", "--fault-latency", "9..1"]).is_err());
    }

    #[test]
    fn lock_flags() {
        let apply = |args: &[&str]| match parse(args).map(|c| c.command) {
            Ok(Command::Apply(a)) => Ok((a.lock_timeout, a.lock_ttl)),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        let secs = Duration::from_secs;
        assert_eq!(apply(&["apply"]).unwrap(), (secs(300), secs(60)));
        for (flag, want) in [
            ("0", secs(0)),
            ("45", secs(45)),
            ("30s", secs(30)),
            ("2m", secs(120)),
            ("1h", secs(3600)),
            ("1500ms", Duration::from_millis(1500)),
        ] {
            assert_eq!(apply(&["apply", "--lock-timeout", flag]).unwrap().0, want);
        }
        assert_eq!(
            apply(&["apply", "--lock-timeout", "0s"]).unwrap().0,
            secs(0)
        );
        for bad in ["", "m", "5 min", "-1", "3d", "0x", "."] {
            assert!(apply(&["apply", "--lock-timeout", bad]).is_err(), "{bad}");
        }
        assert_eq!(apply(&["apply", "--lock-ttl", "2s"]).unwrap().1, secs(2));
        assert!(apply(&["apply", "--lock-ttl", "500ms"]).is_err());
        assert!(apply(&["apply", "--lock-ttl", "0"]).is_err());
    }

    #[test]
    fn apply_arguments() {
        let apply = |args: &[&str]| match parse(args).map(|c| c.command) {
            Ok(Command::Apply(a)) => Ok(a),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        let a = apply(&["apply"]).unwrap();
        assert_eq!(a.parallelism, 4);
        assert_eq!(a.format, Format::Text);
        assert!(!a.auto_approve && !a.prune && a.plan.is_none());
        assert_eq!(a.paths, vec![PathBuf::from("manifests")]);
        let a = apply(&[
            "apply",
            "--plan",
            "p.json",
            "--auto-approve",
            "--parallelism",
            "8",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(a.plan, Some(PathBuf::from("p.json")));
        assert_eq!(a.parallelism, 8);
        assert_eq!(a.format, Format::Json);
        assert!(apply(&["apply", "--parallelism", "0"]).is_err());
        assert!(apply(&["apply", "--plan", "p.json", "manifests/"]).is_err());
        assert!(apply(&["apply", "--plan", "p.json", "--prune"]).is_err());
        assert!(apply(&["apply", "--format", "markdown"]).is_err());
    }

    #[test]
    fn plan_formats() {
        for (flag, format) in [
            ("text", Format::Text),
            ("json", Format::Json),
            ("markdown", Format::Markdown),
        ] {
            let Command::Plan(p) = parse(&["plan", "--format", flag]).unwrap().command else {
                panic!("not plan")
            };
            assert_eq!(p.format, format);
        }
        assert!(parse(&["plan", "--format", "xml"]).is_err());
    }

    #[test]
    fn target_debug_hides_secrets_and_clap_reads_flags() {
        let Command::Plan(p) = parse(&[
            "plan",
            "--endpoint",
            "http://127.0.0.1:1",
            "--sandbox",
            "dev",
            "--client-secret",
            "s3cr3t-value",
        ])
        .unwrap()
        .command
        else {
            panic!("not plan")
        };
        let opts = p.target.options();
        assert_eq!(opts.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(opts.sandbox.as_deref(), Some("dev"));
        assert_eq!(
            opts.client_secret.as_ref().map(|s| s.expose_secret()),
            Some("s3cr3t-value")
        );
        for shown in [format!("{:?}", p.target), format!("{opts:?}")] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
        }
        let help = Cli::command()
            .find_subcommand_mut("plan")
            .expect("plan exists")
            .render_help()
            .to_string();
        assert!(
            help.contains("--endpoint") && !help.contains("client-secret"),
            "{help}"
        );
    }
}
