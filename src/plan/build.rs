//! Desired state + live state → [`Plan`].
//!
//! Per Destination, in this order: updates of the existing account (credentials) and location,
//! the creates still missing (in dependency order, referring to each other with `${ref:KEY}`
//! and to adopted objects by their real id), then the flow: `disable` before its patch, or
//! `enable` after it. Destinations are handled in name order.
//!
//! Decisions:
//! - A platform change is a connection spec change, which the Flow Service refuses (FSE 1414):
//!   it is a [`PlanError::PlatformChanged`] telling the user to rename the Destination (create
//!   new, prune old) rather than a silent delete-and-recreate that would lose the flow's history.
//! - The account is patched (`replace /auth/params` with every param, secrets as references, and
//!   `replace /description` with the new marker, which records the credentials version) when the
//!   manifest's `credentialsVersion` is higher than the live marker's, or when a non-secret param
//!   differs. Secrets are write-only and never compared.
//! - An auth method change is a [`PlanError::AuthMethodChanged`]: the Flow Service documents
//!   only `/auth/params` as a connection's patch path, and destctl sends documented paths only.
//! - Objects are created only when something needs them: a live flow whose connections are not
//!   managed (e.g. imported) gets no new connections.

use super::adopt;
use super::dataset;
use super::desired::{self, Role};
use super::diff::{self, Sign};
use super::fingerprint;
use super::fingerprint::MANAGED_TARGET_KEYS;
use super::mapping;
use super::{
    Action, Change, DestinationDetail, DestinationStatus, Duplicate, DuplicateDisposition,
    FORMAT_VERSION, IdRef, LeftInPlace, Plan, PlanDetails, PlanError, PlanOptions,
};
use crate::catalog::{FlowSpecRef, PROFILE_STORE_SPEC_ID, Platform};
use crate::live::{LiveBody, LiveDestination, LiveEntity, LiveState};
use crate::marker::Marker;
use crate::model::{DesiredDatasetExport, DesiredDestination, DesiredState};
use crate::wire::Resource;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Builds the plan that takes `live` to `desired`.
pub fn build_plan(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    build_with(desired, live, opts, Views::Skip).map(|(plan, _)| plan)
}

/// Builds the plan and the per-Destination details the renderers show.
pub fn build(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
) -> Result<(Plan, PlanDetails), PlanError> {
    build_with(desired, live, opts, Views::Build)
}

/// Whether to compute the before/after flow views of the details (costly for large flows;
/// only the renderers read them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Views {
    Build,
    Skip,
}

