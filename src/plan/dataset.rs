//! DatasetExport plans: a Data Lake source connection (`params.datasets`), a target connection
//! on the Destination's account (`datasetFileType`, `compression`, the Destination's location)
//! and a flow with the card's dataset flow spec, `transformations: []` and `scheduleParams`.
//!
//! Decisions:
//! - Datasets cannot be changed on a source connection (SPEC-D): a changed dataset list is a
//!   new source connection, one `replace /sourceConnectionIds` on the flow, then the deletion of
//!   the old source connection. `apply` runs creates, then updates, then deletes, so the flow
//!   never points at a deleted connection.
//! - Crash-safety: every source connection carries the export's marker. A managed source
//!   connection whose datasets match is reused instead of created again (an apply interrupted
//!   after the create), and managed source connections no flow uses (an apply interrupted after
//!   the swap) are deleted.
//! - A schedule change is one `replace /scheduleParams` with the whole desired value; a live
//!   `endTime` is compared only when the manifest gives one (AEP fills a default).

use super::desired::{self, CONNECTION_DESCRIPTION, Role};
use super::diff::Sign;
use super::{Change, DestinationDetail, DestinationStatus, IdRef, PlanError};
use crate::catalog::DATA_LAKE_SPEC_ID;
use crate::live::{LiveDestination, LiveEntity, LiveState};
use crate::marker::Marker;
use crate::model::DesiredDatasetExport;
use crate::wire::Resource;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Target connection `params` keys a dataset export manages; others found live are kept.
const MANAGED_KEYS: [&str; 8] = [
    "mode",
    "bucketName",
    "path",
    "container",
    "remotePath",
    "datasetFileType",
    "compression",
    "includeFileManifest",
];

fn connection_description(e: &DesiredDatasetExport) -> String {
    Marker::new(e.name.as_str()).describe(Some(CONNECTION_DESCRIPTION))
}

