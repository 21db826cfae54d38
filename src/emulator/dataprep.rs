//! The Data Prep (Mapping Service) API subset that file exports use, under
//! `/data/foundation/conversion`: Data Prep schemas (`POST /schemas`, `GET /schemas/{id}`) and
//! mapping sets with versions (`POST /mappingSets`, `GET /mappingSets`,
//! `GET /mappingSets/{id}[?version=N]`, `PUT /mappingSets/{id}`).
//!
//! Decisions on the reference's open questions (data-prep-and-file-exports.md §7; recorded in
//! `docs/emulator.md`, "Data Prep"):
//! 1. `GET /mappingSets/{id}` without `?version` answers the **latest** version; every version
//!    stays readable with `?version=N` (404 for a version that does not exist).
//! 2. `PUT` is a full replace of `outputSchema`, `inputSchema`, `mappings`, `name`: it always
//!    makes a new version (also when nothing changed), reissues the mapping ids, and leaves the
//!    old versions (with their old mapping ids) as they were.
//! 3. No `DELETE` of mapping sets or schemas (undocumented): 405. `POST /_emulator/reset` clears
//!    them.
//! 4. Every success is 200, also creation (DPM); unknown ids are 404 and bad bodies 400, with the
//!    Flow Service error body (code 1101 and 1455); the `x-sandbox-name` header is required
//!    (SPEC-DP marks it so), 400 `2105` without it.
//! 5. `outputSchema` is `{id}` of a Data Prep schema of the sandbox or
//!    `{schemaRef: {id, contentType}}`; `inputSchema`, when given, is `{id}` of one; the legacy
//!    body (`xdmSchema`, `mappings[].sourceAttribute` / `destinationXdmPath`) is accepted and
//!    stored in the current shape.
//! 6. The export rules are enforced at mapping-set create and PUT: at least one mapping;
//!    `sourceType` `ATTRIBUTE` (default), `EXPRESSION` or `STATIC`; a non-empty `source`; a
//!    `destination` (the column) without `.` and distinct within the set; at most one
//!    `identityMap.<namespace>` source. The 50-attribute guardrail is soft and not enforced.
//!    A flow's `profileMapping {mappingId, mappingVersion}` must name an existing mapping set
//!    and version of the sandbox (checked on the flow PATCH).
//! 9. A flow stays pinned to its `mappingVersion`; new versions do not move it.
//! 12. `jsonSchema` of a schema is stored and echoed verbatim, never derived from mappings; the
//!     mapping order is kept as sent (the column order).
//!
//! Ids are 32 lower-case hex characters; `createdDate`/`modifiedDate` epoch milliseconds.

use super::error::ApiError;
use super::store::Sandbox;
use serde_json::{Map, Value, json};

/// Base path of the Data Prep API.
pub const DATA_PREP_BASE: &str = "/data/foundation/conversion";

/// A Data Prep id: 32 lower-case hex characters.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn invalid(errors: Vec<String>) -> ApiError {
    ApiError::bad_request(
        1455,
        format!("Request validation failed: {}", errors.join("; ")),
    )
}

/// `POST /schemas`: `{name?, jsonSchema}` or `{name?, schemaRef: {id, contentType}}` → the
/// stored schema (`version` 0).
pub(crate) fn create_schema(body: &Value, id: &str) -> Result<Value, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(vec!["the body must be a JSON object".into()]));
    };
    let mut errors = Vec::new();
    for k in obj.keys() {
        if !["name", "jsonSchema", "schemaRef", "sampleId"].contains(&k.as_str()) {
            errors.push(format!("unknown field `{k}`"));
        }
    }
    match (obj.get("jsonSchema"), obj.get("schemaRef")) {
        (Some(s), None) if s.is_object() => {}
        (None, Some(r)) if r.get("id").is_some_and(Value::is_string) => {}
        _ => errors.push(
            "send exactly one of `jsonSchema` (an object) and `schemaRef` ({id, contentType})"
                .into(),
        ),
    }
    if obj.get("name").is_some_and(|n| !n.is_string()) {
        errors.push("`name` must be a string".into());
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let mut out = obj.clone();
    out.insert("id".into(), json!(id));
    out.insert("version".into(), json!(0));
    Ok(Value::Object(out))
}