fn build_with(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
    views: Views,
) -> Result<(Plan, PlanDetails), PlanError> {
    let mut managed = live.managed();
    let mut adopters: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, id) in &desired.adoptions {
        if let Some(first) = adopters.insert(id.0.as_str(), name.as_str()) {
            return Err(PlanError::AdoptedTwice {
                first: first.to_owned(),
                second: name.to_string(),
                id: id.0.clone(),
            });
        }
    }
    let wanted: BTreeMap<&str, &DesiredDestination> = desired
        .destinations
        .iter()
        .map(|d| (d.name.as_str(), d))
        .collect();
    take_over_former_names(&mut managed, &desired.destinations);
    let exports: BTreeMap<&str, &DesiredDatasetExport> = desired
        .dataset_exports
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let export_names: BTreeSet<&str> = exports
        .keys()
        .copied()
        .chain(
            managed
                .iter()
                .filter(|(n, l)| !wanted.contains_key(n.as_str()) && dataset::is_dataset_group(l))
                .map(|(n, _)| n.as_str()),
        )
        .collect();
    let names: BTreeSet<&str> = wanted
        .keys()
        .copied()
        .chain(managed.keys().map(String::as_str))
        .filter(|n| !export_names.contains(n))
        .collect();

    let mut changes = Vec::new();
    let mut details = PlanDetails::default();
    let mut left_in_place = Vec::new();
    let mut duplicates = Vec::new();
    let mut unchanged = 0;
    for name in names {
        let live_dest = managed.get(name);
        match wanted.get(name) {
            Some(d) => {
                let empty = LiveDestination {
                    name: name.to_owned(),
                    ..LiveDestination::default()
                };
                let adoption = match desired.adoptions.get(&d.name) {
                    Some(id) => adopt::prepare(d, id, live, live_dest)?,
                    None => None,
                };
                let base = adoption
                    .as_ref()
                    .map(|a| &a.live)
                    .or(live_dest)
                    .unwrap_or(&empty);
                let (mut c, mut detail) =
                    destination(d, base, live.campaign_flow_spec_id.as_deref(), views)?;
                if let Some(a) = &adoption {
                    c = adopt::rewrite(d, a, c);
                    detail.status = DestinationStatus::Adopt;
                    detail.notes.retain(|(_, n)| !n.starts_with("description"));
                    detail.notes.insert(
                        0,
                        (
                            Sign::Change,
                            format!(
                                "adopt {} object{} made outside destctl (ownership marker written)",
                                a.adopted.len(),
                                if a.adopted.len() == 1 { "" } else { "s" }
                            ),
                        ),
                    );
                    for l in &a.left {
                        detail.notes.push((Sign::Change, adopt::left_words(l)));
                    }
                }
                if let Some(l) = live_dest {
                    let (deletes, dups) = duplicate_changes(live, l, opts.prune, false);
                    if !deletes.is_empty() && detail.status == DestinationStatus::Unchanged {
                        detail.status = DestinationStatus::Update;
                        if views == Views::Build {
                            add_views(&mut detail, d, l);
                        }
                    }
                    c.extend(deletes);
                    duplicates.extend(dups);
                }
                if detail.status == DestinationStatus::Unchanged {
                    unchanged += 1;
                }
                changes.extend(c);
                details.destinations.push(detail);
            }
            None => {
                let l = live_dest.expect("a name comes from desired or live");
                let (mut c, detail) = orphan(l, opts.prune, views);
                let (deletes, dups) = duplicate_changes(live, l, opts.prune, true);
                c.extend(deletes);
                c.sort_by_key(|c| delete_rank(c.resource()));
                duplicates.extend(dups);
                if detail.status == DestinationStatus::LeftInPlace {
                    left_in_place.push(LeftInPlace::first_of(
                        name,
                        [
                            &l.flow,
                            &l.target_connection,
                            &l.source_connection,
                            &l.connection,
                            &l.profile_connection,
                        ],
                    ));
                }
                changes.extend(c);
                details.destinations.push(detail);
            }
        }
    }
    for name in export_names {
        let live_group = managed.get(name);
        let empty = LiveDestination {
            name: name.to_owned(),
            ..LiveDestination::default()
        };
        let l = live_group.unwrap_or(&empty);
        match exports.get(name) {
            Some(e) => {
                let dest = e.destination.as_str();
                let account = managed
                    .get(dest)
                    .and_then(|d| d.connection.as_ref())
                    .map(|c| c.id.0.clone())
                    .or_else(|| {
                        let key = desired::key(dest, Role::Connection);
                        changes
                            .iter()
                            .any(|c| matches!(c, Change::Create(c) if c.key == key))
                            .then(|| desired::reference(&key))
                    });
                let (mut c, mut detail) = dataset::plan_dataset_export(e, l, live, account)?;
                let others = LiveDestination {
                    extras: l
                        .extras
                        .iter()
                        .filter(|x| x.resource != Resource::SourceConnection)
                        .cloned()
                        .collect(),
                    ..l.clone()
                };
                let (deletes, dups) = duplicate_changes(live, &others, opts.prune, false);
                if !deletes.is_empty() && detail.status == DestinationStatus::Unchanged {
                    detail.status = DestinationStatus::Update;
                }
                c.extend(deletes);
                duplicates.extend(dups);
                if detail.status == DestinationStatus::Unchanged {
                    unchanged += 1;
                }
                changes.extend(c);
                details.destinations.push(detail);
            }
            None => {
                let (mut c, detail) = orphan(l, opts.prune, views);
                let (deletes, dups) = duplicate_changes(live, l, opts.prune, true);
                c.extend(deletes);
                c.sort_by_key(|c| delete_rank(c.resource()));
                duplicates.extend(dups);
                if detail.status == DestinationStatus::LeftInPlace {
                    left_in_place.push(LeftInPlace::first_of(
                        name,
                        [&l.flow, &l.target_connection, &l.source_connection],
                    ));
                }
                changes.extend(c);
                details.destinations.push(detail);
            }
        }
    }
    details.destinations.sort_by(|a, b| a.name.cmp(&b.name));
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        target: opts.target.clone(),
        digest: None,
        summary: Plan::count(&changes, unchanged),
        changes,
        left_in_place,
        duplicates,
        changed_outside: Vec::new(),
    };
    plan.seal();
    Ok((plan, details))
}

