//! End to end: the client and `fetch` against the in-process emulator on a random
//! loopback port — writes, typed errors, faults, paging over more than 100 objects, the
//! destination-flow filter, sandbox isolation and the request budget read from
//! `/_emulator/requests`; and the embedded target with its state file.

use destctl::catalog::{EMULATOR_CAMPAIGN_FLOW_SPEC_ID, PROFILE_STORE_SPEC_ID};
use destctl::client::{Auth, Client, ClientConfig, ClientError, FlowAction, RetryPolicy};
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, Emulator, EmulatorConfig,
    FaultConfig, RunningEmulator, SeedFlows,
};
use destctl::fetch::{FetchOptions, fetch};
use destctl::wire::{PatchOp, PatchOpKind, Resource};
use serde_json::{Value, json};
use std::time::Duration;

const CAMPAIGN: &str = "0b23e41a-cb4a-4321-a78f-3b654f5d7d97";

async fn emulator() -> RunningEmulator {
    Emulator::start(EmulatorConfig::default()).await.unwrap()
}

fn client_for(emu: &RunningEmulator, sandbox: &str) -> Client {
    let base = emu.base_url();
    let mut cfg = ClientConfig::new(
        base.clone(),
        sandbox,
        Auth::ClientCredentials {
            ims_url: base,
            client_id: EMBEDDED_CLIENT_ID.into(),
            client_secret: EMBEDDED_CLIENT_SECRET.into(),
            org_id: EMBEDDED_ORG_ID.into(),
            scopes: "openid,AdobeID".into(),
        },
    );
    cfg.retry = RetryPolicy {
        max_retries: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
    };
    Client::new(cfg).unwrap()
}

