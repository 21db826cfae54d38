//! A local Adobe Experience Platform Flow Service and IMS token endpoint, faithful to
//! `shared/reference/flow-service-api.md` (the reference): served by `destctl emulator`, started
//! in-process by tests ([`Emulator::start`]) or used without a socket ([`router`]).
//!
//! # Routes
//!
//! * `POST /ims/token/v3` — OAuth server-to-server, form-encoded (body or query string):
//!   `grant_type=client_credentials&client_id=…&client_secret=…` →
//!   `{access_token, token_type:"bearer", expires_in}` (seconds).
//! * Under `/data/foundation/flowservice`: `connectionSpecs[/{id}]`, `flowSpecs[/{id}]`,
//!   `connections`, `sourceConnections`, `targetConnections`, `flows` (list, create, get,
//!   PATCH, DELETE), `POST flows/{id}/action?op=enable|disable`, `runs[/{id}]`.
//! * Outside the API: `GET /_emulator/requests` (`{"total":n,"requests":{"GET /path":n}}`,
//!   counted by method and route template, IMS included, `/_emulator` excluded) and
//!   `POST /_emulator/reset` (204; drops every entity of every org and the counts; issued
//!   tokens and faults stay), and `POST /_emulator/flows/{id}/edit`, an out-of-band edit
//!   ([`OutOfBandEdit`]) over HTTP: body `{"org": "…@AdobeOrg" (default
//!   [`EMBEDDED_ORG_ID`]), "sandbox": "prod" (default), "edit": E}` where E is one of
//!   `{"rename": "…"}`, `{"description": "…"}`, `{"enable": true}`, `{"disable": true}`,
//!   `{"patch": [ops]}` → 200 `{id, etag}`; 404 `1439` when that org and sandbox have no such
//!   flow; 400 `1455` when the edit breaks the flow rules, 400 `1405` for any other body.
//!   No gateway checks, no faults, not counted.
//!
//! # Choices made where Adobe's material is silent or contradicts itself
//!
//! Credentials and gateway:
//! * IMS accepts any non-empty `client_id`/`client_secret` (so [`EMBEDDED_CLIENT_ID`] works);
//!   a grant type other than `client_credentials` → 400 `unsupported_grant_type`; a missing
//!   client id → 400 `invalid_request`; a missing secret → 401 `invalid_client` (OAuth error
//!   bodies `{error, error_description}`; IMS's are undocumented). Tokens live in memory only
//!   (a restarted emulator answers old tokens with 401 `401013`), for
//!   [`EmulatorConfig::token_lifetime`].
//! * Gateway checks, in this order: `Authorization` missing → 403 `403010`; token unknown or
//!   expired (or not `Bearer`) → 401 `401013`; `x-api-key` missing → 403 `403000`; `x-api-key`
//!   other than the token's client id → 403 `403003`; `x-gw-ims-org-id` missing → 400
//!   `400003`; an org id not shaped `<letters/digits>@AdobeOrg` → 403 `403027`. Any org is
//!   entitled (403025 is never sent); orgs never see each other's entities.
//! * A POST/PUT/PATCH with a non-empty body needs `Content-Type: application/json` (parameters
//!   such as `charset` allowed; `application/json-patch+json` is refused) → else the
//!   documented 400 `BadRequestError` body. Bodiless requests (actions) need none.
//! * `x-sandbox-name` defaults to `prod`; strict mode answers 400 `2105` when it is missing.
//!   Sandboxes spring into existence on first write; a name that is not lower-case letters,
//!   digits and `-` → 404 `2100`. State is isolated per (org, sandbox); `sandboxId` is a
//!   UUID fixed at the sandbox's first write.
//!
//! Errors: gateway errors use `{"error_code":"<string>","message":…}`; Flow Service errors
//! the full LBL shape `{type: "https://ns.adobe.com/aep/errors/FLOW-<code>-<status>", title,
//! status, report{detailed-message, request-id[, id, type]}, errorMessage, errorDetails}`;
//! every response carries `x-request-id`. Not found → 404 with code 1439 for flows, 1101
//! otherwise. Create-body validation has no documented code: 400 `1455` ("Request validation
//! failed: …", every broken rule listed); an unknown or missing spec id → 400 `1413`; a
//! missing spec `version` → 422 `1413`; a version other than `1.0` → 400 `1413`; an empty or
//! `null` body, or invalid JSON → 400 `1405`. An unknown path → 404 `1101`; a method a route
//! does not serve (e.g. `PUT /flows/{id}`) → 405 with code `1000` (both in the LBL shape,
//! before any gateway check).
//!
//! Entities:
//! * Server fields: `createdAt`/`updatedAt` (ms), `createdBy`/`updatedBy` = `<clientId>@AdobeID`,
//!   `createdClient`/`updatedClient` = the client id, `sandboxId`, `sandboxName`, `imsOrgId`,
//!   `state` (`enabled`), `version` = `etag` in the quoted form
//!   `"\"xxxxxxxx-0000-0200-0000-xxxxxxxx0000\""`. No `ETag` response header is sent. Every
//!   successful change (PATCH, action, out-of-band edit) gives a new etag.
//! * Create bodies with unknown top-level fields are refused (1455); `state` → 1410.
//! * Secret auth params (catalog `secret: true`) are write-only: the emulator never stores
//!   them and GET shows each as [`SECRET_MASK`] (`"***"`); the server adds
//!   `auth.params.authorizedDate` (`YYYY-MM-DD`), refreshed when `auth` changes. Unknown auth
//!   params, or params of another auth spec, are refused; pattern checks (S3 keys) apply.
//! * Descriptions are free text, stored verbatim (destctl's ownership marker lives there).
//! * Source connections: Profile store spec only; `baseConnectionId` (a Profile store base
//!   connection), `data`, `params` optional; stored with `typeInfo` and, with a base,
//!   `inheritedAttributes.baseConnection`.
//! * Target connections: `baseConnectionId` required, same connection spec as the base;
//!   `params.mode` one of the platform's modes; the mode's required params present; known
//!   extras `format` (must be `CSV`), `includeFileManifest`, `appendSegmentId` (booleans);
//!   any other param refused; `data` is stored as sent (CABD's `json` format included).
//! * Flows: the legacy body of reference §3.5. Exactly one source and one target connection,
//!   which must exist; the flow spec must list the target's connection spec. **Audiences and
//!   attributes are not accepted at creation** (non-empty selectors, `mandatoryFields`,
//!   `primaryFields` → 1455): every doc adds them with PATCH, so the client must. At most
//!   100 destination flows per sandbox (the hard guardrail) → 1455. Stored with
//!   `inheritedAttributes{properties.isDestinationFlow:true, sourceConnections,
//!   targetConnections}`, `runs` = `/runs?property=flowId==<id>`, `lastOperation`
//!   (`operation` `create`, then `update` with the last patch's ops as sent). Actions do not
//!   change `lastOperation`.
//! * Specs: every catalog platform's connection spec (with `authSpec[]` and a `targetSpec`
//!   whose `spec.properties.mode.enum` lists the modes and whose `allOf` holds each mode's
//!   required params), the Profile store (`authSpec: []`), and the flow specs `upsToCampaign`
//!   ([`crate::catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID`]), `upsToCloudStorageAndEloqua`
//!   (`71471eba…`: Eloqua, S3, Azure Blob, SFTP), `upsToResponsys`,
//!   `upsToSalesforceMarketingCloud`; the names other than `upsToCampaign` are the emulator's.
//! * Runs: always an empty list; `GET /runs/{id}` → 404.
//! * Speed: list responses concatenate each entity's JSON serialized at write time, and each
//!   flow keeps an index of its audience ids, so the reverse lookup does not walk selectors.
//!
//! Lists: newest *created* first (SPEC-D says "most recently created/updated first"; ordering
//! by creation keeps an item in place when it is updated, so paging stays stable); `limit` 1–100 (default 100; anything else → 400 `1451`);
//! unknown parameters (including `start`) → 1451; `count=true` → `{"count":n}`, `count=false`
//! in any case is ignored, `count` with `limit` → 1401. `property=` supports `==`, `!=`, `>`,
//! `<`, `>=`, `<=`; comma = any of (only with `==`/`!=`, else 1443); repeated = AND; dotted
//! paths with `[]` for array members (an array without `[]` never equals a value); `~`, `!>`,
//! `!<` → 1440; a single `=` or no operator → 1450; an unknown root field → 1449; empty value
//! → 1453; an ordering operator on `id` → 1448. Values compare as strings (booleans as
//! `true`/`false`, numbers numerically for `<`/`>`). `orderby=[+|-]field[,…]` (1433 for a bad
//! prefix, 1432 for an unknown field; ties keep the default order). Paging is by cursor:
//! `_links` is always present, `next.href` is exactly `/<collection>?continuationToken=<token>`
//! where the token (lower-case hex, so no `=` or `&`) carries the original query, the sort key
//! of the page's last item (its `orderby` values and creation sequence) and a snapshot cutoff
//! (the store's write sequence when the first page was served). A continued page lists the
//! items after that key created at or before the cutoff, so an update, create or delete
//! between two page requests neither skips nor repeats an item that existed at the first
//! page (items created later are left out; with `orderby`, an item whose sort field changes
//! between pages may move). Other parameters sent with a token are ignored.
//!
//! PATCH (all four resources): `If-Match` missing → 400 `1403`; not byte-equal to the etag
//! (quotes included; an unquoted etag fails) → 412 `1404` `Supplied version=[<sent>] does not
//! match the current version on entity=[<current>]`. Ops in any letter case; `move`, `copy`,
//! `test` → 1434; `add`/`replace` need `value`; `remove` needs none (a `value` is ignored;
//! SPEC-D marks `value` required everywhere, RFC 6902 does not); operations apply sequentially
//! and atomically. The result must keep read-only fields (server fields, `state`, specs,
//! connection ids; a connection's `connectionSpec` → 1414) and pass the create rules; flows
//! also the rules of [`apply_flow_patch`] (export mode vs frequency, `SCHEDULED` without
//! `startTime`, filename macros, the same audience or attribute twice, unknown selector types
//! and fields (`fileNameTemplate` included), `mandatoryFields`/`primaryFields` naming
//! attributes not selected, V2-style params). A missing `triggerType` is stored as sent.
//! Success → 200 `{id, etag}`.
//!
//! DELETE: flows, source and target connections → 202; base connections → 204 (DDA, SPEC-S),
//! all with an empty body. A base connection used by a flow → 400 `1418`; a source or target
//! connection used by a flow → 400 `1447`. Deletion is synchronous.
//!
//! Actions: `op` in any case; `enable` on an enabled flow or `disable` on a disabled one →
//! 400 `1422`; `FINALIZE_UPDATE`/`FINALIZE`/`PUBLISH` → 1422; `subOp` ignored; `If-Match`
//! optional but honoured.
//!
//! Faults ([`FaultConfig`]) apply to Flow Service routes only, before the gateway checks: a
//! 429 carries `Retry-After` and a gateway body `{"error_code":"429050",…}`; 500/503 carry a
//! Flow Service body with code 1000. A closed connection needs a socket: through [`router`]
//! without one, that request gets a 500 instead. Out-of-band edits ([`OutOfBandEdit`]) act as a person in
//! the AEP UI: `updatedBy` `aep-ui-user@AdobeID`, `updatedClient` `exc_app`, a new etag.
//! They come from [`EmulatorState::out_of_band_edit`], `POST /_emulator/flows/{id}/edit`, or
//! fault injection: [`FaultConfig::edit_after`] (`--fault-edit-after N`: once, when the Nth
//! Flow Service request has been answered) and [`FaultConfig::p_edit`]
//! (`--fault-edit-probability P`: after each request, with probability P from the seeded
//! generator) rename one flow to `<name> (edited in the UI)`. The flow is a seeded pick
//! among every flow of every org and sandbox, ordered by org, sandbox and creation; with no
//! flow, nothing happens. The edit is made before the answer is sent, so the client sees it
//! on its next request.
//!
//! State file: JSON, written atomically (temporary file, fsync, rename, directory fsync)
//! after every change before the response is sent. Changes are serialized, made on a copy of
//! the sandbox, written, and only then committed in memory: when the write fails the answer
//! is 500 `1000` and nothing changed (a retry applies the change once). Loaded at start; an
//! unreadable or corrupt file is an error ([`EmulatorError::StateFile`]), never replaced; a
//! missing one is created (with its directory). While an emulator runs with a state file it
//! holds an exclusive OS lock (`flock`; released on exit, even a crash) on the lock file
//! beside it (`emulator.json` → `emulator.lock`, holding the owner's pid): a second emulator
//! on the same state file, in this process or another, fails at start with
//! [`EmulatorError::StateLocked`], which names the lock file.

