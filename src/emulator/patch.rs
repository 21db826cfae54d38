//! JSON Patch: the RFC 6902 engine (the `json-patch` crate, atomic), the Flow Service's op
//! rules (case-insensitive `add`/`replace`/`remove`; `move`/`copy`/`test` → 1434), and the flow
//! rules checked on the patched result, with the server-side expansion of selectors.

use crate::catalog::{self, Card, ExportMode, Platform, Schedule};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// Why a PATCH was refused; the state is unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchRejection {
    /// The body is empty, `null` or `[]` (FSE 1405).
    #[error("request body is empty; send a JSON Patch array")]
    EmptyBody,
    /// An operation is not a `{op, path, value}` object, or the body is not an array (1455).
    #[error("patch operation {index}: {message}")]
    Malformed {
        /// Index of the operation (0 when the body is not an array).
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// `move`, `copy` or `test` (FSE 1434).
    #[error("Unsupported patch operation: {op}")]
    UnsupportedOp {
        /// The op as sent.
        op: String,
    },
    /// The RFC 6902 engine refused an operation (bad path, missing member, …) (1455).
    #[error("patch instruction validation failed: {0}")]
    Engine(String),
    /// The patch touches a field the server owns or that cannot change (1455; 1414 for a
    /// connection's `connectionSpec`).
    #[error("field `{0}` cannot be changed by a patch")]
    ReadOnly(String),
    /// The patched entity breaks the rules (1455); one message per broken rule.
    #[error("patch instruction validation failed: {}", .0.join("; "))]
    Rules(Vec<String>),
}

impl PatchRejection {
    /// The Flow Service error code (FSE catalogue).
    pub fn code(&self) -> u32 {
        match self {
            PatchRejection::EmptyBody => 1405,
            PatchRejection::UnsupportedOp { .. } => 1434,
            PatchRejection::ReadOnly(f) if f == "connectionSpec" => 1414,
            _ => 1455,
        }
    }
}

/// Errors of the bare RFC 6902 engine.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchEngineError {
    /// The patch document is not a valid RFC 6902 patch.
    #[error("invalid patch document: {0}")]
    Invalid(String),
    /// An operation failed; the document is left as it was.
    #[error("{0}")]
    Failed(String),
}

/// The RFC 6902 engine the emulator uses, without the Flow Service's op rules: parses `patch`
/// and applies it to a copy of `doc` atomically. The conformance suite runs against this.
pub fn patch_engine(doc: &Value, patch: &Value) -> Result<Value, PatchEngineError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchEngineError::Invalid(e.to_string()))?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops).map_err(|e| PatchEngineError::Failed(e.to_string()))?;
    Ok(out)
}

/// Checks the op rules and turns the body into engine operations: a non-empty array of
/// objects with `op` (any case of add/replace/remove), a JSON Pointer `path`, and `value` for
/// add/replace (a `value` sent with `remove` is ignored, as UDD's examples send one).
pub(crate) fn parse_ops(ops: &Value) -> Result<Vec<json_patch::PatchOperation>, PatchRejection> {
    let items = match ops {
        Value::Null => return Err(PatchRejection::EmptyBody),
        Value::Array(a) if a.is_empty() => return Err(PatchRejection::EmptyBody),
        Value::Array(a) => a,
        _ => {
            return Err(PatchRejection::Malformed {
                index: 0,
                message: "the body must be a JSON array of operations".into(),
            });
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let bad = |message: String| PatchRejection::Malformed { index, message };
        let obj = item
            .as_object()
            .ok_or_else(|| bad("an operation must be an object".into()))?;
        let op = obj
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`op` is missing or not a string".into()))?;
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "add" | "replace" | "remove" => {}
            "move" | "copy" | "test" => {
                return Err(PatchRejection::UnsupportedOp { op: op.to_owned() });
            }
            _ => return Err(bad(format!("unknown op `{op}`"))),
        }
        let path = obj
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`path` is missing or not a string".into()))?;
        if !path.is_empty() && !path.starts_with('/') {
            return Err(bad(format!(
                "`{path}` is not a JSON Pointer (it must start with `/`)"
            )));
        }
        if path.is_empty() {
            return Err(bad("the whole document cannot be replaced".into()));
        }
        let mut norm = Map::new();
        norm.insert("op".into(), Value::String(lower.clone()));
        norm.insert("path".into(), Value::String(path.to_owned()));
        if lower != "remove" {
            let value = obj
                .get("value")
                .ok_or_else(|| bad(format!("`value` is required for `{op}`")))?;
            norm.insert("value".into(), value.clone());
        }
        let parsed: json_patch::PatchOperation =
            serde_json::from_value(Value::Object(norm)).map_err(|e| bad(e.to_string()))?;
        out.push(parsed);
    }
    Ok(out)
}

