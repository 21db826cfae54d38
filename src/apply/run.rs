//! The live parts of `apply`: load or read the plan, connect, read live state, show and confirm
//! (live) or pre-flight (saved), execute, report.

use super::execute::{BoxFuture, Cancel, Mode, NoProgress, Progress, ReplanError, Replanner};
use super::preflight;
use super::progress::TerminalProgress;
use super::report::ApplyReport;
use super::secrets::{Resolver, SecretLocations};
use super::{ApplyArgs, ApplyError, ExecuteOptions, Prepared, ReportFormat, confirm};
use crate::catalog::{FlowSpecRef, PROFILE_STORE_SPEC_ID};
use crate::client::Client;
use crate::diagnostics::stderr_color;
use crate::live::fetch::{FetchOptions, fetch};
use crate::live::{LiveDestination, LiveEntity};
use crate::model::DesiredState;
use crate::plan::{Change, Plan, PlanOptions, PlanTarget};
use crate::target::TargetOptions;
use crate::wire::{EntityId, Resource};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// What to apply.
#[derive(Clone, Debug)]
pub enum Input {
    /// Plan now from validated manifests.
    Live {
        /// The desired model.
        desired: DesiredState,
        /// Delete managed Destinations no longer in the manifests.
        prune: bool,
    },
    /// A saved, reviewed plan.
    Saved(Plan),
}

/// How a live apply is approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// `--auto-approve`.
    Auto,
    /// Ask on the terminal (stdin is a tty).
    Ask,
    /// No terminal and no `--auto-approve`: refuse.
    Refuse,
}

/// Everything [`apply`] needs besides the input and the client.
#[derive(Clone)]
pub struct Context {
    /// The endpoint, as plans record it.
    pub endpoint: String,
    /// The sandbox.
    pub sandbox: String,
    /// Secret source.
    pub resolver: Resolver,
    /// Ctrl-C flag.
    pub cancel: Cancel,
    /// How a live plan is approved.
    pub approval: Approval,
    /// Destinations at the same time.
    pub parallelism: usize,
    /// Show indicatif progress on stderr.
    pub progress: bool,
    /// Show the plan on stderr before applying it (live applies).
    pub show_plan: bool,
    /// Colour the plan shown on stderr.
    pub color: bool,
}

/// The result of [`apply`].
#[derive(Clone, Debug)]
pub struct Applied {
    /// The plan that was executed.
    pub plan: Plan,
    /// What happened.
    pub report: ApplyReport,
}

fn fetch_options(desired: &DesiredState) -> FetchOptions {
    FetchOptions {
        campaign_flow_spec: desired
            .destinations
            .iter()
            .any(|d| matches!(d.platform.info().flow_spec, FlowSpecRef::Name(_))),
    }
}

/// Re-plans one entity after a 412: one GET of it, then the plan's `update_for`.
pub struct LiveReplanner {
    client: Client,
    desired: DesiredState,
    managed: BTreeMap<String, LiveDestination>,
    campaign_flow_spec_id: Option<String>,
}

impl LiveReplanner {
    /// A re-planner for `desired`, over the live state read before planning.
    pub fn new(client: Client, desired: DesiredState, live: &crate::live::LiveState) -> Self {
        LiveReplanner {
            client,
            desired,
            managed: live.managed(),
            campaign_flow_spec_id: live.campaign_flow_spec_id.clone(),
        }
    }
}

impl Replanner for LiveReplanner {
    fn replan<'a>(
        &'a self,
        name: &'a str,
        resource: Resource,
        id: &'a EntityId,
    ) -> BoxFuture<'a, Result<Option<Change>, ReplanError>> {
        Box::pin(async move {
            let raw = self.client.get(resource, id).await?;
            let entity = LiveEntity::from_raw(resource, raw).ok_or_else(|| {
                format!(
                    "{} {} came back without id or etag",
                    resource.collection(),
                    id.0
                )
            })?;
            let Some(d) = self
                .desired
                .destinations
                .iter()
                .find(|d| d.name.as_str() == name)
            else {
                return Ok(None);
            };
            let mut dest = self
                .managed
                .get(name)
                .cloned()
                .unwrap_or_else(|| LiveDestination {
                    name: name.to_owned(),
                    ..LiveDestination::default()
                });
            let slot = match resource {
                Resource::Flow => &mut dest.flow,
                Resource::TargetConnection => &mut dest.target_connection,
                Resource::SourceConnection => &mut dest.source_connection,
                Resource::Connection
                    if entity.connection_spec_id() == Some(PROFILE_STORE_SPEC_ID) =>
                {
                    &mut dest.profile_connection
                }
                Resource::Connection => &mut dest.connection,
            };
            *slot = Some(std::sync::Arc::new(entity));
            Ok(crate::plan::update_for(
                d,
                &dest,
                resource,
                self.campaign_flow_spec_id.as_deref(),
            )?)
        })
    }
}

