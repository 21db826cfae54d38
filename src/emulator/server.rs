//! Routes and handlers.

use super::clock::{self, Clock};
use super::error::ApiError;
use super::faults::{ConnHandle, Faults, Outcome};
use super::gateway::{self, Caller};
use super::ims::Tokens;
use super::patch::{PatchRejection, apply_flow_patch};
use super::query::{ListQuery, QueryError, SortKey};
use super::resources::{self, Actor};
use super::runs::{self, Runs};
use super::store::{Entity, PersistFailed, Persister, Sandbox, Store, col_name};
use super::{EmulatorError, OutOfBandEdit, dataprep, specs, store};
use crate::wire::Resource;
use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Base path of the Flow Service.
pub const FLOW_SERVICE_BASE: &str = "/data/foundation/flowservice";

/// Everything the server holds.
#[derive(Debug)]
pub(crate) struct AppState {
    pub store: Store,
    pub persister: Option<Persister>,
    pub tokens: Tokens,
    pub faults: Faults,
    pub counts: Mutex<BTreeMap<String, u64>>,
    pub strict_sandbox: bool,
    pub token_lifetime: Duration,
    /// Largest request body accepted; above it, 413.
    pub max_body_bytes: usize,
    /// The simulated clock of every timestamp.
    pub clock: Clock,
    /// Dataflow runs and injected run failures.
    pub runs: Runs,
    conn_specs: Vec<Entity>,
    flow_specs: Vec<Entity>,
}

impl AppState {
    pub(crate) fn new(
        store: Store,
        persister: Option<Persister>,
        faults: Faults,
        strict_sandbox: bool,
        token_lifetime: Duration,
        max_body_bytes: usize,
        credentials: Vec<super::ImsCredential>,
    ) -> AppState {
        // Specs list in catalog order: the first is the "newest created".
        let wrap = |v: Vec<Value>| {
            let n = v.len() as u64;
            (0u64..)
                .zip(v)
                .map(|(i, s)| Entity::new(n - i, s))
                .collect()
        };
        let clock = Clock::default();
        AppState {
            store,
            persister,
            tokens: Tokens::with_credentials(credentials),
            faults,
            counts: Mutex::new(BTreeMap::new()),
            strict_sandbox,
            token_lifetime,
            max_body_bytes,
            runs: {
                let runs = Runs::default();
                runs.start_at(clock.now_ms());
                runs
            },
            clock,
            conn_specs: wrap(specs::connection_specs()),
            flow_specs: wrap(specs::flow_specs()),
        }
    }

    /// Applies `f` to the sandbox `(org, name)` (created if missing). With a state file the
    /// change is made on a copy, written to disk, and only then committed in memory: when the
    /// write fails, nothing changed and the error is returned.
    pub(crate) async fn mutate<T, E: From<PersistFailed>>(
        &self,
        org: &str,
        name: &str,
        f: impl FnOnce(&mut Sandbox) -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(p) = &self.persister else {
            let sb = self.store.sandbox(org, name);
            let mut sb = sb.write().expect("lock");
            return f(&mut sb);
        };
        let _commit = p.commit_lock().await;
        let sb = self.store.sandbox(org, name);
        let mut draft = sb.read().expect("lock").clone();
        let out = f(&mut draft)?;
        p.write(self.store.snapshot_with(Some(&draft))).await?;
        *sb.write().expect("lock") = draft;
        Ok(out)
    }

    /// Drops every entity and the request counts (after writing the empty state file).
    pub(crate) async fn reset(&self) -> Result<(), PersistFailed> {
        let _commit = match &self.persister {
            Some(p) => {
                let guard = p.commit_lock().await;
                p.write(Store::default().snapshot()).await?;
                Some(guard)
            }
            None => None,
        };
        self.store.clear();
        self.runs.clear();
        self.counts.lock().expect("lock").clear();
        Ok(())
    }

    /// The simulated time, epoch milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Starts the simulated clock at `start_ms` (before serving): runs are due from there.
    pub(crate) fn start_clock_at(&self, start_ms: i64) {
        self.clock.jump_to(start_ms);
        self.runs.restart_at(self.now_ms());
    }

    /// Produces the runs due up to the clock's current time (see [`runs`]) and records each
    /// flow's `lastRunDetails`; returns how many runs were made.
    pub(crate) async fn produce_runs(&self) -> Result<usize, PersistFailed> {
        let to = self.now_ms();
        let from = self.runs.advance_window(to);
        let mut made = 0;
        for sb in self.store.all_sandboxes() {
            let (org, name, flows) = {
                let g = sb.read().expect("lock");
                let flows: Vec<Value> = g
                    .col(Resource::Flow)
                    .values()
                    .map(|e| (*e.value).clone())
                    .collect();
                (g.org.clone(), g.name.clone(), flows)
            };
            let last = self.runs.produce(&org, &name, &flows, from, to);
            if last.is_empty() {
                continue;
            }
            made += self
                .runs
                .of_sandbox(&org, &name)
                .iter()
                .filter(|e| {
                    e.value["createdAt"]
                        .as_i64()
                        .is_some_and(|t| t > from && t <= to)
                })
                .count();
            self.mutate(&org, &name, |sb| {
                for (id, details) in last {
                    let Some(e) = sb.get(Resource::Flow, &id) else {
                        continue;
                    };
                    let mut v = (*e.value).clone();
                    v["lastRunDetails"] = details;
                    let seq = self.store.next_seq();
                    sb.put(Resource::Flow, &id, seq, v);
                }
                Ok::<_, PersistFailed>(())
            })
            .await?;
        }
        Ok(made)
    }
}