/// Applies parsed ops to a copy of `doc`, all or nothing.
pub(crate) fn apply_ops(
    doc: &Value,
    ops: &[json_patch::PatchOperation],
) -> Result<Value, PatchRejection> {
    let mut out = doc.clone();
    json_patch::patch(&mut out, ops).map_err(|e| PatchRejection::Engine(e.to_string()))?;
    Ok(out)
}

/// Metadata fields the server sets on every entity; no PATCH may change them.
pub(crate) const SERVER_FIELDS: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "version",
    "etag",
    "state",
];

/// Fields of a flow, besides [`SERVER_FIELDS`], that cannot change after creation or that only
/// the server sets.
pub(crate) const FLOW_READ_ONLY: &[&str] = &[
    "flowSpec",
    "sourceConnectionIds",
    "targetConnectionIds",
    "inheritedAttributes",
    "runs",
    "lastOperation",
    "lastRunDetails",
];

/// Fields of a flow a client may change by PATCH.
pub(crate) const FLOW_WRITABLE: &[&str] =
    &["name", "description", "transformations", "labels", "policy"];

/// Checks that `new` differs from `old` only in `writable` fields; [`SERVER_FIELDS`] and
/// `read_only` fields must be unchanged and any other new top-level field is refused.
pub(crate) fn check_fields(
    old: &Value,
    new: &Value,
    read_only: &[&str],
    writable: &[&str],
) -> Result<(), PatchRejection> {
    let Some(new_obj) = new.as_object() else {
        return Err(PatchRejection::Rules(vec![
            "the patched entity must stay an object".into(),
        ]));
    };
    let is_read_only = |f: &str| SERVER_FIELDS.contains(&f) || read_only.contains(&f);
    for f in SERVER_FIELDS.iter().chain(read_only) {
        if old.get(*f) != new.get(*f) {
            return Err(PatchRejection::ReadOnly((*f).to_owned()));
        }
    }
    for k in new_obj.keys() {
        if !is_read_only(k) && !writable.contains(&k.as_str()) {
            return Err(PatchRejection::Rules(vec![format!("unknown field `{k}`")]));
        }
    }
    Ok(())
}

/// Exactly what the server does to a stored flow on PATCH, minus the metadata it then sets
/// (etag, `version`, `updatedAt`, `updatedBy`, `updatedClient`, `lastOperation`): checks the
/// ops (1405/1434/1455), applies them atomically with RFC 6902 semantics, checks the result
/// against the flow rules, and expands selectors (`createTime`/`updateTime` as epoch seconds
/// in strings, profile selectors gain `operator: EXISTS` and `mapping`). Pure.
pub fn apply_flow_patch(flow: &Value, ops: &Value, now_secs: i64) -> Result<Value, PatchRejection> {
    let parsed = parse_ops(ops)?;
    let mut new = apply_ops(flow, &parsed)?;
    if super::datasets::is_dataset_flow(flow) {
        return dataset_flow_patched(flow, new, now_secs);
    }
    check_fields(flow, &new, FLOW_READ_ONLY, FLOW_WRITABLE)?;
    let mut errors = Vec::new();
    match new.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => errors.push("`name` must be a non-empty string".to_owned()),
    }
    if new.get("description").is_some_and(|d| !d.is_string()) {
        errors.push("`description` must be a string".to_owned());
    }
    if new
        .get("labels")
        .is_some_and(|l| !l.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    {
        errors.push("`labels` must be an array of strings".to_owned());
    }
    let old_transformations = flow.get("transformations").cloned().unwrap_or(Value::Null);
    let card = flow_card(flow);
    match new.get_mut("transformations") {
        Some(t) => errors.extend(check_transformations(
            t,
            &old_transformations,
            now_secs,
            card,
        )),
        None => errors.push("`transformations` is required".to_owned()),
    }
    if errors.is_empty() {
        Ok(new)
    } else {
        Err(PatchRejection::Rules(errors))
    }
}