mod error;
mod faults;
mod gateway;
mod ims;
mod patch;
mod query;
mod resources;
mod server;
mod specs;
mod store;

pub use faults::{FaultConfig, Latency};
pub use patch::{PatchEngineError, PatchRejection, apply_flow_patch, patch_engine};
pub use resources::SECRET_MASK;
pub use server::FLOW_SERVICE_BASE;

use crate::catalog::{self, Platform};
use crate::wire::Resource;
use resources::Actor;
use serde_json::{Value, json};
use server::AppState;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Entity;

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
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            strict_sandbox: false,
            token_lifetime: Duration::from_secs(24 * 3600),
            faults: FaultConfig::default(),
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
}

/// What [`EmulatorState::seed_flows`] creates: per flow a destination base connection, a target
/// connection and a flow with audiences and attributes, sharing one Profile store source.
#[derive(Clone, Debug)]
pub struct SeedFlows {
    /// The destination platform.
    pub platform: Platform,
    /// Number of flows.
    pub flows: usize,
    /// Audiences per flow.
    pub audiences_per_flow: usize,
    /// Profile attributes per flow.
    pub attributes_per_flow: usize,
    /// Flow names are `<prefix>-<n>`.
    pub name_prefix: String,
}

impl Default for SeedFlows {
    fn default() -> Self {
        SeedFlows {
            platform: Platform::AmazonS3,
            flows: 1,
            audiences_per_flow: 1,
            attributes_per_flow: 1,
            name_prefix: "seed".into(),
        }
    }
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
        Ok(EmulatorState(Arc::new(AppState::new(
            store,
            persister,
            faults::Faults::new(config.faults.clone()),
            config.strict_sandbox,
            config.token_lifetime,
        ))))
    }

    /// Replaces the fault configuration (the generator is reseeded).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.0.faults.set(faults);
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.0.faults.config()
    }

    /// Requests received, by `"METHOD /route/template"`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.0.counts.lock().expect("lock").clone()
    }

    /// Drops every entity and the request counts.
    pub async fn reset(&self) -> Result<(), EmulatorError> {
        Ok(self.0.reset().await?)
    }

    /// Issues a token for `client_id` without going through HTTP.
    pub fn issue_token(&self, client_id: &str) -> String {
        self.0.tokens.issue(client_id, self.0.token_lifetime)
    }

    /// Changes a flow as a person in the AEP UI would; returns the new etag.
    pub async fn out_of_band_edit(
        &self,
        org: &str,
        sandbox: &str,
        flow_id: &str,
        edit: OutOfBandEdit,
    ) -> Result<String, EmulatorError> {
        let missing = || EmulatorError::NoSuchFlow {
            org: org.into(),
            sandbox: sandbox.into(),
            flow_id: flow_id.into(),
        };
        self.0.store.existing(org, sandbox).ok_or_else(missing)?;
        let actor = Actor::ui(server::now_ms());
        self.0
            .mutate(org, sandbox, |sb| {
                let e = sb.get(Resource::Flow, flow_id).ok_or_else(missing)?;
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
                }
                .map_err(|r| EmulatorError::Rejected(r.to_string()))?;
                let etag = resources::touch(&mut new, &actor);
                let seq = self.0.store.next_seq();
                sb.put(Resource::Flow, flow_id, seq, new);
                Ok(etag)
            })
            .await
    }

    /// Creates flows directly in the store (fast seeding for benchmarks); returns the flow ids.
    /// Audiences are `seg-<flow>-<n>` with valid schedules; attributes `attr<n>.value`.
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        let actor = Actor::api(EMBEDDED_CLIENT_ID, server::now_ms());
        let rejected = |e: error::ApiError| EmulatorError::Rejected(e.body.to_string());
        let info = seed.platform.info();
        let mode = info.location_modes[0];
        self.0.mutate(org, sandbox, |sb| {
            let mut ids = Vec::with_capacity(seed.flows);
            let insert = |sb: &mut store::Sandbox, r: Resource, v: Value| -> String {
                let id = v["id"].as_str().unwrap_or_default().to_owned();
                let seq = self.0.store.next_seq();
                sb.col_mut(r).insert(id.clone(), Entity::new(seq, v));
                id
            };
            let new_id = || uuid::Uuid::new_v4().to_string();
            let base = resources::create_connection(
                &json!({"name": "Profile store", "connectionSpec": {"id": catalog::PROFILE_STORE_SPEC_ID, "version": "1.0"}}),
                &new_id(), &actor, sb).map_err(rejected)?;
            let base = insert(sb, Resource::Connection, base);
            let src = resources::create_source_connection(
                &json!({"name": "Profile store source", "baseConnectionId": base,
                        "connectionSpec": {"id": catalog::PROFILE_STORE_SPEC_ID, "version": "1.0"},
                        "data": {"format": "CSV", "schema": null}, "params": {}}),
                &new_id(),
                &actor,
                sb,
            )
            .map_err(rejected)?;
            let src = insert(sb, Resource::SourceConnection, src);
            let flow_spec_id = specs::flow_spec_infos()
                .into_iter()
                .find(|f| f.targets.contains(&info.connection_spec_id))
                .map(|f| f.id)
                .unwrap_or_default();
            for n in 0..seed.flows {
                let auth = info.auth_methods[0];
                let params: serde_json::Map<String, Value> = auth
                    .params()
                    .iter()
                    .filter(|p| p.required)
                    .map(|p| {
                        let v = match p.pattern {
                            Some(catalog::Pattern::S3AccessKey) => "AKIAIOSFODNN7EXAMPLE".into(),
                            Some(catalog::Pattern::S3SecretKey) => "a".repeat(40),
                            _ => format!("{}-{n}", p.name),
                        };
                        (p.name.to_owned(), json!(v))
                    })
                    .collect();
                let name = format!("{}-{n}", seed.name_prefix);
                let conn = resources::create_connection(
                    &json!({"name": name, "description": format!("[destctl:{name} credentials=1]"),
                            "connectionSpec": {"id": info.connection_spec_id, "version": "1.0"},
                            "auth": {"specName": auth.spec_name(), "params": params}}),
                    &new_id(),
                    &actor,
                    sb,
                )
                .map_err(rejected)?;
                let conn = insert(sb, Resource::Connection, conn);
                let mut tparams = serde_json::Map::new();
                tparams.insert("mode".into(), json!(mode.as_str()));
                for p in mode.params() {
                    tparams.insert(
                        p.name.into(),
                        json!(if p.name == "bucketName" || p.name == "container" {
                            format!("bucket-{n}")
                        } else {
                            format!("/exports/{n}")
                        }),
                    );
                }
                tparams.insert("format".into(), json!("CSV"));
                let tgt = resources::create_target_connection(
                    &json!({"name": name, "description": format!("[destctl:{name}]"), "baseConnectionId": conn,
                            "connectionSpec": {"id": info.connection_spec_id, "version": "1.0"},
                            "params": tparams}),
                    &new_id(), &actor, sb).map_err(rejected)?;
                let tgt = insert(sb, Resource::TargetConnection, tgt);
                let flow = resources::create_flow(
                    &json!({"name": name, "description": format!("[destctl:{name}]"),
                            "flowSpec": {"id": flow_spec_id, "version": "1.0"},
                            "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
                            "transformations": [{"name": "GeneralTransform", "params": {
                                "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
                    &new_id(), &actor, sb).map_err(rejected)?;
                let mut ops = Vec::new();
                for a in 0..seed.attributes_per_flow {
                    ops.push(json!({"op": "add", "path": "/transformations/0/params/profileSelectors/selectors/-",
                        "value": {"type": "JSON_PATH", "value": {"path": format!("attr{a}.value")}}}));
                }
                for s in 0..seed.audiences_per_flow {
                    ops.push(json!({"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
                        "value": {"type": "PLATFORM_SEGMENT", "value": {
                            "id": format!("seg-{n}-{s}"), "name": format!("Audience {s}"),
                            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
                            "exportMode": "DAILY_FULL_EXPORT",
                            "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED",
                                         "startDate": "2024-01-01", "startTime": "17:00"}}}}));
                }
                let mut flow = if ops.is_empty() {
                    flow
                } else {
                    apply_flow_patch(&flow, &Value::Array(ops.clone()), actor.now_secs())
                        .map_err(|e| EmulatorError::Rejected(e.to_string()))?
                };
                if !ops.is_empty() {
                    resources::touch(&mut flow, &actor);
                    flow["lastOperation"] =
                        resources::last_operation(&actor, "update", Value::Array(ops));
                }
                ids.push(insert(sb, Resource::Flow, flow));
            }
            Ok(ids)
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
        let app = router(state.clone()).into_make_service_with_connect_info::<faults::ConnHandle>();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(faults::KillableListener(listener), app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(RunningEmulator {
            addr,
            state,
            shutdown: tx,
            task,
        })
    }
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

    /// See [`EmulatorState::seed_flows`].
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        self.state.seed_flows(org, sandbox, seed).await
    }

    /// Stops serving (in-flight requests finish) and waits for the server to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
