//! `destctl plan [PATH...] [--format text|json|markdown] [--out PLAN.json]
//! [--detailed-exitcode] [--prune]`.
//!
//! Validates the manifests first (an invalid set sends no request), resolves the target (the
//! embedded emulator when nothing is configured), reads live state with list calls, builds the
//! plan and prints it on stdout; `--out` also writes the JSON plan for `apply`.

use super::{Plan, PlanDetails, PlanOptions, PlanTarget, build};
use crate::catalog::Platform;
use crate::error::Error;
use crate::live::LiveState;
use crate::live::fetch::{FetchOptions, fetch};
use crate::manifest::{DEFAULT_PATH, load};
use crate::model::DesiredState;
use crate::render::{self, Format};
use crate::target::{self, TargetOptions};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `destctl plan`.
#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifest files or directories (read recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
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
}

/// What a successful `plan` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanOutcome {
    /// Live state matches the manifests.
    NoChanges,
    /// The plan changes something.
    Changes,
}

impl PlanOutcome {
    /// The exit code: 2 for changes with `--detailed-exitcode`, else 0.
    pub fn exit_code(self, detailed: bool) -> u8 {
        match self {
            PlanOutcome::Changes if detailed => 2,
            _ => 0,
        }
    }
}

/// Whether the live read must look up the Adobe Campaign flow spec.
pub fn fetch_options(desired: &DesiredState) -> FetchOptions {
    FetchOptions {
        campaign_flow_spec: desired
            .destinations
            .iter()
            .any(|d| d.platform == Platform::AdobeCampaign),
    }
}

/// Whether stdout gets colours: a terminal, and `NO_COLOR` unset or empty.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal()
        && crate::diagnostics::color_allowed(std::env::var_os("NO_COLOR").as_deref())
}

/// Validated manifests + live state read through `target` → the plan and its details.
pub async fn plan_against(
    desired: &DesiredState,
    target: TargetOptions,
    prune: bool,
) -> Result<(Plan, PlanDetails, LiveState), Error> {
    let sandbox = target
        .sandbox
        .clone()
        .unwrap_or_else(|| target::DEFAULT_SANDBOX.into());
    let resolved = target::resolve(&target)?;
    let connected = target::connect(resolved).await?;
    let live = fetch(&connected.client, &fetch_options(desired)).await?;
    let opts = PlanOptions {
        target: PlanTarget {
            endpoint: connected.endpoint.clone(),
            sandbox,
        },
        prune,
    };
    let (plan, details) = build(desired, &live, &opts)?;
    Ok((plan, details, live))
}

/// Runs `destctl plan`.
pub async fn run(args: &PlanArgs, target: &TargetOptions) -> Result<PlanOutcome, Error> {
    let loaded = load(&args.paths)?;
    if !loaded.warnings.is_empty() {
        eprint!(
            "{}",
            loaded.render_warnings(crate::diagnostics::stderr_color())
        );
    }
    let (plan, details, _) = plan_against(&loaded.desired, target.clone(), args.prune).await?;
    for d in &plan.duplicates {
        eprintln!(
            "destctl: warning: Destination `{}`: {}",
            d.name,
            render::words::duplicate_words(d)
        );
    }
    if let Some(path) = &args.out {
        std::fs::write(path, render::json(&plan)).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        eprintln!("destctl: plan written to {}", path.display());
    }
    let color = args.format == Format::Text && stdout_color();
    print!(
        "{}",
        render::render(args.format, &plan, Some(&details), color)
    );
    Ok(if plan.has_changes() {
        PlanOutcome::Changes
    } else {
        PlanOutcome::NoChanges
    })
}