/// The rules of a patched dataset flow: `sourceConnectionIds` and `scheduleParams` are
/// writable besides [`FLOW_WRITABLE`], `transformations` stay `[]`, `scheduleParams` valid.
/// Whether the new source connection exists is checked by the server, which sees the store.
fn dataset_flow_patched(old: &Value, new: Value, now_secs: i64) -> Result<Value, PatchRejection> {
    let read_only: Vec<&str> = FLOW_READ_ONLY
        .iter()
        .copied()
        .filter(|f| *f != "sourceConnectionIds")
        .collect();
    let writable: Vec<&str> = FLOW_WRITABLE
        .iter()
        .copied()
        .chain(["sourceConnectionIds", "scheduleParams"])
        .collect();
    check_fields(old, &new, &read_only, &writable)?;
    let mut new = new;
    let mut errors = Vec::new();
    match new.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => errors.push("`name` must be a non-empty string".to_owned()),
    }
    if new.get("description").is_some_and(|d| !d.is_string()) {
        errors.push("`description` must be a string".to_owned());
    }
    match new.as_object_mut() {
        Some(o) => errors.extend(super::datasets::check_dataset_flow(o, now_secs)),
        None => errors.push("the patched entity must stay an object".into()),
    }
    if errors.is_empty() {
        Ok(new)
    } else {
        Err(PatchRejection::Rules(errors))
    }
}

/// The card generation of a flow, from its flow spec: a current card's audience or dataset
/// flow spec makes a V2 flow.
pub(crate) fn flow_card(flow: &Value) -> Card {
    let id = flow
        .pointer("/flowSpec/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let current = Platform::all().any(|p| {
        let info = p.info();
        info.card == Card::Current && info.accepted_audience_flow_specs().contains(&id)
    });
    if current { Card::Current } else { Card::Legacy }
}

/// Keys of a V2 transformation's `params` (SPEC-D `TransformationParams_V2`, plus what
/// Adobe's migration guide shows on migrated flows, plus `profileSelectors` for attributes
/// selected by path).
const V2_PARAMS: &[&str] = &[
    "segmentSelectors",
    "profileSelectors",
    "profileMapping",
    "mandatoryFields",
    "primaryFields",
    "identityMapping",
    "attributeMapping",
];

/// Checks a `transformations` array and expands its selectors in place; `old` is the
/// stored array (or `null` on create), used to keep `createTime` and move `updateTime` only
/// for selectors that changed. Legacy flows keep `mandatoryFields`/`primaryFields` inside
/// `profileSelectors`; V2 flows (current cards) directly under `params`. Returns one message
/// per broken rule.
pub(crate) fn check_transformations(
    t: &mut Value,
    old: &Value,
    now_secs: i64,
    card: Card,
) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(arr) = t.as_array_mut() else {
        return vec!["`transformations` must be an array".into()];
    };
    if arr.len() != 1 {
        return vec![format!(
            "`transformations` must hold exactly one {} transformation, found {}",
            catalog::TRANSFORMATION_NAME,
            arr.len()
        )];
    }
    let tr = &mut arr[0];
    let Some(tr_obj) = tr.as_object_mut() else {
        return vec!["/transformations/0 must be an object".into()];
    };
    if tr_obj.get("name").and_then(Value::as_str) != Some(catalog::TRANSFORMATION_NAME) {
        errors.push(format!(
            "/transformations/0/name must be \"{}\"",
            catalog::TRANSFORMATION_NAME
        ));
    }
    for k in tr_obj.keys() {
        if k != "name" && k != "params" {
            errors.push(format!("/transformations/0: unknown field `{k}`"));
        }
    }
    let Some(params) = tr_obj.get_mut("params").and_then(Value::as_object_mut) else {
        errors.push("/transformations/0/params must be an object".into());
        return errors;
    };
    for k in params.keys() {
        match (k.as_str(), card) {
            ("segmentSelectors" | "profileSelectors", _) => {}
            (k, Card::Current) if V2_PARAMS.contains(&k) => {}
            ("mandatoryFields" | "primaryFields", Card::Legacy) => errors.push(format!(
                "/transformations/0/params/{k}: legacy flows keep {k} inside profileSelectors"
            )),
            _ => errors.push(format!("/transformations/0/params: unknown field `{k}`")),
        }
    }
    if card == Card::Current {
        check_v2_params(params, &mut errors);
    }
    let old_segments = old_segment_selectors(old);
    match params
        .get_mut("segmentSelectors")
        .and_then(Value::as_object_mut)
    {
        Some(seg) => {
            for k in seg.keys() {
                if k != "selectors" {
                    errors.push(format!("segmentSelectors: unknown field `{k}`"));
                }
            }
            match seg.get_mut("selectors").and_then(Value::as_array_mut) {
                Some(selectors) => {
                    check_segment_selectors(selectors, &old_segments, now_secs, card, &mut errors)
                }
                None => errors.push("segmentSelectors.selectors must be an array".into()),
            }
        }
        None => errors.push("/transformations/0/params/segmentSelectors must be an object".into()),
    }
    let has_profile = params.contains_key("profileSelectors");
    match (
        params
            .get_mut("profileSelectors")
            .and_then(Value::as_object_mut),
        card,
    ) {
        (Some(prof), _) => check_profile_selectors(prof, card, &mut errors),
        (None, Card::Current) if !has_profile => {}
        (None, _) => {
            errors.push("/transformations/0/params/profileSelectors must be an object".into())
        }
    }
    errors
}