/// `params.datasets` of the Data Lake source connection.
pub(crate) fn datasets_param(e: &DesiredDatasetExport) -> Value {
    Value::Array(
        e.datasets
            .iter()
            .map(|d| {
                let mut o = Map::new();
                o.insert("dataSetId".into(), json!(d.id));
                if let Some(n) = &d.name {
                    o.insert("name".into(), json!(n));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// `POST /sourceConnections` body of the Data Lake source connection.
pub(crate) fn source_body(e: &DesiredDatasetExport) -> Value {
    json!({
        "name": format!("{} datasets", e.name),
        "description": connection_description(e),
        "connectionSpec": desired::spec(DATA_LAKE_SPEC_ID),
        "params": {"datasets": datasets_param(e)},
    })
}

/// The target connection's `params`: `mode`, the Destination's location params in catalog
/// order, `datasetFileType`, `compression`.
pub(crate) fn target_params(e: &DesiredDatasetExport) -> Value {
    let mut params = Map::new();
    params.insert("mode".into(), json!(e.mode.as_str()));
    for p in e.platform.info().location_params(e.mode) {
        if let Some(v) = e.location.get(p.name) {
            params.insert(p.name.into(), json!(v));
        }
    }
    for (k, v) in &e.location {
        if !params.contains_key(k) {
            params.insert(k.clone(), json!(v));
        }
    }
    params.insert("datasetFileType".into(), json!(e.file_type));
    params.insert("compression".into(), json!(e.compression));
    Value::Object(params)
}

/// `POST /targetConnections` body.
pub(crate) fn target_body(e: &DesiredDatasetExport, base_connection_id: &str) -> Value {
    json!({
        "name": format!("{} dataset location", e.name),
        "description": connection_description(e),
        "baseConnectionId": base_connection_id,
        "connectionSpec": desired::spec(e.platform.info().connection_spec_id),
        "params": target_params(e),
    })
}

/// The flow's `scheduleParams`.
pub(crate) fn schedule_params(e: &DesiredDatasetExport) -> Value {
    serde_json::to_value(&e.schedule).unwrap_or(Value::Null)
}

fn flow_description(e: &DesiredDatasetExport) -> String {
    Marker::new(e.name.as_str()).describe(e.description.as_deref())
}

/// The card's dataset flow spec id (current cards have one; validation refuses the others).
fn flow_spec_id(e: &DesiredDatasetExport) -> Result<&'static str, PlanError> {
    e.platform
        .info()
        .dataset_flow_spec_id
        .ok_or_else(|| PlanError::NoDatasetFlowSpec {
            export: e.name.to_string(),
            platform: e.platform,
        })
}

/// `POST /flows` body.
pub(crate) fn flow_body(
    e: &DesiredDatasetExport,
    spec_id: &str,
    source: &str,
    target: &str,
) -> Value {
    json!({
        "name": e.display_name,
        "description": flow_description(e),
        "flowSpec": desired::spec(spec_id),
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [],
        "scheduleParams": schedule_params(e),
    })
}

/// The datasets of a live source connection, comparable with [`datasets_param`].
fn live_datasets(e: &LiveEntity) -> Option<&Value> {
    e.connection()?.params.as_ref()?.get("datasets")
}

/// `(id, name)` pairs of a datasets value, sorted: order in the manifest does not matter.
fn dataset_set(v: &Value) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d.get("dataSetId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                d.get("name").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect();
    out.sort();
    out
}

fn dataset_words(v: &Value) -> String {
    let list: Vec<String> = dataset_set(v)
        .into_iter()
        .map(|(id, name)| match name {
            Some(n) => format!("{n} ({id})"),
            None => id,
        })
        .collect();
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}

/// A schedule in words: `every 1 day from 1764568800 (FIRST_FULL_THEN_INCREMENTAL)`.
pub(crate) fn schedule_words(v: &Value) -> String {
    let unit = v.get("timeUnit").and_then(Value::as_str).unwrap_or("?");
    let interval = v.get("interval").map(|i| i.to_string()).unwrap_or_default();
    let time = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let mut s = match (interval.as_str(), unit) {
        ("0", _) => "once, full export".to_owned(),
        ("1", "day") => "daily".to_owned(),
        (n, "hour") => format!("every {n} hours"),
        (n, u) => format!("every {n} {u}"),
    };
    if interval != "0" && v.get("exportMode").and_then(Value::as_str) == Some("DAILY_FULL_EXPORT") {
        s.push_str(", full export");
    }
    if let Some(t) = time("startTime") {
        s.push_str(&format!(" from {t}"));
    }
    if let Some(t) = time("endTime") {
        s.push_str(&format!(" until {t}"));
    }
    if let Some(f) = v
        .get("folderNameTemplate")
        .or_else(|| v.get("foldernameTemplate"))
        .and_then(Value::as_str)
    {
        s.push_str(&format!(", folder {f}"));
    }
    s
}

/// Whether the live `scheduleParams` already are the desired ones (`endTime` only when given).
fn schedule_matches(e: &DesiredDatasetExport, live: Option<&Map<String, Value>>) -> bool {
    let want = schedule_params(e);
    let Some(want) = want.as_object() else {
        return false;
    };
    let Some(have) = live else {
        return false;
    };
    let folder = |m: &Map<String, Value>| {
        m.get("folderNameTemplate")
            .or_else(|| m.get("foldernameTemplate"))
            .cloned()
    };
    let keys = ["exportMode", "startTime", "interval", "timeUnit"];
    keys.iter().all(|k| want.get(*k) == have.get(*k))
        && (e.schedule.end_time.is_none() || want.get("endTime") == have.get("endTime"))
        && folder(want) == folder(have)
}

fn id_or_ref(live: Option<&Arc<LiveEntity>>, name: &str, role: Role) -> String {
    match live {
        Some(e) => e.id.0.clone(),
        None => desired::reference(&desired::key(name, role)),
    }
}

fn on_entity(e: &LiveEntity) -> IdRef {
    IdRef::Live(e.id.clone())
}

/// The changes and details of one DatasetExport. `account`: the id (or `${ref:}`) of its
/// Destination's base connection, `None` when it has none yet and the plan creates none.
pub(crate) fn plan_dataset_export(
    e: &DesiredDatasetExport,
    l: &LiveDestination,
    live: &LiveState,
    account: Option<String>,
) -> Result<(Vec<Change>, DestinationDetail), PlanError> {
    let name = e.name.as_str();
    let spec_id = flow_spec_id(e)?;
    let mut detail = DestinationDetail {
        name: name.to_owned(),
        display_name: Some(e.display_name.clone()),
        platform: Some(e.platform),
        // A dataset export uses its Destination's account and location.
        account: Some(format!("Destination `{}`'s", e.destination.as_str())),
        location: Some(format!("Destination `{}`'s", e.destination.as_str())),
        status: DestinationStatus::Unchanged,
        audiences: Vec::new(),
        attributes: Vec::new(),
        notes: Vec::new(),
        entity_notes: Vec::new(),
        before: None,
        after: None,
    };
    if let Some(flow) = &l.flow
        && let Some(live_spec) = flow
            .flow()
            .and_then(|f| f.flow_spec.as_ref())
            .and_then(|s| s.id.as_deref())
        && live_spec != spec_id
    {
        return Err(PlanError::PlatformChanged {
            destination: name.to_owned(),
            resource: "flow".into(),
            id: flow.id.0.clone(),
            live: format!("flow spec {live_spec}"),
            desired: e.platform,
        });
    }
    let mut changes = Vec::new();

    // The location (target connection).
    if let Some(t) = &l.target_connection {
        let want = target_params(e);
        let want_obj = want.as_object().cloned().unwrap_or_default();
        let empty = Map::new();
        let have = t
            .connection()
            .and_then(|c| c.params.as_ref())
            .unwrap_or(&empty);
        let keys: BTreeSet<&str> = MANAGED_KEYS
            .iter()
            .copied()
            .chain(want_obj.keys().map(String::as_str))
            .collect();
        if !keys.iter().all(|k| want_obj.get(*k) == have.get(*k)) {
            let mut params = want_obj.clone();
            for (k, v) in have {
                if !keys.contains(k.as_str()) {
                    params.insert(k.clone(), v.clone());
                }
            }
            changes.push(Change::update(
                Resource::TargetConnection,
                name,
                on_entity(t),
                t.etag.clone(),
                vec![desired::replace("/params".into(), Value::Object(params))],
            ));
            detail.entity_notes.push((
                Resource::TargetConnection,
                Sign::Change,
                format!(
                    "dataset files: {} {} → {} {}",
                    have.get("datasetFileType")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    have.get("compression")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    e.file_type.as_str(),
                    e.compression.as_str()
                ),
            ));
        }
    }

    // The source connections: the one whose datasets match is kept (or created).
    let want_sets = dataset_set(&datasets_param(e));
    let sources: Vec<&Arc<LiveEntity>> = l
        .source_connection
        .iter()
        .chain(
            l.extras
                .iter()
                .filter(|x| x.resource == Resource::SourceConnection),
        )
        .collect();
    let matching = sources
        .iter()
        .find(|s| live_datasets(s).map(dataset_set) == Some(want_sets.clone()))
        .copied();
    let current_source: Option<&str> = l
        .flow
        .as_ref()
        .and_then(|f| f.flow())
        .and_then(|f| f.source_connection_ids.first())
        .map(String::as_str);
    let source_ok = l.flow.is_none() || matching.map(|m| m.id.0.as_str()) == current_source;
    if matching.is_none() {
        changes.push(Change::create(
            Resource::SourceConnection,
            name,
            desired::key(name, Role::SourceConnection),
            source_body(e),
        ));
    }
    if matching.is_none() && l.flow.is_some() {
        detail.entity_notes.push((
            Resource::SourceConnection,
            Sign::Add,
            format!("datasets: {}", dataset_words(&datasets_param(e))),
        ));
    }
    let source_id = id_or_ref(matching, name, Role::SourceConnection);

    match &l.flow {
        None => {
            if l.target_connection.is_none() {
                let Some(base) = account else {
                    return Err(PlanError::DatasetExportNoAccount {
                        export: name.to_owned(),
                        destination: e.destination.to_string(),
                    });
                };
                changes.push(Change::create(
                    Resource::TargetConnection,
                    name,
                    desired::key(name, Role::TargetConnection),
                    target_body(e, &base),
                ));
            }
            let target = id_or_ref(l.target_connection.as_ref(), name, Role::TargetConnection);
            changes.push(Change::create(
                Resource::Flow,
                name,
                desired::key(name, Role::Flow),
                flow_body(e, spec_id, &source_id, &target),
            ));
            detail.status = DestinationStatus::Create;
            detail.notes.push((
                Sign::Add,
                format!("datasets: {}", dataset_words(&datasets_param(e))),
            ));
            detail.notes.push((
                Sign::Add,
                format!(
                    "{} {}, {}",
                    e.file_type.as_str(),
                    e.compression.as_str(),
                    schedule_words(&schedule_params(e))
                ),
            ));
        }
        Some(flow) => {
            let typed = flow.flow();
            let mut ops = Vec::new();
            if !source_ok {
                ops.push(desired::replace(
                    "/sourceConnectionIds".into(),
                    json!([source_id]),
                ));
                let before = current_source
                    .and_then(|id| sources.iter().find(|s| s.id.0 == id))
                    .and_then(|s| live_datasets(s))
                    .map(dataset_words)
                    .unwrap_or_else(|| "(unknown)".into());
                detail.notes.push((
                    Sign::Change,
                    format!(
                        "datasets: {before} → {} (datasets cannot change on a source connection: the flow switches to a new one, then the old one is deleted)",
                        dataset_words(&datasets_param(e))
                    ),
                ));
            }
            if !schedule_matches(e, typed.and_then(|f| f.schedule_params.as_ref())) {
                ops.push(desired::replace(
                    "/scheduleParams".into(),
                    schedule_params(e),
                ));
                let before = typed
                    .and_then(|f| f.schedule_params.clone())
                    .map(|m| schedule_words(&Value::Object(m)))
                    .unwrap_or_else(|| "(none)".into());
                detail.notes.push((
                    Sign::Change,
                    format!(
                        "schedule: {before} → {}",
                        schedule_words(&schedule_params(e))
                    ),
                ));
            }
            if typed.and_then(|f| f.name.as_deref()) != Some(e.display_name.as_str()) {
                ops.push(desired::replace("/name".into(), json!(e.display_name)));
                detail.notes.push((
                    Sign::Change,
                    format!(
                        "rename {:?} → {:?}",
                        typed.and_then(|f| f.name.as_deref()).unwrap_or(""),
                        e.display_name
                    ),
                ));
            }
            let want_description = flow_description(e);
            if typed.and_then(|f| f.description.as_deref()) != Some(want_description.as_str()) {
                ops.push(desired::replace(
                    "/description".into(),
                    json!(want_description),
                ));
                detail
                    .notes
                    .push((Sign::Change, "description changed".into()));
            }
            if !ops.is_empty() {
                changes.push(Change::update(
                    Resource::Flow,
                    name,
                    on_entity(flow),
                    flow.etag.clone(),
                    ops,
                ));
            }
        }
    }

    // Managed source connections that stay unused: the one the flow leaves, and leftovers
    // of an interrupted apply. Kept if any live flow (ours or not) still uses them after
    // this plan.
    let keep = matching.map(|m| m.id.0.as_str());
    for s in &sources {
        let id = s.id.0.as_str();
        if Some(id) == keep {
            continue;
        }
        let used_elsewhere = live.flows.iter().any(|f| {
            l.flow.as_ref().is_none_or(|own| own.id != f.id)
                && f.flow()
                    .is_some_and(|f| f.source_connection_ids.iter().any(|x| x == id))
        });
        if used_elsewhere {
            continue;
        }
        changes.push(Change::delete(
            Resource::SourceConnection,
            name,
            on_entity(s),
        ));
        detail.entity_notes.push((
            Resource::SourceConnection,
            Sign::Remove,
            format!(
                "old source connection {id} ({})",
                live_datasets(s)
                    .map(dataset_words)
                    .unwrap_or_else(|| "(no datasets)".into())
            ),
        ));
    }
    if detail.status == DestinationStatus::Unchanged && !changes.is_empty() {
        detail.status = DestinationStatus::Update;
    }
    Ok((changes, detail))
}

/// Whether a live group of objects is a dataset export's: one of its source connections reads
/// from the Data Lake.
pub(crate) fn is_dataset_group(l: &LiveDestination) -> bool {
    l.source_connection
        .iter()
        .chain(&l.extras)
        .any(|e| e.connection_spec_id() == Some(DATA_LAKE_SPEC_ID))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Compression, FileType, LocationMode, Platform};
    use crate::model::{
        DatasetSchedule, DatasetTimeUnit, DesiredDataset, ResourceName, SourceLocation,
    };

    fn export(end_time: Option<i64>) -> DesiredDatasetExport {
        DesiredDatasetExport {
            name: ResourceName::parse("e").unwrap(),
            source: SourceLocation::default(),
            display_name: "E".into(),
            description: None,
            destination: ResourceName::parse("d").unwrap(),
            platform: Platform::AmazonS3,
            location: [("bucketName".to_owned(), "b".to_owned())].into(),
            mode: LocationMode::ServerToServer,
            datasets: vec![DesiredDataset {
                id: "x".into(),
                name: None,
            }],
            file_type: FileType::Json,
            compression: Compression::None,
            schedule: DatasetSchedule {
                export_mode: None,
                start_time: 100,
                end_time,
                interval: 6,
                time_unit: DatasetTimeUnit::Hour,
                folder_name_template: None,
            },
        }
    }

    fn live(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_live_end_time_counts_only_when_the_manifest_gives_one() {
        let aep_default =
            live(json!({"startTime": 100, "interval": 6, "timeUnit": "hour", "endTime": 999}));
        assert!(schedule_matches(&export(None), Some(&aep_default)));
        assert!(!schedule_matches(&export(Some(500)), Some(&aep_default)));
        assert!(schedule_matches(&export(Some(999)), Some(&aep_default)));
        let other_interval = live(json!({"startTime": 100, "interval": 3, "timeUnit": "hour"}));
        assert!(!schedule_matches(&export(None), Some(&other_interval)));
        assert!(!schedule_matches(&export(None), None));
    }

    #[test]
    fn bodies_and_words() {
        let e = export(None);
        let target = target_params(&e);
        assert_eq!(
            target,
            json!({"mode": "Server-to-server", "bucketName": "b", "datasetFileType": "JSON", "compression": "NONE"})
        );
        assert_eq!(
            source_body(&e)["params"],
            json!({"datasets": [{"dataSetId": "x"}]})
        );
        assert_eq!(
            schedule_words(&json!({"startTime": 0, "interval": 6, "timeUnit": "hour"})),
            "every 6 hours from 1970-01-01T00:00:00Z"
        );
        assert_eq!(
            schedule_words(
                &json!({"exportMode": "DAILY_FULL_EXPORT", "interval": 0, "timeUnit": "day"})
            ),
            "once, full export"
        );
        assert_eq!(
            dataset_set(&json!([{"dataSetId": "b"}, {"dataSetId": "a", "name": "A"}])),
            vec![
                ("a".to_owned(), Some("A".to_owned())),
                ("b".to_owned(), None)
            ]
        );
    }
}
