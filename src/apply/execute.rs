//! Execution: runs an [`ExecGraph`] against the Flow Service. Groups (Destinations) run in
//! parallel, at most `parallelism` at a time; steps inside a group run one after another, and a
//! failed step stops its group only. Ctrl-C ([`Cancel`]) stops new requests; requests already
//! sent finish.

use super::graph::{ExecGraph, Group, Step};
use super::refs::{CreatedIds, UnresolvedRef};
use super::report::{ApplyReport, DoneItem, FailureItem, FailureKind, NotRunItem, NotRunReason};
use super::secrets::{ResolvedPlan, Resolver, SecretErrors, SecretLocations, Secrets};
use crate::client::{Client, ClientError, FlowAction};
use crate::plan::{Action, Change, IdRef};
use crate::wire::{EntityId, Etag, PatchOp, Resource};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How many times a live apply re-plans a flow after a 412 before failing it.
pub const MAX_REPLANS: u32 = 3;

/// A shared stop flag (Ctrl-C): once cancelled, no new request is sent.
pub type Cancel = tokio_util::sync::CancellationToken;

/// Error of a re-plan after a 412.
pub type ReplanError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed future, for [`Replanner`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Re-reads one entity and re-plans it (live applies): returns the fresh update for it, or
/// `None` when it already matches the manifests.
pub trait Replanner: Send + Sync {
    /// The new update change for `resource` `id` of Destination `name`.
    fn replan<'a>(
        &'a self,
        name: &'a str,
        resource: Resource,
        id: &'a EntityId,
    ) -> BoxFuture<'a, Result<Option<Change>, ReplanError>>;
}

/// What to do on a 412.
#[derive(Clone)]
pub enum Mode {
    /// Saved plan: the change races with someone else; fail that Destination.
    Saved,
    /// Live apply: re-plan the entity and retry, at most [`MAX_REPLANS`] times.
    Live(Arc<dyn Replanner>),
}

/// Progress events, for a progress display. All methods default to doing nothing.
pub trait Progress: Send + Sync {
    /// A group is about to run `steps` steps.
    fn group_started(&self, _group: usize, _names: &[String], _steps: usize) {}
    /// One step of a group succeeded.
    fn step_done(&self, _group: usize, _what: &str) {}
    /// A group ended (`ok` false: it failed or was interrupted).
    fn group_finished(&self, _group: usize, _ok: bool) {}
}

/// No progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Everything an execution needs besides the graph and plan.
#[derive(Clone)]
pub struct Executor {
    /// The client.
    pub client: Client,
    /// Groups run at the same time (at least 1).
    pub parallelism: usize,
    /// 412 handling.
    pub mode: Mode,
    /// Stop flag.
    pub cancel: Cancel,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
    /// Resolves secrets of re-planned changes.
    pub resolver: Resolver,
    /// Manifest locations, for secret errors of re-planned changes.
    pub locations: SecretLocations,
}