/// The V2 fields directly under `params`: `mandatoryFields` strings, `primaryFields` items,
/// `profileMapping {mappingId, mappingVersion}`. Which vocabulary the fields name (attribute
/// path or output column) is not documented, so they are not checked against the attributes.
fn check_v2_params(params: &Map<String, Value>, errors: &mut Vec<String>) {
    if let Some(m) = params.get("mandatoryFields")
        && !m
            .as_array()
            .is_some_and(|a| a.iter().all(|i| i.as_str().is_some_and(|s| !s.is_empty())))
    {
        errors.push("/transformations/0/params/mandatoryFields must be an array of strings".into());
    }
    if let Some(p) = params.get("primaryFields") {
        match p.as_array() {
            Some(items) => {
                for item in items {
                    check_primary_field(item, None, errors);
                }
            }
            None => errors.push("/transformations/0/params/primaryFields must be an array".into()),
        }
    }
    if let Some(pm) = params.get("profileMapping") {
        match pm.as_object() {
            Some(o) if o.is_empty() => {}
            Some(o) => {
                if !o.get("mappingId").is_some_and(Value::is_string) {
                    errors.push("profileMapping.mappingId must be a string".into());
                }
                if !o.get("mappingVersion").is_some_and(Value::is_u64) {
                    errors.push("profileMapping.mappingVersion must be a whole number".into());
                }
            }
            None => {
                errors.push("/transformations/0/params/profileMapping must be an object".into())
            }
        }
    }
    for k in ["identityMapping", "attributeMapping"] {
        if params.get(k).is_some_and(|v| !v.is_object()) {
            errors.push(format!("/transformations/0/params/{k} must be an object"));
        }
    }
}

fn old_segment_selectors(old: &Value) -> HashMap<&str, &Value> {
    old.pointer("/0/params/segmentSelectors/selectors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| Some((s.pointer("/value/id")?.as_str()?, s)))
                .collect()
        })
        .unwrap_or_default()
}

const SEGMENT_VALUE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "filenameTemplate",
    "exportMode",
    "schedule",
    "createTime",
    "updateTime",
];

/// Whether two selectors are equal apart from the server's `createTime`/`updateTime`.
fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let times = |k: &String| k == "createTime" || k == "updateTime";
    let strip = |o: &'_ Map<String, Value>| -> usize { o.keys().filter(|k| !times(k)).count() };
    ao.len() == bo.len()
        && ao.iter().all(|(k, v)| match (k.as_str(), bo.get(k)) {
            ("value", Some(bv)) => match (v.as_object(), bv.as_object()) {
                (Some(x), Some(y)) => {
                    strip(x) == strip(y) && x.iter().all(|(k, v)| times(k) || y.get(k) == Some(v))
                }
                _ => v == bv,
            },
            (_, Some(bv)) => v == bv,
            (_, None) => false,
        })
}