/// Renames (`metadata.formerNames`): a Destination with no live objects under its own name
/// takes over those marked with its first former name that has some, which are then planned
/// as its own (their markers rewritten) instead of being left in place or deleted.
pub fn take_over_former_names(
    managed: &mut BTreeMap<String, LiveDestination>,
    desired: &[DesiredDestination],
) {
    for d in desired {
        if managed.contains_key(d.name.as_str()) {
            continue;
        }
        let former = d
            .former_names
            .iter()
            .find(|f| managed.contains_key(f.as_str()));
        if let Some(f) = former
            && let Some(mut l) = managed.remove(f.as_str())
        {
            l.name = d.name.to_string();
            managed.insert(d.name.to_string(), l);
        }
    }
}

/// The changes for one Destination: what `apply` re-plans after a 412 with freshly read live
/// objects of that Destination. `campaign_flow_spec_id` is [`LiveState::campaign_flow_spec_id`].
pub fn plan_destination(
    d: &DesiredDestination,
    live: &LiveDestination,
    campaign_flow_spec_id: Option<&str>,
) -> Result<Vec<Change>, PlanError> {
    destination(d, live, campaign_flow_spec_id, Views::Skip).map(|(c, _)| c)
}

/// The fresh `update` of one entity of a Destination (`resource`: flow, connection or target
/// connection), for `apply` to retry after a 412 with re-read live objects; `None` when the
/// entity already matches. [`update_of`] picks the entity by id (two connections of a renamed
/// Destination may both be updated).
pub fn update_for(
    d: &DesiredDestination,
    live: &LiveDestination,
    resource: Resource,
    campaign_flow_spec_id: Option<&str>,
) -> Result<Option<Change>, PlanError> {
    Ok(plan_destination(d, live, campaign_flow_spec_id)?
        .into_iter()
        .find(|c| c.action() == Action::Update && c.resource() == resource))
}

/// [`update_for`] of the entity `id` of collection `resource`.
pub fn update_of(
    d: &DesiredDestination,
    live: &LiveDestination,
    resource: Resource,
    id: &crate::wire::EntityId,
    campaign_flow_spec_id: Option<&str>,
) -> Result<Option<Change>, PlanError> {
    let target = IdRef::Live(id.clone());
    Ok(plan_destination(d, live, campaign_flow_spec_id)?
        .into_iter()
        .find(|c| matches!(c, Change::Update(u) if u.resource == resource && u.id == target)))
}

/// [`update_for`] of a DatasetExport: the fresh `update` of its flow or target connection
/// after a 412, from its re-read live objects `live` (`account`: its Destination's base
/// connection id, when live).
pub fn dataset_update_for(
    e: &DesiredDatasetExport,
    live: &LiveDestination,
    resource: Resource,
    account: Option<String>,
) -> Result<Option<Change>, PlanError> {
    let (changes, _) = dataset::plan_dataset_export(e, live, &LiveState::default(), account)?;
    Ok(changes
        .into_iter()
        .find(|c| c.action() == Action::Update && c.resource() == resource))
}

fn on_entity(e: &LiveEntity) -> IdRef {
    IdRef::Live(e.id.clone())
}

fn update(e: &LiveEntity, name: &str, patch: Vec<crate::wire::PatchOp>) -> Change {
    Change::update(e.resource, name, on_entity(e), e.etag.clone(), patch)
}

fn create(name: &str, role: Role, body: Value) -> Change {
    Change::create(role.resource(), name, desired::key(name, role), body)
}

fn platform_name(spec_id: &str) -> String {
    Platform::by_connection_spec(spec_id)
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| format!("connection spec {spec_id}"))
}

