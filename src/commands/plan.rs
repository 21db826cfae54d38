//! `destctl plan [PATH...] [--format text|json|markdown] [--out PLAN.json]
//! [--detailed-exitcode] [--prune] [--env NAME]... [--all-envs] [--only NAME]...`.
//!
//! Validates the manifests first (an invalid set sends no request), resolves the target (the
//! embedded emulator when nothing is configured), reads live state with list calls, builds the
//! plan and prints it on stdout; `--out` also writes the JSON plan for `apply`. With
//! environments, every environment's manifests are validated before any request, then the
//! environments are planned concurrently into one report (a section per environment) and one
//! exit code; `--out` writes one plan per environment (see docs/plan-format.md).

use super::cli::PlanArgs;
use super::envs::{self, EnvFuture, WhenNoneNamed};
use super::{Context, Error, Exit, show_warnings};
use crate::config::Environment;
use crate::fetch::{FetchOptions, fetch};
use crate::manifest::{Loaded, load, load_for};
use crate::model::{DesiredState, Scope};
use crate::plan::{Plan, PlanDetails, PlanOptions, PlanTarget, build};
use crate::render::{self, Format};
use crate::target::{self, Connected};
use std::fmt::Write as _;

/// Runs `destctl plan`: exit 2 for changes with `--detailed-exitcode`.
pub(crate) async fn run(args: &PlanArgs, ctx: &Context) -> Result<Exit, Error> {
    let scope = args.scope.scope();
    let Some(environments) = envs::select(&args.env, WhenNoneNamed::Refuse)? else {
        return run_plain(args, ctx, &scope).await;
    };
    run_envs(args, ctx, &scope, &environments).await
}

/// Only the desired state of loaded manifests (the rest is freed before the flows are read),
/// after showing their warnings.
fn desired_of(loaded: Loaded, ctx: &Context, scope: &Scope) -> DesiredState {
    show_warnings(&loaded, ctx);
    loaded.desired.scoped(scope)
}

/// Reads live state through `connected` and plans `desired` against it.
async fn plan_one(
    connected: &Connected,
    desired: &DesiredState,
    sandbox: String,
    args: &PlanArgs,
    scope: &Scope,
) -> Result<(Plan, PlanDetails), Error> {
    let live = fetch(&connected.client, &FetchOptions::for_desired(desired))
        .await?
        .scoped(scope);
    let opts = PlanOptions {
        target: PlanTarget {
            endpoint: connected.endpoint.clone(),
            sandbox,
        },
        prune: args.prune,
    };
    let (mut plan, details) = build(desired, &live, &opts)?;
    plan.changed_outside =
        crate::drift::changed_outside(desired, &live, &details, plan.target.clone());
    Ok((plan, details))
}

fn warn_duplicates(plan: &Plan) {
    for d in &plan.duplicates {
        eprintln!(
            "destctl: warning: Destination `{}`: {}",
            d.name,
            render::words::duplicate_words(d)
        );
    }
}

fn write_plan(path: &std::path::Path, plan: &Plan) -> Result<(), Error> {
    std::fs::write(path, render::json(plan)).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    eprintln!("destctl: plan written to {}", path.display());
    Ok(())
}

fn exit(changes: bool, args: &PlanArgs) -> Exit {
    if changes && args.detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// A run without a config file.
async fn run_plain(args: &PlanArgs, ctx: &Context, scope: &Scope) -> Result<Exit, Error> {
    let desired = desired_of(load(&args.paths)?, ctx, scope);
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
    let (plan, details) = plan_one(&connected, &desired, sandbox, args, scope).await?;
    drop(connected);
    warn_duplicates(&plan);
    if let Some(path) = &args.out {
        write_plan(path, &plan)?;
    }
    let color = args.format == Format::Text && ctx.stdout_color;
    print!(
        "{}",
        render::render(args.format, &plan, Some(&details), color)
    );
    Ok(exit(plan.has_changes(), args))
}

/// A run over the selected environments of the config file.
async fn run_envs(
    args: &PlanArgs,
    ctx: &Context,
    scope: &Scope,
    environments: &[Environment],
) -> Result<Exit, Error> {
    // Every environment's manifests first: one invalid set sends no request at all.
    let mut desired = Vec::new();
    let mut invalid = 0;
    for env in environments {
        match load_for(&args.paths, env) {
            Ok(loaded) => desired.push(desired_of(loaded, ctx, scope)),
            Err(e) if environments.len() == 1 => return Err(e.into()),
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
    let connected = envs::connect(environments, &args.target.options()).await?;
    let futures: Vec<EnvFuture<'_, Result<(Plan, PlanDetails), Error>>> = connected
        .iter()
        .zip(&desired)
        .zip(environments)
        .map(|((c, d), env)| {
            c.client
                .observe_retries(std::sync::Arc::new(super::progress::RetryPrinter));
            Box::pin(plan_one(c, d, env.sandbox.clone(), args, scope)) as EnvFuture<'_, _>
        })
        .collect();
    let results = envs::join_all(futures).await;
    drop(connected);

    let several = environments.len() > 1;
    let mut out = String::new();
    let mut json = serde_json::Map::new();
    let mut failed = 0;
    let mut changes = false;
    for (env, result) in environments.iter().zip(results) {
        let (plan, details) = match result {
            Ok(p) => p,
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
                continue;
            }
        };
        warn_duplicates(&plan);
        changes |= plan.has_changes();
        if let Some(path) = &args.out {
            let path = if several {
                envs::out_path(path, &env.name)
            } else {
                path.clone()
            };
            write_plan(&path, &plan)?;
        }
        match args.format {
            Format::Json if several => {
                let v = serde_json::from_str(&render::json(&plan)).unwrap_or_default();
                json.insert(env.name.clone(), v);
            }
            // Plans have no metrics form (the command line never offers it).
            Format::Json | Format::OpenMetrics => out.push_str(&render::json(&plan)),
            Format::Markdown => {
                // One comment for every environment: each gets an equal share of the budget.
                let share = (render::MARKDOWN_MAX_CHARS / environments.len()).saturating_sub(100);
                let _ = writeln!(out, "# Environment `{}`\n", env.name);
                out.push_str(&render::markdown_within(&plan, Some(&details), share));
                out.push('\n');
            }
            Format::Text => {
                let _ = writeln!(out, "=== environment {} ===", env.name);
                let color = ctx.stdout_color;
                out.push_str(&render::render(args.format, &plan, Some(&details), color));
                out.push('\n');
            }
        }
    }
    if args.format == Format::Json && several {
        let doc = serde_json::json!({ "environments": json });
        out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
    }
    print!("{out}");
    if failed > 0 {
        return Err(Error::Environments {
            failed,
            total: environments.len(),
        });
    }
    Ok(exit(changes, args))
}
