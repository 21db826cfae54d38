//! `destctl plan [PATH...] [--format text|json|markdown] [--out PLAN.json]
//! [--detailed-exitcode] [--prune]`.
//!
//! Validates the manifests first (an invalid set sends no request), resolves the target (the
//! embedded emulator when nothing is configured), reads live state with list calls, builds the
//! plan and prints it on stdout; `--out` also writes the JSON plan for `apply`.

use super::cli::PlanArgs;
use super::{Context, Error, Exit, show_warnings};
use crate::fetch::{FetchOptions, fetch};
use crate::manifest::{Loaded, load};
use crate::plan::{PlanOptions, PlanTarget, build};
use crate::render::{self, Format};
use crate::target;

/// Runs `destctl plan`: exit 2 for changes with `--detailed-exitcode`.
pub(crate) async fn run(args: &PlanArgs, ctx: &Context) -> Result<Exit, Error> {
    let loaded = load(&args.paths)?;
    show_warnings(&loaded, ctx);
    // Only the desired state is needed from here on: the rest is freed before the flows are read.
    let Loaded {
        desired,
        warnings,
        files,
        sources,
    } = loaded;
    drop((warnings, files, sources));
    let options = args.target.options();
    let sandbox = options
        .sandbox
        .clone()
        .unwrap_or_else(|| target::DEFAULT_SANDBOX.into());
    let connected = target::connect(target::resolve(&options)?).await?;
    connected
        .client
        .observe_retries(std::sync::Arc::new(super::progress::RetryPrinter));
    if let Some(notice) = connected.notice() {
        eprintln!("{notice}");
    }
    let live = fetch(&connected.client, &FetchOptions::for_desired(&desired)).await?;
    let endpoint = connected.endpoint.clone();
    drop(connected);
    let opts = PlanOptions {
        target: PlanTarget { endpoint, sandbox },
        prune: args.prune,
    };
    let (mut plan, details) = build(&desired, &live, &opts)?;
    plan.changed_outside =
        crate::drift::changed_outside(&desired, &live, &details, plan.target.clone());
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
    let color = args.format == Format::Text && ctx.stdout_color;
    print!(
        "{}",
        render::render(args.format, &plan, Some(&details), color)
    );
    Ok(if plan.has_changes() && args.detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Success
    })
}