impl From<PersistFailed> for ApiError {
    fn from(e: PersistFailed) -> ApiError {
        tracing::error!(
            "destctl emulator: cannot write state file {}: {}",
            e.path.display(),
            e.error
        );
        ApiError::flow(
            StatusCode::INTERNAL_SERVER_ERROR,
            1000,
            "The emulator could not write its state file; nothing was changed",
            None,
        )
    }
}

type St = State<Arc<AppState>>;

fn json_text(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn query_error(e: QueryError) -> ApiError {
    ApiError::bad_request(e.code, e.message)
}

fn finish(request_id: &str, r: Result<Response, ApiError>) -> Response {
    let mut resp = match r {
        Ok(r) => r,
        Err(e) => e.with_request_id(request_id).into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn enter(
    st: &AppState,
    req: Request,
) -> Result<(axum::http::request::Parts, Bytes, Caller), ApiError> {
    let (parts, body) = req.into_parts();
    let limit = st.max_body_bytes;
    let too_large = || {
        ApiError::flow(
            StatusCode::PAYLOAD_TOO_LARGE,
            1405,
            format!("Request body is larger than {limit} bytes"),
            None,
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            too_large()
        } else {
            ApiError::bad_request(1405, format!("cannot read request body: {inner}"))
        }
    })?;
    let caller = gateway::check(
        &parts.headers,
        &parts.method,
        bytes.len(),
        &st.tokens,
        st.strict_sandbox,
    )?;
    Ok((parts, bytes, caller))
}

fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(1405, format!("Request body is not valid JSON: {e}")))
}

const META_ROOTS: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "name",
    "description",
    "state",
    "version",
    "etag",
];

fn roots(r: Resource) -> Vec<&'static str> {
    let extra: &[&str] = match r {
        Resource::Connection => &["connectionSpec"],
        Resource::SourceConnection => &[
            "connectionSpec",
            "baseConnectionId",
            "data",
            "params",
            "typeInfo",
            "inheritedAttributes",
        ],
        Resource::TargetConnection => &[
            "connectionSpec",
            "baseConnectionId",
            "data",
            "params",
            "inheritedAttributes",
        ],
        Resource::MappingSet => &[],
        Resource::Flow => &[
            "flowSpec",
            "sourceConnectionIds",
            "targetConnectionIds",
            "inheritedAttributes",
            "transformations",
            "lastOperation",
            "labels",
        ],
    };
    META_ROOTS.iter().chain(extra).copied().collect()
}

const SPEC_ROOTS: &[&str] = &[
    "id",
    "name",
    "providerId",
    "version",
    "attributes",
    "sourceConnectionSpecIds",
    "targetConnectionSpecIds",
];
const RUN_ROOTS: &[&str] = &["id", "flowId", "state", "createdAt", "updatedAt", "metrics"];

/// A list page: `{"items":[…],"_links":{…}}`, or `{"count":n}`. `items` are sorted in the
/// list order; `cutoff` is the store's write sequence before they were read.
fn page(q: &ListQuery, items: &[Entity], collection: &str, cutoff: u64) -> Response {
    if q.count {
        return json_text(StatusCode::OK, json!({"count": items.len()}).to_string());
    }
    let mut walk = items
        .iter()
        .map(|e| (q.key(&e.value, e.created), e))
        .filter(|(k, _)| q.in_walk(k));
    let chosen: Vec<(SortKey, &Entity)> = walk.by_ref().take(q.limit).collect();
    let more = walk.next().is_some();
    let mut out =
        String::with_capacity(chosen.iter().map(|(_, e)| e.json.len() + 1).sum::<usize>() + 256);
    out.push_str("{\"items\":[");
    for (i, (_, e)) in chosen.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    out.push_str("],\"_links\":{");
    if let (true, Some((last, _))) = (more, chosen.last()) {
        out.push_str(&format!(
            "\"next\":{{\"href\":\"/{collection}?continuationToken={}\"}}",
            q.token(cutoff, last.clone())
        ));
    }
    out.push_str("}}");
    json_text(StatusCode::OK, out)
}

fn one(e: &Entity) -> Response {
    json_text(StatusCode::OK, format!("{{\"items\":[{}]}}", e.json))
}

