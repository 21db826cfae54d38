//! A local Adobe Experience Platform Flow Service and IMS token endpoint: served by
//! `destctl emulator`, started in-process by tests ([`Emulator::start`]) or used without a
//! socket ([`router`]). Its answers follow Adobe's public Flow Service documentation; where
//! that is silent or contradicts itself, the choices made (gateway checks, error codes, list
//! order and paging, PATCH and DELETE rules, faults, the state file, the destination cards and
//! their DOC-ERROR decisions, dataset exports) are written down in `docs/emulator.md`.
//!
//! # Routes
//!
//! * `POST /ims/token/v3` — OAuth server-to-server, form-encoded (body or query string):
//!   `grant_type=client_credentials&client_id=…&client_secret=…` →
//!   `{access_token, token_type:"bearer", expires_in}` (seconds). With
//!   [`EmulatorConfig::credentials`] only the listed pairs get a token, and a pair listed with
//!   an org gets one entitled to that org only (403 `403025` elsewhere); see `ims.rs`.
//! * Under `/data/foundation/flowservice`: `connectionSpecs[/{id}]`, `flowSpecs[/{id}]`,
//!   `connections`, `sourceConnections`, `targetConnections`, `flows` (list, create, get,
//!   PATCH, DELETE), `POST flows/{id}/action?op=enable|disable`, `runs[/{id}]`.
//! * Under `/data/foundation/conversion` (Data Prep): `schemas[/{id}]` and versioned
//!   `mappingSets[/{id}]` (create 200, GET latest or `?version=N`, PUT a new version); see
//!   `dataprep.rs`.
//! * Outside the API: `GET /_emulator/requests` (`{"total":n,"requests":{"GET /path":n}}`,
//!   counted by method and route template, IMS included, `/_emulator` excluded) and
//!   `POST /_emulator/reset` (204; drops every entity of every org and the counts; issued
//!   tokens and faults stay), and `POST /_emulator/flows/{id}/edit`, an out-of-band edit
//!   ([`OutOfBandEdit`]) over HTTP: body `{"org": "…@AdobeOrg" (default
//!   [`EMBEDDED_ORG_ID`]), "sandbox": "prod" (default), "edit": E}` where E is one of
//!   `{"rename": "…"}`, `{"description": "…"}`, `{"enable": true}`, `{"disable": true}`,
//!   `{"patch": [ops]}`, `{"removeAudience": "<segment id>"}`,
//!   `{"schedule": {"audience": "<segment id>", "schedule": {…}}}`,
//!   `{"filenameTemplate": {"audience": "<segment id>", "template": "…"}}`,
//!   `{"location": {<target connection params to set>}}` (changes the flow's target
//!   connection), `{"account": {<auth params to set>}}` (changes the flow's destination
//!   account), `{"delete": true}`; optional `"by"`, `"client"`, `"at"` (epoch ms) set
//!   `updatedBy`, `updatedClient`, `updatedAt` (default: `aep-ui-user@AdobeID`, `exc_app`,
//!   now) → 200 `{id, etag}`; 404 `1439` when that org and sandbox have no such
//!   flow; 400 `1455` when the edit breaks the flow rules, 400 `1405` for any other body.
//!   No gateway checks, no faults, not counted.
//! * `GET /_emulator/clock` (`{now, nowMs}`) and `POST /_emulator/clock` with
//!   `{"advance": "36h"}` or `{"set": "<RFC 3339>"}`: the simulated clock (`clock.rs`) moves
//!   forward and the runs due meanwhile are produced (`runs.rs`); `{now, nowMs, runsCreated}`.
//!   `POST /_emulator/flows/{id}/fail` (`{"org"?, "sandbox"?, "runs"?, "code"?,
//!   "message"?}`): the flow's next runs fail. Every answer's `Date` is the simulated clock.

mod clock;
pub(crate) use clock::duration_secs;
mod dataprep;
mod datasets;
mod error;
mod faults;
mod gateway;
mod ims;
mod patch;
mod query;
mod resources;
mod runs;
mod server;
mod specs;
mod store;
mod support;

pub use dataprep::DATA_PREP_BASE;
pub use faults::{FaultConfig, Latency};
pub use ims::{ImsCredential, ImsCredentialError};
pub use patch::{PatchEngineError, PatchRejection, apply_flow_patch, patch_engine};
pub use resources::SECRET_MASK;
pub use server::FLOW_SERVICE_BASE;
#[doc(hidden)]
pub use support::SeedFlows;

