//! `destctl apply [PATH...] | --plan PLAN.json`: loads the manifests or reads the saved plan,
//! connects, applies (showing the plan, asking, drawing progress through a
//! [`TerminalObserver`]), and prints the report on stdout. Ctrl-C cancels a
//! [`CancellationToken`](tokio_util::sync::CancellationToken): no new request is sent.

use super::cli::ApplyArgs;
use super::progress::TerminalObserver;
use super::{Context, Error, Exit, show_warnings};
use crate::apply::execute::Cancel;
use crate::apply::secrets::Resolver;
use crate::apply::{ApplyError, Approval, Input, apply, read_plan_file};
use crate::render::Format;
use std::sync::Arc;

/// Runs `destctl apply`; an incomplete apply is an error (exit 1) after the report.
pub(crate) async fn run(args: &ApplyArgs, ctx: &Context) -> Result<Exit, Error> {
    let resolver = Resolver::process().map_err(ApplyError::CurrentDir)?;
    let input = match &args.plan {
        Some(path) => Input::Saved(read_plan_file(path)?),
        None => {
            let loaded = crate::manifest::load(&args.paths)?;
            show_warnings(&loaded, ctx);
            Input::Live {
                desired: loaded.desired,
                prune: args.prune,
            }
        }
    };
    let approval = if args.auto_approve || matches!(input, Input::Saved(_)) {
        Approval::Auto
    } else if ctx.stdin_terminal {
        Approval::Ask
    } else {
        return Err(ApplyError::NoTerminal.into());
    };
    let resolved = crate::target::resolve(&args.target.options()).map_err(ApplyError::from)?;
    let sandbox = resolved.sandbox().to_owned();
    let connected = crate::target::connect(resolved)
        .await
        .map_err(ApplyError::from)?;
    if let Some(notice) = connected.notice() {
        eprintln!("{notice}");
    }
    let cancel = Cancel::new();
    let on_signal = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ndestctl: interrupted; no new request is sent, waiting for those in flight"
                );
                cancel.cancel();
            }
        })
    };
    let observer = Arc::new(TerminalObserver::new(ctx.stderr_color, ctx.stderr_terminal));
    let apply_ctx = crate::apply::Context {
        endpoint: connected.endpoint.clone(),
        sandbox,
        resolver: resolver.redacting(connected.client.redactor()),
        cancel,
        approval,
        parallelism: usize::from(args.parallelism),
        observer: observer.clone(),
    };
    let applied = apply(input, &connected.client, &apply_ctx).await;
    on_signal.abort();
    if observer.drew_bars() {
        // The progress bars end without a newline; the report starts on a line of its own.
        eprintln!();
    }
    let report = applied?.report;
    match args.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text | Format::Markdown => print!("{}", report.to_text()),
    }
    if report.is_success() {
        Ok(Exit::Success)
    } else {
        Err(ApplyError::Incomplete {
            failed: report.failures.len(),
            not_run: report.not_run.len(),
            interrupted: report.interrupted,
        }
        .into())
    }
}
