//! Connection specs and flow specs, built from [`crate::catalog`].

use crate::catalog::{self, AuthMethod, LocationMode, ParamSpec, Platform};
use serde_json::{Map, Value, json};

/// Provider id of destination specs (emulator choice).
const DESTINATION_PROVIDER_ID: &str = "521eee4d-8cbe-4906-bb48-fb6bd4450033";
/// Provider id of the Profile store (emulator choice).
const PROFILE_PROVIDER_ID: &str = "0ed90a81-07f4-4586-8190-b40eccef1c5a";
/// Name of the Profile store connection spec.
pub(crate) const PROFILE_STORE_NAME: &str = "Profile Store";

/// One flow spec the emulator serves.
#[derive(Clone, Debug)]
pub(crate) struct FlowSpecInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub targets: Vec<&'static str>,
}

/// The flow specs: `upsToCampaign` (Campaign), the legacy `71471eba…` (Eloqua, S3, Azure Blob,
/// SFTP), and Responsys' and SFMC's own.
pub(crate) fn flow_spec_infos() -> Vec<FlowSpecInfo> {
    let mut out: Vec<FlowSpecInfo> = Vec::new();
    for p in Platform::all() {
        let info = p.info();
        let (id, name) = match info.flow_spec {
            catalog::FlowSpecRef::Name(n) => (catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID, n),
            catalog::FlowSpecRef::Id(id) => (id, legacy_flow_spec_name(p)),
        };
        match out.iter_mut().find(|f| f.id == id) {
            Some(f) => f.targets.push(info.connection_spec_id),
            None => out.push(FlowSpecInfo {
                id,
                name,
                targets: vec![info.connection_spec_id],
            }),
        }
    }
    out
}

fn legacy_flow_spec_name(p: Platform) -> &'static str {
    match p {
        Platform::OracleResponsys => "upsToResponsys",
        Platform::SalesforceMarketingCloud => "upsToSalesforceMarketingCloud",
        _ => "upsToCloudStorageAndEloqua",
    }
}

/// The flow spec with this id.
pub(crate) fn flow_spec(id: &str) -> Option<FlowSpecInfo> {
    flow_spec_infos().into_iter().find(|f| f.id == id)
}

fn param_schema(p: &ParamSpec) -> Value {
    let mut s = Map::new();
    s.insert("type".into(), json!("string"));
    s.insert("description".into(), json!(p.name));
    if p.secret {
        s.insert("format".into(), json!("password"));
    }
    if let Some(pat) = p.pattern {
        s.insert("description".into(), json!(pat.describe()));
    }
    Value::Object(s)
}

fn auth_spec(a: AuthMethod) -> Value {
    let props: Map<String, Value> = a
        .params()
        .iter()
        .map(|p| (p.name.to_owned(), param_schema(p)))
        .collect();
    let required: Vec<&str> = a
        .params()
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "name": a.spec_name(),
        "type": a.spec_name().replace(' ', ""),
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "description": format!("defines auth params required for {}", a.spec_name()),
            "properties": props,
            "required": required
        }
    })
}

fn target_spec(p: Platform) -> Value {
    let modes = p.info().location_modes;
    let mut props = Map::new();
    props.insert(
        "mode".into(),
        json!({"type": "string", "enum": modes.iter().map(|m| m.as_str()).collect::<Vec<_>>()}),
    );
    for m in modes {
        for param in m.params() {
            props.insert(param.name.to_owned(), param_schema(param));
        }
    }
    props.insert(
        "format".into(),
        json!({"type": "string", "enum": [catalog::FILE_FORMAT], "default": catalog::FILE_FORMAT}),
    );
    props.insert("includeFileManifest".into(), json!({"type": "boolean"}));
    let conditions: Vec<Value> = modes
        .iter()
        .map(|m| {
            let req: Vec<&str> = m
                .params()
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name)
                .collect();
            json!({"if": {"properties": {"mode": {"const": m.as_str()}}}, "then": {"required": req}})
        })
        .collect();
    json!({
        "name": format!("{} target", p.info().display_name),
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": props,
            "required": ["mode"],
            "allOf": conditions
        }
    })
}

/// Every connection spec, Profile store first.
pub(crate) fn connection_specs() -> Vec<Value> {
    let mut out = vec![json!({
        "id": catalog::PROFILE_STORE_SPEC_ID,
        "name": PROFILE_STORE_NAME,
        "providerId": PROFILE_PROVIDER_ID,
        "version": catalog::SPEC_VERSION,
        "authSpec": [],
        "sourceSpec": {
            "spec": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}}
        },
        "attributes": {"category": "profile", "isSource": true, "isDestination": false}
    })];
    for p in Platform::all() {
        let info = p.info();
        out.push(json!({
            "id": info.connection_spec_id,
            "name": info.display_name,
            "providerId": DESTINATION_PROVIDER_ID,
            "version": catalog::SPEC_VERSION,
            "authSpec": info.auth_methods.iter().map(|a| auth_spec(*a)).collect::<Vec<_>>(),
            "targetSpec": target_spec(p),
            "attributes": {"category": "batch", "isSource": false, "isDestination": true,
                           "destinationType": "file-based", "platform": p.as_str()}
        }));
    }
    out
}

/// Every flow spec.
pub(crate) fn flow_specs() -> Vec<Value> {
    flow_spec_infos()
        .into_iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "providerId": DESTINATION_PROVIDER_ID,
                "version": catalog::SPEC_VERSION,
                "sourceConnectionSpecIds": [catalog::PROFILE_STORE_SPEC_ID],
                "targetConnectionSpecIds": f.targets,
                "transformationSpecs": [{"name": catalog::TRANSFORMATION_NAME}],
                "attributes": {"isDestinationFlow": true, "exportFormat": catalog::FILE_FORMAT}
            })
        })
        .collect()
}

/// The location modes a platform accepts, by API value.
pub(crate) fn location_mode(p: Platform, mode: &str) -> Option<LocationMode> {
    LocationMode::parse(mode).filter(|m| p.info().location_modes.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_specs_cover_every_platform_once() {
        let infos = flow_spec_infos();
        assert_eq!(infos.len(), 4);
        let legacy = flow_spec(catalog::CLOUD_STORAGE_FLOW_SPEC_ID).unwrap();
        assert_eq!(legacy.targets.len(), 4);
        let campaign = flow_spec(catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID).unwrap();
        assert_eq!(campaign.name, "upsToCampaign");
        assert_eq!(connection_specs().len(), 8);
    }
}