use crate::wire::Resource;
use resources::Actor;
use serde_json::{Value, json};
use server::AppState;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Client id of the embedded default credentials (any non-empty id is accepted).
pub const EMBEDDED_CLIENT_ID: &str = "destctl-emulator";
/// Client secret of the embedded default credentials; not a secret: the emulator accepts any
/// non-empty one.
pub const EMBEDDED_CLIENT_SECRET: &str = "destctl-emulator-secret";
/// IMS org id of the embedded default credentials.
pub const EMBEDDED_ORG_ID: &str = "0000000000000000DE57C711@AdobeOrg";

/// How to run an emulator.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to bind (default `127.0.0.1:0`, a free port).
    pub listen: SocketAddr,
    /// The state file; `None` keeps state in memory.
    pub state_file: Option<PathBuf>,
    /// Answer 400 `2105` when `x-sandbox-name` is missing instead of using `prod`.
    pub strict_sandbox: bool,
    /// Lifetime of IMS tokens (default 24 h).
    pub token_lifetime: Duration,
    /// Faults to inject.
    pub faults: FaultConfig,
    /// Time a client has to send a request's headers (from the connection's start or the end
    /// of its previous response); then the connection is closed (default 10 s).
    pub header_timeout: Duration,
    /// Connections served at once (default 256); more wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body (default 64 MiB); above it, 413 with the Flow Service error body.
    pub max_body_bytes: usize,
    /// Where the simulated clock starts, epoch milliseconds (default: the real time); it then
    /// ticks with real time and moves forward with `POST /_emulator/clock`.
    pub clock_start_ms: Option<i64>,
    /// The credentials IMS accepts (empty, the default: any non-empty pair); a credential
    /// with an org gets tokens entitled to that org only.
    pub credentials: Vec<ImsCredential>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            strict_sandbox: false,
            token_lifetime: Duration::from_secs(24 * 3600),
            faults: FaultConfig::default(),
            header_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_body_bytes: 64 << 20,
            clock_start_ms: None,
            credentials: Vec::new(),
        }
    }
}

/// Errors of the emulator's API (not HTTP errors, which are responses).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The state file cannot be read, parsed or written.
    #[error("emulator state file {}: {message}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another emulator (another destctl run) holds the state file's lock.
    #[error(
        "emulator state file {} is in use by another destctl process (lock {} is held); stop it or use another directory",
        path.display(),
        lock.display()
    )]
    StateLocked {
        /// The state file.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("emulator server failed")]
    Serve(#[source] std::io::Error),
    /// No such flow in that org and sandbox.
    #[error("no flow {flow_id} in org {org}, sandbox {sandbox}")]
    NoSuchFlow {
        /// Org id.
        org: String,
        /// Sandbox name.
        sandbox: String,
        /// Flow id.
        flow_id: String,
    },
    /// An out-of-band edit or seed broke the flow rules.
    #[error("edit refused: {0}")]
    Rejected(String),
}

impl From<store::PersistFailed> for EmulatorError {
    fn from(e: store::PersistFailed) -> EmulatorError {
        EmulatorError::StateFile {
            path: e.path,
            message: format!("cannot write: {}", e.error),
        }
    }
}

/// A change made to a flow outside the API client, as a person in the AEP UI would.
#[derive(Clone, Debug, PartialEq)]
pub enum OutOfBandEdit {
    /// Rename the flow.
    Rename(String),
    /// Replace its description.
    SetDescription(String),
    /// Disable it.
    Disable,
    /// Enable it.
    Enable,
    /// Apply a JSON Patch (the same rules as the API's PATCH).
    Patch(Value),
    /// Stop exporting the audience with this segment id (its selector is removed).
    RemoveAudience(String),
    /// Replace the `schedule` of the audience `audience`.
    SetSchedule {
        /// The segment id.
        audience: String,
        /// The new schedule object.
        schedule: Value,
    },
    /// Replace the `filenameTemplate` of the audience `audience`.
    SetFilenameTemplate {
        /// The segment id.
        audience: String,
        /// The new template.
        template: String,
    },
    /// Set these keys of the flow's target connection `params` (the file location); the
    /// target connection is what changes (and records who and when).
    SetLocation(serde_json::Map<String, Value>),
    /// Set these keys of the `auth.params` of the flow's destination account (the base
    /// connection of its target connection), which records who and when.
    SetAccount(serde_json::Map<String, Value>),
    /// Delete the flow (whatever its state).
    Delete,
}

/// Who makes an out-of-band edit, and when; each field defaults to a person in the AEP UI now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditActor {
    /// `updatedBy` (default `aep-ui-user@AdobeID`).
    pub by: Option<String>,
    /// `updatedClient` (default `exc_app`).
    pub client: Option<String>,
    /// `updatedAt`, epoch milliseconds (default now).
    pub at: Option<i64>,
}