fn check_platform(
    d: &DesiredDestination,
    live: &LiveDestination,
    flow_spec: Option<&str>,
) -> Result<(), PlanError> {
    let spec = d.platform.info().connection_spec_id;
    for e in [&live.connection, &live.target_connection]
        .into_iter()
        .flatten()
    {
        if let Some(live_spec) = e.connection_spec_id()
            && live_spec != spec
        {
            return Err(PlanError::PlatformChanged {
                destination: d.name.to_string(),
                resource: format!("{:?}", e.resource),
                id: e.id.0.clone(),
                live: platform_name(live_spec),
                desired: d.platform,
            });
        }
    }
    if let Some(e) = &live.connection
        && let Some(live_auth) = auth_of(e).and_then(|a| a.spec_name.as_deref())
        && let Some(want_auth) = d.connection.auth
        && live_auth != want_auth.spec_name()
    {
        return Err(PlanError::AuthMethodChanged {
            destination: d.name.to_string(),
            id: e.id.0.clone(),
            live: live_auth.to_owned(),
            desired: want_auth.spec_name().to_owned(),
        });
    }
    if let (Some(flow), Some(want)) = (&live.flow, flow_spec)
        && let Some(live_spec) = flow
            .flow()
            .and_then(|f| f.flow_spec.as_ref())
            .and_then(|s| s.id.as_deref())
        && live_spec != want
    {
        return Err(PlanError::PlatformChanged {
            destination: d.name.to_string(),
            resource: "flow".into(),
            id: flow.id.0.clone(),
            live: format!("flow spec {live_spec}"),
            desired: d.platform,
        });
    }
    Ok(())
}

fn value_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The account update, if one is due, and its notes.
fn account_update(d: &DesiredDestination, e: &LiveEntity) -> Option<(Change, Vec<String>)> {
    let mut notes = Vec::new();
    let live_version = e
        .marker
        .as_ref()
        .and_then(|m| m.credentials_version)
        .unwrap_or(0);
    if d.connection.credentials_version > live_version {
        notes.push(format!(
            "credentials pushed again (credentialsVersion {live_version} → {})",
            d.connection.credentials_version
        ));
    }
    let live_params = auth_of(e).and_then(|a| a.params.as_ref());
    let auth = d.connection.auth?;
    let mut literal_names: BTreeSet<&str> = d
        .platform
        .info()
        .auth_params(auth)
        .iter()
        .filter(|p| !p.secret)
        .map(|p| p.name)
        .collect();
    for (k, v) in &d.connection.params {
        if matches!(v, crate::model::ParamValue::Literal(_)) {
            literal_names.insert(k);
        }
    }
    for k in literal_names {
        let want = match d.connection.params.get(k) {
            Some(crate::model::ParamValue::Literal(s)) => Some(s.clone()),
            _ => None,
        };
        let have = live_params.and_then(|p| p.get(k)).and_then(value_string);
        if want != have {
            notes.push(format!(
                "auth param {k}: {} → {}",
                have.as_deref().unwrap_or("(unset)"),
                want.as_deref().unwrap_or("(unset)")
            ));
        }
    }
    if notes.is_empty() {
        return None;
    }
    let user_text = e
        .description()
        .and_then(Marker::parse)
        .and_then(|(_, user)| user);
    let patch = vec![
        desired::replace("/auth/params".into(), desired::auth_params(d)),
        desired::replace(
            "/description".into(),
            Value::String(desired::account_description(d, user_text)),
        ),
    ];
    let c = update(e, d.name.as_str(), patch);
    Some((c, notes))
}

/// Words for a target connection's params: `S3 acme-exports /campaign`.
pub fn location_words(params: &Value) -> String {
    let mut parts = Vec::new();
    for k in MANAGED_TARGET_KEYS.into_iter().filter(|k| *k != "format") {
        if let Some(v) = params.get(k).and_then(value_string) {
            parts.push(if k == "mode" { v } else { format!("{k}={v}") });
        }
    }
    parts.join(" ")
}

fn location_update(d: &DesiredDestination, e: &LiveEntity) -> Option<(Change, String)> {
    let want = desired::target_params(d);
    let empty = Map::new();
    let have = e
        .connection()
        .and_then(|c| c.params.as_ref())
        .unwrap_or(&empty);
    let want_obj = want.as_object().expect("params are an object");
    let keys: BTreeSet<&str> = MANAGED_TARGET_KEYS
        .iter()
        .copied()
        .chain(want_obj.keys().map(String::as_str))
        .collect();
    if keys.iter().all(|k| want_obj.get(*k) == have.get(*k)) {
        return None;
    }
    let mut params = want_obj.clone();
    for (k, v) in have {
        if !keys.contains(k.as_str()) {
            params.insert(k.clone(), v.clone());
        }
    }
    let note = format!(
        "location {} → {}",
        location_words(&Value::Object(have.clone())),
        location_words(&want)
    );
    let user_text = e
        .description()
        .and_then(Marker::parse)
        .and_then(|(_, user)| user);
    let c = update(
        e,
        d.name.as_str(),
        vec![
            desired::replace("/params".into(), Value::Object(params)),
            desired::replace(
                "/description".into(),
                Value::String(desired::location_description(d, user_text)),
            ),
        ],
    );
    Some((c, note))
}