/// `GET /_emulator/requests` over HTTP, as a benchmark would read it.
async fn request_counts(emu: &RunningEmulator) -> Value {
    destctl::client::ensure_crypto_provider();
    reqwest::get(format!("{}/_emulator/requests", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The count of `"METHOD /route"`, the route relative to the Flow Service base (IMS and
/// `/_emulator` routes as they are).
fn count(counts: &Value, key: &str) -> u64 {
    let (method, route) = key.split_once(' ').unwrap();
    let full = if route.starts_with("/ims/") || route.starts_with("/_emulator") {
        key.to_owned()
    } else {
        format!("{method} /data/foundation/flowservice{route}")
    };
    counts["requests"][&full]
        .as_u64()
        .or_else(|| counts["requests"][key].as_u64())
        .unwrap_or(0)
}

/// Creates a managed Adobe Campaign chain through the client; returns the flow's write result.
async fn campaign_chain(c: &Client, name: &str) -> destctl::client::WriteResult {
    let marker = format!("[destctl:{name}]");
    let base = c
        .create(
            Resource::Connection,
            &json!({"name": "Profile store", "description": marker,
                    "connectionSpec": {"id": PROFILE_STORE_SPEC_ID, "version": "1.0"}}),
        )
        .await
        .unwrap();
    let source = c
        .create(
            Resource::SourceConnection,
            &json!({"name": "Profile store source", "description": marker,
                    "connectionSpec": {"id": PROFILE_STORE_SPEC_ID, "version": "1.0"},
                    "baseConnectionId": base.id.0, "data": {"format": "CSV", "schema": null}, "params": {}}),
        )
        .await
        .unwrap();
    let dest = c
        .create(
            Resource::Connection,
            &json!({"name": "Campaign account", "description": format!("[destctl:{name} credentials=1]"),
                    "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
                    "auth": {"specName": "S3", "params": {"accessId": "ACCESS", "secretKey": "SECRET-VALUE"}}}),
        )
        .await
        .unwrap();
    let target = c
        .create(
            Resource::TargetConnection,
            &json!({"name": "Campaign location", "description": marker,
                    "baseConnectionId": dest.id.0, "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
                    "data": {"format": "json", "schema": {"id": "1.0", "version": "1.0"}},
                    "params": {"mode": "S3", "bucketName": "acme-exports", "path": "/campaign", "format": "CSV"}}),
        )
        .await
        .unwrap();
    c.create(
        Resource::Flow,
        &json!({"name": name, "description": marker,
                "flowSpec": {"id": EMULATOR_CAMPAIGN_FLOW_SPEC_ID, "version": "1.0"},
                "sourceConnectionIds": [source.id.0], "targetConnectionIds": [target.id.0],
                "transformations": [{"name": "GeneralTransform", "params": {
                    "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn writes_reads_and_typed_errors_against_the_emulator() {
    let emu = emulator().await;
    let c = client_for(&emu, "prod");
    let flow = campaign_chain(&c, "campaign-s3").await;
    assert!(flow.etag.0.starts_with('"'), "{:?}", flow.etag);

    let got = c.get(Resource::Flow, &flow.id).await.unwrap();
    assert_eq!(got["id"], flow.id.0.as_str());
    assert_eq!(got["etag"], flow.etag.0.as_str());

    let renamed = c
        .patch(
            Resource::Flow,
            &flow.id,
            &flow.etag,
            &[PatchOp {
                op: PatchOpKind::Replace,
                path: "/name".into(),
                value: Some(json!("renamed")),
            }],
        )
        .await
        .unwrap();
    assert_ne!(renamed.etag, flow.etag);
    assert_eq!(
        c.get(Resource::Flow, &flow.id).await.unwrap()["name"],
        "renamed"
    );

    // The old etag is stale now.
    let err = c
        .patch(Resource::Flow, &flow.id, &flow.etag, &[])
        .await
        .unwrap_err();
    let ClientError::PreconditionFailed(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.code.as_deref(), Some("FLOW-1404-412"), "{err}");
    assert!(err.hint().unwrap().contains("plan"));

    let disabled = c.flow_action(&flow.id, FlowAction::Disable).await.unwrap();
    assert_eq!(
        c.get(Resource::Flow, &flow.id).await.unwrap()["state"],
        "disabled"
    );
    assert_ne!(disabled.etag, renamed.etag);

    c.delete(Resource::Flow, &flow.id).await.unwrap();
    let err = c.get(Resource::Flow, &flow.id).await.unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    assert!(err.hint().unwrap().contains("outside destctl"));

    // One token for the whole session.
    assert_eq!(c.tokens_minted(), 1);
    assert_eq!(count(&request_counts(&emu).await, "POST /ims/token/v3"), 1);
}

#[tokio::test]
async fn a_bad_token_is_an_unauthorized_error_with_a_hint() {
    let emu = emulator().await;
    let cfg = ClientConfig::new(
        emu.base_url(),
        "prod",
        Auth::Token {
            access_token: "not-a-token-the-emulator-issued".into(),
            client_id: EMBEDDED_CLIENT_ID.into(),
            org_id: EMBEDDED_ORG_ID.into(),
        },
    );
    let c = Client::new(cfg).unwrap();
    let err = c.list("/flows", &[]).await.unwrap_err();
    let ClientError::Unauthorized(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 401);
    assert!(api.code.is_some(), "{err}");
    assert!(err.hint().unwrap().contains("AEP_ACCESS_TOKEN"));
    assert!(!err.to_string().contains("not-a-token"));
}

#[tokio::test]
async fn injected_faults_are_retried() {
    let emu = emulator().await;
    let mut c = client_for(&emu, "prod");
    campaign_chain(&c, "a").await;
    let mut cfg = c.config().clone();
    cfg.retry.max_retries = 12;
    c = Client::new(cfg).unwrap();
    emu.set_faults(FaultConfig {
        seed: 7,
        p429: 0.2,
        retry_after_secs: 0,
        p500: 0.05,
        p503: 0.05,
        ..FaultConfig::default()
    });
    for _ in 0..10 {
        let live = fetch(&c, &FetchOptions::default()).await.unwrap();
        assert_eq!(live.flows.len(), 1);
    }
    // A closed connection on a list call is retried too.
    emu.set_faults(FaultConfig {
        close_after: Some(0),
        ..FaultConfig::default()
    });
    let live = fetch(&c, &FetchOptions::default()).await.unwrap();
    assert_eq!(live.flows.len(), 1);
    assert!(c.requests_sent() > 40, "{}", c.requests_sent());
}

#[tokio::test]
async fn fetch_pages_over_more_than_100_objects_within_the_request_budget() {
    // The emulator enforces the guardrail of 100 destination flows per sandbox: 99 seeded plus
    // one managed chain; the connections (one per flow plus the Profile store ones) need two
    // pages.
    const F: usize = 99;
    let emu = emulator().await;
    let seed = SeedFlows {
        flows: F,
        audiences_per_flow: 3,
        attributes_per_flow: 2,
        name_prefix: "bulk".into(),
        ..SeedFlows::default()
    };
    let ids = emu
        .seed_flows(EMBEDDED_ORG_ID, "prod", &seed)
        .await
        .unwrap();
    assert_eq!(ids.len(), F);
    // Another sandbox and another org stay out of the picture.
    emu.seed_flows(
        EMBEDDED_ORG_ID,
        "dev",
        &SeedFlows {
            flows: 7,
            ..SeedFlows::default()
        },
    )
    .await
    .unwrap();
    emu.seed_flows(
        "OTHER@AdobeOrg",
        "prod",
        &SeedFlows {
            flows: 3,
            ..SeedFlows::default()
        },
    )
    .await
    .unwrap();
    let c = client_for(&emu, "prod");
    // And a managed chain made through the API.
    campaign_chain(&c, "campaign-s3").await;
    let before = request_counts(&emu).await;
    let sent_before = c.requests_sent();

    let live = fetch(
        &c,
        &FetchOptions {
            campaign_flow_spec: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(live.flows.len(), F + 1);
    let mut listed: Vec<&str> = live.flows.iter().map(|f| f.id.0.as_str()).collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), F + 1, "no flow listed twice");
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "{id} missing");
    }
    assert!(live.flows.iter().all(|f| matches!(
        f.flow().unwrap().transformations,
        Some(destctl::wire::json::Json::Typed(_))
    )));
    assert_eq!(live.target_connections.len(), F + 1);
    assert!(live.connections.len() > 100, "{}", live.connections.len());
    assert_eq!(
        live.campaign_flow_spec_id.as_deref(),
        Some(EMULATOR_CAMPAIGN_FLOW_SPEC_ID)
    );

    let managed = live.managed();
    let d = &managed["campaign-s3"];
    assert!(d.flow.is_some() && d.profile_connection.is_some() && d.connection.is_some());
    assert!(d.source_connection.is_some() && d.target_connection.is_some());
    assert_eq!(
        d.connection
            .as_ref()
            .unwrap()
            .marker
            .as_ref()
            .unwrap()
            .credentials_version,
        Some(1)
    );

    let counts = delta(&before, &request_counts(&emu).await);
    let pages = |n: usize| n.div_ceil(100) as u64;
    assert_eq!(count(&counts, "GET /flows"), pages(F + 1));
    // Base connections come as two filtered lists (Profile store, destination accounts).
    let profile_connections = live
        .connections
        .iter()
        .filter(|c| c.connection_spec_id() == Some(destctl::catalog::PROFILE_STORE_SPEC_ID))
        .count();
    assert_eq!(
        count(&counts, "GET /connections"),
        pages(profile_connections).max(1) + pages(live.connections.len() - profile_connections)
    );
    assert_eq!(
        count(&counts, "GET /sourceConnections"),
        pages(live.source_connections.len())
    );
    assert_eq!(
        count(&counts, "GET /targetConnections"),
        pages(live.target_connections.len())
    );
    assert_eq!(count(&counts, "GET /flowSpecs"), 1);
    assert_eq!(
        count(&counts, "GET /flows/{id}"),
        0,
        "no per-object GET: {counts}"
    );
    let flow_service: u64 = counts["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.contains("/ims/") && !k.contains("/_emulator"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    let budget = 4 * pages(F + 1) + 4;
    assert!(
        flow_service <= budget,
        "{flow_service} requests > budget {budget}: {counts}"
    );
    assert_eq!(flow_service, c.requests_sent() - sent_before);

    // The dev sandbox sees only its own flows.
    let dev = fetch(&client_for(&emu, "dev"), &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(dev.flows.len(), 7);
}

/// `after - before`, per route (`/_emulator/reset` would clear the entities too).
fn delta(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in after["requests"].as_object().unwrap() {
        let d = v.as_u64().unwrap() - before["requests"][k].as_u64().unwrap_or(0);
        if d > 0 {
            out.insert(k.clone(), json!(d));
        }
    }
    json!({"requests": out})
}

#[tokio::test]
async fn fetch_on_an_empty_sandbox_is_five_requests() {
    let emu = emulator().await;
    let c = client_for(&emu, "prod");
    let live = fetch(&c, &FetchOptions::default()).await.unwrap();
    assert_eq!(live, destctl::live::LiveState::default());
    let counts = request_counts(&emu).await;
    for key in [
        "GET /flows",
        "GET /sourceConnections",
        "GET /targetConnections",
    ] {
        assert_eq!(count(&counts, key), 1, "{key}: {counts}");
    }
    assert_eq!(count(&counts, "GET /connections"), 2, "{counts}");
    assert_eq!(c.requests_sent(), 5);
}

#[tokio::test]
async fn the_embedded_target_keeps_its_state_in_the_state_file() {
    let dir = crate::support::tempdir();
    let state_file = dir.join(".destctl/emulator.json");
    let connected = destctl::target::start_embedded(&state_file, "prod")
        .await
        .unwrap();
    assert!(connected.is_embedded());
    assert!(connected.client.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(
        connected.endpoint,
        format!("embedded:{}", state_file.display())
    );
    let flow = campaign_chain(&connected.client, "persisted").await;
    connected.shutdown().await;
    assert!(state_file.is_file());

    let again = destctl::target::connect(destctl::target::Target::Embedded {
        state_file: state_file.clone(),
        sandbox: "prod".into(),
    })
    .await
    .unwrap();
    let live = fetch(&again.client, &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(live.flows.len(), 1);
    assert_eq!(live.flows[0].id, flow.id);
    assert_eq!(
        live.managed()["persisted"].flow.as_ref().unwrap().etag,
        flow.etag
    );
    again.shutdown().await;
    dir.close();
}

#[tokio::test]
async fn list_pages_keep_the_filter_across_continuation_tokens() {
    let emu = emulator().await;
    emu.seed_flows(
        EMBEDDED_ORG_ID,
        "prod",
        &SeedFlows {
            flows: 100,
            ..SeedFlows::default()
        },
    )
    .await
    .unwrap();
    let c = client_for(&emu, "prod");
    let filter = (
        "property",
        destctl::fetch::DESTINATION_FLOW_FILTER.to_owned(),
    );
    let all = c
        .list("/flows", &[filter.clone(), ("limit", "30".into())])
        .await
        .unwrap();
    let mut ids: Vec<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert_eq!(count(&request_counts(&emu).await, "GET /flows"), 4);
    // A filter that matches nothing stays applied on every page.
    let none = c
        .list(
            "/flows",
            &[
                ("property", "name==no-such-flow".into()),
                ("limit", "30".into()),
            ],
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}