/// The JSON Patch replacing the selector of audience `id` in `flow` after `change` edits its
/// `value`.
fn selector_patch(
    flow: &Value,
    id: &str,
    change: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<Value, EmulatorError> {
    let selectors = flow
        .pointer("/transformations/0/params/segmentSelectors/selectors")
        .and_then(Value::as_array)
        .ok_or_else(|| EmulatorError::Rejected("the flow has no audience selectors".into()))?;
    let (index, sel) = selectors
        .iter()
        .enumerate()
        .find(|(_, s)| s.pointer("/value/id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| {
            EmulatorError::Rejected(format!("the flow does not export audience {id}"))
        })?;
    let mut sel = sel.clone();
    if let Some(v) = sel.get_mut("value").and_then(Value::as_object_mut) {
        change(v);
    }
    Ok(json!([{
        "op": "replace",
        "path": format!("/transformations/0/params/segmentSelectors/selectors/{index}"),
        "value": sel,
    }]))
}

/// The emulator's state and control surface; cheap to clone.
#[derive(Clone, Debug)]
pub struct EmulatorState(Arc<AppState>);

impl EmulatorState {
    /// A state for `config` (loads or creates the state file).
    pub fn new(config: &EmulatorConfig) -> Result<EmulatorState, EmulatorError> {
        let (store, persister) = match &config.state_file {
            Some(p) => {
                let lock = store::lock_state(p)?;
                (
                    store::open_state(p)?,
                    Some(store::Persister::new(p.clone(), lock)),
                )
            }
            None => (store::Store::default(), None),
        };
        let state = AppState::new(
            store,
            persister,
            faults::Faults::new(config.faults.clone()),
            config.strict_sandbox,
            config.token_lifetime,
            config.max_body_bytes,
            config.credentials.clone(),
        );
        if let Some(start) = config.clock_start_ms {
            state.start_clock_at(start);
        }
        Ok(EmulatorState(Arc::new(state)))
    }

    /// Replaces the fault configuration (the generator is reseeded).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.0.faults.set(faults);
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.0.faults.config()
    }

    /// The simulated time, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }

    /// Moves the simulated clock forward by `by` and produces the runs due meanwhile; returns
    /// how many runs were made.
    pub async fn advance_clock(&self, by: Duration) -> Result<usize, EmulatorError> {
        self.0.clock.advance(by);
        Ok(self.0.produce_runs().await?)
    }

    /// Makes the next `runs` runs of flow `flow_id` fail with the default error (0: none).
    pub fn fail_runs(&self, flow_id: &str, runs: u32) {
        self.0.runs.fail(
            flow_id,
            runs::Failure {
                remaining: runs,
                code: runs::DEFAULT_FAILURE_CODE.into(),
                message: runs::DEFAULT_FAILURE_MESSAGE.into(),
            },
        );
    }

    /// Requests received, by `"METHOD /route/template"`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.0.counts.lock().expect("lock").clone()
    }

    /// Drops every entity and the request counts.
    pub async fn reset(&self) -> Result<(), EmulatorError> {
        Ok(self.0.reset().await?)
    }

    /// Changes a flow as a person in the AEP UI would; returns the new etag.
    pub async fn out_of_band_edit(
        &self,
        org: &str,
        sandbox: &str,
        flow_id: &str,
        edit: OutOfBandEdit,
    ) -> Result<String, EmulatorError> {
        self.out_of_band_edit_as(org, sandbox, flow_id, edit, &EditActor::default())
            .await
    }

    /// [`EmulatorState::out_of_band_edit`] made by `who` (its `updatedBy`, `updatedClient` and
    /// `updatedAt`). Returns the new etag of the changed entity (the target connection for
    /// [`OutOfBandEdit::SetLocation`], empty for [`OutOfBandEdit::Delete`]).
    pub async fn out_of_band_edit_as(
        &self,
        org: &str,
        sandbox: &str,
        flow_id: &str,
        edit: OutOfBandEdit,
        who: &EditActor,
    ) -> Result<String, EmulatorError> {
        let missing = || EmulatorError::NoSuchFlow {
            org: org.into(),
            sandbox: sandbox.into(),
            flow_id: flow_id.into(),
        };
        self.0.store.existing(org, sandbox).ok_or_else(missing)?;
        let mut actor = Actor::ui(who.at.unwrap_or_else(|| self.0.now_ms()));
        if let Some(by) = &who.by {
            actor.by = by.clone();
        }
        if let Some(client) = &who.client {
            actor.client = client.clone();
        }
        self.0
            .mutate(org, sandbox, |sb| {
                let e = sb.get(Resource::Flow, flow_id).ok_or_else(missing)?;
                let edit = match edit {
                    OutOfBandEdit::RemoveAudience(id) => {
                        let selectors = e
                            .value
                            .pointer("/transformations/0/params/segmentSelectors/selectors")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        let index = selectors
                            .iter()
                            .position(|s| {
                                s.pointer("/value/id").and_then(Value::as_str) == Some(&id)
                            })
                            .ok_or_else(|| {
                                EmulatorError::Rejected(format!(
                                    "the flow does not export audience {id}"
                                ))
                            })?;
                        OutOfBandEdit::Patch(json!([{"op": "remove",
                            "path": format!("/transformations/0/params/segmentSelectors/selectors/{index}")}]))
                    }
                    OutOfBandEdit::SetSchedule { audience, schedule } => OutOfBandEdit::Patch(
                        selector_patch(&e.value, &audience, |v| {
                            v.insert("schedule".into(), schedule);
                        })?,
                    ),
                    OutOfBandEdit::SetFilenameTemplate { audience, template } => {
                        OutOfBandEdit::Patch(selector_patch(&e.value, &audience, |v| {
                            v.insert("filenameTemplate".into(), Value::String(template));
                        })?)
                    }
                    OutOfBandEdit::SetLocation(params) => {
                        let target_id = e
                            .value
                            .pointer("/targetConnectionIds/0")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                EmulatorError::Rejected("the flow has no target connection".into())
                            })?
                            .to_owned();
                        let t = sb.get(Resource::TargetConnection, &target_id).ok_or_else(|| {
                            EmulatorError::Rejected(format!(
                                "the flow's target connection {target_id} does not exist"
                            ))
                        })?;
                        let mut new = (*t.value).clone();
                        if let Some(p) = new.get_mut("params").and_then(Value::as_object_mut) {
                            p.extend(params);
                        } else {
                            new["params"] = Value::Object(params);
                        }
                        let etag = resources::touch(&mut new, &actor);
                        let seq = self.0.store.next_seq();
                        sb.put(Resource::TargetConnection, &target_id, seq, new);
                        return Ok(etag);
                    }
                    OutOfBandEdit::SetAccount(params) => {
                        let rejected = |m: &str| EmulatorError::Rejected(m.to_owned());
                        let target_id = e
                            .value
                            .pointer("/targetConnectionIds/0")
                            .and_then(Value::as_str)
                            .ok_or_else(|| rejected("the flow has no target connection"))?;
                        let account_id = sb
                            .get(Resource::TargetConnection, target_id)
                            .and_then(|t| t.value.get("baseConnectionId")?.as_str().map(str::to_owned))
                            .ok_or_else(|| rejected("the flow's target connection has no account"))?;
                        let a = sb
                            .get(Resource::Connection, &account_id)
                            .ok_or_else(|| rejected("the flow's account does not exist"))?;
                        let mut new = (*a.value).clone();
                        match new.pointer_mut("/auth/params").and_then(Value::as_object_mut) {
                            Some(p) => p.extend(params),
                            None => return Err(rejected("the flow's account has no auth params")),
                        }
                        let etag = resources::touch(&mut new, &actor);
                        let seq = self.0.store.next_seq();
                        sb.put(Resource::Connection, &account_id, seq, new);
                        return Ok(etag);
                    }
                    OutOfBandEdit::Delete => {
                        sb.col_mut(Resource::Flow).remove(flow_id);
                        return Ok(String::new());
                    }
                    other => other,
                };
                let mut new = match edit {
                    OutOfBandEdit::Rename(n) => apply_flow_patch(
                        &e.value,
                        &json!([{"op": "replace", "path": "/name", "value": n}]),
                        actor.now_secs(),
                    ),
                    OutOfBandEdit::SetDescription(d) => apply_flow_patch(
                        &e.value,
                        &json!([{"op": "add", "path": "/description", "value": d}]),
                        actor.now_secs(),
                    ),
                    OutOfBandEdit::Patch(ops) => apply_flow_patch(&e.value, &ops, actor.now_secs()),
                    OutOfBandEdit::Disable | OutOfBandEdit::Enable => {
                        let mut v = (*e.value).clone();
                        v["state"] = json!(if edit == OutOfBandEdit::Enable {
                            "enabled"
                        } else {
                            "disabled"
                        });
                        Ok(v)
                    }
                    OutOfBandEdit::RemoveAudience(_)
                    | OutOfBandEdit::SetSchedule { .. }
                    | OutOfBandEdit::SetFilenameTemplate { .. }
                    | OutOfBandEdit::SetLocation(_)
                    | OutOfBandEdit::SetAccount(_)
                    | OutOfBandEdit::Delete => {
                        return Err(EmulatorError::Rejected(
                            "this edit is not a flow patch".into(),
                        ));
                    }
                }
                .map_err(|r| EmulatorError::Rejected(r.to_string()))?;
                let etag = resources::touch(&mut new, &actor);
                let seq = self.0.store.next_seq();
                sb.put(Resource::Flow, flow_id, seq, new);
                Ok(etag)
            })
            .await
    }
}