fn write_result(status: StatusCode, id: &str, etag: &Value) -> Response {
    json_text(status, json!({"id": id, "etag": etag}).to_string())
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn list(st: St, r: Resource, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, caller) = enter(&st, req).await?;
        let q =
            ListQuery::parse(parts.uri.query().unwrap_or(""), &roots(r)).map_err(query_error)?;
        let cutoff = st.store.current_seq();
        let items = match st.store.existing(&caller.org, &caller.sandbox) {
            Some(sb) => sb.read().expect("lock").newest_first(r),
            None => Vec::new(),
        };
        let mut items: Vec<Entity> = items
            .into_iter()
            .filter(|e| q.matches_indexed(&e.value, e.audiences.as_deref()))
            .collect();
        q.sort(&mut items, |e| (e.value.as_ref(), e.created));
        Ok(page(&q, &items, col_name(r), cutoff))
    }
    .await;
    finish(&request_id, res)
}

async fn create(st: St, r: Resource, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, bytes, caller) = enter(&st, req).await?;
        let body = parse_json(&bytes)?;
        let id = uuid::Uuid::new_v4().to_string();
        let actor = Actor::api(&caller.client_id, st.now_ms());
        let etag = st
            .mutate(&caller.org, &caller.sandbox, |sb| {
                let value = match r {
                    Resource::Connection => resources::create_connection(&body, &id, &actor, sb),
                    Resource::SourceConnection => {
                        resources::create_source_connection(&body, &id, &actor, sb)
                    }
                    Resource::TargetConnection => {
                        resources::create_target_connection(&body, &id, &actor, sb)
                    }
                    Resource::Flow => resources::create_flow(&body, &id, &actor, sb),
                    Resource::MappingSet => Err(ApiError::not_found(col_name(r), &id)),
                }?;
                let etag = value["etag"].clone();
                let seq = st.store.next_seq();
                sb.col_mut(r).insert(id.clone(), Entity::new(seq, value));
                Ok::<_, ApiError>(etag)
            })
            .await?;
        let mut resp = write_result(StatusCode::CREATED, &id, &etag);
        let location = HeaderValue::from_str(&format!("{FLOW_SERVICE_BASE}/flows/{id}"));
        if let (Resource::Flow, Ok(v)) = (r, location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    }
    .await;
    finish(&request_id, res)
}

async fn get_one(st: St, r: Resource, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, _, caller) = enter(&st, req).await?;
        let found = st
            .store
            .existing(&caller.org, &caller.sandbox)
            .and_then(|sb| sb.read().expect("lock").get(r, &id).cloned());
        found
            .map(|e| one(&e))
            .ok_or_else(|| ApiError::not_found(col_name(r), &id))
    }
    .await;
    finish(&request_id, res)
}

fn rejection(e: PatchRejection) -> ApiError {
    ApiError::bad_request(e.code(), e.to_string())
}

fn precondition_failed(sent: &str, current: &str) -> ApiError {
    ApiError::flow(
        StatusCode::PRECONDITION_FAILED,
        1404,
        format!(
            "Supplied version=[{sent}] does not match the current version on entity=[{current}]"
        ),
        None,
    )
}

async fn patch_one(st: St, r: Resource, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, bytes, caller) = enter(&st, req).await?;
        let Some(if_match) = parts
            .headers
            .get(header::IF_MATCH)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        else {
            return Err(ApiError::bad_request(1403, "If-Match header is missing"));
        };
        let body = parse_json(&bytes)?;
        let actor = Actor::api(&caller.client_id, st.now_ms());
        if st.store.existing(&caller.org, &caller.sandbox).is_none() {
            return Err(ApiError::not_found(col_name(r), &id));
        }
        let etag = st
            .mutate(&caller.org, &caller.sandbox, |sb| {
                let e = sb
                    .get(r, &id)
                    .ok_or_else(|| ApiError::not_found(col_name(r), &id))?;
                let current = e.value["etag"].as_str().unwrap_or_default();
                if if_match.trim() != current {
                    return Err(precondition_failed(if_match.trim(), current));
                }
                let mut new = match r {
                    Resource::Flow => apply_flow_patch(&e.value, &body, actor.now_secs()),
                    _ => resources::patch_connection(r, &e.value, &body, &actor),
                }
                .map_err(rejection)?;
                if r == Resource::Flow {
                    dataprep::check_profile_mapping(sb, &new)
                        .map_err(|errors| rejection(PatchRejection::Rules(errors)))?;
                }
                if r == Resource::Flow && super::datasets::is_dataset_flow(&e.value) {
                    super::datasets::relink_sources(sb, &mut new)
                        .map_err(|errors| rejection(PatchRejection::Rules(errors)))?;
                }
                let etag = resources::touch(&mut new, &actor);
                if r == Resource::Flow {
                    new["lastOperation"] = resources::last_operation(&actor, "update", body);
                }
                let seq = st.store.next_seq();
                sb.put(r, &id, seq, new);
                Ok::<_, ApiError>(etag)
            })
            .await?;
        Ok(write_result(StatusCode::OK, &id, &json!(etag)))
    }
    .await;
    finish(&request_id, res)
}

