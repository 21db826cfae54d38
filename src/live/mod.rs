//! Live state: the managed objects of one sandbox, read with list calls only, and grouped by
//! ownership marker into one [`LiveDestination`] per Destination manifest name. Reading them
//! from a Flow Service is the I/O layer's job ([`crate::fetch`]).

use crate::catalog::PROFILE_STORE_SPEC_ID;
use crate::marker::Marker;
use crate::wire::connection::Connection;
use crate::wire::flow::Flow;
use crate::wire::{EntityId, Etag, Resource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One entity as listed by the Flow Service, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEntity {
    /// Its collection.
    pub resource: Resource,
    /// Its id.
    pub id: EntityId,
    /// Its current etag.
    pub etag: Etag,
    /// The ownership marker in its description, if any.
    pub marker: Option<Marker>,
    /// The entity as listed.
    pub body: LiveBody,
}

/// What a [`LiveEntity`] is.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveBody {
    /// A dataflow.
    Flow(Flow),
    /// A base, source or target connection.
    Connection(Connection),
}

impl LiveEntity {
    /// Wraps a listed flow.
    pub fn from_flow(flow: Flow) -> LiveEntity {
        LiveEntity {
            resource: Resource::Flow,
            id: flow.id.clone(),
            etag: flow.etag.clone(),
            marker: marker_of(flow.description.as_deref()),
            body: LiveBody::Flow(flow),
        }
    }

    /// Wraps a listed connection of collection `resource`.
    pub fn from_connection(resource: Resource, c: Connection) -> LiveEntity {
        LiveEntity {
            resource,
            id: c.id.clone(),
            etag: c.etag.clone(),
            marker: marker_of(c.description.as_deref()),
            body: LiveBody::Connection(c),
        }
    }

    /// Reads an entity of `resource` from its JSON (a single GET answer, a test fixture).
    pub fn parse(resource: Resource, raw: &Value) -> Result<LiveEntity, serde_json::Error> {
        Ok(match resource {
            Resource::Flow => LiveEntity::from_flow(Flow::from_value(raw)?),
            _ => LiveEntity::from_connection(resource, Connection::from_value(raw)?),
        })
    }

    /// [`LiveEntity::parse`], `None` when the JSON is not such an entity (e.g. no `id` or
    /// `etag`).
    pub fn from_raw(resource: Resource, raw: Value) -> Option<LiveEntity> {
        LiveEntity::parse(resource, &raw).ok()
    }

    /// The flow, for flows.
    pub fn flow(&self) -> Option<&Flow> {
        match &self.body {
            LiveBody::Flow(f) => Some(f),
            LiveBody::Connection(_) => None,
        }
    }

    /// The connection, for connections.
    pub fn connection(&self) -> Option<&Connection> {
        match &self.body {
            LiveBody::Connection(c) => Some(c),
            LiveBody::Flow(_) => None,
        }
    }

    /// `name`, when a string.
    pub fn name(&self) -> Option<&str> {
        match &self.body {
            LiveBody::Flow(f) => f.name.as_deref(),
            LiveBody::Connection(c) => c.name.as_deref(),
        }
    }

    /// `description`, when a string.
    pub fn description(&self) -> Option<&str> {
        match &self.body {
            LiveBody::Flow(f) => f.description.as_deref(),
            LiveBody::Connection(c) => c.description.as_deref(),
        }
    }

    /// `connectionSpec.id`, for connections.
    pub fn connection_spec_id(&self) -> Option<&str> {
        self.connection()?.spec_id()
    }

    /// `createdAt` in ms (0 when absent), for picking the oldest of duplicates.
    pub fn created_at(&self) -> i64 {
        match &self.body {
            LiveBody::Flow(f) => f.created_at,
            LiveBody::Connection(c) => c.created_at,
        }
        .unwrap_or(0)
    }
}

fn marker_of(description: Option<&str>) -> Option<Marker> {
    description.and_then(Marker::parse).map(|(m, _)| m)
}

/// One version of a Data Prep mapping set (the exported columns of a current card's flow),
/// as read from the Data Prep API. It has no etag: a version never changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveMappingSet {
    /// Its id (32 hex characters).
    pub id: String,
    /// This version.
    pub version: u64,
    /// The ownership marker at the end of its `name`, if any.
    pub marker: Option<Marker>,
    /// Its mappings as `(source, destination)`, in order.
    pub mappings: Vec<(String, String)>,
    /// `createdDate` in ms (0 when absent).
    pub created_at: i64,
}