/// Whether a client error is a 412 Precondition Failed.
pub fn is_precondition_failed(e: &ClientError) -> bool {
    matches!(e, ClientError::PreconditionFailed(_))
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Ref(#[from] UnresolvedRef),
    #[error("re-planning after a 412 failed: {0}")]
    Replan(ReplanError),
    #[error(transparent)]
    Secret(#[from] SecretErrors),
    #[error("still 412 Precondition Failed after {MAX_REPLANS} re-plans: {last}")]
    TooManyReplans { last: ClientError },
    #[error("interrupted before retrying")]
    Interrupted,
}

impl StepError {
    fn kind(&self) -> FailureKind {
        match self {
            StepError::Client(e) if is_precondition_failed(e) => FailureKind::PreconditionFailed,
            StepError::TooManyReplans { .. } => FailureKind::PreconditionFailed,
            StepError::Client(_) => FailureKind::Api,
            _ => FailureKind::Internal,
        }
    }
}

struct GroupOutcome {
    done: Vec<DoneItem>,
    failure: Option<FailureItem>,
    not_run: Vec<NotRunItem>,
    interrupted: bool,
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

/// The id of the entity a change is about, once known.
fn change_id(change: &Change, ids: &CreatedIds) -> Option<String> {
    let id = match (change, change.id()) {
        (Change::Create(c), _) => ids.get(&c.key),
        (_, Some(IdRef::Live(id))) => Some(id),
        (_, Some(IdRef::Ref(k))) => ids.get(k),
        (_, None) => None,
    };
    id.map(|i| i.0.clone())
}

impl Executor {
    /// Runs the graph; `plan` holds the resolved bodies and patches by change index.
    pub async fn run(&self, graph: &ExecGraph, plan: &ResolvedPlan) -> ApplyReport {
        let start = Instant::now();
        let sem = Arc::new(Semaphore::new(self.parallelism.max(1)));
        let plan = Arc::new(plan.clone());
        let mut set = JoinSet::new();
        for (gi, group) in graph.groups.iter().enumerate() {
            let this = self.clone();
            let group = group.clone();
            let sem = sem.clone();
            let plan = plan.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore open");
                (gi, this.run_group(gi, &group, &plan).await)
            });
        }
        let mut outcomes: Vec<Option<GroupOutcome>> =
            (0..graph.groups.len()).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            let (gi, o) = joined.expect("apply task panicked");
            outcomes[gi] = Some(o);
        }
        let mut report = ApplyReport::default();
        for o in outcomes.into_iter().flatten() {
            report.done.extend(o.done);
            report.failures.extend(o.failure);
            report.not_run.extend(o.not_run);
            report.interrupted |= o.interrupted;
        }
        report.finish(start.elapsed());
        report
    }

    async fn run_group(&self, gi: usize, group: &Group, plan: &ResolvedPlan) -> GroupOutcome {
        let mut out = GroupOutcome {
            done: Vec::new(),
            failure: None,
            not_run: Vec::new(),
            interrupted: false,
        };
        let mut ids = CreatedIds::default();
        let not_run = |steps: &[Step], reason, ids: &CreatedIds| {
            steps
                .iter()
                .map(|s| {
                    let c = plan.change(s.index);
                    NotRunItem {
                        name: s.name.clone(),
                        action: c.action(),
                        resource: c.resource(),
                        id: change_id(c, ids),
                        reason,
                    }
                })
                .collect::<Vec<_>>()
        };
        self.progress
            .group_started(gi, &group.names, group.steps.len());
        for (si, step) in group.steps.iter().enumerate() {
            if self.cancel.is_cancelled() {
                out.interrupted = true;
                out.not_run = not_run(&group.steps[si..], NotRunReason::Interrupted, &ids);
                break;
            }
            match self.run_step(step, plan, &mut ids, &mut out.done).await {
                Ok(()) => {
                    let c = plan.change(step.index);
                    self.progress.step_done(
                        gi,
                        &format!(
                            "{} {} {}",
                            c.action().as_str(),
                            crate::plan::resource_word(c.resource()),
                            step.name
                        ),
                    );
                }
                Err(e) => {
                    let c = plan.change(step.index);
                    if matches!(e, StepError::Interrupted)
                        || matches!(&e, StepError::Client(c) if c.interrupted_before_sending())
                    {
                        out.interrupted = true;
                        out.not_run = not_run(&group.steps[si..], NotRunReason::Interrupted, &ids);
                        break;
                    }
                    out.failure = Some(FailureItem {
                        name: step.name.clone(),
                        action: c.action(),
                        resource: c.resource(),
                        id: change_id(c, &ids),
                        kind: e.kind(),
                        error: e.to_string(),
                    });
                    // Stopped while its answer was awaited: the outcome is unknown.
                    out.interrupted |=
                        matches!(&e, StepError::Client(ClientError::Interrupted { .. }));
                    out.not_run =
                        not_run(&group.steps[si + 1..], NotRunReason::EarlierFailure, &ids);
                    break;
                }
            }
        }
        self.progress
            .group_finished(gi, out.failure.is_none() && !out.interrupted);
        out
    }

    async fn run_step(
        &self,
        step: &Step,
        plan: &ResolvedPlan,
        ids: &mut CreatedIds,
        done: &mut Vec<DoneItem>,
    ) -> Result<(), StepError> {
        let change = plan.change(step.index);
        let t = Instant::now();
        let item = |action, resource, id: &EntityId, key: Option<String>, note, t| DoneItem {
            name: step.name.clone(),
            action,
            resource,
            id: id.0.clone(),
            key,
            note,
            of_create: false,
            elapsed_ms: ms(t),
        };
        let secrets = plan.secrets();
        match change {
            Change::Create(c) => {
                let mut body = secrets.expose(&c.body);
                ids.substitute(&mut body)?;
                let w = self.client.create(c.resource, &body).await?;
                drop(body);
                ids.insert(&c.key, w.id.clone());
                done.push(item(
                    Action::Create,
                    c.resource,
                    &w.id,
                    Some(c.key.clone()),
                    None,
                    t,
                ));
                if let Some(ops) = &c.activation
                    && !ops.is_empty()
                {
                    if self.cancel.is_cancelled() {
                        return Err(StepError::Interrupted);
                    }
                    let t = Instant::now();
                    let note =
                        format!("activation, {}", crate::diagnostics::count(ops.len(), "op"));
                    let patch = Patch {
                        resource: c.resource,
                        id: &w.id,
                        etag: w.etag.clone(),
                        ops: ops.clone(),
                        replan: true,
                    };
                    if let Some((w, replans)) = self
                        .patch_with_retry(&step.name, patch, secrets, ids)
                        .await?
                    {
                        done.push(DoneItem {
                            of_create: true,
                            ..item(
                                Action::Update,
                                c.resource,
                                &w.id,
                                None,
                                Some(with_replans(note, replans)),
                                t,
                            )
                        });
                    }
                }
            }
            Change::Update(u) | Change::Adopt(u) => {
                let id = ids.resolve_id(&u.id)?;
                let note = crate::diagnostics::count(u.patch.len(), "op");
                let patch = Patch {
                    resource: u.resource,
                    id: &id,
                    etag: ids.current_etag(&id, &u.etag),
                    ops: u.patch.clone(),
                    // An adopted entity has no marker yet, so a re-plan would not find it: a
                    // 412 on an adoption fails its Destination instead.
                    replan: matches!(change, Change::Update(_)),
                };
                if let Some((w, replans)) = self
                    .patch_with_retry(&step.name, patch, secrets, ids)
                    .await?
                {
                    ids.record_etag(w.id.clone(), w.etag.clone());
                    done.push(item(
                        change.action(),
                        u.resource,
                        &w.id,
                        None,
                        Some(with_replans(note, replans)),
                        t,
                    ));
                }
            }
            Change::Enable(f) | Change::Disable(f) => {
                let flow_action = if matches!(change, Change::Enable(_)) {
                    FlowAction::Enable
                } else {
                    FlowAction::Disable
                };
                let id = ids.resolve_id(&f.id)?;
                let w = self.client.flow_action(&id, flow_action).await?;
                ids.record_etag(w.id, w.etag);
                done.push(item(change.action(), Resource::Flow, &id, None, None, t));
            }
            Change::Delete(d) => {
                let id = ids.resolve_id(&d.id)?;
                self.client.delete(d.resource, &id).await?;
                done.push(item(Action::Delete, d.resource, &id, None, None, t));
            }
        }
        Ok(())
    }

    /// Sends a patch, its secrets exposed and its references resolved just before each
    /// attempt; on 412 in a live apply, re-plans and retries. `None`: the re-plan found nothing
    /// left to do.
    async fn patch_with_retry(
        &self,
        name: &str,
        mut patch: Patch<'_>,
        secrets: &Secrets,
        ids: &CreatedIds,
    ) -> Result<Option<(crate::client::WriteResult, u32)>, StepError> {
        let mut replans = 0;
        let mut replanned_secrets: Option<Secrets> = None;
        loop {
            let mut ops = replanned_secrets
                .as_ref()
                .unwrap_or(secrets)
                .expose_ops(&patch.ops);
            for op in &mut ops {
                if let Some(v) = op.value.as_mut() {
                    ids.substitute(v)?;
                }
            }
            let sent = self
                .client
                .patch(patch.resource, patch.id, &patch.etag, &ops)
                .await;
            drop(ops);
            let err = match sent {
                Ok(w) => return Ok(Some((w, replans))),
                Err(e) => e,
            };
            let Mode::Live(replanner) = &self.mode else {
                return Err(err.into());
            };
            if !patch.replan {
                return Err(err.into());
            }
            if !is_precondition_failed(&err) {
                return Err(err.into());
            }
            if replans == MAX_REPLANS {
                return Err(StepError::TooManyReplans { last: err });
            }
            if self.cancel.is_cancelled() {
                return Err(StepError::Interrupted);
            }
            replans += 1;
            tracing::info!(name, resource = ?patch.resource, id = %patch.id.0, replans, "412: re-planning");
            let fresh = replanner
                .replan(name, patch.resource, patch.id)
                .await
                .map_err(StepError::Replan)?;
            let Some(change) = fresh else {
                return Ok(None);
            };
            let mut fresh_secrets = Secrets::default();
            let mut errors = Vec::new();
            self.resolver.resolve_change(
                0,
                &change,
                &self.locations,
                &mut fresh_secrets,
                &mut errors,
            );
            if !errors.is_empty() {
                return Err(SecretErrors(errors).into());
            }
            match change {
                Change::Update(u) if !u.patch.is_empty() => {
                    patch.etag = u.etag;
                    patch.ops = u.patch;
                    replanned_secrets = Some(fresh_secrets);
                }
                _ => return Ok(None),
            }
        }
    }
}

/// A `PATCH` to send: its ops still hold their secret and `${ref:}` references.
struct Patch<'a> {
    resource: Resource,
    id: &'a EntityId,
    etag: Etag,
    ops: Vec<PatchOp>,
    /// Whether a 412 in a live apply re-plans (not for adoptions).
    replan: bool,
}

fn with_replans(note: String, replans: u32) -> String {
    match replans {
        0 => note,
        1 => format!("{note}, after 1 re-plan"),
        n => format!("{note}, after {n} re-plans"),
    }
}