async fn delete_one(st: St, r: Resource, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, _, caller) = enter(&st, req).await?;
        if st.store.existing(&caller.org, &caller.sandbox).is_none() {
            return Err(ApiError::not_found(col_name(r), &id));
        }
        st.mutate(&caller.org, &caller.sandbox, |sb| {
            if sb.get(r, &id).is_none() {
                return Err(ApiError::not_found(col_name(r), &id));
            }
            if let Some(e) = resources::delete_blocker(sb, r, &id) {
                return Err(e);
            }
            sb.col_mut(r).remove(&id);
            Ok(())
        })
        .await?;
        let status = if r == Resource::Connection {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::ACCEPTED
        };
        Ok(status.into_response())
    }
    .await;
    finish(&request_id, res)
}

async fn flow_action(st: St, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, caller) = enter(&st, req).await?;
        let pairs = super::query::decode_pairs(parts.uri.query().unwrap_or(""));
        let mut op = None;
        for (k, v) in pairs {
            match k.as_str() {
                "op" => op = Some(v.to_ascii_uppercase()),
                "subOp" => {}
                _ => {
                    return Err(ApiError::bad_request(
                        1451,
                        format!("Invalid query parameter `{k}`"),
                    ));
                }
            }
        }
        let op = op.ok_or_else(|| {
            ApiError::bad_request(1451, "Query parameter op is required (enable or disable)")
        })?;
        let target = match op.as_str() {
            "ENABLE" => "enabled",
            "DISABLE" => "disabled",
            "FINALIZE_UPDATE" | "FINALIZE" | "PUBLISH" => {
                return Err(ApiError::bad_request(
                    1422,
                    format!(
                        "Action {} is not applicable to a destination flow",
                        op.to_ascii_lowercase()
                    ),
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    1451,
                    format!("Invalid action op={op}"),
                ));
            }
        };
        let actor = Actor::api(&caller.client_id, st.now_ms());
        if st.store.existing(&caller.org, &caller.sandbox).is_none() {
            return Err(ApiError::not_found("flows", &id));
        }
        let etag = st
            .mutate(&caller.org, &caller.sandbox, |sb| {
                let e = sb
                    .get(Resource::Flow, &id)
                    .ok_or_else(|| ApiError::not_found("flows", &id))?;
                if let Some(m) = parts.headers.get(header::IF_MATCH) {
                    let sent = String::from_utf8_lossy(m.as_bytes()).trim().to_owned();
                    let current = e.value["etag"].as_str().unwrap_or_default();
                    if sent != current {
                        return Err(precondition_failed(&sent, current));
                    }
                }
                let state = e.value["state"].as_str().unwrap_or_default();
                if state == target {
                    return Err(ApiError::bad_request(
                        1422,
                        format!(
                            "Action {} is not applicable in the current state {state}",
                            op.to_ascii_lowercase()
                        ),
                    ));
                }
                let mut new = (*e.value).clone();
                new["state"] = json!(target);
                let etag = resources::touch(&mut new, &actor);
                let seq = st.store.next_seq();
                sb.put(Resource::Flow, &id, seq, new);
                Ok::<_, ApiError>(etag)
            })
            .await?;
        Ok(write_result(StatusCode::OK, &id, &json!(etag)))
    }
    .await;
    finish(&request_id, res)
}

#[derive(Clone, Copy)]
enum SpecKind {
    Connection,
    Flow,
}

impl SpecKind {
    fn name(self) -> &'static str {
        match self {
            SpecKind::Connection => "connectionSpecs",
            SpecKind::Flow => "flowSpecs",
        }
    }
    fn items(self, st: &AppState) -> &[Entity] {
        match self {
            SpecKind::Connection => &st.conn_specs,
            SpecKind::Flow => &st.flow_specs,
        }
    }
}

async fn list_specs(st: St, kind: SpecKind, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, _) = enter(&st, req).await?;
        let q =
            ListQuery::parse(parts.uri.query().unwrap_or(""), SPEC_ROOTS).map_err(query_error)?;
        let mut items: Vec<Entity> = kind
            .items(&st)
            .iter()
            .filter(|e| q.matches(&e.value))
            .cloned()
            .collect();
        q.sort(&mut items, |e| (e.value.as_ref(), e.created));
        Ok(page(&q, &items, kind.name(), u64::MAX))
    }
    .await;
    finish(&request_id, res)
}

async fn get_spec(st: St, kind: SpecKind, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        enter(&st, req).await?;
        kind.items(&st)
            .iter()
            .find(|e| e.value["id"] == id.as_str())
            .map(one)
            .ok_or_else(|| ApiError::not_found(kind.name(), &id))
    }
    .await;
    finish(&request_id, res)
}

async fn list_runs(st: St, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, caller) = enter(&st, req).await?;
        let q =
            ListQuery::parse(parts.uri.query().unwrap_or(""), RUN_ROOTS).map_err(query_error)?;
        let cutoff = st.runs.current_seq();
        let mut items: Vec<Entity> = st
            .runs
            .of_sandbox(&caller.org, &caller.sandbox)
            .into_iter()
            .filter(|e| q.matches(&e.value))
            .collect();
        q.sort(&mut items, |e| (e.value.as_ref(), e.created));
        Ok(page(&q, &items, "runs", cutoff))
    }
    .await;
    finish(&request_id, res)
}

