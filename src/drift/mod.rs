//! Drift: how the live objects of a sandbox differ from the manifests, and who made each
//! difference. Pure: desired state and live state in (read with the same list calls as `plan`),
//! a [`DriftReport`] out; `destctl drift` prints it and `plan` shows its out-of-band part.
//!
//! Each managed field group of a Destination's objects is compared three ways: the live value,
//! the manifests' value, and the digest destctl recorded in the object's marker when it last
//! applied it ([`crate::marker::Fingerprint`]). Where live and manifests differ, the digest
//! tells who moved: live still equals what was applied → the manifests changed (*pending*);
//! the manifests still equal it → live was changed outside destctl; neither → *both*; no
//! digest (a marker written before fingerprints) → origin unknown. docs/drift.md has the rules.

mod ignore;

pub use ignore::{IgnoreError, IgnoreList};

use crate::live::LiveMappingSet;
use crate::live::{LiveDestination, LiveEntity, LiveState};
use crate::marker::{FpField, digest};
use crate::model::{DesiredDestination, DesiredState};
use crate::plan::PlanTarget;
use crate::plan::diff::canonical;
use crate::plan::fingerprint::{
    self, desired_account, desired_flow_fields, desired_location, live_account,
    live_flow_fields_with, live_location,
};
pub use crate::plan::outside::{ChangedBy, Difference, DriftField, Origin, OutOfBand, Severity};
use crate::wire::Resource;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The drift document's format version (`destctl drift --format json`).
pub const FORMAT_VERSION: u32 = 1;

/// The one state of a managed Destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftState {
    /// Live is what the manifests say.
    InSync,
    /// Live was changed outside destctl since destctl last applied it.
    ChangedOutside,
    /// The manifests changed since the last apply (Git is ahead): not drift.
    Pending,
    /// Both: changed outside destctl and in the manifests.
    Both,
    /// A managed object was deleted outside destctl.
    Missing,
    /// Live differs and the markers hold no fingerprint to tell who moved.
    OriginUnknown,
}

impl DriftState {
    /// Every state, in report order.
    pub const ALL: [DriftState; 6] = [
        DriftState::InSync,
        DriftState::ChangedOutside,
        DriftState::Pending,
        DriftState::Both,
        DriftState::Missing,
        DriftState::OriginUnknown,
    ];

    /// Its name in JSON and metrics (`changed_outside`).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftState::InSync => "in_sync",
            DriftState::ChangedOutside => "changed_outside",
            DriftState::Pending => "pending",
            DriftState::Both => "both",
            DriftState::Missing => "missing",
            DriftState::OriginUnknown => "origin_unknown",
        }
    }

    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            DriftState::InSync => "in sync",
            DriftState::ChangedOutside => "changed outside destctl",
            DriftState::Pending => "pending (manifests ahead of the last apply)",
            DriftState::Both => "changed outside destctl and in the manifests",
            DriftState::Missing => "missing (deleted outside destctl)",
            DriftState::OriginUnknown => "differs (origin unknown: marker without fingerprint)",
        }
    }

    /// Whether this state is drift (`destctl drift` exits 2).
    pub fn is_drift(self) -> bool {
        !matches!(self, DriftState::InSync | DriftState::Pending)
    }
}

/// One managed Destination (in the manifests, managed live, or both).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DestinationDrift {
    /// `metadata.name`.
    pub name: String,
    /// The flow name (manifests, else live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The live flow's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// Whether a manifest defines it.
    pub in_manifests: bool,
    /// Its one state.
    pub state: DriftState,
    /// Each difference.
    pub differences: Vec<Difference>,
}

/// An audience an unmanaged flow exports that a manifest activates too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedAudience {
    /// The segment id.
    pub segment_id: String,
    /// The Destinations whose manifests activate it.
    pub destinations: Vec<String>,
}

/// A destination flow without a marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnmanagedFlow {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Audiences it exports that a manifest activates too (a warning each).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared_audiences: Vec<SharedAudience>,
    /// Its last change.
    pub changed_by: ChangedBy,
}

