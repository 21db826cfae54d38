//! Exported columns of a current card: a Data Prep mapping set, which the flow names in
//! `transformations[0].params.profileMapping {mappingId, mappingVersion}`.
//!
//! Decisions (docs/plan-format.md, "Exported columns"):
//! - A changed column set is a **new mapping set** (a `create` of resource `mappingSet`, key
//!   `NAME/mappingSet`), never a new version of the old one: a create is a plain `POST` that
//!   the plan refers to with `${ref:NAME/mappingSet}` like other creates, and a set's
//!   version 0 never changes. The Data Prep API documents no delete, so superseded sets stay.
//! - The flow then gets one `replace` of `profileMapping` (`add` when it has none), after the
//!   create, so it never points at a mapping set that does not exist; a new flow gets the
//!   `add` in its activation patch.
//! - A mapping set carries the ownership marker at the end of its `name` (it has no
//!   description). A managed set whose mappings are exactly the wanted ones (e.g. created by
//!   an apply interrupted before the flow's patch) is reused instead of created again.
//! - A Destination without columns drops the flow's `profileMapping` only when it names a
//!   mapping set destctl made (its marker); one made elsewhere (an adopted flow) is kept.
//! - A live flow that exports by profile selectors and names no mapping set keeps doing so
//!   while the manifest's columns are plain attribute paths ([`keeps_profile_selectors`]): a
//!   named column or an exported identity moves it to a mapping set.
//! - Columns compare as the ordered list of `(source, destination)` pairs: the order is the
//!   files' column order.

use super::Change;
use super::desired;
use super::diff::Sign;
use crate::live::{LiveDestination, LiveEntity, LiveMappingSet};
use crate::marker::Marker;
use crate::model::{ColumnSource, DesiredDestination, ExportedColumn};
use crate::wire::{PatchOp, Resource};
use serde_json::{Value, json};

/// `transformations[0].params.profileMapping` as a JSON Pointer.
pub(crate) const PROFILE_MAPPING: &str = "/transformations/0/params/profileMapping";

/// The output schema a mapping set names: the XDM profile (`schemaRef`), which the Data Prep
/// API accepts in place of a Data Prep schema id.
const OUTPUT_SCHEMA_ID: &str = "https://ns.adobe.com/xdm/context/profile";
/// The `contentType` of [`OUTPUT_SCHEMA_ID`].
const OUTPUT_SCHEMA_CONTENT_TYPE: &str = "application/vnd.adobe.xed-full+json;version=1";

/// The plan key of a Destination's new mapping set.
pub(crate) fn key(name: &str) -> String {
    format!("{name}/mappingSet")
}

/// The wanted mappings: `(source, destination)` per exported column, in order.
pub(crate) fn wanted(d: &DesiredDestination) -> Vec<(String, String)> {
    d.columns
        .iter()
        .map(|c| (c.source.mapping_source(), c.column.clone()))
        .collect()
}

/// The mapping set's `name`: what it is for, then the marker.
pub(crate) fn mapping_set_name(d: &DesiredDestination) -> String {
    Marker::new(d.name.as_str()).describe(Some(&format!("{} exported columns", d.name)))
}

/// `POST /mappingSets` body.
pub(crate) fn mapping_set_body(d: &DesiredDestination) -> Value {
    let mappings: Vec<Value> = wanted(d)
        .into_iter()
        .map(|(source, destination)| {
            json!({"sourceType": "ATTRIBUTE", "source": source, "destination": destination})
        })
        .collect();
    json!({
        "name": mapping_set_name(d),
        "outputSchema": {"schemaRef": {"id": OUTPUT_SCHEMA_ID,
                                       "contentType": OUTPUT_SCHEMA_CONTENT_TYPE}},
        "xdmVersion": "1.0",
        "mappings": mappings,
    })
}

/// What the plan does about a Destination's mapping set.
#[derive(Debug, Default)]
pub(crate) struct MappingPlan {
    /// The create of a new mapping set, when no live one has the wanted columns.
    pub(crate) create: Option<Change>,
    /// The flow's `profileMapping` op (to the created or an adopted set, or its removal).
    pub(crate) op: Option<PatchOp>,
    /// Columns added or removed, in words (`email ← personalEmail.address`).
    pub(crate) columns: Vec<(Sign, String)>,
    /// A note about the mapping set itself.
    pub(crate) note: Option<String>,
}

fn words((source, column): &(String, String)) -> String {
    format!("{column} ← {source}")
}

fn profile_mapping(id: &str, version: u64) -> Value {
    json!({"mappingId": id, "mappingVersion": version})
}