async fn get_run(st: St, Path(id): Path<String>, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, _, caller) = enter(&st, req).await?;
        st.runs
            .get(&caller.org, &caller.sandbox, &id)
            .map(|e| one(&e))
            .ok_or_else(|| ApiError::not_found("runs", &id))
    }
    .await;
    finish(&request_id, res)
}

/// The body of `POST /_emulator/clock`: exactly one of the two.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance: Option<String>,
    set: Option<String>,
}

fn clock_body(now: i64) -> Value {
    json!({"now": clock::rfc3339(now), "nowMs": now})
}

async fn clock_get(st: St) -> Response {
    axum::Json(clock_body(st.now_ms())).into_response()
}

async fn clock_post(st: St, bytes: Bytes) -> Response {
    let res = async {
        let bad = |m: String| ApiError::bad_request(1405, m);
        let req: ClockRequest = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("Invalid clock request: {e}")))?;
        match (req.advance, req.set) {
            (Some(d), None) => {
                let d = clock::parse_duration(&d).map_err(|e| bad(e.to_string()))?;
                st.clock.advance(d);
            }
            (None, Some(t)) => {
                let at = clock::parse_instant(&t).map_err(|e| bad(e.to_string()))?;
                st.clock.set(at).map_err(|e| bad(e.to_string()))?;
            }
            _ => {
                return Err(bad(
                    "Invalid clock request: give {\"advance\": \"36h\"} or {\"set\": \"2026-12-01T17:00:00Z\"}".into(),
                ));
            }
        }
        let made = st.produce_runs().await?;
        let mut body = clock_body(st.now_ms());
        body["runsCreated"] = json!(made);
        Ok(axum::Json(body).into_response())
    }
    .await;
    finish(&rid(), res)
}

/// The body of `POST /_emulator/flows/{id}/fail`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FailRequest {
    org: Option<String>,
    sandbox: Option<String>,
    runs: Option<u32>,
    code: Option<String>,
    message: Option<String>,
}

async fn introspect_fail(st: St, Path(id): Path<String>, bytes: Bytes) -> Response {
    let res = async {
        let req: FailRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::from_str("{}").map_err(|e| ApiError::bad_request(1405, e.to_string()))?
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(1405, format!("Invalid run failure request: {e}"))
            })?
        };
        let org = req.org.as_deref().unwrap_or(super::EMBEDDED_ORG_ID);
        let sandbox = req.sandbox.as_deref().unwrap_or("prod");
        let exists = st
            .store
            .existing(org, sandbox)
            .is_some_and(|sb| sb.read().expect("lock").get(Resource::Flow, &id).is_some());
        if !exists {
            return Err(ApiError::not_found("flows", &id));
        }
        let remaining = req.runs.unwrap_or(1);
        st.runs.fail(
            &id,
            runs::Failure {
                remaining,
                code: req
                    .code
                    .unwrap_or_else(|| runs::DEFAULT_FAILURE_CODE.into()),
                message: req
                    .message
                    .unwrap_or_else(|| runs::DEFAULT_FAILURE_MESSAGE.into()),
            },
        );
        Ok(axum::Json(json!({"flowId": id, "failingRuns": remaining})).into_response())
    }
    .await;
    finish(&rid(), res)
}

/// Stamps every answer with the simulated clock's `Date` (hyper keeps a `Date` that is set).
async fn date_layer(st: St, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&clock::http_date(st.now_ms())) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

async fn ims_token(st: St, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, st.max_body_bytes).await.unwrap_or_default();
    let (status, v) = super::ims::token_response(
        &st.tokens,
        st.token_lifetime,
        parts.uri.query().unwrap_or(""),
        &String::from_utf8_lossy(&bytes),
    );
    (status, axum::Json(v)).into_response()
}

async fn introspect_requests(st: St) -> Response {
    let counts = st.counts.lock().expect("lock").clone();
    let total: u64 = counts.values().sum();
    axum::Json(json!({"total": total, "requests": counts})).into_response()
}

async fn introspect_reset(st: St) -> Response {
    match st.reset().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => finish(&rid(), Err(ApiError::from(e))),
    }
}

/// The route template of a path: ids become `{id}`.
fn route_of(path: &str) -> String {
    match path.strip_prefix(FLOW_SERVICE_BASE) {
        Some(rest) => {
            let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
            let templ = match segs.as_slice() {
                [col] => format!("/{col}"),
                [col, _] => format!("/{col}/{{id}}"),
                [col, _, tail] => format!("/{col}/{{id}}/{tail}"),
                _ => rest.to_owned(),
            };
            format!("{FLOW_SERVICE_BASE}{templ}")
        }
        None => path.to_owned(),
    }
}