/// Reads a yes/no on the terminal without blocking the runtime; Ctrl-C answers no.
async fn ask(cancel: &Cancel) -> Result<(), ApplyError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A plain thread: a pending read of stdin must not keep the runtime from shutting down.
    std::thread::spawn(move || {
        let r = confirm(&mut std::io::stdin().lock(), &mut std::io::stderr());
        let _ = tx.send(r);
    });
    tokio::select! {
        r = rx => r.unwrap_or(Err(ApplyError::NotConfirmed)),
        _ = cancel.cancelled() => Err(ApplyError::NotConfirmed),
    }
}

/// Applies `input` through `client`. Nothing is written before the plan is built, every secret
/// is resolved and (saved plans) the pre-flight passed, or (live) the plan was approved.
pub async fn apply(input: Input, client: &Client, ctx: &Context) -> Result<Applied, ApplyError> {
    let (plan, prepared, mode) = match input {
        Input::Live { desired, prune } => {
            ctx.resolver.check_desired(&desired)?;
            let live = fetch(client, &fetch_options(&desired))
                .await
                .map_err(ApplyError::Fetch)?;
            let opts = PlanOptions {
                target: PlanTarget {
                    endpoint: ctx.endpoint.clone(),
                    sandbox: ctx.sandbox.clone(),
                },
                prune,
            };
            let (plan, details) = crate::plan::build(&desired, &live, &opts)?;
            let locations = SecretLocations::from_desired(&desired);
            let prepared = Prepared::new(&plan, &ctx.resolver, &locations)?;
            if !plan.has_changes() {
                if ctx.show_plan {
                    eprintln!("No changes: the live state matches the manifests.");
                }
                let mut report = ApplyReport::default();
                report.finish(Duration::ZERO);
                return Ok(Applied { plan, report });
            }
            if ctx.show_plan || ctx.approval == Approval::Ask {
                eprint!(
                    "{}",
                    crate::render::text::render(&plan, Some(&details), ctx.color)
                );
            }
            match ctx.approval {
                Approval::Auto => {}
                Approval::Ask => ask(&ctx.cancel).await?,
                Approval::Refuse => return Err(ApplyError::NoTerminal),
            }
            let replanner = LiveReplanner::new(client.clone(), desired, &live);
            (plan, prepared, Mode::Live(Arc::new(replanner)))
        }
        Input::Saved(plan) => {
            let prepared = Prepared::new(&plan, &ctx.resolver, &SecretLocations::default())?;
            let live = fetch(client, &FetchOptions::default())
                .await
                .map_err(ApplyError::Fetch)?;
            let target = PlanTarget {
                endpoint: ctx.endpoint.clone(),
                sandbox: ctx.sandbox.clone(),
            };
            preflight::check(&plan, &live, &target)?;
            (plan, prepared, Mode::Saved)
        }
    };
    let progress: Arc<dyn Progress> = if ctx.progress {
        Arc::new(TerminalProgress::new(prepared.graph().groups.len()))
    } else {
        Arc::new(NoProgress)
    };
    let opts = ExecuteOptions {
        parallelism: ctx.parallelism,
        mode,
        cancel: ctx.cancel.clone(),
        progress,
        resolver: ctx.resolver.clone(),
        locations: SecretLocations::default(),
    };
    let report = prepared.execute(client, &opts).await;
    if ctx.progress && !prepared.graph().groups.is_empty() {
        // The progress bars end without a newline; the report starts on a line of its own.
        eprintln!();
    }
    Ok(Applied { plan, report })
}

/// `destctl apply`: prints the report on stdout; errors (including an incomplete apply) for
/// `main` to turn into exit code 1.
pub async fn run(args: &ApplyArgs, target: &TargetOptions) -> Result<(), crate::Error> {
    let color = stderr_color();
    let resolver = Resolver::process().map_err(ApplyError::CurrentDir)?;
    let input = match &args.plan {
        Some(path) => Input::Saved(super::read_plan_file(path)?),
        None => {
            let loaded = crate::manifest::load(&args.paths)?;
            if !loaded.warnings.is_empty() {
                eprint!("{}", loaded.render_warnings(color));
            }
            Input::Live {
                desired: loaded.desired,
                prune: args.prune,
            }
        }
    };
    let approval = if args.auto_approve || matches!(input, Input::Saved(_)) {
        Approval::Auto
    } else if std::io::stdin().is_terminal() {
        Approval::Ask
    } else {
        return Err(ApplyError::NoTerminal.into());
    };
    let resolved = crate::target::resolve(target).map_err(ApplyError::from)?;
    let sandbox = resolved.sandbox().to_owned();
    let connected = crate::target::connect(resolved)
        .await
        .map_err(ApplyError::from)?;
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
    let ctx = Context {
        endpoint: connected.endpoint.clone(),
        sandbox,
        resolver,
        cancel,
        approval,
        parallelism: usize::from(args.parallelism),
        progress: std::io::stderr().is_terminal(),
        show_plan: true,
        color,
    };
    let applied = apply(input, &connected.client, &ctx).await;
    on_signal.abort();
    let applied = applied?;
    let report = &applied.report;
    match args.format {
        ReportFormat::Text => print!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", report.to_json()),
    }
    if report.is_success() {
        Ok(())
    } else {
        Err(ApplyError::Incomplete {
            failed: report.failures.len(),
            not_run: report.not_run.len(),
            interrupted: report.interrupted,
        }
        .into())
    }
}