/// Whether a current card's live flow keeps exporting by profile selectors: it selects
/// attributes by path, names no mapping set, and the manifest asks for nothing a selector
/// cannot say (every column is an attribute under its default name, no identity). A flow made
/// that way (before destctl managed mapping sets, or adopted from a script) is not migrated.
pub(crate) fn keeps_profile_selectors(d: &DesiredDestination, live: &LiveDestination) -> bool {
    live.flow
        .as_ref()
        .is_some_and(|f| flow_keeps_profile_selectors(d, f))
}

/// [`keeps_profile_selectors`] for one live flow entity.
pub(crate) fn flow_keeps_profile_selectors(d: &DesiredDestination, flow: &LiveEntity) -> bool {
    let Some(flow) = flow.flow() else {
        return false;
    };
    let selects = flow
        .profile_selector_list()
        .is_some_and(|list| !list.is_empty());
    let plain = d.columns.iter().all(|c| match &c.source {
        ColumnSource::Attribute(p) => c.column == ExportedColumn::default_column(p),
        ColumnSource::Identity(_) => false,
    });
    !d.columns.is_empty() && selects && !flow.has_profile_mapping() && plain
}

/// The mapping set changes of `d` against its live objects.
pub(crate) fn plan_mapping(d: &DesiredDestination, live: &LiveDestination) -> MappingPlan {
    let mut out = MappingPlan::default();
    let flow = live.flow.as_ref().and_then(|f| f.flow());
    let has_member = flow.is_some_and(|f| f.has_profile_mapping());
    let pinned = flow.and_then(|f| f.profile_mapping());
    let want = wanted(d);
    if want.is_empty() {
        // Only a mapping set destctl made is dropped: a flow adopted with its own mapping set
        // (made in the UI; `import` writes no columns for it) keeps it.
        let ours = live
            .mapping_set
            .as_ref()
            .and_then(|m| m.marker.as_ref())
            .is_some_and(|m| m.name == d.name.as_str());
        if pinned.is_some() && ours {
            out.op = Some(desired::remove(PROFILE_MAPPING.into()));
            out.note = Some("exported columns: none (profileMapping removed)".into());
        }
        return out;
    }
    let current: Option<&LiveMappingSet> = live.mapping_set.as_deref();
    if pinned.is_some() && current.is_some_and(|m| m.mappings == want) {
        return out;
    }
    let have: &[(String, String)] = current.map(|m| m.mappings.as_slice()).unwrap_or(&[]);
    for m in have.iter().filter(|m| !want.contains(m)) {
        out.columns.push((Sign::Remove, words(m)));
    }
    for m in want.iter().filter(|m| !have.contains(m)) {
        out.columns.push((Sign::Add, words(m)));
    }
    let value = match live
        .mapping_set_candidates
        .iter()
        .find(|m| m.mappings == want)
    {
        Some(m) => {
            out.note = Some(format!(
                "exported columns: mapping set {} version {} (already created)",
                m.id, m.version
            ));
            profile_mapping(&m.id, m.version)
        }
        None => {
            let name = d.name.as_str();
            out.create = Some(Change::create(
                Resource::MappingSet,
                name,
                key(name),
                mapping_set_body(d),
            ));
            out.note = Some("exported columns: new mapping set".into());
            json!({"mappingId": desired::reference(&key(name)), "mappingVersion": 0})
        }
    };
    out.op = Some(if has_member {
        desired::replace(PROFILE_MAPPING.into(), value)
    } else {
        desired::add(PROFILE_MAPPING.into(), value)
    });
    out
}

