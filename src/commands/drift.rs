//! `destctl drift [PATH...] [--format text|json|markdown|openmetrics] [--ignore-file FILE]`.
//!
//! Read-only: validates the manifests (an invalid set sends no request), reads live state with
//! the same list calls as `plan`, compares them ([`crate::drift::detect`]) and prints the
//! report. Exit 0 in sync (pending manifest changes are not drift), 2 on drift, 1 on error.

use super::cli::DriftArgs;
use super::{Context, Error, Exit, show_warnings};
use crate::drift::{IgnoreList, detect};
use crate::fetch::{FetchOptions, fetch};
use crate::manifest::load;
use crate::plan::PlanTarget;
use crate::render::{self, Format};
use crate::target;
use std::path::{Path, PathBuf};

/// The ignore file read when `--ignore-file` is not given (if it exists).
pub(crate) const DEFAULT_IGNORE_FILE: &str = ".destctlignore";

/// Largest ignore file read.
const MAX_IGNORE_BYTES: u64 = 1 << 20;

fn read_ignore(path: &Path) -> Result<IgnoreList, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_IGNORE_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file of at most 1 MiB",
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    IgnoreList::parse(&text).map_err(|source| Error::Ignore {
        path: path.to_owned(),
        source,
    })
}

/// The ignore list: `--ignore-file`, else `.destctlignore` when present, else empty.
fn ignore_list(arg: Option<&PathBuf>) -> Result<IgnoreList, Error> {
    match arg {
        Some(p) => read_ignore(p),
        None => {
            let p = Path::new(DEFAULT_IGNORE_FILE);
            if p.exists() {
                read_ignore(p)
            } else {
                Ok(IgnoreList::default())
            }
        }
    }
}

/// Runs `destctl drift`: exit 2 when drift is found.
pub(crate) async fn run(args: &DriftArgs, ctx: &Context) -> Result<Exit, Error> {
    let loaded = load(&args.paths)?;
    show_warnings(&loaded, ctx);
    let desired = loaded.desired;
    let ignore = ignore_list(args.ignore_file.as_ref())?;
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
    let report = detect(&desired, &live, &ignore, PlanTarget { endpoint, sandbox });
    let out = match args.format {
        Format::Text => render::drift::text(&report),
        Format::Json => render::drift::json(&report),
        Format::Markdown => render::drift::markdown(&report),
        Format::OpenMetrics => render::drift::openmetrics(&report),
    };
    print!("{out}");
    Ok(if report.has_drift() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
