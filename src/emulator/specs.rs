//! Connection specs and flow specs, built from [`crate::catalog`]: the legacy batch cards and
//! today's cloud storage cards, each current card with an audience and a dataset flow spec.
//!
//! Decisions where Adobe's sources contradict each other (the full list, with the other
//! emulator choices, is in `docs/emulator.md`, "Destination cards"):
//! - audience vs dataset flow spec ids: destctl sends SPEC-D's audience ids; the dataset flow
//!   specs also take the Profile store as a source, so an audience flow on the ids ASFB gives
//!   (ADLS `17be2013…`, DLZ `cd2fc47e…`, GCS `585c15c4…`, older S3/Azure/SFTP guides alike)
//!   is accepted too;
//! - SFTP `mode`: `Server-to-server` (ASFB), `FTP` (MIG) and none are all accepted on the
//!   current SFTP card ([`location_mode`]);
//! - SSH-key spec names: the card lists `SFTP with Password` / `SFTP with SSH Key`; the names of
//!   SPEC-D's examples, `Basic Authentication for sftp` and `SSH PublicKey Authentication for
//!   sftp`, are accepted too ([`accepted_auths`]);
//! - `encryptionSpecs` (ASFB request) and `encryption` (stored, MIG) are both accepted on
//!   create, `PGPGPG` and `PGP/GPG` alike (see `resources.rs`).

use crate::catalog::{
    self, AuthMethod, Card, Compression, FileType, LocationMode, ParamSpec, Platform, PlatformInfo,
};
use serde_json::{Map, Value, json};

/// Provider id of destination specs (emulator choice).
const DESTINATION_PROVIDER_ID: &str = "521eee4d-8cbe-4906-bb48-fb6bd4450033";
/// Provider id of the Profile store (emulator choice).
const PROFILE_PROVIDER_ID: &str = "0ed90a81-07f4-4586-8190-b40eccef1c5a";
/// Name of the Profile store connection spec.
pub(crate) const PROFILE_STORE_NAME: &str = "Profile Store";
/// Name of the Data Lake connection spec (dataset exports' source).
pub(crate) const DATA_LAKE_NAME: &str = "Data Lake";

/// What a flow spec carries: audiences (Profile store source) or datasets (Data Lake source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowKind {
    /// Audience exports.
    Audience,
    /// Dataset exports.
    Dataset,
}

/// One flow spec the emulator serves.
#[derive(Clone, Debug)]
pub(crate) struct FlowSpecInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: FlowKind,
    /// Source connection specs the flow spec takes.
    pub sources: Vec<&'static str>,
    pub targets: Vec<&'static str>,
}

/// The flow specs: `upsToCampaign` (Campaign), the legacy `71471eba…` (Eloqua and the three
/// retired cloud cards), Responsys' and SFMC's own, and per current card an audience and a
/// dataset flow spec. The dataset flow specs also take the Profile store as a source: Adobe's
/// activation tutorial (and older migration guides) give their ids as the audience flow specs.
pub(crate) fn flow_spec_infos() -> Vec<FlowSpecInfo> {
    let mut out: Vec<FlowSpecInfo> = Vec::new();
    for p in Platform::all() {
        let info = p.info();
        let (id, name) = match info.flow_spec {
            catalog::FlowSpecRef::Name(n) => (catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID, n),
            catalog::FlowSpecRef::Id(id) => (id, audience_flow_spec_name(p)),
        };
        match out.iter_mut().find(|f| f.id == id) {
            Some(f) => f.targets.push(info.connection_spec_id),
            None => out.push(FlowSpecInfo {
                id,
                name,
                kind: FlowKind::Audience,
                sources: vec![catalog::PROFILE_STORE_SPEC_ID],
                targets: vec![info.connection_spec_id],
            }),
        }
        if let Some(id) = info.dataset_flow_spec_id {
            out.push(FlowSpecInfo {
                id,
                name: dataset_flow_spec_name(p),
                kind: FlowKind::Dataset,
                sources: vec![catalog::DATA_LAKE_SPEC_ID, catalog::PROFILE_STORE_SPEC_ID],
                targets: vec![info.connection_spec_id],
            });
        }
    }
    out
}

