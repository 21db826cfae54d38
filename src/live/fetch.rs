//! Reads the live state of one sandbox with list calls only.
//!
//! Four paged lists run concurrently (`limit=100`): destination flows
//! (`inheritedAttributes.properties.isDestinationFlow==true`), base connections, source
//! connections and target connections, plus `GET /flowSpecs?property=name==upsToCampaign` when
//! asked. For `F` flows and their connections that is `⌈F/100⌉ + ⌈C/100⌉ + ⌈S/100⌉ + ⌈T/100⌉`
//! (+1) requests. A flow listed without `transformations` is read again with one GET (said at
//! info level); nothing else is read one by one.

use super::{LiveEntity, LiveState};
use crate::client::{Client, ClientError};
use crate::plan::Resource;
use serde_json::Value;
use std::sync::Arc;

/// The filter that keeps destination flows only.
pub const DESTINATION_FLOW_FILTER: &str = "inheritedAttributes.properties.isDestinationFlow==true";

/// The name of Adobe Campaign's flow spec.
pub const CAMPAIGN_FLOW_SPEC_NAME: &str = "upsToCampaign";

/// How many fallback GETs run at once.
const FALLBACK_CONCURRENCY: usize = 8;

/// What to read besides the four lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOptions {
    /// Look up the `upsToCampaign` flow spec id (needed when a manifest targets Adobe Campaign).
    pub campaign_flow_spec: bool,
}

/// Lists everything destctl needs from the client's sandbox.
pub async fn fetch(client: &Client, opts: &FetchOptions) -> Result<LiveState, ClientError> {
    let flow_filter = [("property", DESTINATION_FLOW_FILTER.to_owned())];
    let campaign = async {
        if !opts.campaign_flow_spec {
            return Ok(None);
        }
        let specs = client
            .list(
                "/flowSpecs",
                &[("property", format!("name=={CAMPAIGN_FLOW_SPEC_NAME}"))],
            )
            .await?;
        Ok::<_, ClientError>(
            specs
                .iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(CAMPAIGN_FLOW_SPEC_NAME))
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
    };
    let (flows, connections, source_connections, target_connections, campaign_flow_spec_id) = tokio::try_join!(
        client.list(Resource::Flow.collection(), &flow_filter),
        client.list(Resource::Connection.collection(), &[]),
        client.list(Resource::SourceConnection.collection(), &[]),
        client.list(Resource::TargetConnection.collection(), &[]),
        campaign,
    )?;
    let flows = complete_transformations(client, flows).await?;
    Ok(LiveState {
        flows: entities(Resource::Flow, flows),
        connections: entities(Resource::Connection, connections),
        source_connections: entities(Resource::SourceConnection, source_connections),
        target_connections: entities(Resource::TargetConnection, target_connections),
        campaign_flow_spec_id,
    })
}

fn entities(resource: Resource, raw: Vec<Value>) -> Vec<Arc<LiveEntity>> {
    let total = raw.len();
    let out: Vec<Arc<LiveEntity>> = raw
        .into_iter()
        .filter_map(|v| LiveEntity::from_raw(resource, v).map(Arc::new))
        .collect();
    if out.len() < total {
        tracing::warn!(
            collection = resource.collection(),
            skipped = total - out.len(),
            "list items without id or etag ignored"
        );
    }
    out
}

/// Replaces flows listed without `transformations` by their single GET.
async fn complete_transformations(
    client: &Client,
    mut flows: Vec<Value>,
) -> Result<Vec<Value>, ClientError> {
    let missing: Vec<(usize, crate::plan::EntityId)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.get("transformations").is_none())
        .filter_map(|(i, f)| {
            f.get("id")
                .and_then(Value::as_str)
                .map(|id| (i, crate::plan::EntityId(id.to_owned())))
        })
        .collect();
    if missing.is_empty() {
        return Ok(flows);
    }
    tracing::info!(
        flows = missing.len(),
        "the flow list came without transformations; reading those flows one by one"
    );
    let permits = Arc::new(tokio::sync::Semaphore::new(FALLBACK_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, id) in missing {
        let client = client.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            (index, client.get(Resource::Flow, &id).await)
        });
    }
    let mut gone = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.expect("fallback GET task panicked");
        match result {
            Ok(flow) => flows[index] = flow,
            // Deleted between the list and the GET: it is not live any more.
            Err(ClientError::NotFound(_)) => gone.push(index),
            Err(e) => return Err(e),
        }
    }
    gone.sort_unstable();
    for index in gone.into_iter().rev() {
        flows.remove(index);
    }
    Ok(flows)
}