/// Checks a selector's envelope: only `type` and `value`, and `type` is `expected` (the one type
/// of the `list` selectors).
fn check_selector_envelope(
    obj: &serde_json::Map<String, Value>,
    at: &str,
    list: &str,
    expected: &str,
    errors: &mut Vec<String>,
) {
    for k in obj.keys() {
        if k != "type" && k != "value" {
            errors.push(format!("{at}: unknown field `{k}`"));
        }
    }
    match obj.get("type").and_then(Value::as_str) {
        Some(t) if t == expected => {}
        Some(t) => errors.push(format!(
            "{at}: unknown selector type `{t}` ({list} selectors are {expected})"
        )),
        None => errors.push(format!("{at}: `type` is required")),
    }
}

fn check_segment_selectors(
    selectors: &mut [Value],
    old: &HashMap<&str, &Value>,
    now_secs: i64,
    card: Card,
    errors: &mut Vec<String>,
) {
    let mut seen = HashSet::new();
    let now = now_secs.to_string();
    for (i, sel) in selectors.iter_mut().enumerate() {
        let at = format!("segmentSelectors.selectors[{i}]");
        let Some(obj) = sel.as_object() else {
            errors.push(format!("{at} must be an object"));
            continue;
        };
        check_selector_envelope(obj, &at, "segment", "PLATFORM_SEGMENT", errors);
        let Some(value) = obj.get("value").and_then(Value::as_object) else {
            errors.push(format!("{at}: `value` must be an object"));
            continue;
        };
        for k in value.keys() {
            if !SEGMENT_VALUE_FIELDS.contains(&k.as_str()) {
                let hint = if k == "fileNameTemplate" {
                    " (the field is spelled filenameTemplate)"
                } else {
                    ""
                };
                errors.push(format!("{at}.value: unknown field `{k}`{hint}"));
            }
        }
        let id = match value.get("id").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => id.to_owned(),
            _ => {
                errors.push(format!("{at}.value.id is required (the audience id)"));
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            errors.push(format!("audience {id} appears more than once in this flow"));
        }
        for f in ["name", "description"] {
            if value.get(f).is_some_and(|v| !v.is_string()) {
                errors.push(format!("{at}.value.{f} must be a string"));
            }
        }
        match value.get("filenameTemplate").and_then(Value::as_str) {
            Some(t) => {
                let violations = match card {
                    Card::Legacy => catalog::check_filename_template(t),
                    Card::Current => catalog::check_v2_filename_template(t),
                };
                for v in violations {
                    errors.push(format!("{at}.value.filenameTemplate: {}", v.message));
                }
            }
            None => errors.push(format!("{at}.value.filenameTemplate is required")),
        }
        let mode = match value.get("exportMode") {
            Some(m) => match ExportMode::deserialize(m) {
                Ok(m) => Some(m),
                Err(_) => {
                    errors.push(format!(
                        "{at}.value.exportMode {m} is not DAILY_FULL_EXPORT or FIRST_FULL_THEN_INCREMENTAL"
                    ));
                    None
                }
            },
            None => {
                errors.push(format!("{at}.value.exportMode is required"));
                None
            }
        };
        let schedule = match value.get("schedule") {
            Some(s) => match Schedule::deserialize(s) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.push(format!("{at}.value.schedule: {e}"));
                    None
                }
            },
            None => {
                errors.push(format!("{at}.value.schedule is required"));
                None
            }
        };
        if let (Some(mode), Some(schedule)) = (mode, &schedule) {
            for v in catalog::check_schedule(mode, schedule) {
                errors.push(format!("{at}.value.schedule.{}: {}", v.field, v.message));
            }
        }
        // Server fields: createTime stays, updateTime moves when the selector changed.
        let (create, update) = match old.get(id.as_str()) {
            Some(prev) => {
                let pc = prev
                    .pointer("/value/createTime")
                    .and_then(Value::as_str)
                    .unwrap_or(&now)
                    .to_owned();
                let pu = prev
                    .pointer("/value/updateTime")
                    .and_then(Value::as_str)
                    .unwrap_or(&now)
                    .to_owned();
                if same_ignoring_times(prev, sel) {
                    (pc, pu)
                } else {
                    (pc, now.clone())
                }
            }
            None => (now.clone(), now.clone()),
        };
        if let Some(v) = sel.get_mut("value").and_then(Value::as_object_mut) {
            v.insert("createTime".into(), Value::String(create));
            v.insert("updateTime".into(), Value::String(update));
        }
    }
}

