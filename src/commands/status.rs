//! `destctl status [PATH...] [--format text|json|markdown] [--window DURATION]`.
//!
//! Export health of the Destinations and DatasetExports in the manifests (each has one flow
//! carrying its marker): one list of the destination flows
//! (their marker, state and `lastRunDetails`), then the runs of the managed ones started in the
//! window (`GET /runs?property=flowId==<id>,<id>…&property=createdAt>=<start>`, up to 40 flows
//! per request; when the service refuses the `createdAt` filter with 400 — Adobe documents only
//! `id`, `flowId` and `state` as filterable — the runs are listed by flow and the window applied
//! locally). "Now" is the service's time (the `Date` of its answers; the emulator sends its
//! simulated clock there), so the window means the same on both sides. Read-only, no lock.
//! Exit 2 when a Destination is unhealthy (failing, stale or missing), 0 when none is. With a
//! config file, `--env NAME`/`--all-envs` report each environment (its manifests with its
//! `${var:}` values, its sandbox and endpoint) in turn, a section each, one exit code.

use super::cli::StatusArgs;
use super::envs::{self, WhenNoneNamed};
use super::{Context, Error, Exit, show_warnings};
use crate::fetch::DESTINATION_FLOW_FILTER;
use crate::health::{self, FlowFacts, StatusReport};
use crate::manifest::{Loaded, load, load_for};
use crate::marker::Marker;
use crate::render::Format;
use crate::target::{self, TargetOptions};
use crate::wire::run::{FlowRunInfo, Run};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Flow ids per `GET /runs` (keeps the URL short).
const FLOWS_PER_RUNS_REQUEST: usize = 40;