/// The application as an `axum::Router`, for oneshot tests without a socket.
pub fn router(state: EmulatorState) -> axum::Router {
    server::build(state.0)
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen` (default `127.0.0.1:0`) and serves in the background.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
        let state = EmulatorState::new(&config)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(EmulatorError::Serve)?;
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            faults::KillableListener(listener),
            app,
            config.header_timeout,
            config.max_connections.max(1),
            rx,
        ));
        Ok(RunningEmulator {
            addr,
            state,
            shutdown: tx,
            task,
        })
    }
}

/// The accept loop: at most `max_connections` served at once (the next accept waits for a
/// slot), each over HTTP/1 with a header-read timeout, the connection's [`faults::ConnHandle`]
/// given to handlers as `ConnectInfo`. On `stop`, no more accepts; idle connections close and
/// in-flight requests finish (waited for at most the header timeout).
async fn serve(
    mut listener: faults::KillableListener,
    app: axum::Router,
    header_timeout: Duration,
    max_connections: usize,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use axum::serve::Listener as _;
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = async {
                let slot = slots.clone().acquire_owned().await;
                (slot, listener.accept().await)
            } => accepted,
        };
        let (Ok(slot), (io, handle)) = accepted else {
            break;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(handle.clone()));
            tower_service::Service::call(&mut app.clone(), req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(io), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    // Idle connections close at once and in-flight requests finish; a client still sending
    // its headers is not waited for beyond the header timeout.
    let _ = tokio::time::timeout(header_timeout, graceful.shutdown()).await;
    Ok(())
}

/// A running emulator.
pub struct RunningEmulator {
    addr: SocketAddr,
    state: EmulatorState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state and control surface.
    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// Replaces the fault configuration at runtime.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.set_faults(faults);
    }

    /// See [`EmulatorState::out_of_band_edit`].
    pub async fn out_of_band_edit(
        &self,
        org: &str,
        sandbox: &str,
        flow_id: &str,
        edit: OutOfBandEdit,
    ) -> Result<String, EmulatorError> {
        self.state
            .out_of_band_edit(org, sandbox, flow_id, edit)
            .await
    }

    /// See [`EmulatorState::request_counts`].
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.state.request_counts()
    }

    /// See [`EmulatorState::reset`].
    pub async fn reset(&self) -> Result<(), EmulatorError> {
        self.state.reset().await
    }

    /// Stops serving (in-flight requests finish) and waits for the server to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