/// An unmanaged flow silenced by the ignore list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IgnoredFlow {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The ignore-list line that matched.
    pub pattern: String,
}

/// Managed ÷ all destination flows (ignored flows left out of both).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Coverage {
    /// Flows with a marker.
    pub managed: usize,
    /// Destination flows, ignored ones excepted.
    pub total: usize,
    /// `managed / total` in percent, one decimal (100 for an empty sandbox).
    pub percent: f64,
}

/// Counts of Destinations by state, and of unmanaged flows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DriftSummary {
    /// Destinations per state (every state present, 0 included).
    pub destinations: BTreeMap<&'static str, usize>,
    /// Unmanaged destination flows (not ignored).
    pub unmanaged: usize,
    /// Unmanaged flows silenced by the ignore list.
    pub ignored: usize,
    /// Whether anything is drift: a drifted Destination or an unmanaged flow.
    pub drift: bool,
}

/// The drift document (`destctl drift --format json`, docs/drift.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Where live state was read.
    pub target: PlanTarget,
    /// Counts.
    pub summary: DriftSummary,
    /// Managed ÷ all destination flows.
    pub coverage: Coverage,
    /// One entry per Destination, by name.
    pub destinations: Vec<DestinationDrift>,
    /// Destination flows without a marker, not ignored.
    pub unmanaged: Vec<UnmanagedFlow>,
    /// Unmanaged flows the ignore list silenced.
    pub ignored: Vec<IgnoredFlow>,
}

impl DriftReport {
    /// Whether `destctl drift` exits 2.
    pub fn has_drift(&self) -> bool {
        self.summary.drift
    }

    /// The differences made outside destctl (origin outside, both or unknown), by Destination:
    /// what `plan` shows apart from its pending changes.
    pub fn out_of_band(&self) -> Vec<OutOfBand> {
        self.destinations
            .iter()
            .filter_map(|d| {
                let differences: Vec<Difference> = d
                    .differences
                    .iter()
                    .filter(|x| x.origin != Origin::Pending)
                    .cloned()
                    .collect();
                (!differences.is_empty()).then(|| OutOfBand {
                    name: d.name.clone(),
                    differences,
                })
            })
            .collect()
    }
}

fn changed_by(e: &LiveEntity) -> ChangedBy {
    let (by, client, at) = match &e.body {
        crate::live::LiveBody::Flow(f) => (&f.updated_by, &f.updated_client, f.updated_at),
        crate::live::LiveBody::Connection(c) => (&c.updated_by, &c.updated_client, c.updated_at),
    };
    ChangedBy {
        by: by.clone(),
        client: client.clone(),
        at,
    }
}

/// Who moved a field group, from the digest recorded for it.
fn origin_of(recorded: Option<u32>, live: &Value, desired: &Value) -> Origin {
    let Some(r) = recorded else {
        return Origin::Unknown;
    };
    if r == digest(&canonical(live)) {
        Origin::Pending
    } else if r == digest(&canonical(desired)) {
        Origin::Outside
    } else {
        Origin::Both
    }
}

/// Collects the differences of one object.
struct Collector<'a> {
    entity: Option<&'a LiveEntity>,
    resource: Resource,
    out: &'a mut Vec<Difference>,
}

impl Collector<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        field: DriftField,
        audience: Option<&str>,
        live: Value,
        manifests: Value,
        origin: Origin,
        severity: Severity,
    ) {
        let changed_by = (origin != Origin::Pending)
            .then(|| self.entity.map(changed_by))
            .flatten();
        self.out.push(Difference {
            resource: self.resource,
            id: self.entity.map(|e| e.id.0.clone()),
            field,
            audience: audience.map(str::to_owned),
            live,
            manifests,
            origin,
            severity,
            changed_by,
        });
    }
}

