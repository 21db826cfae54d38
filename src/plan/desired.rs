//! The desired model as Flow Service JSON: the create request bodies of the five objects of a
//! Destination, the selectors of its flow, and its activation patch.
//!
//! Object names derive from the manifest's `metadata.name` so they never change; every object
//! carries the ownership marker at the end of its `description` (see `src/marker.rs`).

use super::PlanError;
use super::fingerprint;
use crate::catalog::{
    Card, ENCRYPTION_SPEC_NAME, FILE_FORMAT, FlowSpecRef, PGP_ENCRYPTION_ALGO,
    PROFILE_STORE_SPEC_ID, Platform, SPEC_VERSION, TRANSFORMATION_NAME,
};
use crate::marker::{FpField, Marker};
use crate::model::{AttributePath, DesiredAudience, DesiredDestination};
use crate::wire::{PatchOp, PatchOpKind, Resource};
use serde_json::{Map, Value, json};

pub(crate) use crate::wire::flow::{
    MANDATORY_FIELDS, PRIMARY_FIELDS, PROFILE_SELECTORS, SEGMENT_SELECTORS,
};
/// `transformations[0].params.mandatoryFields` of a V2 flow (current cards).
pub(crate) const V2_MANDATORY_FIELDS: &str = "/transformations/0/params/mandatoryFields";
/// `transformations[0].params.primaryFields` of a V2 flow (current cards).
pub(crate) const V2_PRIMARY_FIELDS: &str = "/transformations/0/params/primaryFields";

/// Where a platform's flows keep `mandatoryFields`: inside `profileSelectors` on legacy cards,
/// directly under the params on current ones.
pub(crate) fn mandatory_fields_pointer(platform: Platform) -> &'static str {
    match platform.info().card {
        Card::Legacy => MANDATORY_FIELDS,
        Card::Current => V2_MANDATORY_FIELDS,
    }
}

/// Where a platform's flows keep `primaryFields` (see [`mandatory_fields_pointer`]).
pub(crate) fn primary_fields_pointer(platform: Platform) -> &'static str {
    match platform.info().card {
        Card::Legacy => PRIMARY_FIELDS,
        Card::Current => V2_PRIMARY_FIELDS,
    }
}

/// The `type` of an audience selector.
pub(crate) const PLATFORM_SEGMENT: &str = "PLATFORM_SEGMENT";
/// The `type` of a profile attribute selector.
pub(crate) const JSON_PATH: &str = "JSON_PATH";
/// The text before the marker in the descriptions of the connections destctl creates.
pub(crate) const CONNECTION_DESCRIPTION: &str = "Managed by destctl";

/// The five objects of a Destination, in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Role {
    /// The Profile store base connection.
    ProfileConnection,
    /// The Profile store source connection.
    SourceConnection,
    /// The destination base connection (the account).
    Connection,
    /// The target connection (the file location).
    TargetConnection,
    /// The dataflow.
    Flow,
}

impl Role {
    /// The last segment of the plan key (`campaign-s3/targetConnection`).
    pub(crate) fn key_suffix(self) -> &'static str {
        match self {
            Role::ProfileConnection => "profileConnection",
            Role::SourceConnection => "sourceConnection",
            Role::Connection => "connection",
            Role::TargetConnection => "targetConnection",
            Role::Flow => "flow",
        }
    }

    /// The collection the object lives in.
    pub(crate) fn resource(self) -> Resource {
        match self {
            Role::ProfileConnection | Role::Connection => Resource::Connection,
            Role::SourceConnection => Resource::SourceConnection,
            Role::TargetConnection => Resource::TargetConnection,
            Role::Flow => Resource::Flow,
        }
    }
}

/// The plan key of a Destination's object: `NAME/ROLE`.
pub(crate) fn key(name: &str, role: Role) -> String {
    format!("{name}/{}", role.key_suffix())
}

/// The `${ref:KEY}` placeholder `apply` replaces with the id of an object created earlier.
pub(crate) fn reference(key: &str) -> String {
    format!("${{ref:{key}}}")
}

/// `{id, version}` of a spec.
pub(crate) fn spec(id: &str) -> Value {
    json!({"id": id, "version": SPEC_VERSION})
}

/// The flow spec id of a platform; Adobe Campaign's comes from the live `/flowSpecs` lookup.
pub(crate) fn flow_spec_id(
    platform: Platform,
    campaign_flow_spec_id: Option<&str>,
    destination: &str,
) -> Result<String, PlanError> {
    match platform.info().flow_spec {
        FlowSpecRef::Id(id) => Ok(id.to_owned()),
        FlowSpecRef::Name(spec_name) => {
            campaign_flow_spec_id
                .map(str::to_owned)
                .ok_or_else(|| PlanError::FlowSpecNotFound {
                    destination: destination.to_owned(),
                    spec_name: spec_name.to_owned(),
                })
        }
    }
}

/// The description of a connection destctl creates, with its marker.
pub(crate) fn connection_description(d: &DesiredDestination) -> String {
    Marker::new(d.name.as_str()).describe(Some(CONNECTION_DESCRIPTION))
}

