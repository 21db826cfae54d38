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
            };
            if slot.is_none() {
                *slot = Some(Arc::clone(e));
            } else {
                dest.extras.push(Arc::clone(e));
            }
        }
        out
    }
}