fn id_or_ref(live: &Option<std::sync::Arc<LiveEntity>>, name: &str, role: Role) -> String {
    match live {
        Some(e) => e.id.0.clone(),
        None => desired::reference(&desired::key(name, role)),
    }
}

/// `Basic Authentication for sftp (host sftp.example.com, username aep)`: the auth method and
/// its literal params (secrets are references, never shown here).
fn account_words(d: &DesiredDestination) -> String {
    let literals: Vec<String> = d
        .connection
        .params
        .iter()
        .filter_map(|(k, v)| match v {
            crate::model::ParamValue::Literal(s) => Some(format!("{k} {s}")),
            crate::model::ParamValue::Secret(_) => None,
        })
        .collect();
    let auth = d
        .connection
        .auth
        .map_or_else(|| "no account".to_owned(), |a| a.to_string());
    if literals.is_empty() {
        auth
    } else {
        format!("{auth} ({})", literals.join(", "))
    }
}

fn destination(
    d: &DesiredDestination,
    live: &LiveDestination,
    campaign_flow_spec_id: Option<&str>,
    views: Views,
) -> Result<(Vec<Change>, DestinationDetail), PlanError> {
    let kept;
    let d = match mapping::keeps_profile_selectors(d, live) {
        true => {
            kept = DesiredDestination {
                columns: Vec::new(),
                ..d.clone()
            };
            &kept
        }
        false => d,
    };
    let name = d.name.as_str();
    let known_flow_spec = match d.platform.info().flow_spec {
        FlowSpecRef::Id(id) => Some(id),
        FlowSpecRef::Name(_) => campaign_flow_spec_id,
    };
    check_platform(d, live, known_flow_spec)?;

    let mut changes = Vec::new();
    let mut detail = DestinationDetail {
        name: name.to_owned(),
        display_name: Some(d.display_name.clone()),
        platform: Some(d.platform),
        account: Some(account_words(d)),
        location: Some(location_words(&desired::target_params(d))),
        status: DestinationStatus::Unchanged,
        audiences: Vec::new(),
        attributes: Vec::new(),
        notes: Vec::new(),
        entity_notes: Vec::new(),
        before: None,
        after: None,
    };

    if let Some(e) = &live.connection
        && let Some((c, notes)) = account_update(d, e)
    {
        changes.push(c);
        detail.entity_notes.extend(
            notes
                .into_iter()
                .map(|n| (Resource::Connection, Sign::Change, n)),
        );
    }
    if let Some(e) = &live.target_connection
        && let Some((c, note)) = location_update(d, e)
    {
        changes.push(c);
        detail
            .entity_notes
            .push((Resource::TargetConnection, Sign::Change, note));
    }

    // A renamed Destination (metadata.formerNames): the objects that no other update touches
    // get their marker rewritten, nothing else.
    for e in [
        &live.profile_connection,
        &live.source_connection,
        &live.connection,
        &live.target_connection,
    ]
    .into_iter()
    .flatten()
    {
        let stale = e.marker.as_ref().is_some_and(|m| m.name != name);
        let updated = changes
            .iter()
            .any(|c| matches!(c, Change::Update(u) if u.id == on_entity(e)));
        if stale && !updated {
            let user_text = e
                .description()
                .and_then(Marker::parse)
                .and_then(|(_, user)| user);
            let description = match e.resource {
                Resource::TargetConnection => desired::location_description(d, user_text),
                Resource::Connection if live.connection.as_ref().is_some_and(|c| c.id == e.id) => {
                    desired::account_description(d, user_text)
                }
                _ => Marker::new(name)
                    .describe(Some(user_text.unwrap_or(desired::CONNECTION_DESCRIPTION))),
            };
            changes.push(update(
                e,
                name,
                vec![desired::replace(
                    "/description".into(),
                    Value::String(description),
                )],
            ));
            detail.entity_notes.push((
                e.resource,
                Sign::Change,
                format!(
                    "marker renamed {} → {name} (metadata.formerNames)",
                    e.marker.as_ref().map(|m| m.name.as_str()).unwrap_or("")
                ),
            ));
        }
    }

    let need_flow = live.flow.is_none();
    let need_target = need_flow && live.target_connection.is_none();
    let need_connection = need_target && live.connection.is_none();
    let need_source = need_flow && live.source_connection.is_none();
    let need_profile = need_source && live.profile_connection.is_none();

    if need_profile {
        changes.push(create(
            name,
            Role::ProfileConnection,
            desired::profile_connection_body(d),
        ));
    }
    if need_source {
        let base = id_or_ref(&live.profile_connection, name, Role::ProfileConnection);
        changes.push(create(
            name,
            Role::SourceConnection,
            desired::source_connection_body(d, &base),
        ));
    }
    if need_connection {
        changes.push(create(name, Role::Connection, desired::connection_body(d)));
    }
    if need_target {
        let base = id_or_ref(&live.connection, name, Role::Connection);
        changes.push(create(
            name,
            Role::TargetConnection,
            desired::target_connection_body(d, &base),
        ));
    }

    // The exported columns' mapping set is created before the flow that points at it.
    let columns = mapping::plan_mapping(d, live);
    if let Some(c) = columns.create {
        changes.push(c);
    }
    if let Some(note) = columns.note {
        detail.notes.push((Sign::Change, note));
    }

    match &live.flow {
        None => {
            let spec = desired::flow_spec_id(d.platform, campaign_flow_spec_id, name)?;
            let source = id_or_ref(&live.source_connection, name, Role::SourceConnection);
            let target = id_or_ref(&live.target_connection, name, Role::TargetConnection);
            let mut activation = desired::activation_patch(d);
            activation.extend(columns.op);
            let mut c = create(
                name,
                Role::Flow,
                desired::flow_body(d, &spec, &source, &target),
            );
            if let Change::Create(c) = &mut c
                && !activation.is_empty()
            {
                c.activation = Some(activation);
            }
            changes.push(c);
            detail.status = DestinationStatus::Create;
            detail.audiences = d
                .audiences
                .iter()
                .map(|a| diff::AudienceChange {
                    sign: Sign::Add,
                    id: a.segment_id.to_string(),
                    before: None,
                    after: Some(Value::Object(desired::audience_value(a))),
                })
                .collect();
            detail.attributes = if d.columns.is_empty() {
                d.attributes
                    .iter()
                    .map(|p| (Sign::Add, p.to_string()))
                    .collect()
            } else {
                columns.columns
            };
            if !d.enabled {
                changes.push(Change::disable(
                    name,
                    IdRef::Ref(desired::key(name, Role::Flow)),
                ));
                detail.notes.push((Sign::Change, "disable".into()));
            }
        }
        Some(flow) => {
            let typed = flow.flow().ok_or_else(|| PlanError::UnexpectedFlowShape {
                id: flow.id.0.clone(),
                missing: "/transformations".into(),
            })?;
            let fd = diff::flow_diff(d, typed)?;
            let live_enabled = typed.is_enabled();
            if !d.enabled && live_enabled {
                changes.push(Change::disable(name, on_entity(flow)));
                detail.notes.push((Sign::Change, "disable".into()));
            }
            for op in &fd.ops {
                match op.path.as_str() {
                    "/name" => detail.notes.push((
                        Sign::Change,
                        format!(
                            "rename {:?} → {:?}",
                            typed.name.as_deref().unwrap_or(""),
                            d.display_name
                        ),
                    )),
                    "/description" if fd.description_changed => {
                        let old_name = flow.marker.as_ref().map(|m| m.name.as_str());
                        if old_name.is_some_and(|o| o != name) {
                            detail.notes.push((
                                Sign::Change,
                                format!(
                                    "marker renamed {} → {name} (metadata.formerNames)",
                                    old_name.unwrap_or("")
                                ),
                            ));
                        }
                        if fingerprint::user_text(typed.description.as_deref())
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            != d.description
                                .as_deref()
                                .map(str::trim)
                                .filter(|t| !t.is_empty())
                        {
                            detail
                                .notes
                                .push((Sign::Change, "description changed".into()));
                        }
                    }
                    p if p == desired::mandatory_fields_pointer(d.platform) => detail.notes.push((
                        Sign::Change,
                        format!(
                            "mandatory attributes: {}",
                            list_words(&d.mandatory_attributes)
                        ),
                    )),
                    p if p == desired::primary_fields_pointer(d.platform) => {
                        let mut keys: Vec<String> =
                            d.deduplication_keys.iter().map(|k| k.to_string()).collect();
                        keys.extend(
                            d.identity_deduplication_keys
                                .iter()
                                .map(|n| format!("identity {n}")),
                        );
                        detail.notes.push((
                            Sign::Change,
                            format!(
                                "deduplication keys: {}",
                                if keys.is_empty() {
                                    "(none)".to_owned()
                                } else {
                                    keys.join(", ")
                                }
                            ),
                        ))
                    }
                    _ => {}
                }
            }
            let mut ops = fd.ops;
            // An enable or disable carries no body: the fingerprint, which records the state,
            // is refreshed by the flow's patch (the only write the marker ever adds).
            // A new mapping set likewise: the fingerprint records the columns.
            if ops.is_empty() && (d.enabled != live_enabled || columns.op.is_some()) {
                ops.extend(diff::fingerprint_refresh(d, typed));
            }
            ops.extend(columns.op);
            if !ops.is_empty() {
                changes.push(update(flow, name, ops));
            }
            if d.enabled && !live_enabled {
                changes.push(Change::enable(name, on_entity(flow)));
                detail.notes.push((Sign::Change, "enable".into()));
            }
            detail.audiences = fd.audiences;
            detail.attributes = fd.attributes;
            detail.attributes.extend(columns.columns);
            if !changes.is_empty() {
                detail.status = DestinationStatus::Update;
            }
        }
    }
    if detail.status == DestinationStatus::Unchanged && !changes.is_empty() {
        detail.status = DestinationStatus::Update;
    }
    if views == Views::Build && detail.status != DestinationStatus::Unchanged {
        add_views(&mut detail, d, live);
    }
    Ok((changes, detail))
}

