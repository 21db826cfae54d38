//! Reads the live state of one sandbox with list calls only.
//!
//! Five paged lists run concurrently (`limit=100`), each filtered server-side so that a sandbox
//! full of source-side objects costs nothing: destination flows
//! (`inheritedAttributes.properties.isDestinationFlow==true`); base connections twice, the
//! Profile store ones (`connectionSpec.id==<Profile store spec>`) and the destination accounts
//! (`connectionSpec.id==<the destination connection specs, comma-separated: any of>`); source
//! connections of the Profile store spec; target connections of the destination specs. Plus
//! `GET /flowSpecs?property=name==upsToCampaign` when asked. With at most 100 destination flows
//! per sandbox (the guardrail) and one chain per flow, that is 5 requests (+1), within the
//! budget of 4·⌈F/100⌉+4. A flow listed without `transformations` is read again with one GET
//! (said at info level); nothing else is read one by one.
//!
//! Flow list items are lean ([`LeanFlow`], [`list_flows`]): each item is deserialized straight
//! from the page bytes keeping only these top-level fields — [`FLOW_KEPT_FIELDS`]: `id`,
//! `etag`, `version`, `name`, `description`, `state`, `flowSpec`, `sourceConnectionIds`,
//! `targetConnectionIds`, `transformations`, `inheritedAttributes`, `scheduleParams`,
//! `options`, `createdAt`, `updatedAt`, `createdBy`, `updatedBy`, `createdClient`,
//! `updatedClient`, `sandboxId`, `sandboxName`, `imsOrgId` — every field plan and apply read
//! (plan: `id`, `etag`, `description` for the marker, `createdAt`, `name`, `state`,
//! `flowSpec.id`, `transformations`) plus the small server fields. The rest — above all
//! `lastOperation` (which echoes every audience of the flow), `lastRunDetails` and `runs` —
//! is skipped by the parser and never built. Connections are kept whole.

use super::{LiveEntity, LiveState};
use crate::catalog::{PROFILE_STORE_SPEC_ID, Platform};
use crate::client::{Client, ClientError};
use crate::wire::Resource;
use serde_json::Value;
use std::sync::Arc;

/// The filter that keeps destination flows only.
pub const DESTINATION_FLOW_FILTER: &str = "inheritedAttributes.properties.isDestinationFlow==true";

/// `property=connectionSpec.id==<Profile store spec id>`: Profile store (source-side) objects.
pub fn profile_store_filter() -> String {
    format!("connectionSpec.id=={PROFILE_STORE_SPEC_ID}")
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
    let profile = [("property", profile_store_filter())];
    let destination = [("property", destination_spec_filter())];
    let (
        flows,
        mut connections,
        accounts,
        source_connections,
        target_connections,
        campaign_flow_spec_id,
    ) = tokio::try_join!(
        list_flows(client, &flow_filter),
        client.list(Resource::Connection.collection(), &profile),
        client.list(Resource::Connection.collection(), &destination),
        client.list(Resource::SourceConnection.collection(), &profile),
        client.list(Resource::TargetConnection.collection(), &destination),
        campaign,
    )?;
    connections.extend(accounts);
    let flows = complete_transformations(client, flows).await?;
    Ok(LiveState {
        flows: entities(Resource::Flow, flows),
        connections: entities(Resource::Connection, connections),
        source_connections: entities(Resource::SourceConnection, source_connections),
        target_connections: entities(Resource::TargetConnection, target_connections),
        campaign_flow_spec_id,
    })
}

/// The top-level flow fields a [`LeanFlow`] keeps; see the module docs.
pub const FLOW_KEPT_FIELDS: &[&str] = &[
    "id",
    "etag",
    "version",
    "name",
    "description",
    "state",
    "flowSpec",
    "sourceConnectionIds",
    "targetConnectionIds",
    "transformations",
    "inheritedAttributes",
    "scheduleParams",
    "options",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
];

/// A flow list item with only the [`FLOW_KEPT_FIELDS`] (in their listed order); the other
/// fields are skipped while parsing, never built. Non-object items are kept as they are.
#[derive(Clone, Debug, PartialEq)]
pub struct LeanFlow(pub Value);

impl<'de> serde::Deserialize<'de> for LeanFlow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeanVisitor)
    }
}

/// Builds objects with the kept fields only, and any other JSON value whole.
struct LeanVisitor;

impl<'de> serde::de::Visitor<'de> for LeanVisitor {
    type Value = LeanFlow;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a flow object")
    }
    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<LeanFlow, M::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = m.next_key::<KeptKey>()? {
            match key.0 {
                Some(k) => {
                    let v: Value = m.next_value()?;
                    out.insert(k.to_owned(), v);
                }
                None => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(LeanFlow(Value::Object(out)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<LeanFlow, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = a.next_element::<Value>()? {
            items.push(v);
        }
        Ok(LeanFlow(Value::Array(items)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::from(v)))
    }
    fn visit_unit<E>(self) -> Result<LeanFlow, E> {
        Ok(LeanFlow(Value::Null))
    }
}

/// An object key: the matching entry of [`FLOW_KEPT_FIELDS`], or `None` (not allocated).
struct KeptKey(Option<&'static str>);

impl<'de> serde::Deserialize<'de> for KeptKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = KeptKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, k: &str) -> Result<KeptKey, E> {
                Ok(KeptKey(FLOW_KEPT_FIELDS.iter().copied().find(|f| *f == k)))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// Lists the destination flows (`query`: the flow filter) as lean items ([`LeanFlow`]).
pub async fn list_flows(
    client: &Client,
    query: &[(&str, String)],
) -> Result<Vec<Value>, ClientError> {
    Ok(client
        .list_as::<LeanFlow>(Resource::Flow.collection(), query)
        .await?
        .into_iter()
        .map(|f| f.0)
        .collect())
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
    let missing: Vec<(usize, crate::wire::EntityId)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.get("transformations").is_none())
        .filter_map(|(i, f)| {
            f.get("id")
                .and_then(Value::as_str)
                .map(|id| (i, crate::wire::EntityId(id.to_owned())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lean_flow_keeps_the_listed_fields_in_order_and_drops_the_rest() {
        let body = r#"{"lastOperation": {"ops": [{"a": 1}]}, "id": "f", "runs": [1, 2],
            "na\u006de": "N", "etag": "\"e\"", "transformations": [{"name": "t"}],
            "lastRunDetails": {"x": null}, "state": "enabled"}"#;
        let lean: LeanFlow = serde_json::from_str(body).unwrap();
        assert_eq!(
            lean.0,
            json!({"id": "f", "name": "N", "etag": "\"e\"",
                   "transformations": [{"name": "t"}], "state": "enabled"})
        );
        let keys: Vec<&str> = lean
            .0
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "name", "etag", "transformations", "state"]);
    }

    #[test]
    fn lean_flow_passes_non_objects_through() {
        let lean: LeanFlow = serde_json::from_str("[1, \"x\"]").unwrap();
        assert_eq!(lean.0, json!([1, "x"]));
        let lean: LeanFlow = serde_json::from_str("null").unwrap();
        assert_eq!(lean.0, Value::Null);
    }
}