fn object_of(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn string_items(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => canonical(other),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The audiences of a settings group restricted to the ids of an audience-ids group.
fn restrict(settings: Option<&Value>, ids: &Value) -> Value {
    let keep = string_items(ids);
    Value::Object(
        object_of(settings.unwrap_or(&Value::Null))
            .into_iter()
            .filter(|(k, _)| keep.contains(k))
            .collect(),
    )
}

/// A finer origin for the audience settings when the whole group reads `both`: an audience
/// added or removed on one side changes the group's digest on that side, so compare the
/// recorded settings digest with the other side restricted to the audiences last applied —
/// known when one side still has exactly the applied audience ids.
fn settings_origin(
    fp: Option<&crate::marker::Fingerprint>,
    live: &fingerprint::FieldValues,
    want: &fingerprint::FieldValues,
) -> Option<Origin> {
    let fp = fp?;
    let applied_ids = fp.get(FpField::Audiences)?;
    let applied_settings = fp.get(FpField::AudienceSettings)?;
    let digest_of = |v: &Value| digest(&canonical(v));
    let live_ids = live.get(&FpField::Audiences)?;
    let want_ids = want.get(&FpField::Audiences)?;
    let live_settings = live.get(&FpField::AudienceSettings);
    let want_settings = want.get(&FpField::AudienceSettings);
    // Live still exports the applied audiences, and the manifests kept their settings.
    if applied_ids == digest_of(live_ids)
        && applied_settings == digest_of(&restrict(want_settings, live_ids))
    {
        return Some(Origin::Outside);
    }
    // The manifests still activate the applied audiences, and live kept their settings.
    if applied_ids == digest_of(want_ids)
        && applied_settings == digest_of(&restrict(live_settings, want_ids))
    {
        return Some(Origin::Pending);
    }
    None
}

/// The differences of a flow's field groups.
fn flow_differences(
    d: &DesiredDestination,
    flow: &LiveEntity,
    mapping: Option<&LiveMappingSet>,
    out: &mut Vec<Difference>,
) {
    let Some(typed) = flow.flow() else {
        return;
    };
    let live = live_flow_fields_with(typed, mapping);
    // A flow that keeps exporting by profile selectors is planned without its columns; its
    // fingerprint was computed the same way.
    let kept;
    let d = if crate::plan::mapping::flow_keeps_profile_selectors(d, flow) {
        kept = DesiredDestination {
            columns: Vec::new(),
            ..d.clone()
        };
        &kept
    } else {
        d
    };
    let want = desired_flow_fields(d);
    let fp = flow.marker.as_ref().and_then(|m| m.fingerprint.as_ref());
    let mut c = Collector {
        entity: Some(flow),
        resource: Resource::Flow,
        out,
    };
    let null = Value::Null;
    for field in FpField::ALL {
        let (Some(l), Some(w)) = (live.get(&field), want.get(&field)) else {
            continue;
        };
        if canonical(l) == canonical(w) {
            continue;
        }
        let mut origin = origin_of(fp.and_then(|f| f.get(field)), l, w);
        if field == FpField::AudienceSettings && origin == Origin::Both {
            origin = settings_origin(fp, &live, &want).unwrap_or(origin);
        }
        match field {
            FpField::Name => c.push(
                DriftField::Name,
                None,
                l.clone(),
                w.clone(),
                origin,
                Severity::Low,
            ),
            FpField::Description => c.push(
                DriftField::Description,
                None,
                l.clone(),
                w.clone(),
                origin,
                Severity::Low,
            ),
            FpField::State => {
                let severity = if l.as_str() == Some("disabled") {
                    Severity::High
                } else {
                    Severity::Medium
                };
                c.push(
                    DriftField::State,
                    None,
                    l.clone(),
                    w.clone(),
                    origin,
                    severity,
                )
            }
            FpField::Audiences => {
                let la = object_of(live.get(&FpField::AudienceSettings).unwrap_or(&null));
                let wa = object_of(want.get(&FpField::AudienceSettings).unwrap_or(&null));
                for (id, v) in &wa {
                    if !la.contains_key(id) {
                        c.push(
                            DriftField::Audience,
                            Some(id),
                            Value::Null,
                            v.clone(),
                            origin,
                            Severity::High,
                        );
                    }
                }
                for (id, v) in &la {
                    if !wa.contains_key(id) {
                        c.push(
                            DriftField::Audience,
                            Some(id),
                            v.clone(),
                            Value::Null,
                            origin,
                            Severity::Medium,
                        );
                    }
                }
            }
            FpField::AudienceSettings => {
                let la = object_of(l);
                let wa = object_of(w);
                for (id, wv) in &wa {
                    let Some(lv) = la.get(id) else {
                        continue;
                    };
                    let part = |v: &Value, keys: &[&str]| -> Value {
                        let mut m = Map::new();
                        for k in keys {
                            if let Some(x) = v.get(*k) {
                                m.insert((*k).to_owned(), x.clone());
                            }
                        }
                        Value::Object(m)
                    };
                    for (keys, field, severity) in [
                        (&["schedule"][..], DriftField::Schedule, Severity::Medium),
                        (
                            &["filenameTemplate"][..],
                            DriftField::FilenameTemplate,
                            Severity::Medium,
                        ),
                        (
                            &["exportMode"][..],
                            DriftField::ExportMode,
                            Severity::Medium,
                        ),
                        (
                            &["name", "description"][..],
                            DriftField::AudienceLabel,
                            Severity::Low,
                        ),
                    ] {
                        let (a, b) = (part(lv, keys), part(wv, keys));
                        if a != b {
                            let one = |v: Value| -> Value {
                                if keys.len() == 1 {
                                    v.get(keys[0]).cloned().unwrap_or(Value::Null)
                                } else {
                                    v
                                }
                            };
                            c.push(field, Some(id), one(a), one(b), origin, severity);
                        }
                    }
                }
            }
            FpField::Attributes => {
                let (ls, ws) = (string_items(l), string_items(w));
                for p in ws.difference(&ls) {
                    c.push(
                        DriftField::Attribute,
                        None,
                        Value::Null,
                        Value::from(p.as_str()),
                        origin,
                        Severity::Medium,
                    );
                }
                for p in ls.difference(&ws) {
                    c.push(
                        DriftField::Attribute,
                        None,
                        Value::from(p.as_str()),
                        Value::Null,
                        origin,
                        Severity::Medium,
                    );
                }
            }
            FpField::Mandatory => c.push(
                DriftField::MandatoryAttributes,
                None,
                l.clone(),
                w.clone(),
                origin,
                Severity::Medium,
            ),
            FpField::Dedup => c.push(
                DriftField::DeduplicationKeys,
                None,
                l.clone(),
                w.clone(),
                origin,
                Severity::Medium,
            ),
            FpField::Location | FpField::Account => {}
        }
    }
}

/// The differences of the target connection (location) and the account.
fn connection_differences(d: &DesiredDestination, l: &LiveDestination, out: &mut Vec<Difference>) {
    if let Some(t) = &l.target_connection
        && let Some(conn) = t.connection()
    {
        let (lv, wv) = (live_location(d, conn), desired_location(d));
        if canonical(&lv) != canonical(&wv) {
            let fp = t.marker.as_ref().and_then(|m| m.fingerprint.as_ref());
            let origin = origin_of(fp.and_then(|f| f.get(FpField::Location)), &lv, &wv);
            Collector {
                entity: Some(t),
                resource: Resource::TargetConnection,
                out,
            }
            .push(DriftField::Location, None, lv, wv, origin, Severity::High);
        }
    }
    if let Some(a) = &l.connection
        && let Some(conn) = a.connection()
    {
        let mut c = Collector {
            entity: Some(a),
            resource: Resource::Connection,
            out,
        };
        let (lv, wv) = (live_account(d, conn), desired_account(d));
        if canonical(&lv) != canonical(&wv) {
            let fp = a.marker.as_ref().and_then(|m| m.fingerprint.as_ref());
            let origin = origin_of(fp.and_then(|f| f.get(FpField::Account)), &lv, &wv);
            c.push(DriftField::Account, None, lv, wv, origin, Severity::High);
        }
        let live_version = a
            .marker
            .as_ref()
            .and_then(|m| m.credentials_version)
            .unwrap_or(0);
        if d.connection.credentials_version > live_version {
            c.push(
                DriftField::Credentials,
                None,
                Value::from(live_version),
                Value::from(d.connection.credentials_version),
                Origin::Pending,
                Severity::Low,
            );
        }
    }
}

fn state_of(differences: &[Difference]) -> DriftState {
    let has = |o: Origin| differences.iter().any(|d| d.origin == o);
    let missing = differences
        .iter()
        .any(|d| d.field == DriftField::Object && d.origin == Origin::Outside);
    if missing {
        DriftState::Missing
    } else if has(Origin::Both) || (has(Origin::Outside) && has(Origin::Pending)) {
        DriftState::Both
    } else if has(Origin::Outside) {
        DriftState::ChangedOutside
    } else if has(Origin::Unknown) {
        DriftState::OriginUnknown
    } else if has(Origin::Pending) {
        DriftState::Pending
    } else {
        DriftState::InSync
    }
}

/// The drift of one Destination that the manifests define; `l` its live objects, if any.
fn destination_drift(d: &DesiredDestination, l: Option<&LiveDestination>) -> DestinationDrift {
    let mut differences = Vec::new();
    let flow_id = l.and_then(|l| l.flow.as_ref()).map(|f| f.id.0.clone());
    match l {
        None => differences.push(Difference {
            resource: Resource::Flow,
            id: None,
            field: DriftField::Object,
            audience: None,
            live: Value::Null,
            manifests: Value::from(d.display_name.as_str()),
            origin: Origin::Pending,
            severity: Severity::Low,
            changed_by: None,
        }),
        Some(l) => {
            for (slot, resource) in [
                (&l.flow, Resource::Flow),
                (&l.target_connection, Resource::TargetConnection),
                (&l.connection, Resource::Connection),
                (&l.source_connection, Resource::SourceConnection),
            ] {
                if slot.is_none() {
                    differences.push(Difference {
                        resource,
                        id: None,
                        field: DriftField::Object,
                        audience: None,
                        live: Value::Null,
                        manifests: Value::from(d.display_name.as_str()),
                        origin: Origin::Outside,
                        severity: Severity::High,
                        changed_by: None,
                    });
                }
            }
            let renamed = [&l.flow, &l.target_connection, &l.connection]
                .into_iter()
                .flatten()
                .find_map(|e| e.marker.as_ref().filter(|m| m.name != d.name.as_str()));
            if let Some(m) = renamed {
                differences.push(Difference {
                    resource: Resource::Flow,
                    id: flow_id.clone(),
                    field: DriftField::Marker,
                    audience: None,
                    live: Value::from(m.name.as_str()),
                    manifests: Value::from(d.name.as_str()),
                    origin: Origin::Pending,
                    severity: Severity::Low,
                    changed_by: None,
                });
            }
            if let Some(f) = &l.flow {
                flow_differences(d, f, l.mapping_set.as_deref(), &mut differences);
            }
            connection_differences(d, l, &mut differences);
        }
    }
    DestinationDrift {
        name: d.name.to_string(),
        display_name: Some(d.display_name.clone()),
        flow_id,
        in_manifests: true,
        state: state_of(&differences),
        differences,
    }
}

/// A managed Destination no manifest defines any more: pending (`apply --prune` deletes it).
fn orphan_drift(l: &LiveDestination) -> DestinationDrift {
    let display_name = l.flow.as_ref().and_then(|f| f.name().map(str::to_owned));
    let entity = [&l.flow, &l.target_connection, &l.connection]
        .into_iter()
        .flatten()
        .next();
    let differences = vec![Difference {
        resource: entity.map_or(Resource::Flow, |e| e.resource),
        id: entity.map(|e| e.id.0.clone()),
        field: DriftField::Object,
        audience: None,
        live: Value::from(display_name.clone().unwrap_or_else(|| l.name.clone())),
        manifests: Value::Null,
        origin: Origin::Pending,
        severity: Severity::Low,
        changed_by: None,
    }];
    DestinationDrift {
        name: l.name.clone(),
        display_name,
        flow_id: l.flow.as_ref().map(|f| f.id.0.clone()),
        in_manifests: false,
        state: DriftState::Pending,
        differences,
    }
}

/// Compares `live` with `desired`; `ignore` silences unmanaged flows.
pub fn detect(
    desired: &DesiredState,
    live: &LiveState,
    ignore: &IgnoreList,
    target: PlanTarget,
) -> DriftReport {
    let mut managed = live.managed();
    crate::plan::take_over_former_names(&mut managed, &desired.destinations);
    let mut destinations = Vec::new();
    for d in &desired.destinations {
        destinations.push(destination_drift(d, managed.get(d.name.as_str())));
    }
    let wanted: BTreeSet<&str> = desired
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    // DatasetExports (their own flows and connections) are not compared here.
    let exports: BTreeSet<&str> = desired
        .dataset_exports
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    for (name, l) in &managed {
        if exports.contains(name.as_str()) || crate::plan::dataset::is_dataset_group(l) {
            continue;
        }
        if !wanted.contains(name.as_str()) {
            destinations.push(orphan_drift(l));
        }
    }
    destinations.sort_by(|a, b| a.name.cmp(&b.name));

    // Audience reverse lookup: segment id → the Destinations activating it.
    let mut activated: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for d in &desired.destinations {
        for a in &d.audiences {
            activated
                .entry(a.segment_id.as_str())
                .or_default()
                .push(d.name.to_string());
        }
    }
    let mut unmanaged = Vec::new();
    let mut ignored = Vec::new();
    let mut managed_flows = 0;
    for f in &live.flows {
        if f.marker.is_some() {
            managed_flows += 1;
            continue;
        }
        let name = f.name().map(str::to_owned);
        if let Some(pattern) = ignore.matches(&f.id.0, name.as_deref()) {
            ignored.push(IgnoredFlow {
                id: f.id.0.clone(),
                name,
                pattern: pattern.to_owned(),
            });
            continue;
        }
        let mut shared: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(sels) = f.flow().and_then(|fl| fl.segment_selectors()) {
            for sel in sels {
                if let Some(id) = sel.typed().and_then(|s| s.segment_id())
                    && let Some(dests) = activated.get(id)
                {
                    shared.insert(id.to_owned(), dests.clone());
                }
            }
        }
        unmanaged.push(UnmanagedFlow {
            id: f.id.0.clone(),
            name,
            shared_audiences: shared
                .into_iter()
                .map(|(segment_id, destinations)| SharedAudience {
                    segment_id,
                    destinations,
                })
                .collect(),
            changed_by: changed_by(f),
        });
    }
    unmanaged.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let total = managed_flows + unmanaged.len();
    let percent = if total == 0 {
        100.0
    } else {
        (managed_flows as f64 * 1000.0 / total as f64).round() / 10.0
    };
    let mut counts: BTreeMap<&'static str, usize> =
        DriftState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for d in &destinations {
        *counts.entry(d.state.as_str()).or_default() += 1;
    }
    let drift = destinations.iter().any(|d| d.state.is_drift()) || !unmanaged.is_empty();
    DriftReport {
        format_version: FORMAT_VERSION,
        target,
        summary: DriftSummary {
            destinations: counts,
            unmanaged: unmanaged.len(),
            ignored: ignored.len(),
            drift,
        },
        coverage: Coverage {
            managed: managed_flows,
            total,
            percent,
        },
        destinations,
        unmanaged,
        ignored,
    }
}

/// The out-of-band part of a plan's differences (`Plan::changed_outside`). Only Destinations
/// the plan changes can differ from the manifests, so only those are compared (an unchanged
/// flow's managed view is never built).
pub fn changed_outside(
    desired: &DesiredState,
    live: &LiveState,
    details: &crate::plan::PlanDetails,
    target: PlanTarget,
) -> Vec<OutOfBand> {
    let changed: BTreeSet<&str> = details
        .destinations
        .iter()
        .filter(|d| d.status != crate::plan::DestinationStatus::Unchanged)
        .map(|d| d.name.as_str())
        .collect();
    let scoped = DesiredState {
        destinations: desired
            .destinations
            .iter()
            .filter(|d| changed.contains(d.name.as_str()))
            .cloned()
            .collect(),
        dataset_exports: desired.dataset_exports.clone(),
        adoptions: desired.adoptions.clone(),
    };
    detect(&scoped, live, &IgnoreList::default(), target).out_of_band()
}

/// The user's text of a live description (re-exported for the renderers' tests).
pub use fingerprint::user_text;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_recorded_digest_tells_who_moved() {
        let (applied, live, manifests) = (json!("enabled"), json!("disabled"), json!("enabled"));
        let recorded = digest(&canonical(&applied));
        assert_eq!(
            origin_of(Some(recorded), &live, &manifests),
            Origin::Outside
        );
        assert_eq!(
            origin_of(Some(recorded), &manifests, &live),
            Origin::Pending
        );
        assert_eq!(
            origin_of(Some(digest("\"other\"")), &live, &manifests),
            Origin::Both
        );
        assert_eq!(origin_of(None, &live, &manifests), Origin::Unknown);
    }

    proptest::proptest! {
        /// Whichever side moved away from what was applied is the origin (digests of distinct
        /// small values do not collide here).
        #[test]
        fn origins_follow_who_moved(
            applied in "[a-z]{0,6}",
            live in "[a-z]{0,6}",
            manifests in "[a-z]{0,6}",
        ) {
            let v = |s: &str| json!(s);
            let recorded = digest(&canonical(&v(&applied)));
            let want = if live == applied {
                Origin::Pending
            } else if manifests == applied {
                Origin::Outside
            } else {
                Origin::Both
            };
            proptest::prop_assume!(live != manifests);
            proptest::prop_assume!(
                [&live, &manifests]
                    .iter()
                    .all(|x| **x == applied || digest(&canonical(&v(x))) != recorded)
            );
            proptest::prop_assert_eq!(origin_of(Some(recorded), &v(&live), &v(&manifests)), want);
        }
    }

    fn diff(field: DriftField, origin: Origin) -> Difference {
        Difference {
            resource: Resource::Flow,
            id: None,
            field,
            audience: None,
            live: Value::Null,
            manifests: Value::Null,
            origin,
            severity: Severity::Low,
            changed_by: None,
        }
    }

    #[test]
    fn one_state_per_destination() {
        use DriftField::{Name, Object};
        assert_eq!(state_of(&[]), DriftState::InSync);
        assert_eq!(
            state_of(&[diff(Name, Origin::Pending)]),
            DriftState::Pending
        );
        assert_eq!(
            state_of(&[diff(Name, Origin::Outside)]),
            DriftState::ChangedOutside
        );
        assert_eq!(
            state_of(&[diff(Name, Origin::Outside), diff(Name, Origin::Pending)]),
            DriftState::Both
        );
        assert_eq!(state_of(&[diff(Name, Origin::Both)]), DriftState::Both);
        assert_eq!(
            state_of(&[diff(Name, Origin::Unknown), diff(Name, Origin::Pending)]),
            DriftState::OriginUnknown
        );
        assert_eq!(
            state_of(&[diff(Object, Origin::Outside), diff(Name, Origin::Pending)]),
            DriftState::Missing
        );
        assert!(!DriftState::Pending.is_drift() && DriftState::Missing.is_drift());
    }
}