async fn count_layer(st: St, req: Request, next: Next) -> Response {
    let key = format!("{} {}", req.method(), route_of(req.uri().path()));
    *st.counts.lock().expect("lock").entry(key).or_insert(0) += 1;
    next.run(req).await
}

async fn fault_layer(st: St, req: Request, next: Next) -> Response {
    let d = st.faults.decide();
    if !d.delay.is_zero() {
        tokio::time::sleep(d.delay).await;
    }
    let resp = match d.outcome {
        Outcome::Serve => next.run(req).await,
        Outcome::ServeThenClose => {
            let handle = req.extensions().get::<ConnectInfo<ConnHandle>>().cloned();
            let resp = next.run(req).await;
            if let Some(ConnectInfo(h)) = handle {
                h.kill();
            }
            resp
        }
        Outcome::Close => {
            if let Some(ConnectInfo(h)) = req.extensions().get::<ConnectInfo<ConnHandle>>() {
                h.kill();
            }
            ApiError::flow(
                StatusCode::INTERNAL_SERVER_ERROR,
                1000,
                "fault injection: connection closed",
                None,
            )
            .into_response()
        }
        Outcome::Status(429) => {
            let mut e =
                ApiError::gateway(StatusCode::TOO_MANY_REQUESTS, "429050", "Too many requests");
            e.retry_after = Some(d.retry_after);
            e.into_response()
        }
        Outcome::Status(s) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::flow(
                status,
                1000,
                format!(
                    "fault injection: {}",
                    status.canonical_reason().unwrap_or("error")
                ),
                None,
            )
            .with_request_id(&rid())
            .into_response()
        }
    };
    if let Some(pick) = d.edit {
        fault_edit(&st, pick).await;
    }
    resp
}

/// The out-of-band edit of fault injection: renames the flow `pick` chooses (modulo the
/// number of flows, in [`Store::all_flows`] order) to `<name> (edited in the UI)`.
async fn fault_edit(st: &Arc<AppState>, pick: u64) {
    let flows = st.store.all_flows();
    if flows.is_empty() {
        return;
    }
    let (org, sandbox, id, name) = &flows[(pick % flows.len() as u64) as usize];
    let edit = OutOfBandEdit::Rename(format!("{name} (edited in the UI)"));
    if let Err(e) = super::EmulatorState(st.clone())
        .out_of_band_edit(org, sandbox, id, edit)
        .await
    {
        tracing::warn!(
            "destctl emulator: fault injection: out-of-band edit of flow {id} failed: {e}"
        );
    }
}

/// The body of `POST /_emulator/flows/{id}/edit`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EditRequest {
    org: Option<String>,
    sandbox: Option<String>,
    by: Option<String>,
    client: Option<String>,
    at: Option<i64>,
    edit: EditBody,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
enum EditBody {
    Rename(String),
    Description(String),
    Enable(bool),
    Disable(bool),
    Patch(Value),
    RemoveAudience(String),
    Schedule(AudienceSchedule),
    FilenameTemplate(AudienceTemplate),
    Location(serde_json::Map<String, Value>),
    Account(serde_json::Map<String, Value>),
    Delete(bool),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceSchedule {
    audience: String,
    schedule: Value,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceTemplate {
    audience: String,
    template: String,
}

async fn introspect_edit(st: St, Path(id): Path<String>, bytes: Bytes) -> Response {
    let res = async {
        let req: EditRequest = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(1405, format!("Invalid out-of-band edit request: {e}"))
        })?;
        let edit = match req.edit {
            EditBody::Rename(n) => OutOfBandEdit::Rename(n),
            EditBody::Description(d) => OutOfBandEdit::SetDescription(d),
            EditBody::Enable(true) => OutOfBandEdit::Enable,
            EditBody::Disable(true) => OutOfBandEdit::Disable,
            EditBody::Patch(ops) => OutOfBandEdit::Patch(ops),
            EditBody::RemoveAudience(id) => OutOfBandEdit::RemoveAudience(id),
            EditBody::Schedule(a) => OutOfBandEdit::SetSchedule {
                audience: a.audience,
                schedule: a.schedule,
            },
            EditBody::FilenameTemplate(a) => OutOfBandEdit::SetFilenameTemplate {
                audience: a.audience,
                template: a.template,
            },
            EditBody::Location(params) => OutOfBandEdit::SetLocation(params),
            EditBody::Account(params) => OutOfBandEdit::SetAccount(params),
            EditBody::Delete(true) => OutOfBandEdit::Delete,
            EditBody::Enable(false) | EditBody::Disable(false) | EditBody::Delete(false) => {
                return Err(ApiError::bad_request(
                    1405,
                    "Invalid out-of-band edit request: use {\"enable\": true}, {\"disable\": true} or {\"delete\": true}",
                ));
            }
        };
        let who = super::EditActor {
            by: req.by,
            client: req.client,
            at: req.at,
        };
        let org = req.org.as_deref().unwrap_or(super::EMBEDDED_ORG_ID);
        let sandbox = req.sandbox.as_deref().unwrap_or("prod");
        let etag = super::EmulatorState(st.0.clone())
            .out_of_band_edit_as(org, sandbox, &id, edit, &who)
            .await
            .map_err(|e| match e {
                EmulatorError::NoSuchFlow { .. } => ApiError::not_found("flows", &id),
                EmulatorError::Rejected(m) => ApiError::bad_request(1455, m),
                other => ApiError::flow(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    1000,
                    other.to_string(),
                    None,
                ),
            })?;
        Ok(write_result(StatusCode::OK, &id, &json!(etag)))
    }
    .await;
    finish(&rid(), res)
}