/// The before/after flow views of a Destination that changes (the renderers show them for
/// changed Destinations only, so an unchanged one is spared building them).
fn add_views(detail: &mut DestinationDetail, d: &DesiredDestination, live: &LiveDestination) {
    detail.before = live
        .flow
        .as_ref()
        .and_then(|f| f.flow())
        .map(diff::live_flow_view);
    detail.after = Some(diff::desired_flow_view(d));
    // Exported columns (current cards) are the mapping set's, not profile selectors: both
    // views show them as `column ← source`.
    if !d.columns.is_empty() {
        let words = |pairs: &[(String, String)]| -> Value {
            Value::Array(
                pairs
                    .iter()
                    .map(|(source, column)| Value::String(format!("{column} ← {source}")))
                    .collect(),
            )
        };
        let live_columns = live
            .mapping_set
            .as_ref()
            .map(|m| words(&m.mappings))
            .unwrap_or_else(|| Value::Array(Vec::new()));
        for (view, columns) in [
            (&mut detail.before, live_columns),
            (&mut detail.after, words(&mapping::wanted(d))),
        ] {
            if let Some(Value::Object(o)) = view {
                o.remove("attributes");
                o.insert("columns".into(), columns);
            }
        }
    }
}

fn list_words(items: &[crate::model::AttributePath]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A managed Destination no longer in the manifests: deleted with `prune`, else left in place.
fn orphan(l: &LiveDestination, prune: bool, views: Views) -> (Vec<Change>, DestinationDetail) {
    let platform = [&l.connection, &l.target_connection]
        .into_iter()
        .flatten()
        .find_map(|e| {
            e.connection_spec_id()
                .and_then(Platform::by_connection_spec)
        });
    let mut detail = DestinationDetail {
        name: l.name.clone(),
        display_name: l.flow.as_ref().and_then(|f| f.name().map(str::to_owned)),
        platform,
        account: None,
        location: l
            .target_connection
            .as_ref()
            .and_then(|e| e.connection())
            .and_then(|c| c.params.as_ref())
            .map(|p| location_words(&Value::Object(p.clone()))),
        status: DestinationStatus::LeftInPlace,
        audiences: Vec::new(),
        attributes: Vec::new(),
        notes: Vec::new(),
        entity_notes: Vec::new(),
        before: None,
        after: None,
    };
    if !prune {
        return (Vec::new(), detail);
    }
    detail.status = DestinationStatus::Delete;
    if views == Views::Build {
        detail.before = l
            .flow
            .as_ref()
            .and_then(|f| f.flow())
            .map(diff::live_flow_view);
    }
    let changes = [
        (&l.flow, Role::Flow),
        (&l.target_connection, Role::TargetConnection),
        (&l.source_connection, Role::SourceConnection),
        (&l.connection, Role::Connection),
        (&l.profile_connection, Role::ProfileConnection),
    ]
    .into_iter()
    .filter_map(|(e, role)| e.as_ref().map(|e| (e, role)))
    .map(|(e, role)| {
        Change::delete_keyed(
            e.resource,
            &l.name,
            desired::key(&l.name, role),
            on_entity(e),
        )
    })
    .collect();
    (changes, detail)
}

/// Deletes run flow first, then target, source and base connections.
fn delete_rank(r: Resource) -> u8 {
    match r {
        Resource::Flow => 0,
        Resource::TargetConnection => 1,
        Resource::SourceConnection => 2,
        Resource::Connection => 3,
        Resource::MappingSet => 4,
    }
}

/// The ids a live entity uses: a flow's source and target connections, a source or target
/// connection's base connection.
fn uses(e: &LiveEntity) -> Vec<&str> {
    match &e.body {
        LiveBody::Flow(f) => f
            .source_connection_ids
            .iter()
            .chain(&f.target_connection_ids)
            .map(String::as_str)
            .collect(),
        LiveBody::Connection(c) => c.base_connection_id.as_deref().into_iter().collect(),
    }
}

/// A base connection's `auth`.
fn auth_of(e: &LiveEntity) -> Option<&crate::wire::connection::Auth> {
    e.connection()?.auth.as_ref()
}

/// The object of `e`'s role that the plan manages for `l`.
fn kept_of<'a>(l: &'a LiveDestination, e: &LiveEntity) -> Option<&'a LiveEntity> {
    match e.resource {
        Resource::Flow => l.flow.as_deref(),
        Resource::SourceConnection => l.source_connection.as_deref(),
        Resource::TargetConnection => l.target_connection.as_deref(),
        Resource::Connection if e.connection_spec_id() == Some(PROFILE_STORE_SPEC_ID) => {
            l.profile_connection.as_deref()
        }
        Resource::Connection => l.connection.as_deref(),
        Resource::MappingSet => None,
    }
}

