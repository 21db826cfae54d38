//! Adoption: a Destination whose manifest names a live flow made outside destctl
//! (`spec.adopt.flowId`, written by `destctl import`) takes that flow and its connections over
//! instead of creating new ones. The plan then has one `adopt` change per object: a `PATCH`
//! with `If-Match` that writes the ownership marker into its description, plus, in the same
//! patch, whatever update the manifest asks of it (nothing, right after an import).
//!
//! What is taken over ([`takeover`]): the flow, its source connection and Profile store base
//! connection, its target connection and destination account. An object that another
//! destination flow also uses (a connection shared by several flows, as the AEP UI and scripts
//! often make them) is left unmanaged: a marker names one Destination, and destctl never
//! changes an object it does not manage, so it stays as it is and the Destination works with
//! it as it is (its credentials are then not managed by destctl). An object that already
//! carries another Destination's marker is left to that Destination.

use super::PlanError;
use super::desired;
use crate::live::{LiveDestination, LiveEntity, LiveState};
use crate::marker::Marker;
use crate::model::DesiredDestination;
use crate::plan::{Change, IdRef};
use crate::wire::{EntityId, PatchOp, PatchOpKind, Resource};
use serde_json::Value;
use std::sync::Arc;

/// Why an object of an adopted flow is not adopted with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeftReason {
    /// Other destination flows use it too (their ids).
    Shared(Vec<String>),
    /// It already carries this Destination's marker (the name).
    ManagedBy(String),
    /// The flow refers to it but it was not listed.
    NotFound,
}

/// An object of an adopted flow that stays unmanaged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftUnmanaged {
    /// Its collection.
    pub resource: Resource,
    /// Its role, in words (`account`, `location`, …).
    pub role: &'static str,
    /// Its id.
    pub id: String,
    /// Why.
    pub reason: LeftReason,
}

/// The objects one live flow brings with it.
#[derive(Clone, Debug, Default)]
pub struct Takeover {
    /// The Profile store base connection.
    pub profile_connection: Option<Arc<LiveEntity>>,
    /// The source connection.
    pub source_connection: Option<Arc<LiveEntity>>,
    /// The destination account.
    pub connection: Option<Arc<LiveEntity>>,
    /// The target connection (file location).
    pub target_connection: Option<Arc<LiveEntity>>,
    /// What is left unmanaged, and why.
    pub left: Vec<LeftUnmanaged>,
}

fn find<'a>(list: &'a [Arc<LiveEntity>], id: &str) -> Option<&'a Arc<LiveEntity>> {
    list.iter().find(|e| e.id.0 == id)
}

fn base_of(e: &LiveEntity) -> Option<&str> {
    e.connection()?.base_connection_id.as_deref()
}