/// One mapping of a create or PUT body, in the current shape (the legacy keys mapped).
fn mapping(item: &Value, i: usize, errors: &mut Vec<String>) -> Option<Map<String, Value>> {
    let Some(o) = item.as_object() else {
        errors.push(format!("mappings[{i}] must be an object"));
        return None;
    };
    let source = o.get("source").or_else(|| o.get("sourceAttribute"));
    let destination = o.get("destination").or_else(|| o.get("destinationXdmPath"));
    let source_type = o
        .get("sourceType")
        .and_then(Value::as_str)
        .unwrap_or("ATTRIBUTE");
    if !["ATTRIBUTE", "EXPRESSION", "STATIC", "text/x.schema-path"].contains(&source_type) {
        errors.push(format!(
            "mappings[{i}].sourceType `{source_type}` is not ATTRIBUTE, EXPRESSION or STATIC"
        ));
    }
    let (Some(Value::String(source)), Some(Value::String(destination))) = (source, destination)
    else {
        errors.push(format!(
            "mappings[{i}] needs a string `source` and `destination`"
        ));
        return None;
    };
    if source.is_empty() {
        errors.push(format!("mappings[{i}].source is empty"));
    }
    if destination.is_empty() || destination.contains('.') {
        errors.push(format!(
            "mappings[{i}].destination `{destination}` must be non-empty without `.` (write `_`)"
        ));
    }
    let mut m = Map::new();
    m.insert(
        "sourceType".into(),
        json!(if source_type == "ATTRIBUTE" {
            "text/x.schema-path"
        } else {
            source_type
        }),
    );
    m.insert("source".into(), json!(source));
    m.insert("destination".into(), json!(destination));
    for k in ["name", "description"] {
        if let Some(v) = o.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert("id".into(), json!(new_id()));
    Some(m)
}

fn schema_exists(sb: &Sandbox, v: &Value) -> bool {
    v.get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| sb.schemas.contains_key(id))
}

