//! Reads the live state of one sandbox with list calls only.
//!
//! Five paged lists run concurrently (`limit=100`), each filtered server-side so that a sandbox
//! full of source-side objects costs nothing: destination flows
//! (`inheritedAttributes.properties.isDestinationFlow==true`); base connections twice, the
//! Profile store ones (`connectionSpec.id==<Profile store spec>`) and the destination accounts
//! (`connectionSpec.id==<the destination connection specs, comma-separated: any of>`); source
//! connections of the Profile store and Data Lake specs; target connections of the destination specs. Plus
//! `GET /flowSpecs?property=name==upsToCampaign` when asked. With at most 100 destination flows
//! per sandbox (the guardrail) and one chain per flow, that is 5 requests (+1), within the
//! budget of 4·⌈F/100⌉+4. A flow listed without `transformations` is read again with one GET
//! (said at info level); nothing else is read one by one.
//!
//! Every list item is deserialized straight from the page bytes into its typed wire struct
//! ([`Flow`], [`Connection`], [`FlowSpec`]): the fields destctl does not read — above all a
//! flow's `lastOperation` (which echoes every audience of the flow), `lastRunDetails` and
//! `runs` — are skipped by the parser, never built, and each page's bytes live only while that
//! page is parsed. An item without `id` or `etag` fails the list with an error naming it.

use crate::catalog::{DATA_LAKE_SPEC_ID, PROFILE_STORE_SPEC_ID, Platform};
use crate::client::{Client, ClientError};
use crate::live::{LiveEntity, LiveState};
use crate::model::DesiredState;
use crate::wire::connection::{Connection, FlowSpec};
use crate::wire::flow::Flow;
use crate::wire::{EntityId, Resource};
use std::sync::Arc;

/// The filter that keeps destination flows only.
pub const DESTINATION_FLOW_FILTER: &str = "inheritedAttributes.properties.isDestinationFlow==true";

/// `property=connectionSpec.id==<Profile store spec id>`: Profile store (source-side) objects.
pub fn profile_store_filter() -> String {
    format!("connectionSpec.id=={PROFILE_STORE_SPEC_ID}")
}

/// `property=connectionSpec.id==<Profile store>,<Data Lake>`: the source connections of
/// audience flows and of dataset exports.
pub fn source_connection_filter() -> String {
    format!("connectionSpec.id=={PROFILE_STORE_SPEC_ID},{DATA_LAKE_SPEC_ID}")
}

/// `property=connectionSpec.id==<id>,<id>,…`: objects of any destination connection spec of the
/// catalog.
pub fn destination_spec_filter() -> String {
    let ids: Vec<&str> = Platform::all()
        .map(|p| p.info().connection_spec_id)
        .collect();
    format!("connectionSpec.id=={}", ids.join(","))
}

/// The name of Adobe Campaign's flow spec.
pub const CAMPAIGN_FLOW_SPEC_NAME: &str = "upsToCampaign";

/// How many fallback GETs run at once.
const FALLBACK_CONCURRENCY: usize = 8;

/// What to read besides the five lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOptions {
    /// Look up the `upsToCampaign` flow spec id (needed when a manifest targets Adobe Campaign).
    pub campaign_flow_spec: bool,
}

impl FetchOptions {
    /// What the live read must look up for `desired`: the Adobe Campaign flow spec, when a
    /// Destination needs it.
    pub fn for_desired(desired: &DesiredState) -> FetchOptions {
        FetchOptions {
            campaign_flow_spec: desired
                .destinations
                .iter()
                .any(|d| d.platform == Platform::AdobeCampaign),
        }
    }
}