impl LiveMappingSet {
    /// Reads a mapping set (a `GET /mappingSets/{id}` answer or a list item); `None` without
    /// `id`.
    pub fn from_value(v: &Value) -> Option<LiveMappingSet> {
        let id = v.get("id")?.as_str()?.to_owned();
        let mappings = v
            .get("mappings")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|m| {
                        let s = m.get("source").or_else(|| m.get("sourceAttribute"))?;
                        let d = m
                            .get("destination")
                            .or_else(|| m.get("destinationXdmPath"))?;
                        Some((s.as_str()?.to_owned(), d.as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(LiveMappingSet {
            id,
            version: v.get("version").and_then(Value::as_u64).unwrap_or(0),
            marker: v
                .get("name")
                .and_then(Value::as_str)
                .and_then(Marker::parse)
                .map(|(m, _)| m),
            mappings,
            created_at: v.get("createdDate").and_then(Value::as_i64).unwrap_or(0),
        })
    }
}

/// Everything listed in one sandbox. Entities are shared handles, so grouping them
/// ([`LiveState::managed`]) never copies them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveState {
    /// Destination flows (`inheritedAttributes.properties.isDestinationFlow==true`).
    pub flows: Vec<Arc<LiveEntity>>,
    /// Base connections.
    pub connections: Vec<Arc<LiveEntity>>,
    /// Source connections.
    pub source_connections: Vec<Arc<LiveEntity>>,
    /// Target connections.
    pub target_connections: Vec<Arc<LiveEntity>>,
    /// The id of the `upsToCampaign` flow spec, when it was looked up.
    pub campaign_flow_spec_id: Option<String>,
    /// Data Prep mapping sets: the versions managed flows reference, and the managed ones
    /// (ownership marker in their `name`) of the newest listed ([`crate::fetch`]).
    pub mapping_sets: Vec<Arc<LiveMappingSet>>,
}

/// The managed objects of one Destination manifest name. Any of them may be missing (never
/// created, or an interrupted apply).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveDestination {
    /// The marker's name.
    pub name: String,
    /// The flow.
    pub flow: Option<Arc<LiveEntity>>,
    /// The Profile store base connection.
    pub profile_connection: Option<Arc<LiveEntity>>,
    /// The Profile store source connection.
    pub source_connection: Option<Arc<LiveEntity>>,
    /// The destination base connection (the account).
    pub connection: Option<Arc<LiveEntity>>,
    /// The target connection (the file location).
    pub target_connection: Option<Arc<LiveEntity>>,
    /// Further managed objects with the same name and role (never expected): left alone.
    pub extras: Vec<Arc<LiveEntity>>,
    /// The mapping set version the flow's `profileMapping` names, when it was read.
    pub mapping_set: Option<Arc<LiveMappingSet>>,
    /// Mapping sets carrying this name's marker (e.g. created by an apply interrupted before
    /// the flow pointed at it), newest first.
    pub mapping_set_candidates: Vec<Arc<LiveMappingSet>>,
}

impl LiveState {
    /// The same state without the managed objects of Destinations outside `scope` (objects
    /// without a marker stay: destctl never touches them anyway).
    pub fn scoped(&self, scope: &crate::model::Scope) -> LiveState {
        if scope.is_all() {
            return self.clone();
        }
        let keep = |list: &Vec<Arc<LiveEntity>>| -> Vec<Arc<LiveEntity>> {
            list.iter()
                .filter(|e| e.marker.as_ref().is_none_or(|m| scope.contains(&m.name)))
                .cloned()
                .collect()
        };
        LiveState {
            flows: keep(&self.flows),
            connections: keep(&self.connections),
            source_connections: keep(&self.source_connections),
            target_connections: keep(&self.target_connections),
            campaign_flow_spec_id: self.campaign_flow_spec_id.clone(),
            mapping_sets: self
                .mapping_sets
                .iter()
                .filter(|m| m.marker.as_ref().is_none_or(|k| scope.contains(&k.name)))
                .cloned()
                .collect(),
        }
    }

