//! `destctl apply [PATH...] | --plan PLAN.json`: loads the manifests or reads the saved plan,
//! connects, takes the sandbox's apply lock ([`crate::apply::lock`], waiting up to
//! `--lock-timeout`), applies (showing the plan, asking, drawing progress through a
//! [`TerminalObserver`]), releases the lock and prints the report on stdout. Ctrl-C or SIGTERM
//! cancels a [`CancellationToken`](tokio_util::sync::CancellationToken): no new request (nor
//! retry) is sent, answers in flight are awaited for [`STOP_GRACE`] at most, the lock is
//! released, the report is printed and the exit status is 1. Retries are printed on stderr as
//! they happen. With a config file, `--env NAME` (repeatable) or `--all-envs` applies each
//! environment in turn.

use super::cli::ApplyArgs;
use super::envs::{self, WhenNoneNamed};
use super::progress::{RetryPrinter, TerminalObserver};
use super::{Context, Error, Exit, show_warnings};
use crate::apply::execute::Cancel;
use crate::apply::lock::{Lease, LockError, LockObserver, LockOptions, acquire};
use crate::apply::secrets::Resolver;
use crate::apply::{ApplyError, Approval, Input, apply, read_plan_file};
use crate::client::{Client, ClientConfig};
use crate::config::Environment;
use crate::manifest::load_for;
use crate::model::Scope;
use crate::render::Format;
use crate::target::TargetOptions;
use std::sync::Arc;
use std::time::Duration;

/// How long requests in flight are awaited after Ctrl-C or SIGTERM.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// Resolves at the first Ctrl-C or SIGTERM, with the signal's name; never when neither can
/// be listened to.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = int => "interrupted",
        () = term => "terminated (SIGTERM)",
    }
}

/// Runs `destctl apply`; an incomplete apply is an error (exit 1) after the report. With
/// environments, every environment's manifests are validated first (one invalid set applies
/// nothing), then the environments are applied one after another, in the order selected,
/// stopping at the first that fails.
pub(crate) async fn run(args: &ApplyArgs, ctx: &Context) -> Result<Exit, Error> {
    let scope = args.scope.scope();
    let Some(environments) = envs::select(&args.env, WhenNoneNamed::Refuse)? else {
        return run_one(args, ctx, None, &args.target.options(), &scope).await;
    };
    if args.plan.is_some() && environments.len() > 1 {
        return Err(Error::SavedPlanEnvironments);
    }
    let mut invalid = 0;
    if args.plan.is_none() {
        for env in &environments {
            match load_for(&args.paths, env) {
                Ok(_) => {}
                Err(e) if environments.len() == 1 => return Err(e.into()),
                Err(e) => {
                    invalid += 1;
                    super::report(&e.into(), ctx);
                }
            }
        }
    }
    if invalid > 0 {
        return Err(Error::Environments {
            failed: invalid,
            total: environments.len(),
        });
    }
    let base = args.target.options();
    let several = environments.len() > 1;
    for env in &environments {
        if several {
            println!("=== environment {} ===", env.name);
        }
        let target = envs::target_for(env, &base);
        run_one(args, ctx, Some(env), &target, &scope)
            .await
            .map_err(|e| Error::Environment {
                name: env.name.clone(),
                source: Box::new(e),
            })?;
    }
    Ok(Exit::Success)
}

/// One apply: without a config file (`env` is `None`) or for one environment.
async fn run_one(
    args: &ApplyArgs,
    ctx: &Context,
    env: Option<&Environment>,
    target: &TargetOptions,
    scope: &Scope,
) -> Result<Exit, Error> {
    let resolver = Resolver::process().map_err(ApplyError::CurrentDir)?;
    let input = match &args.plan {
        Some(path) => Input::Saved(read_plan_file(path)?),
        None => {
            let loaded = match env {
                Some(env) => load_for(&args.paths, env)?,
                None => crate::manifest::load(&args.paths)?,
            };
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
    crate::apply::check_offline(&input, &resolver)?;
    let resolved = crate::target::resolve(target).map_err(ApplyError::from)?;
    let sandbox = resolved.sandbox().to_owned();
    let connected = crate::target::connect(resolved)
        .await
        .map_err(ApplyError::from)?;
    if let Some(notice) = connected.notice() {
        eprintln!("{notice}");
    }
    let cancel = Cancel::new();
    connected.client.observe_retries(Arc::new(RetryPrinter));
    connected.client.stop_on(cancel.clone(), STOP_GRACE);
    let on_signal = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let what = stop_signal().await;
            eprintln!(
                "\ndestctl: {what}; no new request is sent, waiting up to {}s for those in flight",
                STOP_GRACE.as_secs()
            );
            cancel.cancel();
        })
    };
    // The lease has a client of its own: after Ctrl-C or SIGTERM the apply's client sends
    // nothing new, but the lease is still renewed until the end and then released. The
    // apply's client bounds the run (`--total-timeout`); this one only its requests.
    let lock_client = Client::new(ClientConfig {
        total_timeout: None,
        ..connected.client.config().clone()
    })
    .map_err(|e| ApplyError::from(LockError::Client(e)))?;
    let guard = match acquire(
        &lock_client,
        &LockOptions {
            ttl: args.lock_ttl,
            ..LockOptions::new(args.lock_timeout)
        },
        &cancel,
        &WaitNotice,
    )
    .await
    {
        Ok(guard) => guard,
        Err(e) => {
            on_signal.abort();
            return Err(ApplyError::from(e).into());
        }
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
        scope: scope.clone(),
    };
    // Planned (live) or pre-flighted (saved) only now, from live state read under the lock.
    let applied = apply(input, &connected.client, &apply_ctx).await;
    on_signal.abort();
    if guard.is_lost() {
        eprintln!(
            "destctl: the apply lock was taken over by another run (renewal failed for too long); no new request was sent after that"
        );
    }
    if let Err(e) = guard.release().await {
        eprintln!("destctl: warning: {e}; the lease expires by itself");
    }
    if observer.drew_bars() {
        // The progress bars end without a newline; the report starts on a line of its own.
        eprintln!();
    }
    let report = applied?.report;
    match args.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text | Format::Markdown | Format::OpenMetrics => print!("{}", report.to_text()),
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

/// Says on stderr who holds the apply lock while this run waits for it.
struct WaitNotice;

impl LockObserver for WaitNotice {
    fn waiting(&self, holder: &Lease) {
        eprintln!(
            "destctl: waiting for the apply lock, held by {} (until {} unless renewed)",
            holder.who(),
            holder
                .expires
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
}
