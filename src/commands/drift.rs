//! `destctl drift [PATH...] [--format text|json|markdown|openmetrics] [--ignore-file FILE]
//! [--env NAME]... [--all-envs] [--only NAME]...`.
//!
//! Read-only: validates the manifests (an invalid set sends no request), reads live state with
//! the same list calls as `plan`, compares them ([`crate::drift::detect`]) and prints the
//! report. Exit 0 in sync (pending manifest changes are not drift), 2 on drift, 1 on error.

use super::cli::DriftArgs;
use super::envs::{self, EnvFuture, WhenNoneNamed};
use super::{Context, Error, Exit, show_warnings};
use crate::drift::{DriftReport, IgnoreList, detect};
use crate::fetch::{FetchOptions, fetch};
use crate::manifest::{load, load_for};
use crate::model::{DesiredState, Scope};
use crate::plan::PlanTarget;
use crate::render::{self, Format};
use crate::target::{self, Connected};
use std::fmt::Write as _;
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

/// Runs `destctl drift`: exit 2 when drift is found (in any selected environment).
pub(crate) async fn run(args: &DriftArgs, ctx: &Context) -> Result<Exit, Error> {
    let scope = args.scope.scope();
    // Bad input first: manifests (every environment's) and the ignore file, before any request.
    let ignore = ignore_list(args.ignore_file.as_ref())?;
    let Some(environments) = envs::select(&args.env, WhenNoneNamed::Refuse)? else {
        let loaded = load(&args.paths)?;
        show_warnings(&loaded, ctx);
        let desired = loaded.desired.scoped(&scope);
        let options = args.target.options();
        let sandbox = options
            .sandbox
            .clone()
            .unwrap_or_else(|| target::DEFAULT_SANDBOX.into());
        let connected = target::connect(target::resolve(&options)?).await?;
        if let Some(notice) = connected.notice() {
            eprintln!("{notice}");
        }
        let report = drift_one(&connected, &desired, sandbox, &ignore, &scope).await?;
        print!("{}", render_one(args.format, &report));
        return Ok(exit(report.has_drift()));
    };
    let mut desired = Vec::new();
    let mut invalid = 0;
    for env in &environments {
        match load_for(&args.paths, env) {
            Ok(loaded) => {
                show_warnings(&loaded, ctx);
                desired.push(loaded.desired.scoped(&scope));
            }
            Err(e) => {
                invalid += 1;
                super::report(&e.into(), ctx);
            }
        }
    }
    if invalid > 0 {
        return Err(Error::Environments {
            failed: invalid,
            total: environments.len(),
        });
    }
    let connected = envs::connect(&environments, &args.target.options()).await?;
    let futures: Vec<EnvFuture<'_, Result<DriftReport, Error>>> = connected
        .iter()
        .zip(&desired)
        .zip(&environments)
        .map(|((c, d), env)| {
            Box::pin(drift_one(c, d, env.sandbox.clone(), &ignore, &scope)) as EnvFuture<'_, _>
        })
        .collect();
    let results = envs::join_all(futures).await;
    drop(connected);
    let mut reports = Vec::new();
    let mut failed = 0;
    for (env, result) in environments.iter().zip(results) {
        match result {
            Ok(r) => reports.push((env.name.clone(), r)),
            Err(e) => {
                let e = Error::Environment {
                    name: env.name.clone(),
                    source: Box::new(e),
                };
                if environments.len() == 1 {
                    return Err(e);
                }
                failed += 1;
                super::report(&e, ctx);
            }
        }
    }
    let drift = reports.iter().any(|(_, r)| r.has_drift());
    if let [(_, report)] = reports.as_slice()
        && failed == 0
    {
        print!("{}", render_one(args.format, report));
    } else {
        print!("{}", render_many(args.format, &reports));
    }
    if failed > 0 {
        return Err(Error::Environments {
            failed,
            total: environments.len(),
        });
    }
    Ok(exit(drift))
}

fn exit(drift: bool) -> Exit {
    if drift { Exit::Changes } else { Exit::Success }
}

/// Reads one sandbox and compares it with `desired`.
async fn drift_one(
    connected: &Connected,
    desired: &DesiredState,
    sandbox: String,
    ignore: &IgnoreList,
    scope: &Scope,
) -> Result<DriftReport, Error> {
    connected
        .client
        .observe_retries(std::sync::Arc::new(super::progress::RetryPrinter));
    let live = fetch(&connected.client, &FetchOptions::for_desired(desired))
        .await?
        .scoped(scope);
    let target = PlanTarget {
        endpoint: connected.endpoint.clone(),
        sandbox,
    };
    Ok(detect(desired, &live, ignore, target))
}

fn render_one(format: Format, report: &DriftReport) -> String {
    match format {
        Format::Text => render::drift::text(report),
        Format::Json => render::drift::json(report),
        Format::Markdown => render::drift::markdown(report),
        Format::OpenMetrics => render::drift::openmetrics(report),
    }
}

/// Several environments: a section each (text, markdown), one object by environment name
/// (json), one metrics exposition with an `environment` label (openmetrics).
fn render_many(format: Format, reports: &[(String, DriftReport)]) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            let mut by_env = serde_json::Map::new();
            for (name, r) in reports {
                by_env.insert(name.clone(), serde_json::to_value(r).unwrap_or_default());
            }
            let doc = serde_json::json!({ "environments": by_env });
            out = serde_json::to_string_pretty(&doc).unwrap_or_default();
            out.push('\n');
        }
        Format::Text => {
            for (name, r) in reports {
                let _ = writeln!(out, "=== environment {name} ===");
                out.push_str(&render::drift::text(r));
                out.push('\n');
            }
        }
        Format::Markdown => {
            for (name, r) in reports {
                let _ = writeln!(out, "# Environment `{name}`\n");
                out.push_str(&render::drift::markdown(r));
                out.push('\n');
            }
        }
        Format::OpenMetrics => {
            let labelled: Vec<(Option<&str>, &DriftReport)> =
                reports.iter().map(|(n, r)| (Some(n.as_str()), r)).collect();
            out = render::drift::openmetrics_many(&labelled);
        }
    }
    out
}