    /// Groups the managed objects by marker name. Where two objects share a name and role, the
    /// oldest is kept and the others go to `extras`. The entities are shared with `self`, not
    /// copied.
    pub fn managed(&self) -> BTreeMap<String, LiveDestination> {
        let mut out: BTreeMap<String, LiveDestination> = BTreeMap::new();
        let all = self
            .flows
            .iter()
            .chain(&self.connections)
            .chain(&self.source_connections)
            .chain(&self.target_connections);
        let mut sorted: Vec<&Arc<LiveEntity>> = all.filter(|e| e.marker.is_some()).collect();
        sorted.sort_by(|a, b| {
            a.created_at()
                .cmp(&b.created_at())
                .then_with(|| a.id.cmp(&b.id))
        });
        for e in sorted {
            let name = &e.marker.as_ref().expect("filtered").name;
            let dest = out.entry(name.clone()).or_insert_with(|| LiveDestination {
                name: name.clone(),
                ..LiveDestination::default()
            });
            let slot = match e.resource {
                Resource::Flow => &mut dest.flow,
                Resource::SourceConnection => &mut dest.source_connection,
                Resource::TargetConnection => &mut dest.target_connection,
                Resource::Connection if e.connection_spec_id() == Some(PROFILE_STORE_SPEC_ID) => {
                    &mut dest.profile_connection
                }
                Resource::Connection => &mut dest.connection,
                Resource::MappingSet => continue,
            };
            if slot.is_none() {
                *slot = Some(Arc::clone(e));
            } else {
                dest.extras.push(Arc::clone(e));
            }
        }
        for dest in out.values_mut() {
            let pinned = dest
                .flow
                .as_ref()
                .and_then(|f| f.flow())
                .and_then(|f| f.profile_mapping());
            dest.mapping_set = pinned.and_then(|(id, version)| {
                self.mapping_sets
                    .iter()
                    .find(|m| m.id == id && m.version == version)
                    .cloned()
            });
            let mut candidates: Vec<Arc<LiveMappingSet>> = self
                .mapping_sets
                .iter()
                .filter(|m| m.marker.as_ref().is_some_and(|k| k.name == dest.name))
                .cloned()
                .collect();
            candidates.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            candidates.dedup_by(|a, b| a.id == b.id && a.version == b.version);
            dest.mapping_set_candidates = candidates;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mapping_sets_are_read_and_grouped_by_the_flow_and_the_marker() {
        let set = |id: &str, version: u64, name: &str, created: i64| {
            Arc::new(
                LiveMappingSet::from_value(&json!({
                    "id": id, "version": version, "name": name, "createdDate": created,
                    "mappings": [{"sourceType": "text/x.schema-path", "source": "a.b", "destination": "a_b"},
                                 {"sourceAttribute": "c", "destinationXdmPath": "c"}],
                }))
                .unwrap(),
            )
        };
        let pinned = set("m1", 1, "d exported columns [destctl:d]", 1);
        assert_eq!(
            pinned.mappings,
            [("a.b".into(), "a_b".into()), ("c".into(), "c".into())]
        );
        let flow = LiveEntity::from_raw(
            Resource::Flow,
            json!({"id": "f", "etag": "\"e\"", "description": "[destctl:d]",
                   "transformations": [{"name": "GeneralTransform", "params": {
                       "segmentSelectors": {"selectors": []},
                       "profileMapping": {"mappingId": "m1", "mappingVersion": "1"}}}]}),
        )
        .unwrap();
        let live = LiveState {
            flows: vec![Arc::new(flow)],
            mapping_sets: vec![
                set("m1", 0, "d exported columns [destctl:d]", 1),
                pinned.clone(),
                set("m2", 0, "d exported columns [destctl:d]", 5),
                set("m3", 0, "someone else's", 9),
            ],
            ..LiveState::default()
        };
        let d = &live.managed()["d"];
        assert_eq!(d.mapping_set.as_deref(), Some(&*pinned));
        let ids: Vec<(&str, u64)> = d
            .mapping_set_candidates
            .iter()
            .map(|m| (m.id.as_str(), m.version))
            .collect();
        assert_eq!(ids, [("m2", 0), ("m1", 0), ("m1", 1)]);
        assert!(LiveMappingSet::from_value(&json!({"version": 0})).is_none());
    }
}