async fn fallback(method: Method, uri: axum::http::Uri) -> Response {
    let e = ApiError::flow(
        StatusCode::NOT_FOUND,
        1101,
        format!("No route for {method} {}", uri.path()),
        None,
    );
    finish(&rid(), Err(e))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let e = ApiError::flow(
        StatusCode::METHOD_NOT_ALLOWED,
        1000,
        format!("Method {method} is not allowed on {}", uri.path()),
        None,
    );
    finish(&rid(), Err(e))
}

/// Like [`enter`], for the Data Prep API, which requires `x-sandbox-name` (SPEC-DP).
async fn enter_data_prep(
    st: &AppState,
    req: Request,
) -> Result<(axum::http::request::Parts, Bytes, Caller), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, st.max_body_bytes)
        .await
        .map_err(|_| ApiError::bad_request(1405, "cannot read the request body"))?;
    let caller = gateway::check(&parts.headers, &parts.method, bytes.len(), &st.tokens, true)?;
    Ok((parts, bytes, caller))
}

fn dp_ok(v: &Value) -> Response {
    json_text(StatusCode::OK, v.to_string())
}

fn dp_not_found(kind: &str, id: &str) -> ApiError {
    ApiError::not_found(kind, id)
}

/// `POST /schemas`.
async fn dp_create_schema(st: St, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, bytes, caller) = enter_data_prep(&st, req).await?;
        let body = parse_json(&bytes)?;
        let id = dataprep::new_id();
        let schema = dataprep::create_schema(&body, &id)?;
        st.mutate(&caller.org, &caller.sandbox, |sb| {
            sb.schemas.insert(id.clone(), schema.clone());
            Ok::<_, ApiError>(())
        })
        .await?;
        Ok(dp_ok(&schema))
    }
    .await;
    finish(&request_id, res)
}

/// `GET /schemas/{id}`.
async fn dp_get_schema(st: St, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, _, caller) = enter_data_prep(&st, req).await?;
        st.store
            .existing(&caller.org, &caller.sandbox)
            .and_then(|sb| sb.read().expect("lock").schemas.get(&id).cloned())
            .map(|s| dp_ok(&s))
            .ok_or_else(|| dp_not_found("schemas", &id))
    }
    .await;
    finish(&request_id, res)
}

/// `POST /mappingSets` (`existing`: `None`) or `PUT /mappingSets/{id}` (a new version).
async fn dp_write_mapping_set(st: St, existing: Option<String>, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (_, bytes, caller) = enter_data_prep(&st, req).await?;
        let body = parse_json(&bytes)?;
        let now = st.now_ms();
        let out = st
            .mutate(&caller.org, &caller.sandbox, |sb| {
                let (id, version, created) = match &existing {
                    None => (dataprep::new_id(), 0, None),
                    Some(id) => {
                        let versions = sb
                            .mapping_sets
                            .get(id)
                            .ok_or_else(|| dp_not_found("mappingSets", id))?;
                        let first = versions.first().cloned().unwrap_or(Value::Null);
                        (id.clone(), versions.len() as u64, Some(first))
                    }
                };
                let mut v = dataprep::mapping_set_version(&body, &id, version, sb)?;
                let (created_date, created_by) = match &created {
                    Some(first) => (first["createdDate"].clone(), first["createdBy"].clone()),
                    None => (json!(now), json!(caller.client_id)),
                };
                v.insert("createdDate".into(), created_date);
                v.insert("createdBy".into(), created_by);
                v.insert("modifiedDate".into(), json!(now));
                v.insert("modifiedBy".into(), json!(caller.client_id));
                let v = Value::Object(v);
                sb.mapping_sets.entry(id).or_default().push(v.clone());
                Ok::<_, ApiError>(v)
            })
            .await?;
        Ok(dp_ok(&dataprep::summary(&out)))
    }
    .await;
    finish(&request_id, res)
}

/// `GET /mappingSets/{id}[?version=N]`: the latest version unless one is asked for.
async fn dp_get_mapping_set(st: St, id: String, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, caller) = enter_data_prep(&st, req).await?;
        let version = match parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("version="))
        {
            None => None,
            Some(v) => Some(v.parse::<usize>().map_err(|_| {
                ApiError::bad_request(1451, format!("version `{v}` is not a whole number"))
            })?),
        };
        let versions = st
            .store
            .existing(&caller.org, &caller.sandbox)
            .and_then(|sb| sb.read().expect("lock").mapping_sets.get(&id).cloned())
            .ok_or_else(|| dp_not_found("mappingSets", &id))?;
        let v = match version {
            None => versions.last(),
            Some(n) => versions.get(n),
        };
        v.map(dp_ok)
            .ok_or_else(|| dp_not_found("mappingSets", &format!("{id} version {version:?}")))
    }
    .await;
    finish(&request_id, res)
}

