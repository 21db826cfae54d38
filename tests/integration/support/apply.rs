//! Helpers of the apply end-to-end tests: an in-process emulator on a random loopback port, a
//! client for it, manifests, and checks on what the emulator holds.
#![allow(dead_code)]

use destctl::apply::execute::Cancel;
use destctl::apply::secrets::Resolver;
use destctl::apply::{Applied, ApplyError, Approval, Context, Input, Silent, apply};
use destctl::client::{Auth, Client, ClientConfig, RetryPolicy};
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, RunningEmulator,
};
use destctl::fetch::{FetchOptions, fetch};
use destctl::live::LiveState;
use destctl::model::DesiredState;
use destctl::plan::{Plan, PlanOptions, PlanTarget, build_plan};
use destctl::wire::{EntityId, Resource};
use std::path::PathBuf;
use std::time::Duration;

pub use super::{root, tempdir, write};

/// The seed scenario: the tutorial's Campaign over S3 Destination and the schedules it uses.
pub fn seed_paths() -> Vec<PathBuf> {
    vec![
        root().join("manifests/campaign-s3.yaml"),
        root().join("manifests/schedules.yaml"),
    ]
}

/// Every example.
pub fn all_paths() -> Vec<PathBuf> {
    vec![root().join("manifests")]
}

/// Loads and validates manifests.
pub fn load(paths: &[PathBuf]) -> DesiredState {
    destctl::manifest::load(paths)
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
        .desired
}

/// Loads and validates `paths` and manifests given as text (`(file name, text)`, written to a
/// temporary directory first).
pub fn load_with_texts(paths: &[PathBuf], texts: &[(&str, &str)]) -> DesiredState {
    let dir = tempdir();
    let mut all = paths.to_vec();
    all.extend(
        texts
            .iter()
            .map(|(name, text)| write(dir.path(), name, text)),
    );
    load(&all)
}

pub use super::emulator::start as emulator;

/// A client for `emu` with quick retries.
pub fn client(emu: &RunningEmulator) -> Client {
    client_for(&emu.base_url())
}

/// A client for an emulator at `endpoint`.
pub fn client_for(endpoint: &str) -> Client {
    Client::new(client_config(endpoint)).unwrap()
}

/// The configuration of [`client_for`]: the embedded credentials, quick retries.
pub fn client_config(endpoint: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(
        endpoint,
        "prod",
        Auth::ClientCredentials {
            ims_url: endpoint.to_owned(),
            client_id: EMBEDDED_CLIENT_ID.into(),
            client_secret: EMBEDDED_CLIENT_SECRET.into(),
            org_id: EMBEDDED_ORG_ID.into(),
            scopes: "openid".into(),
        },
    );
    cfg.retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    };
    cfg.timeout = Duration::from_secs(10);
    cfg
}

/// A context that approves automatically and reads `${file:…}` from the repository root.
pub fn ctx(emu: &RunningEmulator) -> Context {
    ctx_with(emu, Resolver::new(|_| None, root()))
}

/// A context with its own secret resolver.
pub fn ctx_with(emu: &RunningEmulator, resolver: Resolver) -> Context {
    Context {
        endpoint: emu.base_url(),
        sandbox: "prod".into(),
        resolver,
        cancel: Cancel::new(),
        approval: Approval::Auto,
        parallelism: 4,
        observer: std::sync::Arc::new(Silent),
        scope: destctl::model::Scope::all(),
    }
}

/// A live apply of `desired`.
pub async fn apply_live(
    emu: &RunningEmulator,
    desired: &DesiredState,
    prune: bool,
) -> Result<Applied, ApplyError> {
    apply(
        Input::Live {
            desired: desired.clone(),
            prune,
        },
        &client(emu),
        &ctx(emu),
    )
    .await
}

/// Everything listed now.
pub async fn live(emu: &RunningEmulator) -> LiveState {
    fetch(
        &client(emu),
        &FetchOptions {
            campaign_flow_spec: true,
        },
    )
    .await
    .unwrap()
}

/// What `destctl plan` would say now.
pub async fn plan_now(emu: &RunningEmulator, desired: &DesiredState, prune: bool) -> Plan {
    build_plan(
        desired,
        &live(emu).await,
        &PlanOptions {
            target: PlanTarget {
                endpoint: emu.base_url(),
                sandbox: "prod".into(),
            },
            prune,
        },
    )
    .unwrap()
}

/// The id of the flow of the managed Destination or DatasetExport `name` (found by its marker).
pub async fn flow_id(emu: &RunningEmulator, name: &str) -> String {
    live(emu)
        .await
        .managed()
        .remove(name)
        .and_then(|d| d.flow)
        .map(|f| f.id.0.clone())
        .unwrap_or_else(|| panic!("no flow for {name}"))
}

/// The object `id` of kind `r`, as the service answers it.
pub async fn get(emu: &RunningEmulator, r: Resource, id: &str) -> serde_json::Value {
    client(emu).get(r, &EntityId(id.to_owned())).await.unwrap()
}

/// Requests that change something (not GET, not the IMS token).
pub fn writes(emu: &RunningEmulator) -> u64 {
    emu.request_counts()
        .iter()
        .filter(|(k, _)| !k.starts_with("GET ") && !k.contains("/ims/"))
        .map(|(_, n)| n)
        .sum()
}

/// All Flow Service requests.
pub fn flow_service_requests(emu: &RunningEmulator) -> u64 {
    emu.request_counts()
        .iter()
        .filter(|(k, _)| !k.contains("/ims/"))
        .map(|(_, n)| n)
        .sum()
}

/// Requests of one `METHOD /route`.
pub fn count(emu: &RunningEmulator, key: &str) -> u64 {
    emu.request_counts().get(key).copied().unwrap_or(0)
}

/// Asserts that the emulator holds exactly one of each object of every Destination in
/// `desired` (flow, two base connections, source and target connection) and nothing else.
pub async fn assert_exactly_one_of_each(emu: &RunningEmulator, desired: &DesiredState) {
    let live = live(emu).await;
    let n = desired.destinations.len();
    // A DatasetExport adds a flow, a source and a target connection (on its Destination's
    // account).
    let e = desired.dataset_exports.len();
    assert_eq!(live.flows.len(), n + e, "flows");
    assert_eq!(live.connections.len(), 2 * n, "connections");
    assert_eq!(live.source_connections.len(), n + e, "source connections");
    assert_eq!(live.target_connections.len(), n + e, "target connections");
    let managed = live.managed();
    for d in &desired.destinations {
        let m = managed
            .get(d.name.as_str())
            .unwrap_or_else(|| panic!("{} missing", d.name));
        assert!(m.flow.is_some(), "{}: flow", d.name);
        assert!(m.connection.is_some(), "{}: connection", d.name);
        assert!(m.profile_connection.is_some(), "{}: profile", d.name);
        assert!(m.source_connection.is_some(), "{}: source", d.name);
        assert!(m.target_connection.is_some(), "{}: target", d.name);
        assert!(m.extras.is_empty(), "{}: extras {:?}", d.name, m.extras);
    }
    for x in &desired.dataset_exports {
        let m = managed
            .get(x.name.as_str())
            .unwrap_or_else(|| panic!("{} missing", x.name));
        assert!(
            m.flow.is_some() && m.source_connection.is_some(),
            "{}",
            x.name
        );
        assert!(m.target_connection.is_some(), "{}: target", x.name);
        assert!(m.extras.is_empty(), "{}: extras {:?}", x.name, m.extras);
    }
}