/// The `mapping` block the server adds to a profile selector for attribute `path`.
pub(crate) fn profile_mapping(path: &str) -> Value {
    json!({
        "sourceType": "text/x.schema-path",
        "source": path,
        "destination": path,
        "identity": false,
        "primaryIdentity": false,
        "functionVersion": 0,
        "copyModeMapping": false,
        "sourceAttribute": path,
        "destinationXdmPath": path
    })
}

fn check_profile_selectors(prof: &mut Map<String, Value>, card: Card, errors: &mut Vec<String>) {
    for k in prof.keys() {
        match (k.as_str(), card) {
            ("selectors", _) | ("mandatoryFields" | "primaryFields", Card::Legacy) => {}
            ("mandatoryFields" | "primaryFields", Card::Current) => errors.push(format!(
                "profileSelectors.{k}: flows of the current cards keep {k} directly under /transformations/0/params"
            )),
            _ => errors.push(format!("profileSelectors: unknown field `{k}`")),
        }
    }
    let mut paths: Vec<String> = Vec::new();
    match prof.get_mut("selectors").and_then(Value::as_array_mut) {
        Some(selectors) => {
            for (i, sel) in selectors.iter_mut().enumerate() {
                let at = format!("profileSelectors.selectors[{i}]");
                let Some(obj) = sel.as_object_mut() else {
                    errors.push(format!("{at} must be an object"));
                    continue;
                };
                check_selector_envelope(obj, &at, "profile", "JSON_PATH", errors);
                let Some(value) = obj.get_mut("value").and_then(Value::as_object_mut) else {
                    errors.push(format!("{at}: `value` must be an object"));
                    continue;
                };
                let path = match value.get("path").and_then(Value::as_str) {
                    Some(p) if !p.trim().is_empty() => p.to_owned(),
                    _ => {
                        errors.push(format!("{at}.value.path is required"));
                        continue;
                    }
                };
                for k in value.keys() {
                    if !["path", "operator", "mapping"].contains(&k.as_str()) {
                        errors.push(format!("{at}.value: unknown field `{k}`"));
                    }
                }
                match value.get("operator") {
                    None => {}
                    Some(Value::String(s)) if s == "EXISTS" => {}
                    Some(o) => errors.push(format!(
                        "{at}.value.operator {o} is not supported (only EXISTS)"
                    )),
                }
                if paths.contains(&path) {
                    errors.push(format!(
                        "profile attribute {path} appears more than once in this flow"
                    ));
                }
                value.insert("operator".into(), Value::String("EXISTS".into()));
                value.insert("mapping".into(), profile_mapping(&path));
                paths.push(path);
            }
        }
        None => errors.push("profileSelectors.selectors must be an array".into()),
    }
    if let Some(m) = prof.get("mandatoryFields") {
        match m.as_array() {
            Some(items) => {
                for item in items {
                    match item.as_str() {
                        Some(p) if paths.iter().any(|x| x == p) => {}
                        Some(p) => errors.push(format!(
                            "mandatoryFields: {p} is not one of the flow's profile attributes"
                        )),
                        None => errors.push("mandatoryFields must hold strings".into()),
                    }
                }
            }
            None => errors.push("profileSelectors.mandatoryFields must be an array".into()),
        }
    }
    if let Some(p) = prof.get("primaryFields") {
        match p.as_array() {
            Some(items) => {
                for item in items {
                    check_primary_field(item, Some(&paths), errors);
                }
            }
            None => errors.push("profileSelectors.primaryFields must be an array".into()),
        }
    }
}