/// Lists everything destctl needs from the client's sandbox.
///
/// The connection lists run in a spawned task while this task lists the flows alone
/// ([`Client::list_as`] parses each page on the calling task: the flow page, by far the
/// largest, is parsed on this thread).
pub async fn fetch(client: &Client, opts: &FetchOptions) -> Result<LiveState, ClientError> {
    let others = tokio::spawn(list_connections(client.clone(), opts.clone()));
    let flows = match list_flows(client, &[("property", DESTINATION_FLOW_FILTER.to_owned())]).await
    {
        Ok(flows) => flows,
        Err(e) => {
            others.abort();
            return Err(e);
        }
    };
    let Connections {
        mut base_connections,
        accounts,
        source_connections,
        target_connections,
        campaign_flow_spec_id,
    } = match others.await {
        Ok(connections) => connections?,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    base_connections.extend(accounts);
    let flows = complete_transformations(client, flows).await?;
    let wrap = |resource, items: Vec<Connection>| -> Vec<Arc<LiveEntity>> {
        items
            .into_iter()
            .map(|c| Arc::new(LiveEntity::from_connection(resource, c)))
            .collect()
    };
    Ok(LiveState {
        flows: flows
            .into_iter()
            .map(|f| Arc::new(LiveEntity::from_flow(f)))
            .collect(),
        connections: wrap(Resource::Connection, base_connections),
        source_connections: wrap(Resource::SourceConnection, source_connections),
        target_connections: wrap(Resource::TargetConnection, target_connections),
        campaign_flow_spec_id,
    })
}

/// Everything [`fetch`] lists besides the flows.
struct Connections {
    base_connections: Vec<Connection>,
    accounts: Vec<Connection>,
    source_connections: Vec<Connection>,
    target_connections: Vec<Connection>,
    campaign_flow_spec_id: Option<String>,
}

/// The four connection lists and the Campaign flow spec lookup, concurrently.
async fn list_connections(client: Client, opts: FetchOptions) -> Result<Connections, ClientError> {
    let client = &client;
    let campaign = async {
        if !opts.campaign_flow_spec {
            return Ok(None);
        }
        let specs = client
            .list_as::<FlowSpec>(
                "/flowSpecs",
                &[("property", format!("name=={CAMPAIGN_FLOW_SPEC_NAME}"))],
            )
            .await?;
        Ok::<_, ClientError>(
            specs
                .into_iter()
                .find(|s| s.name.as_deref() == Some(CAMPAIGN_FLOW_SPEC_NAME))
                .and_then(|s| s.id),
        )
    };
    let profile = [("property", profile_store_filter())];
    let destination = [("property", destination_spec_filter())];
    let sources = [("property", source_connection_filter())];
    let (base_connections, accounts, source_connections, target_connections, campaign_flow_spec_id) =
        tokio::try_join!(
            client.list_as::<Connection>(Resource::Connection.collection(), &profile),
            client.list_as::<Connection>(Resource::Connection.collection(), &destination),
            client.list_as::<Connection>(Resource::SourceConnection.collection(), &sources),
            client.list_as::<Connection>(Resource::TargetConnection.collection(), &destination),
            campaign,
        )?;
    Ok(Connections {
        base_connections,
        accounts,
        source_connections,
        target_connections,
        campaign_flow_spec_id,
    })
}

/// Lists the destination flows (`query`: the flow filter), typed.
pub async fn list_flows(
    client: &Client,
    query: &[(&str, String)],
) -> Result<Vec<Flow>, ClientError> {
    client
        .list_as::<Flow>(Resource::Flow.collection(), query)
        .await
}

/// Replaces flows listed without `transformations` by their single GET.
async fn complete_transformations(
    client: &Client,
    mut flows: Vec<Flow>,
) -> Result<Vec<Flow>, ClientError> {
    let missing: Vec<(usize, EntityId)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.transformations.is_none())
        .map(|(i, f)| (i, f.id.clone()))
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
            Ok(raw) => {
                flows[index] = Flow::from_value(&raw).map_err(|e| ClientError::Decode {
                    method: reqwest::Method::GET,
                    path: format!("{}/{}", Resource::Flow.collection(), flows[index].id.0),
                    message: format!("not a flow ({e})"),
                })?
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_item_skips_the_fields_plan_does_not_read() {
        let body = r#"{"lastOperation": {"ops": [{"a": 1}]}, "id": "f", "runs": [1, 2],
            "na\u006de": "N", "etag": "\"e\"", "transformations": [{"name": "t"}],
            "lastRunDetails": {"x": null}, "state": "enabled", "updatedBy": "who",
            "updatedAt": 17}"#;
        let flow: Flow = serde_json::from_str(body).unwrap();
        assert_eq!(flow.id.0, "f");
        assert_eq!(flow.etag.0, "\"e\"");
        assert_eq!(flow.name.as_deref(), Some("N"));
        assert!(flow.is_enabled());
        assert_eq!(flow.updated_by.as_deref(), Some("who"));
        assert_eq!(flow.updated_at, Some(17));
        assert!(flow.transformations.is_some());
        assert!(flow.params().is_none());
    }

    #[test]
    fn a_flow_item_without_etag_is_an_error_naming_it() {
        let err = serde_json::from_str::<Flow>(r#"{"id": "flow-7", "name": "x"}"#).unwrap_err();
        assert!(
            err.to_string().contains("flow flow-7 has no string `etag`"),
            "{err}"
        );
        let err = serde_json::from_str::<Flow>(r#"{"etag": "e"}"#).unwrap_err();
        assert!(err.to_string().contains("has no string `id`"), "{err}");
    }
}