/// Checks a mapping-set create or PUT body and returns the stored version `version` (the
/// caller adds the dates and authors).
pub(crate) fn mapping_set_version(
    body: &Value,
    id: &str,
    version: u64,
    sb: &Sandbox,
) -> Result<Map<String, Value>, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(vec!["the body must be a JSON object".into()]));
    };
    let allowed = [
        "outputSchema",
        "inputSchema",
        "mappings",
        "xdmVersion",
        "name",
        "allowNullValues",
        "tags",
        "xdmSchema",
        "version",
        "id",
    ];
    let mut errors = Vec::new();
    for k in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.push(format!("unknown field `{k}`"));
    }
    let output = match (obj.get("outputSchema"), obj.get("xdmSchema")) {
        (Some(o), _)
            if o.get("schemaRef")
                .and_then(|r| r.get("id"))
                .is_some_and(Value::is_string) =>
        {
            Some(o.clone())
        }
        (Some(o), _) if schema_exists(sb, o) => Some(json!({"id": o["id"]})),
        (Some(o), _) => {
            errors.push(format!(
                "outputSchema {o} is neither {{schemaRef: {{id, contentType}}}} nor {{id}} of a Data Prep schema of this sandbox"
            ));
            None
        }
        (None, Some(Value::String(x))) => Some(json!({"schemaRef": {"id": x,
            "contentType": "application/vnd.adobe.xed-full+json;version=1"}})),
        (None, _) => {
            errors.push("`outputSchema` is required".into());
            None
        }
    };
    if let Some(i) = obj.get("inputSchema")
        && !schema_exists(sb, i)
    {
        errors.push(format!(
            "inputSchema {i} is not {{id}} of a Data Prep schema of this sandbox"
        ));
    }
    let mut mappings = Vec::new();
    match obj.get("mappings").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if let Some(m) = mapping(item, i, &mut errors) {
                    mappings.push(m);
                }
            }
        }
        _ => errors.push("`mappings` must be a non-empty array".into()),
    }
    let mut seen: Vec<&str> = Vec::new();
    for m in &mappings {
        let d = m["destination"].as_str().unwrap_or_default();
        if seen.contains(&d) {
            errors.push(format!("destination `{d}` is mapped twice"));
        }
        seen.push(d);
    }
    let identities = mappings
        .iter()
        .filter(|m| {
            m["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("identityMap."))
        })
        .count();
    if identities > 1 {
        errors.push(format!(
            "{identities} identities are mapped; a dataflow exports at most one identity"
        ));
    }
    if obj.get("name").is_some_and(|n| !n.is_string()) {
        errors.push("`name` must be a string".into());
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("version".into(), json!(version));
    for k in [
        "name",
        "inputSchema",
        "xdmVersion",
        "allowNullValues",
        "tags",
    ] {
        if let Some(v) = obj.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("outputSchema".into(), output.unwrap_or(Value::Null));
    out.insert(
        "mappings".into(),
        Value::Array(mappings.into_iter().map(Value::Object).collect()),
    );
    Ok(out)
}

/// The create/PUT answer: `{id, version, createdDate, modifiedDate, createdBy, modifiedBy}`.
pub(crate) fn summary(v: &Value) -> Value {
    let mut out = Map::new();
    for k in [
        "id",
        "version",
        "createdDate",
        "modifiedDate",
        "createdBy",
        "modifiedBy",
    ] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    Value::Object(out)
}

/// Checks a flow's `profileMapping` against the sandbox's mapping sets: `mappingId` and
/// `mappingVersion` must name an existing version.
pub(crate) fn check_profile_mapping(sb: &Sandbox, flow: &Value) -> Result<(), Vec<String>> {
    let Some(pm) = flow
        .pointer("/transformations/0/params/profileMapping")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let (Some(id), Some(version)) = (
        pm.get("mappingId").and_then(Value::as_str),
        pm.get("mappingVersion").and_then(Value::as_u64),
    ) else {
        return Ok(());
    };
    match sb.mapping_sets.get(id) {
        None => Err(vec![format!(
            "profileMapping.mappingId {id} is not a mapping set of this sandbox"
        )]),
        Some(versions) if version as usize >= versions.len() => Err(vec![format!(
            "mapping set {id} has no version {version} (latest: {})",
            versions.len() - 1
        )]),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> Sandbox {
        Sandbox::for_tests()
    }

    fn body(mappings: Value) -> Value {
        json!({"outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/x", "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
               "mappings": mappings})
    }

    #[test]
    fn export_rules() {
        let ok = mapping_set_version(
            &body(
                json!([{"source": "personalEmail.address", "destination": "email"},
                         {"source": "identityMap.Email", "destination": "Email"}]),
            ),
            "a",
            0,
            &sb(),
        )
        .unwrap();
        assert_eq!(ok["mappings"][0]["sourceType"], "text/x.schema-path");
        assert_eq!(ok["mappings"][0]["id"].as_str().unwrap().len(), 32);
        for bad in [
            json!([]),
            json!([{"source": "a.b", "destination": "a.b"}]),
            json!([{"source": "a", "destination": "x"}, {"source": "b", "destination": "x"}]),
            json!([{"source": "identityMap.Email", "destination": "e"},
                   {"source": "identityMap.ECID", "destination": "c"}]),
            json!([{"source": "a", "destination": "x", "sourceType": "JSON"}]),
        ] {
            assert!(
                mapping_set_version(&body(bad.clone()), "a", 0, &sb()).is_err(),
                "{bad}"
            );
        }
        let legacy = json!({"xdmSchema": "https://ns.adobe.com/x", "xdmVersion": "1.0", "id": null, "version": 0,
            "mappings": [{"sourceAttribute": "a", "destinationXdmPath": "b", "identity": false}]});
        let stored = mapping_set_version(&legacy, "a", 0, &sb()).unwrap();
        assert_eq!(stored["mappings"][0]["source"], "a");
        assert_eq!(stored["mappings"][0]["destination"], "b");
        assert_eq!(
            stored["outputSchema"]["schemaRef"]["id"],
            "https://ns.adobe.com/x"
        );
    }
}