/// The destination flows (ids, sorted) that use the connection `id` in `role`.
fn users(live: &LiveState, resource: Resource, id: &str) -> Vec<String> {
    let mut out: Vec<String> = live
        .flows
        .iter()
        .filter_map(|f| {
            let flow = f.flow()?;
            let uses = |conn_ids: &[String], list: &[Arc<LiveEntity>]| {
                conn_ids.iter().any(|c| {
                    c == id
                        || (resource == Resource::Connection
                            && find(list, c).and_then(|e| base_of(e)) == Some(id))
                })
            };
            let hit = match resource {
                Resource::SourceConnection => flow.source_connection_ids.iter().any(|c| c == id),
                Resource::TargetConnection => flow.target_connection_ids.iter().any(|c| c == id),
                Resource::Connection => {
                    uses(&flow.source_connection_ids, &live.source_connections)
                        || uses(&flow.target_connection_ids, &live.target_connections)
                }
                Resource::Flow => false,
            };
            hit.then(|| f.id.0.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What adopting `flow` takes over from `live`.
pub fn takeover(live: &LiveState, flow: &LiveEntity) -> Takeover {
    let mut t = Takeover::default();
    let Some(f) = flow.flow() else {
        return t;
    };
    let mut consider = |list: &[Arc<LiveEntity>],
                        resource: Resource,
                        role: &'static str,
                        id: Option<&str>|
     -> Option<Arc<LiveEntity>> {
        let id = id?;
        let left = |reason| LeftUnmanaged {
            resource,
            role,
            id: id.to_owned(),
            reason,
        };
        let Some(e) = find(list, id) else {
            t.left.push(left(LeftReason::NotFound));
            return None;
        };
        if let Some(m) = &e.marker {
            t.left.push(left(LeftReason::ManagedBy(m.name.clone())));
            return None;
        }
        let others: Vec<String> = users(live, resource, id)
            .into_iter()
            .filter(|u| *u != flow.id.0)
            .collect();
        if !others.is_empty() {
            t.left.push(left(LeftReason::Shared(others)));
            return None;
        }
        Some(Arc::clone(e))
    };
    let source_id = f.source_connection_ids.first().map(String::as_str);
    let target_id = f.target_connection_ids.first().map(String::as_str);
    let source_entity = source_id.and_then(|id| find(&live.source_connections, id));
    let target_entity = target_id.and_then(|id| find(&live.target_connections, id));
    let profile_id = source_entity.and_then(|e| base_of(e));
    let account_id = target_entity.and_then(|e| base_of(e));
    t.source_connection = consider(
        &live.source_connections,
        Resource::SourceConnection,
        "source connection",
        source_id,
    );
    t.profile_connection = consider(
        &live.connections,
        Resource::Connection,
        "Profile store connection",
        profile_id,
    );
    t.target_connection = consider(
        &live.target_connections,
        Resource::TargetConnection,
        "location (target connection)",
        target_id,
    );
    t.connection = consider(
        &live.connections,
        Resource::Connection,
        "account (base connection)",
        account_id,
    );
    t
}

/// An adoption the plan makes: the live view the planner diffs against (the adopted objects
/// in their roles, carrying the markers `apply` will write) and the objects as listed.
#[derive(Clone, Debug)]
pub(crate) struct Adoption {
    pub live: LiveDestination,
    pub adopted: Vec<Arc<LiveEntity>>,
    pub left: Vec<LeftUnmanaged>,
}

fn with_marker(e: &Arc<LiveEntity>, marker: Marker) -> Arc<LiveEntity> {
    let mut copy = (**e).clone();
    copy.marker = Some(marker);
    Arc::new(copy)
}

/// The adoption of flow `flow_id` by `d`, if one is due: `None` when `existing` (the
/// Destination's managed objects) already has a flow.
pub(crate) fn prepare(
    d: &DesiredDestination,
    flow_id: &EntityId,
    live: &LiveState,
    existing: Option<&LiveDestination>,
) -> Result<Option<Adoption>, PlanError> {
    if existing.is_some_and(|l| l.flow.is_some()) {
        return Ok(None);
    }
    let name = d.name.as_str();
    let flow = find(&live.flows, &flow_id.0).ok_or_else(|| PlanError::AdoptFlowNotFound {
        destination: name.to_owned(),
        id: flow_id.0.clone(),
    })?;
    if let Some(m) = &flow.marker {
        return Err(PlanError::AdoptFlowManaged {
            destination: name.to_owned(),
            id: flow_id.0.clone(),
            owner: m.name.clone(),
        });
    }
    let t = takeover(live, flow);
    let mut view = existing.cloned().unwrap_or_else(|| LiveDestination {
        name: name.to_owned(),
        ..LiveDestination::default()
    });
    let mut adopted = vec![Arc::clone(flow)];
    view.flow = Some(with_marker(flow, Marker::new(name)));
    let slots = [
        (&mut view.source_connection, &t.source_connection),
        (&mut view.profile_connection, &t.profile_connection),
        (&mut view.target_connection, &t.target_connection),
    ];
    for (slot, found) in slots {
        if let (None, Some(e)) = (&slot, found) {
            *slot = Some(with_marker(e, Marker::new(name)));
            adopted.push(Arc::clone(e));
        }
    }
    if let (None, Some(e)) = (&view.connection, &t.connection) {
        view.connection = Some(with_marker(
            e,
            Marker::with_credentials(name, d.connection.credentials_version),
        ));
        adopted.push(Arc::clone(e));
    }
    Ok(Some(Adoption {
        live: view,
        adopted,
        left: t.left,
    }))
}

/// The description an adopted object gets: the marker after its own text (the flow: after the
/// manifest's description; the account: with the credentials version).
fn adopted_description(d: &DesiredDestination, e: &LiveEntity, is_account: bool) -> String {
    let own = e.description().map(str::trim).filter(|s| !s.is_empty());
    match e.resource {
        Resource::Flow => desired::flow_description(d),
        Resource::Connection if is_account => desired::account_description(d, own),
        _ => Marker::new(d.name.as_str()).describe(own),
    }
}

/// Turns the changes planned against `a.live` into adoptions: each adopted object's update (if
/// any) becomes its `adopt` change, with the marker written in the same patch; an adopted
/// object with nothing else to change gets an `adopt` that writes only the marker. Adoptions
/// come first, in the order flow, source, Profile store, location, account.
pub(crate) fn rewrite(d: &DesiredDestination, a: &Adoption, changes: Vec<Change>) -> Vec<Change> {
    let account_id = a.live.connection.as_ref().map(|e| e.id.clone());
    let mut rest = Vec::new();
    let mut updates: Vec<(EntityId, Vec<PatchOp>)> = Vec::new();
    for c in changes {
        match c {
            Change::Update(u)
                if u.id
                    .live()
                    .is_some_and(|id| a.adopted.iter().any(|e| &e.id == id)) =>
            {
                let id =
                    u.id.live()
                        .cloned()
                        .unwrap_or_else(|| EntityId(String::new()));
                updates.push((id, u.patch));
            }
            other => rest.push(other),
        }
    }
    let mut out = Vec::new();
    for e in &a.adopted {
        let is_account = account_id.as_ref() == Some(&e.id);
        let mut ops = updates
            .iter()
            .find(|(id, _)| *id == e.id)
            .map(|(_, ops)| ops.clone())
            .unwrap_or_default();
        // The description may be absent on an object made elsewhere: `add` sets it either way.
        match ops.iter_mut().find(|op| op.path == "/description") {
            Some(op) => op.op = PatchOpKind::Add,
            None => ops.insert(
                0,
                desired::add(
                    "/description".into(),
                    Value::String(adopted_description(d, e, is_account)),
                ),
            ),
        }
        out.push(Change::adopt(
            e.resource,
            d.name.as_str(),
            IdRef::Live(e.id.clone()),
            e.etag.clone(),
            ops,
        ));
    }
    out.extend(rest);
    out
}

/// An object left unmanaged, in words.
pub fn left_words(l: &LeftUnmanaged) -> String {
    match &l.reason {
        LeftReason::Shared(flows) => format!(
            "{} {} is shared with flow{} {}: left unmanaged (destctl will not change it)",
            l.role,
            l.id,
            if flows.len() == 1 { "" } else { "s" },
            flows.join(", ")
        ),
        LeftReason::ManagedBy(owner) => format!(
            "{} {} is managed by Destination `{owner}`: left to it",
            l.role, l.id
        ),
        LeftReason::NotFound => format!("{} {} was not listed: not adopted", l.role, l.id),
    }
}