fn audience_flow_spec_name(p: Platform) -> &'static str {
    match p {
        Platform::OracleResponsys => "upsToResponsys",
        Platform::SalesforceMarketingCloud => "upsToSalesforceMarketingCloud",
        Platform::AmazonS3 => "upsToAmazonS3",
        Platform::AzureBlob => "upsToAzureBlob",
        Platform::Sftp => "upsToSftp",
        Platform::AzureDataLakeGen2 => "upsToAzureDataLakeGen2",
        Platform::DataLandingZone => "upsToDataLandingZone",
        Platform::GoogleCloudStorage => "upsToGoogleCloudStorage",
        _ => "upsToCloudStorageAndEloqua",
    }
}

fn dataset_flow_spec_name(p: Platform) -> &'static str {
    match p {
        Platform::AmazonS3 => "dataLakeToAmazonS3",
        Platform::AzureBlob => "dataLakeToAzureBlob",
        Platform::Sftp => "dataLakeToSftp",
        Platform::AzureDataLakeGen2 => "dataLakeToAzureDataLakeGen2",
        Platform::DataLandingZone => "dataLakeToDataLandingZone",
        _ => "dataLakeToGoogleCloudStorage",
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

fn auth_spec(info: &PlatformInfo, a: AuthMethod) -> Value {
    let props: Map<String, Value> = info
        .auth_params(a)
        .iter()
        .map(|p| (p.name.to_owned(), param_schema(p)))
        .collect();
    let required: Vec<&str> = info
        .auth_params(a)
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "name": a.spec_name(),
        "type": a.spec_type(),
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "description": format!("defines auth params required for {}", a.spec_name()),
            "properties": props,
            "required": required
        }
    })
}

/// The target spec of a current card: its location fields, the file options (`fileType` for
/// audience flows, `datasetFileType` for dataset flows, `compression`, `csvOptions`) and
/// `includeFileManifest`, with `required` as Adobe's targetSpec lists it.
fn current_target_spec(info: &PlatformInfo) -> Value {
    let mut props = Map::new();
    for param in info.file_location {
        props.insert(param.name.to_owned(), param_schema(param));
    }
    let enum_of = |values: Vec<&str>| json!({"type": "string", "enum": values});
    props.insert(
        "fileType".into(),
        enum_of(FileType::ALL.iter().map(|v| v.as_str()).collect()),
    );
    props.insert(
        "datasetFileType".into(),
        enum_of(vec![FileType::Json.as_str(), FileType::Parquet.as_str()]),
    );
    props.insert(
        "compression".into(),
        enum_of(Compression::ALL.iter().map(|v| v.as_str()).collect()),
    );
    let csv: Map<String, Value> = catalog::CSV_OPTION_KEYS
        .iter()
        .map(|(k, values)| ((*k).to_owned(), enum_of(values.to_vec())))
        .collect();
    props.insert(
        "csvOptions".into(),
        json!({"type": "object", "properties": csv, "conditional": {"field": "fileType", "operator": "EQUALS", "value": "CSV"}}),
    );
    props.insert("includeFileManifest".into(), json!({"type": "boolean"}));
    let mut required: Vec<&str> = info
        .file_location
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    required.extend(["datasetFileType", "compression", "fileType"]);
    json!({
        "name": format!("{} target", info.display_name),
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": props,
            "required": required
        }
    })
}

/// The PGP encryption spec of a card that takes encryption.
fn encryption_specs(info: &PlatformInfo) -> Value {
    if !info.encryption {
        return json!([]);
    }
    json!([{
        "name": "File PGP/GPG Encryption",
        "type": "FileAsymmetric",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "encryptionAlgo": {"type": "string", "enum": catalog::ENCRYPTION_ALGOS, "default": catalog::PGP_ENCRYPTION_ALGO},
                "publicKey": {"type": "string", "format": "base64"}
            },
            "required": ["encryptionAlgo", "publicKey"]
        }
    }])
}