/// The description of the destination base connection, whose marker records the credentials
/// version.
pub(crate) fn account_description(d: &DesiredDestination, user_text: Option<&str>) -> String {
    Marker::with_credentials(d.name.as_str(), d.connection.credentials_version)
        .fingerprinted(fingerprint::single(
            FpField::Account,
            &fingerprint::desired_account(d),
        ))
        .describe(Some(user_text.unwrap_or(CONNECTION_DESCRIPTION)))
}

/// The flow's description: the manifest's text, then the marker.
pub(crate) fn flow_description(d: &DesiredDestination) -> String {
    Marker::new(d.name.as_str())
        .fingerprinted(fingerprint::desired_flow_fingerprint(d))
        .describe(d.description.as_deref())
}

/// The target connection's description: `user_text` (default [`CONNECTION_DESCRIPTION`]), then
/// the marker with the location's fingerprint.
pub(crate) fn location_description(d: &DesiredDestination, user_text: Option<&str>) -> String {
    Marker::new(d.name.as_str())
        .fingerprinted(fingerprint::single(
            FpField::Location,
            &fingerprint::desired_location(d),
        ))
        .describe(Some(user_text.unwrap_or(CONNECTION_DESCRIPTION)))
}

/// `POST /connections` body of the Profile store base connection.
pub(crate) fn profile_connection_body(d: &DesiredDestination) -> Value {
    json!({
        "name": format!("{} profile store", d.name),
        "description": connection_description(d),
        "connectionSpec": spec(PROFILE_STORE_SPEC_ID),
    })
}

/// `POST /sourceConnections` body of the Profile store source connection.
pub(crate) fn source_connection_body(d: &DesiredDestination, base_connection_id: &str) -> Value {
    json!({
        "name": format!("{} profile source", d.name),
        "description": connection_description(d),
        "baseConnectionId": base_connection_id,
        "connectionSpec": spec(PROFILE_STORE_SPEC_ID),
        "data": {"format": FILE_FORMAT, "schema": null},
        "params": {},
    })
}

/// The base connection's `auth.params`: literals as they are, secrets as their references.
pub(crate) fn auth_params(d: &DesiredDestination) -> Value {
    let mut params = Map::new();
    for (name, value) in &d.connection.params {
        params.insert(name.clone(), Value::String(value.to_plan_string()));
    }
    Value::Object(params)
}

/// `POST /connections` body of the destination base connection (the account): `auth` when
/// the card takes credentials, `encryptionSpecs` when the files are encrypted.
pub(crate) fn connection_body(d: &DesiredDestination) -> Value {
    let mut body = json!({
        "name": format!("{} account", d.name),
        "description": account_description(d, None),
        "connectionSpec": spec(d.platform.info().connection_spec_id),
    });
    if let Some(auth) = d.connection.auth {
        body["auth"] = json!({"specName": auth.spec_name(), "params": auth_params(d)});
    }
    if let Some(key) = &d.connection.encryption_key {
        body["encryptionSpecs"] = json!({
            "specName": ENCRYPTION_SPEC_NAME,
            "params": {"encryptionAlgo": PGP_ENCRYPTION_ALGO, "publicKey": key.to_string()},
        });
    }
    body
}

/// The target connection's `params`: `mode`, the location params in catalog order, then
/// `format` (legacy cards) or the file options (current cards: `fileType`, `compression`,
/// `csvOptions` when any is given), `includeFileManifest` when given.
pub(crate) fn target_params(d: &DesiredDestination) -> Value {
    let loc = &d.location;
    let mut params = Map::new();
    params.insert("mode".into(), Value::String(loc.mode.as_str().into()));
    for p in d.platform.info().location_params(loc.mode) {
        if let Some(v) = loc.params.get(p.name) {
            params.insert(p.name.into(), Value::String(v.clone()));
        }
    }
    for (k, v) in &loc.params {
        if !params.contains_key(k) {
            params.insert(k.clone(), Value::String(v.clone()));
        }
    }
    match &loc.files {
        None => {
            params.insert("format".into(), Value::String(FILE_FORMAT.into()));
        }
        Some(f) => {
            params.insert("fileType".into(), json!(f.file_type));
            params.insert("compression".into(), json!(f.compression));
            let csv = serde_json::to_value(f.csv_options).unwrap_or(Value::Null);
            if csv.as_object().is_some_and(|o| !o.is_empty()) {
                params.insert("csvOptions".into(), csv);
            }
        }
    }
    if let Some(b) = loc.include_file_manifest {
        params.insert("includeFileManifest".into(), Value::Bool(b));
    }
    Value::Object(params)
}

/// `POST /targetConnections` body (`data` only on legacy cards, as Adobe's tutorial sends it).
pub(crate) fn target_connection_body(d: &DesiredDestination, base_connection_id: &str) -> Value {
    let mut body = json!({
        "name": format!("{} location", d.name),
        "description": location_description(d, None),
        "baseConnectionId": base_connection_id,
        "connectionSpec": spec(d.platform.info().connection_spec_id),
        "data": {"format": FILE_FORMAT, "schema": null},
        "params": target_params(d),
    });
    if d.location.files.is_some()
        && let Some(o) = body.as_object_mut()
    {
        o.remove("data");
    }
    body
}