/// The extras of `l` ([`LiveDestination::extras`]): reported, and with `prune` deleted (flows
/// first) unless an object that stays uses them (the kept chain, or anything else live).
/// `whole_deleted`: the kept objects of `l` are deleted too (a pruned orphan).
fn duplicate_changes(
    live: &LiveState,
    l: &LiveDestination,
    prune: bool,
    whole_deleted: bool,
) -> (Vec<Change>, Vec<Duplicate>) {
    let mut deleted: BTreeSet<&str> = BTreeSet::new();
    if prune {
        deleted.extend(l.extras.iter().map(|e| e.id.0.as_str()));
        if whole_deleted {
            deleted.extend(
                [
                    &l.flow,
                    &l.target_connection,
                    &l.source_connection,
                    &l.connection,
                    &l.profile_connection,
                ]
                .into_iter()
                .flatten()
                .map(|e| e.id.0.as_str()),
            );
        }
        let all: Vec<&LiveEntity> = live
            .flows
            .iter()
            .chain(&live.source_connections)
            .chain(&live.target_connections)
            .map(|e| &**e)
            .collect();
        loop {
            let in_use: BTreeSet<&str> = all
                .iter()
                .filter(|e| !deleted.contains(e.id.0.as_str()))
                .flat_map(|e| uses(e))
                .collect();
            let before = deleted.len();
            deleted.retain(|id| !in_use.contains(id));
            if deleted.len() == before {
                break;
            }
        }
    }
    let mut extras: Vec<&LiveEntity> = l.extras.iter().map(|e| &**e).collect();
    extras.sort_by(|a, b| {
        delete_rank(a.resource)
            .cmp(&delete_rank(b.resource))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut changes = Vec::new();
    let mut dups = Vec::new();
    for e in extras {
        let disposition = if !prune {
            DuplicateDisposition::LeftInPlace
        } else if deleted.contains(e.id.0.as_str()) {
            changes.push(Change::delete(e.resource, &l.name, on_entity(e)));
            DuplicateDisposition::Delete
        } else {
            DuplicateDisposition::InUse
        };
        dups.push(Duplicate {
            name: l.name.clone(),
            resource: e.resource,
            id: e.id.0.clone(),
            kept: kept_of(l, e).map(|k| k.id.0.clone()),
            disposition,
        });
    }
    (changes, dups)
}
