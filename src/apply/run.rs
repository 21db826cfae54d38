//! The live parts of `apply`: read live state, plan and have the plan approved (live) or
//! pre-flight it (saved), execute. What the user sees (the plan, the question, progress) goes
//! through an [`Observer`] the command provides; nothing here prints.

use super::execute::{BoxFuture, Cancel, Mode, Progress, ReplanError, Replanner};
use super::preflight;
use super::report::ApplyReport;
use super::secrets::{Resolver, SecretLocations};
use super::{ApplyError, ExecuteOptions, Prepared};
use crate::catalog::PROFILE_STORE_SPEC_ID;
use crate::client::Client;
use crate::fetch::{FetchOptions, fetch};
use crate::live::{LiveDestination, LiveEntity};
use crate::model::DesiredState;
use crate::plan::{Change, Plan, PlanDetails, PlanOptions, PlanTarget};
use crate::wire::{EntityId, Resource};
use std::collections::BTreeMap;
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

/// What an apply shows its user: the plan before it is approved, the question, and the
/// progress of the execution. Every method defaults to showing nothing.
pub trait Observer: Progress {
    /// A live plan (for `plan.target`) has no changes; nothing will be sent.
    fn no_changes(&self, _plan: &Plan) {}

    /// A live plan with changes, before it is approved.
    fn planned(&self, _plan: &Plan, _details: &PlanDetails) {}

    /// Asks whether to apply the plan just shown ([`Approval::Ask`]); `Ok` approves. Ctrl-C
    /// (`cancel`) answers no.
    fn confirm<'a>(&'a self, _cancel: &'a Cancel) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async { Err(ApplyError::NotConfirmed) })
    }
}

/// An observer that shows nothing (and never approves when asked).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
impl Observer for Silent {}

/// Everything [`apply`] needs besides the input and the client.
#[derive(Clone)]
pub struct Context {
    /// The endpoint, as plans record it.
    pub endpoint: String,
    /// The sandbox.
    pub sandbox: String,
    /// Secret source.
    pub resolver: Resolver,
    /// Ctrl-C token.
    pub cancel: Cancel,
    /// How a live plan is approved.
    pub approval: Approval,
    /// Destinations at the same time.
    pub parallelism: usize,
    /// What the user sees.
    pub observer: Arc<dyn Observer>,
    /// The Destinations a live plan may touch (`--only`); saved plans are already scoped.
    pub scope: crate::model::Scope,
}

/// The result of [`apply`].
#[derive(Clone, Debug)]
pub struct Applied {
    /// The plan that was executed.
    pub plan: Plan,
    /// What happened.
    pub report: ApplyReport,
}

/// A re-read entity without its id or etag.
#[derive(Debug, thiserror::Error)]
#[error("{collection} {id} came back without id or etag")]
struct IncompleteEntity {
    collection: &'static str,
    id: String,
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
            let entity = LiveEntity::from_raw(resource, raw).ok_or_else(|| IncompleteEntity {
                collection: resource.collection(),
                id: id.0.clone(),
            })?;
            if let Some(e) = self
                .desired
                .dataset_exports
                .iter()
                .find(|e| e.name.as_str() == name)
            {
                let mut group =
                    self.managed
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| LiveDestination {
                            name: name.to_owned(),
                            ..LiveDestination::default()
                        });
                let entity = std::sync::Arc::new(entity);
                match resource {
                    Resource::Flow => group.flow = Some(entity),
                    Resource::TargetConnection => group.target_connection = Some(entity),
                    _ => {}
                }
                let account = self
                    .managed
                    .get(e.destination.as_str())
                    .and_then(|d| d.connection.as_ref())
                    .map(|c| c.id.0.clone());
                return Ok(crate::plan::dataset_update_for(
                    e, &group, resource, account,
                )?);
            }
            let Some(d) = self
                .desired
                .destinations
                .iter()
                .find(|d| d.name.as_str() == name)
            else {
                return Ok(None);
            };
            let mut managed = self.managed.clone();
            crate::plan::take_over_former_names(&mut managed, &self.desired.destinations);
            let mut dest = managed
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
                Resource::MappingSet => return Ok(None),
            };
            *slot = Some(std::sync::Arc::new(entity));
            Ok(crate::plan::update_of(
                d,
                &dest,
                resource,
                id,
                self.campaign_flow_spec_id.as_deref(),
            )?)
        })
    }
}

/// The checks that need no Flow Service, run before connecting so that bad input sends
/// nothing (not even the apply lock's lease): every secret of the manifests (live) or of the
/// saved plan resolves to a non-blank value.
pub fn check_offline(input: &Input, resolver: &Resolver) -> Result<(), ApplyError> {
    match input {
        Input::Live { desired, .. } => resolver.check_desired(desired).map_err(Into::into),
        Input::Saved(plan) => {
            Prepared::new(plan, resolver, &SecretLocations::default()).map(|_| ())
        }
    }
}