/// `POST /flows` body: the flow with no audience and no attribute (they follow in the activation
/// patch).
pub(crate) fn flow_body(
    d: &DesiredDestination,
    flow_spec_id: &str,
    source_connection_id: &str,
    target_connection_id: &str,
) -> Value {
    json!({
        "name": d.display_name,
        "description": flow_description(d),
        "flowSpec": spec(flow_spec_id),
        "sourceConnectionIds": [source_connection_id],
        "targetConnectionIds": [target_connection_id],
        "transformations": [{
            "name": TRANSFORMATION_NAME,
            "params": {
                "profileSelectors": {"selectors": []},
                "segmentSelectors": {"selectors": []},
            }
        }],
    })
}

/// An audience's selector `value` as destctl sends it (managed keys only).
pub(crate) fn audience_value(a: &DesiredAudience) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("id".into(), Value::String(a.segment_id.as_str().into()));
    if let Some(n) = a.display_name.as_deref().filter(|s| !s.is_empty()) {
        v.insert("name".into(), Value::String(n.into()));
    }
    if let Some(n) = a.description.as_deref().filter(|s| !s.is_empty()) {
        v.insert("description".into(), Value::String(n.into()));
    }
    v.insert(
        "filenameTemplate".into(),
        Value::String(a.filename_template.clone()),
    );
    v.insert(
        "exportMode".into(),
        Value::String(a.export_mode.as_str().into()),
    );
    v.insert(
        "schedule".into(),
        serde_json::to_value(&a.schedule).expect("a schedule serializes"),
    );
    v
}

/// An audience's whole selector, as added to `…/segmentSelectors/selectors`.
pub(crate) fn audience_selector(a: &DesiredAudience) -> Value {
    json!({"type": PLATFORM_SEGMENT, "value": Value::Object(audience_value(a))})
}

/// A profile attribute's selector, as added to `…/profileSelectors/selectors`.
pub(crate) fn attribute_selector(path: &AttributePath) -> Value {
    json!({"type": JSON_PATH, "value": {"path": path.as_str()}})
}

/// The `mandatoryFields` value.
pub(crate) fn mandatory_fields(d: &DesiredDestination) -> Value {
    Value::Array(
        d.mandatory_attributes
            .iter()
            .map(|p| Value::String(p.as_str().into()))
            .collect(),
    )
}

/// One `primaryFields` item.
pub(crate) fn primary_field(path: &AttributePath) -> Value {
    json!({"fieldType": "ATTRIBUTE", "attributePath": path.as_str()})
}

/// One identity `primaryFields` item.
pub(crate) fn identity_primary_field(namespace: &str) -> Value {
    json!({"fieldType": "IDENTITY", "identityNamespace": namespace})
}

/// The `primaryFields` value: attribute keys, then identity keys.
pub(crate) fn primary_fields(d: &DesiredDestination) -> Value {
    Value::Array(
        d.deduplication_keys
            .iter()
            .map(primary_field)
            .chain(
                d.identity_deduplication_keys
                    .iter()
                    .map(|n| identity_primary_field(n)),
            )
            .collect(),
    )
}

/// Whether the destination has deduplication keys of either kind.
pub(crate) fn has_primary_fields(d: &DesiredDestination) -> bool {
    !d.deduplication_keys.is_empty() || !d.identity_deduplication_keys.is_empty()
}

/// The patch sent right after a new flow is created: every attribute, the mandatory
/// attributes and deduplication keys, every audience.
pub(crate) fn activation_patch(d: &DesiredDestination) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    // Exported columns (current cards) go through the mapping set instead (`mapping.rs`).
    let selected: &[AttributePath] = if d.columns.is_empty() {
        &d.attributes
    } else {
        &[]
    };
    for path in selected {
        ops.push(add(
            format!("{PROFILE_SELECTORS}/-"),
            attribute_selector(path),
        ));
    }
    if !d.mandatory_attributes.is_empty() {
        ops.push(add(
            mandatory_fields_pointer(d.platform).into(),
            mandatory_fields(d),
        ));
    }
    if has_primary_fields(d) {
        ops.push(add(
            primary_fields_pointer(d.platform).into(),
            primary_fields(d),
        ));
    }
    for a in &d.audiences {
        ops.push(add(format!("{SEGMENT_SELECTORS}/-"), audience_selector(a)));
    }
    ops
}

/// An `add` op.
pub(crate) fn add(path: String, value: Value) -> PatchOp {
    PatchOp {
        op: PatchOpKind::Add,
        path,
        value: Some(value),
    }
}

/// A `replace` op.
pub(crate) fn replace(path: String, value: Value) -> PatchOp {
    PatchOp {
        op: PatchOpKind::Replace,
        path,
        value: Some(value),
    }
}

/// A `remove` op.
pub(crate) fn remove(path: String) -> PatchOp {
    PatchOp {
        op: PatchOpKind::Remove,
        path,
        value: None,
    }
}