/// Checks one `primaryFields` item; an ATTRIBUTE's path must be among `paths` when given.
fn check_primary_field(item: &Value, paths: Option<&[String]>, errors: &mut Vec<String>) {
    match item.get("fieldType").and_then(Value::as_str) {
        Some("ATTRIBUTE") => match item.get("attributePath").and_then(Value::as_str) {
            Some(p) if paths.is_none_or(|paths| paths.iter().any(|x| x == p)) && !p.is_empty() => {}
            Some(p) => errors.push(format!(
                "primaryFields: {p} is not one of the flow's profile attributes"
            )),
            None => errors.push("primaryFields: ATTRIBUTE needs an attributePath".into()),
        },
        Some("IDENTITY") => {
            if item
                .get("identityNamespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errors.push("primaryFields: IDENTITY needs an identityNamespace".into());
            }
        }
        _ => errors.push(format!(
            "primaryFields: {item} needs fieldType ATTRIBUTE or IDENTITY"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Value {
        json!({
            "id": "f1", "name": "n", "etag": "\"e\"", "state": "enabled",
            "transformations": [{"name": "GeneralTransform", "params": {
                "segmentSelectors": {"selectors": []},
                "profileSelectors": {"selectors": []}}}]
        })
    }

    fn seg(id: &str, freq: &str) -> Value {
        json!({"type": "PLATFORM_SEGMENT", "value": {"id": id,
            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%",
            "exportMode": "DAILY_FULL_EXPORT",
            "schedule": {"frequency": freq, "startDate": "2024-01-01"}}})
    }

    const SEG: &str = "/transformations/0/params/segmentSelectors/selectors/-";

    #[test]
    fn ops_any_case_and_move_rejected() {
        let f = flow();
        let ok = apply_flow_patch(
            &f,
            &json!([{"op": "RePlAcE", "path": "/name", "value": "x"}]),
            5,
        )
        .unwrap();
        assert_eq!(ok["name"], "x");
        for op in ["move", "COPY", "test"] {
            let e = apply_flow_patch(
                &f,
                &json!([{"op": op, "from": "/name", "path": "/description", "value": 1}]),
                5,
            )
            .unwrap_err();
            assert_eq!(e.code(), 1434, "{op}");
        }
        assert_eq!(
            apply_flow_patch(&f, &json!([]), 5).unwrap_err().code(),
            1405
        );
    }

    #[test]
    fn selector_times_move_only_when_changed() {
        let f = flow();
        let a = apply_flow_patch(
            &f,
            &json!([{"op": "add", "path": SEG, "value": seg("a", "ONCE")},
                    {"op": "add", "path": SEG, "value": seg("b", "ONCE")}]),
            100,
        )
        .unwrap();
        assert_eq!(
            a.pointer("/transformations/0/params/segmentSelectors/selectors/0/value/createTime")
                .unwrap(),
            "100"
        );
        let b = apply_flow_patch(
            &a,
            &json!([{"op": "replace", "path": "/transformations/0/params/segmentSelectors/selectors/1",
                     "value": seg("b", "DAILY")}]),
            200,
        )
        .unwrap();
        let s = b
            .pointer("/transformations/0/params/segmentSelectors/selectors")
            .unwrap();
        assert_eq!(s[0]["value"]["updateTime"], "100");
        assert_eq!(s[1]["value"]["createTime"], "100");
        assert_eq!(s[1]["value"]["updateTime"], "200");
    }

    #[test]
    fn rules_rejected_atomically() {
        let f = flow();
        let mut bad = seg("a", "EVERY_3_HOURS");
        bad["value"]["filenameTemplate"] = json!("%SEGMENT_ID%");
        let e = apply_flow_patch(&f, &json!([{"op": "add", "path": SEG, "value": bad}]), 1)
            .unwrap_err();
        let PatchRejection::Rules(msgs) = e else {
            panic!()
        };
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        let dup = apply_flow_patch(
            &f,
            &json!([{"op": "add", "path": SEG, "value": seg("a", "ONCE")},
                    {"op": "add", "path": SEG, "value": seg("a", "DAILY")}]),
            1,
        )
        .unwrap_err();
        assert!(dup.to_string().contains("more than once"));
        let e = apply_flow_patch(
            &f,
            &json!([{"op": "replace", "path": "/state", "value": "disabled"}]),
            1,
        )
        .unwrap_err();
        assert_eq!(e, PatchRejection::ReadOnly("state".into()));
    }

    #[test]
    fn profile_selector_expands() {
        let f = flow();
        let out = apply_flow_patch(
            &f,
            &json!([{"op": "add", "path": "/transformations/0/params/profileSelectors/selectors/-",
                     "value": {"type": "JSON_PATH", "value": {"path": "person.name.firstName"}}},
                    {"op": "add", "path": "/transformations/0/params/profileSelectors/mandatoryFields",
                     "value": ["person.name.firstName"]}]),
            1,
        )
        .unwrap();
        let v = out
            .pointer("/transformations/0/params/profileSelectors/selectors/0/value")
            .unwrap();
        assert_eq!(v["operator"], "EXISTS");
        assert_eq!(v["mapping"], profile_mapping("person.name.firstName"));
    }
}