fn target_spec(p: Platform) -> Value {
    let modes = p.info().location_modes;
    let mut props = Map::new();
    props.insert(
        "mode".into(),
        json!({"type": "string", "enum": modes.iter().map(|m| m.as_str()).collect::<Vec<_>>()}),
    );
    for m in modes {
        for param in p.info().location_params(*m) {
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
            let req: Vec<&str> = p
                .info()
                .location_params(*m)
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
    out.push(json!({
        "id": catalog::DATA_LAKE_SPEC_ID,
        "name": DATA_LAKE_NAME,
        "providerId": PROFILE_PROVIDER_ID,
        "version": catalog::SPEC_VERSION,
        "authSpec": [],
        "sourceSpec": {
            "spec": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                     "properties": {"datasets": {"type": "array", "items": {"type": "object",
                         "properties": {"dataSetId": {"type": "string"}, "name": {"type": "string"}},
                         "required": ["dataSetId"]}}},
                     "required": ["datasets"]}
        },
        "attributes": {"category": "datalake", "isSource": true, "isDestination": false}
    }));
    for p in Platform::all() {
        let info = p.info();
        let auth: Vec<Value> = info
            .auth_methods
            .iter()
            .map(|a| auth_spec(info, *a))
            .collect();
        let mut spec = json!({
            "id": info.connection_spec_id,
            "name": info.display_name,
            "providerId": DESTINATION_PROVIDER_ID,
            "version": catalog::SPEC_VERSION,
            "authSpec": auth,
            "targetSpec": target_spec(p),
            "attributes": {"category": "batch", "isSource": false, "isDestination": true,
                           "destinationType": "file-based", "platform": p.as_str()}
        });
        if info.card == Card::Current {
            spec["providerId"] = json!(catalog::CLOUD_STORAGE_PROVIDER_ID);
            spec["targetSpec"] = current_target_spec(info);
            spec["encryptionSpecs"] = encryption_specs(info);
        }
        if info.retired {
            spec["attributes"]["retired"] = json!(true);
        }
        out.push(spec);
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
                "sourceConnectionSpecIds": f.sources,
                "targetConnectionSpecIds": f.targets,
                "transformationSpecs": [{"name": catalog::TRANSFORMATION_NAME}],
                "attributes": {"isDestinationFlow": true, "_workflow": match f.kind {
                    FlowKind::Audience => "SEGMENTS",
                    FlowKind::Dataset => "DATASETS",
                }}
            })
        })
        .collect()
}

/// The auth spec names the Flow Service accepts on a platform's base connections: the card's
/// own, and on the current SFTP card also the names Adobe's API examples send with its spec id
/// (`Basic Authentication for sftp` for a password, `SSH PublicKey Authentication for sftp`
/// for an SSH key).
pub(crate) fn accepted_auths(p: Platform) -> Vec<AuthMethod> {
    let mut out = p.info().auth_methods.to_vec();
    if p == Platform::Sftp {
        out.extend([AuthMethod::SftpBasic, AuthMethod::SftpSshPublicKey]);
    }
    out
}

/// The location modes a platform accepts, by API value. The current SFTP card also takes
/// `FTP`, which Adobe's migration guide shows on a migrated SFTP target connection.
pub(crate) fn location_mode(p: Platform, mode: &str) -> Option<LocationMode> {
    let m = LocationMode::parse(mode)?;
    if p == Platform::Sftp && m == LocationMode::Ftp {
        return Some(LocationMode::ServerToServer);
    }
    p.info().location_modes.contains(&m).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_specs_cover_every_platform_once() {
        let infos = flow_spec_infos();
        assert_eq!(infos.len(), 4 + 6 + 6);
        let legacy = flow_spec(catalog::CLOUD_STORAGE_FLOW_SPEC_ID).unwrap();
        assert_eq!(legacy.targets.len(), 4);
        let campaign = flow_spec(catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID).unwrap();
        assert_eq!(campaign.name, "upsToCampaign");
        assert_eq!(connection_specs().len(), 15);
        let ids: std::collections::BTreeSet<_> = infos.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), infos.len());
        let s3 = flow_spec("1a0514a6-33d4-4c7f-aff8-594799c47549").unwrap();
        assert_eq!(s3.kind, FlowKind::Audience);
        assert_eq!(s3.targets, ["4fce964d-3f37-408f-9778-e597338a21ee"]);
        let gcs = flow_spec("585c15c4-6cbf-4126-8f87-e26bff78b657").unwrap();
        assert_eq!(gcs.kind, FlowKind::Dataset);
        assert!(gcs.sources.contains(&catalog::DATA_LAKE_SPEC_ID));
        assert_eq!(
            location_mode(Platform::Sftp, "FTP"),
            Some(LocationMode::ServerToServer)
        );
        assert_eq!(location_mode(Platform::AmazonS3, "S3"), None);
    }
}