/// Whether a change is the create of a mapping set.
#[cfg(test)]
fn is_mapping_set_create(c: &Change) -> bool {
    matches!(c, Change::Create(c) if c.resource == Resource::MappingSet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{AuthMethod, LocationMode, Platform};
    use crate::model::{
        AttributePath, ColumnSource, DesiredConnection, DesiredLocation, ExportedColumn,
        ResourceName, SourceLocation,
    };
    use std::sync::Arc;

    fn dest() -> DesiredDestination {
        DesiredDestination {
            name: ResourceName::parse("d").unwrap(),
            source: SourceLocation::default(),
            display_name: "D".into(),
            description: None,
            platform: Platform::AmazonS3,
            connection: DesiredConnection {
                auth: Some(AuthMethod::AccessKey),
                params: Default::default(),
                credentials_version: 1,
                locations: Default::default(),
                encryption_key: None,
            },
            location: DesiredLocation {
                mode: LocationMode::ServerToServer,
                params: Default::default(),
                include_file_manifest: None,
                files: None,
            },
            attributes: vec![],
            mandatory_attributes: vec![],
            deduplication_keys: vec![],
            identity_deduplication_keys: vec![],
            columns: vec![],
            enabled: true,
            audiences: vec![],
            former_names: vec![],
        }
    }

    fn col(path: &str, column: &str) -> ExportedColumn {
        ExportedColumn {
            source: ColumnSource::Attribute(AttributePath::parse(path).unwrap()),
            column: column.into(),
        }
    }

    fn set(id: &str, version: u64, name: &str, m: &[(&str, &str)]) -> Arc<LiveMappingSet> {
        Arc::new(LiveMappingSet {
            id: id.into(),
            version,
            marker: Some(Marker::new(name)),
            mappings: m
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            created_at: 1,
        })
    }

    #[test]
    fn identities_are_escaped_and_bodies_carry_the_marker() {
        let src = ColumnSource::Identity("Phone_E.164".into());
        assert_eq!(src.mapping_source(), "identityMap.Phone_E//164");
        assert_eq!(
            ColumnSource::from_mapping_source("identityMap.Phone_E//164"),
            Some(src)
        );
        let mut d = dest();
        d.columns = vec![col("personalEmail.address", "email")];
        let body = mapping_set_body(&d);
        assert_eq!(body["mappings"][0]["destination"], "email");
        let name = body["name"].as_str().unwrap();
        assert_eq!(Marker::parse(name).unwrap().0.name, d.name.as_str());
    }

    #[test]
    fn a_new_destination_creates_a_set_and_adds_the_reference() {
        let mut d = dest();
        d.columns = vec![col("a.b", "x")];
        let p = plan_mapping(&d, &LiveDestination::default());
        assert!(p.create.as_ref().is_some_and(is_mapping_set_create));
        let op = p.op.unwrap();
        assert_eq!(op.path, PROFILE_MAPPING);
        assert_eq!(
            op.value.unwrap()["mappingId"],
            format!("${{ref:{}/mappingSet}}", d.name)
        );
    }

    #[test]
    fn a_profile_selector_flow_is_kept_while_columns_are_plain_paths() {
        let mut d = dest();
        d.columns = vec![col("a.b", "a_b")];
        let live = LiveDestination {
            flow: crate::live::LiveEntity::from_raw(
                Resource::Flow,
                json!({"id": "f", "etag": "\"e\"", "transformations": [{"name": "GeneralTransform",
                       "params": {"profileSelectors": {"selectors": [
                           {"type": "JSON_PATH", "value": {"path": "a.b"}}]}}}]}),
            )
            .map(Arc::new),
            ..LiveDestination::default()
        };
        assert!(keeps_profile_selectors(&d, &live));
        d.columns = vec![col("a.b", "named")];
        assert!(!keeps_profile_selectors(&d, &live));
        d.columns = vec![col("a.b", "a_b")];
        assert!(!keeps_profile_selectors(&d, &LiveDestination::default()));
    }

    #[test]
    fn no_columns_drop_only_a_managed_mapping_set() {
        let d = dest();
        let flow = |id: &str| {
            crate::live::LiveEntity::from_raw(
                Resource::Flow,
                json!({"id": "f", "etag": "\"e\"", "transformations": [{"name": "GeneralTransform",
                       "params": {"profileMapping": {"mappingId": id, "mappingVersion": 0}}}]}),
            )
            .map(Arc::new)
        };
        let mut live = LiveDestination {
            flow: flow("m1"),
            mapping_set: Some(set("m1", 0, d.name.as_str(), &[("a.b", "x")])),
            ..LiveDestination::default()
        };
        let op = plan_mapping(&d, &live).op.unwrap();
        assert_eq!(
            (op.op, op.path.as_str()),
            (crate::wire::PatchOpKind::Remove, PROFILE_MAPPING)
        );
        live.mapping_set = Some(set("m1", 0, "someone-else", &[("a.b", "x")]));
        assert!(plan_mapping(&d, &live).op.is_none());
        live.mapping_set = None;
        assert!(plan_mapping(&d, &live).op.is_none());
    }

    #[test]
    fn a_managed_set_with_the_wanted_columns_is_adopted() {
        let mut d = dest();
        d.columns = vec![col("a.b", "x")];
        let live = LiveDestination {
            mapping_set_candidates: vec![set("m2", 0, d.name.as_str(), &[("a.b", "x")])],
            ..LiveDestination::default()
        };
        let p = plan_mapping(&d, &live);
        assert!(p.create.is_none());
        assert_eq!(p.op.unwrap().value.unwrap()["mappingId"], "m2");
    }
}