/// `GET /mappingSets?limit=&start=`: newest first, the latest version of each.
async fn dp_list_mapping_sets(st: St, req: Request) -> Response {
    let request_id = rid();
    let res = async {
        let (parts, _, caller) = enter_data_prep(&st, req).await?;
        let param = |k: &str, default: usize| -> Result<usize, ApiError> {
            match parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| {
                    ApiError::bad_request(1451, format!("{k} `{v}` is not a whole number"))
                }),
            }
        };
        let (limit, start) = (param("limit", 10)?, param("start", 0)?);
        let mut all: Vec<Value> = st
            .store
            .existing(&caller.org, &caller.sandbox)
            .map(|sb| {
                sb.read()
                    .expect("lock")
                    .mapping_sets
                    .values()
                    .filter_map(|v| v.last().cloned())
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by(|a, b| {
            b["createdDate"]
                .as_i64()
                .cmp(&a["createdDate"].as_i64())
                .then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
        });
        let data: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
        Ok(dp_ok(
            &json!({"_page": {"count": data.len(), "limit": limit}, "data": data}),
        ))
    }
    .await;
    finish(&request_id, res)
}

/// The whole application.
pub(crate) fn build(st: Arc<AppState>) -> Router {
    let b = FLOW_SERVICE_BASE;
    let mut api: Router<Arc<AppState>> = Router::new()
        .route(
            &format!("{b}/connectionSpecs"),
            get(|s: St, req: Request| list_specs(s, SpecKind::Connection, req)),
        )
        .route(
            &format!("{b}/connectionSpecs/{{id}}"),
            get(|s: St, Path(id): Path<String>, req: Request| {
                get_spec(s, SpecKind::Connection, id, req)
            }),
        )
        .route(
            &format!("{b}/flowSpecs"),
            get(|s: St, req: Request| list_specs(s, SpecKind::Flow, req)),
        )
        .route(
            &format!("{b}/flowSpecs/{{id}}"),
            get(|s: St, Path(id): Path<String>, req: Request| get_spec(s, SpecKind::Flow, id, req)),
        )
        .route(&format!("{b}/runs"), get(list_runs))
        .route(&format!("{b}/runs/{{id}}"), get(get_run))
        .route(
            &format!("{b}/flows/{{id}}/action"),
            post(|s: St, Path(id): Path<String>, req: Request| flow_action(s, id, req)),
        );
    for r in store::COLLECTIONS {
        api = api
            .route(
                &format!("{b}{}", r.collection()),
                get(move |s: St, req: Request| list(s, r, req))
                    .post(move |s: St, req: Request| create(s, r, req)),
            )
            .route(
                &format!("{b}{}/{{id}}", r.collection()),
                get(move |s: St, Path(id): Path<String>, req: Request| get_one(s, r, id, req))
                    .patch(move |s: St, Path(id): Path<String>, req: Request| {
                        patch_one(s, r, id, req)
                    })
                    .delete(move |s: St, Path(id): Path<String>, req: Request| {
                        delete_one(s, r, id, req)
                    }),
            );
    }
    let dp = dataprep::DATA_PREP_BASE;
    api =
        api.route(&format!("{dp}/schemas"), post(dp_create_schema))
            .route(
                &format!("{dp}/schemas/{{id}}"),
                get(|s: St, Path(id): Path<String>, req: Request| dp_get_schema(s, id, req)),
            )
            .route(
                &format!("{dp}/mappingSets"),
                get(dp_list_mapping_sets)
                    .post(|s: St, req: Request| dp_write_mapping_set(s, None, req)),
            )
            .route(
                &format!("{dp}/mappingSets/{{id}}"),
                get(|s: St, Path(id): Path<String>, req: Request| dp_get_mapping_set(s, id, req))
                    .put(|s: St, Path(id): Path<String>, req: Request| {
                        dp_write_mapping_set(s, Some(id), req)
                    }),
            );
    let api = api.route_layer(from_fn_with_state(st.clone(), fault_layer));
    Router::new()
        .route("/ims/token/v3", post(ims_token))
        .merge(api)
        .route_layer(from_fn_with_state(st.clone(), count_layer))
        .route("/_emulator/requests", get(introspect_requests))
        .route("/_emulator/reset", post(introspect_reset))
        .route("/_emulator/flows/{id}/edit", post(introspect_edit))
        .route("/_emulator/flows/{id}/fail", post(introspect_fail))
        .route("/_emulator/clock", get(clock_get).post(clock_post))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(st.clone(), date_layer))
        .with_state(st)
}