/// Runs `destctl status`: for the manifests as they are, or for each selected environment.
pub(crate) async fn run(args: &StatusArgs, ctx: &Context) -> Result<Exit, Error> {
    let Some(environments) = envs::select(&args.env, WhenNoneNamed::Refuse)? else {
        let loaded = load(&args.paths)?;
        show_warnings(&loaded, ctx);
        let names = names_of(loaded);
        let report = status_of(&args.target.options(), names, args).await?;
        print!("{}", render(args.format, &report));
        return Ok(exit(report.has_unhealthy()));
    };
    // Every environment's manifests first: one invalid set sends no request at all.
    let mut names = Vec::new();
    for env in &environments {
        let loaded = load_for(&args.paths, env)?;
        show_warnings(&loaded, ctx);
        names.push(names_of(loaded));
    }
    let base = args.target.options();
    let several = environments.len() > 1;
    let mut out = String::new();
    let mut json = serde_json::Map::new();
    let (mut unhealthy, mut failed) = (false, 0);
    for (env, names) in environments.iter().zip(names) {
        let report = match status_of(&envs::target_for(env, &base), names, args).await {
            Ok(r) => r,
            Err(e) if !several => {
                return Err(Error::Environment {
                    name: env.name.clone(),
                    source: Box::new(e),
                });
            }
            Err(e) => {
                failed += 1;
                let e = Error::Environment {
                    name: env.name.clone(),
                    source: Box::new(e),
                };
                super::report(&e, ctx);
                continue;
            }
        };
        unhealthy |= report.has_unhealthy();
        match args.format {
            Format::Json if several => {
                let v = serde_json::from_str(&health::render_json(&report)).unwrap_or_default();
                json.insert(env.name.clone(), v);
            }
            Format::Markdown if several => {
                let _ = writeln!(out, "# Environment `{}`\n", env.name);
                out.push_str(&health::render_markdown(&report));
                out.push('\n');
            }
            Format::Text if several => {
                let _ = writeln!(out, "=== environment {} ===", env.name);
                out.push_str(&health::render_text(&report));
                out.push('\n');
            }
            _ => out.push_str(&render(args.format, &report)),
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
    Ok(exit(unhealthy))
}

fn exit(unhealthy: bool) -> Exit {
    if unhealthy {
        Exit::Changes
    } else {
        Exit::Success
    }
}

fn render(format: Format, report: &StatusReport) -> String {
    match format {
        // Status has no metrics form (the command line never offers it).
        Format::Json | Format::OpenMetrics => health::render_json(report),
        Format::Markdown => health::render_markdown(report),
        Format::Text => health::render_text(report),
    }
}

/// The Destinations, then the DatasetExports, of loaded manifests: each has one flow carrying
/// its marker.
fn names_of(loaded: Loaded) -> Vec<String> {
    loaded
        .desired
        .destinations
        .iter()
        .map(|d| d.name.to_string())
        .chain(
            loaded
                .desired
                .dataset_exports
                .iter()
                .map(|e| e.name.to_string()),
        )
        .collect()
}

/// The report of `names` against the service `options` name.
async fn status_of(
    options: &TargetOptions,
    names: Vec<String>,
    args: &StatusArgs,
) -> Result<StatusReport, Error> {
    let connected = target::connect(target::resolve(options)?).await?;
    connected
        .client
        .observe_retries(std::sync::Arc::new(super::progress::RetryPrinter));
    if let Some(notice) = connected.notice() {
        eprintln!("{notice}");
    }
    let client = &connected.client;
    let flows: Vec<FlowRunInfo> = client
        .list_as(
            "/flows",
            &[("property", DESTINATION_FLOW_FILTER.to_owned())],
        )
        .await?;
    // The oldest flow carrying a name's marker is the managed one (as in `plan`).
    let mut managed: BTreeMap<String, FlowRunInfo> = BTreeMap::new();
    let mut sorted = flows;
    sorted.sort_by(|a, b| {
        a.created_at
            .unwrap_or(0)
            .cmp(&b.created_at.unwrap_or(0))
            .then_with(|| a.id.cmp(&b.id))
    });
    for f in sorted {
        if let Some((m, _)) = f.description.as_deref().and_then(Marker::parse) {
            managed.entry(m.name).or_insert(f);
        }
    }
    let now = client
        .server_time_ms()
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let window_ms = i64::try_from(args.window.as_millis()).unwrap_or(i64::MAX / 4);
    let since = now - window_ms;
    let ids: Vec<&str> = names
        .iter()
        .filter_map(|n| managed.get(n))
        .map(|f| f.id.as_str())
        .collect();
    let mut runs: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for chunk in ids.chunks(FLOWS_PER_RUNS_REQUEST) {
        let by_flow = ("property", format!("flowId=={}", chunk.join(",")));
        let in_window = ("property", format!("createdAt>={since}"));
        let listed: Vec<Run> = match client.list_as("/runs", &[by_flow.clone(), in_window]).await {
            Ok(runs) => runs,
            // Adobe documents `id`, `flowId` and `state` as the filterable fields of runs: a
            // service that refuses the time filter gets the flow filter alone, and the window
            // is applied here.
            Err(e) if e.status() == Some(400) => {
                tracing::info!("the runs list refused a createdAt filter; filtering locally");
                client.list_as("/runs", &[by_flow]).await?
            }
            Err(e) => return Err(e.into()),
        };
        for r in listed {
            if r.when().is_some_and(|t| t < since) {
                continue;
            }
            if let Some(f) = r.flow_id.clone() {
                runs.entry(f).or_default().push(r);
            }
        }
    }
    let entries = names
        .iter()
        .map(|name| {
            let facts = managed.get(name).map(|f| FlowFacts {
                id: f.id.clone(),
                name: f.name.clone(),
                enabled: f.state.as_deref() == Some("enabled"),
                created_at: f.created_at,
                last_run: f.last_run_details.as_ref().map(|d| d.to_run(&f.id)),
            });
            let flow_runs = facts
                .as_ref()
                .and_then(|f| runs.get(&f.id))
                .map(Vec::as_slice)
                .unwrap_or_default();
            health::evaluate(name, facts.as_ref(), flow_runs, now, window_ms)
        })
        .collect();
    Ok(health::report(entries, now, window_ms))
}