/// Applies `input` through `client`. Nothing is written before the plan is built, every secret
/// is resolved and (saved plans) the pre-flight passed, or (live) the plan was approved.
pub async fn apply(input: Input, client: &Client, ctx: &Context) -> Result<Applied, ApplyError> {
    let (plan, prepared, mode) = match input {
        Input::Live { desired, prune } => {
            let desired = desired.scoped(&ctx.scope);
            ctx.resolver.check_desired(&desired)?;
            let live = fetch(client, &FetchOptions::for_desired(&desired))
                .await
                .map_err(ApplyError::Fetch)?
                .scoped(&ctx.scope);
            let opts = PlanOptions {
                target: PlanTarget {
                    endpoint: ctx.endpoint.clone(),
                    sandbox: ctx.sandbox.clone(),
                },
                prune,
            };
            let (mut plan, details) = crate::plan::build(&desired, &live, &opts)?;
            plan.changed_outside =
                crate::drift::changed_outside(&desired, &live, &details, opts.target.clone());
            let locations = SecretLocations::from_desired(&desired);
            let prepared = Prepared::new(&plan, &ctx.resolver, &locations)?;
            if !plan.has_changes() {
                ctx.observer.no_changes(&plan);
                let mut report = ApplyReport::default();
                report.finish(Duration::ZERO);
                return Ok(Applied { plan, report });
            }
            ctx.observer.planned(&plan, &details);
            match ctx.approval {
                Approval::Auto => {}
                Approval::Ask => ctx.observer.confirm(&ctx.cancel).await?,
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
    let progress: Arc<dyn Progress> = ctx.observer.clone();
    let opts = ExecuteOptions {
        parallelism: ctx.parallelism,
        mode,
        cancel: ctx.cancel.clone(),
        progress,
        resolver: ctx.resolver.clone(),
        locations: SecretLocations::default(),
    };
    let report = prepared.execute(client, &opts).await;
    Ok(Applied { plan, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Auth, ClientConfig};
    use crate::emulator::{
        EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, Emulator, EmulatorConfig,
    };
    use std::path::PathBuf;
    use std::sync::Mutex;

    /// Records what an apply showed, and answers the question with `approve`.
    struct Recorder {
        approve: bool,
        seen: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn new(approve: bool) -> Arc<Recorder> {
            Arc::new(Recorder {
                approve,
                seen: Mutex::new(Vec::new()),
            })
        }

        fn seen(&self) -> Vec<String> {
            self.seen.lock().expect("recorder lock").clone()
        }

        fn push(&self, what: String) {
            self.seen.lock().expect("recorder lock").push(what);
        }
    }

    impl Progress for Recorder {
        fn group_finished(&self, _group: usize, ok: bool) {
            self.push(format!("group ok={ok}"));
        }
    }

    impl Observer for Recorder {
        fn no_changes(&self, _plan: &Plan) {
            self.push("no changes".into());
        }

        fn planned(&self, plan: &Plan, _details: &PlanDetails) {
            self.push(format!("planned {}", plan.changes.len()));
        }

        fn confirm<'a>(&'a self, _cancel: &'a Cancel) -> BoxFuture<'a, Result<(), ApplyError>> {
            self.push("asked".into());
            let approve = self.approve;
            Box::pin(async move {
                if approve {
                    Ok(())
                } else {
                    Err(ApplyError::NotConfirmed)
                }
            })
        }
    }

    #[tokio::test]
    async fn what_the_user_sees_goes_through_the_observer() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let desired = crate::manifest::load(&[
            root.join("manifests/campaign-s3.yaml"),
            root.join("manifests/schedules.yaml"),
        ])
        .expect("the examples validate")
        .desired;
        let emu = Emulator::start(EmulatorConfig::default())
            .await
            .expect("the emulator starts");
        let base = emu.base_url();
        let client = Client::new(ClientConfig::new(
            base.clone(),
            "prod",
            Auth::ClientCredentials {
                ims_url: base.clone(),
                client_id: EMBEDDED_CLIENT_ID.into(),
                client_secret: EMBEDDED_CLIENT_SECRET.into(),
                org_id: EMBEDDED_ORG_ID.into(),
                scopes: "openid".into(),
            },
        ))
        .expect("a client");
        let ctx = |observer: Arc<Recorder>| Context {
            endpoint: base.clone(),
            sandbox: "prod".into(),
            resolver: Resolver::new(|_| None, root.clone()),
            cancel: Cancel::new(),
            approval: Approval::Ask,
            parallelism: 2,
            observer,
            scope: crate::model::Scope::all(),
        };
        let live = || Input::Live {
            desired: desired.clone(),
            prune: false,
        };

        let refused = Recorder::new(false);
        let err = apply(live(), &client, &ctx(refused.clone()))
            .await
            .expect_err("not approved");
        assert!(matches!(err, ApplyError::NotConfirmed), "{err}");
        let seen = refused.seen();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[0].starts_with("planned ") && seen[1] == "asked",
            "{seen:?}"
        );

        let approved = Recorder::new(true);
        let applied = apply(live(), &client, &ctx(approved.clone()))
            .await
            .expect("applied");
        assert!(applied.report.is_success());
        let seen = approved.seen();
        // The refusal wrote nothing: the same plan again.
        assert_eq!(seen[0], refused.seen()[0]);
        assert_eq!(&seen[1], "asked", "{seen:?}");
        assert!(seen[2..].iter().all(|s| s == "group ok=true"), "{seen:?}");
        assert!(seen.len() > 2, "{seen:?}");

        let again = Recorder::new(false);
        apply(live(), &client, &ctx(again.clone()))
            .await
            .expect("nothing to do");
        assert_eq!(again.seen(), vec!["no changes".to_owned()]);
        emu.shutdown().await;
    }
}
