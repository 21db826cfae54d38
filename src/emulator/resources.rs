//! Create-body validation, entity construction (server fields, `inheritedAttributes`), PATCH of
//! connections, and the referential rules of DELETE.

use super::datasets;
use super::error::ApiError;
use super::patch::{self, PatchRejection};
use super::specs;
use super::store::{Sandbox, col_name};
use crate::catalog::{self, AuthMethod, Card, Platform};
use crate::wire::Resource;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// What GET shows in place of a secret auth param (secrets are write-only and never stored).
pub const SECRET_MASK: &str = "***";

/// Who makes a change, and when.
#[derive(Clone, Debug)]
pub(crate) struct Actor {
    pub now_ms: i64,
    /// `updatedBy` / `createdBy`.
    pub by: String,
    /// `updatedClient` / `createdClient`.
    pub client: String,
}

impl Actor {
    /// An API caller with this client id.
    pub(crate) fn api(client_id: &str, now_ms: i64) -> Actor {
        Actor {
            now_ms,
            by: format!("{client_id}@AdobeID"),
            client: client_id.to_owned(),
        }
    }

    /// A person editing in the AEP UI.
    pub(crate) fn ui(now_ms: i64) -> Actor {
        Actor {
            now_ms,
            by: "aep-ui-user@AdobeID".into(),
            client: "exc_app".into(),
        }
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.now_ms / 1000
    }
}

/// A new etag in the quoted-in-quotes form: `"xxxxxxxx-0000-0200-0000-xxxxxxxx0000"`.
pub(crate) fn new_etag(now_ms: i64) -> String {
    let r = uuid::Uuid::new_v4().as_u128() as u32;
    format!(
        "\"{r:08x}-0000-0200-0000-{:08x}0000\"",
        (now_ms / 1000) as u32
    )
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        1455,
        format!("Request validation failed: {}", message.into()),
    )
}

fn invalid_all(errors: Vec<String>) -> ApiError {
    invalid(errors.join("; "))
}

fn spec_ref(body: &Map<String, Value>, key: &str) -> Result<(String, String), ApiError> {
    let Some(spec) = body.get(key).and_then(Value::as_object) else {
        return Err(ApiError::bad_request(
            1413,
            format!("Please provide a valid spec id ({key}.id is missing)"),
        ));
    };
    let id = spec
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(1413, "Please provide a valid spec id"))?;
    let version = spec.get("version").and_then(Value::as_str).ok_or_else(|| {
        ApiError::flow(
            StatusCode::UNPROCESSABLE_ENTITY,
            1413,
            format!("{key}.version is required (usually \"1.0\")"),
            None,
        )
    })?;
    if version != catalog::SPEC_VERSION {
        return Err(ApiError::bad_request(
            1413,
            format!("{key}.version {version} does not exist; use \"1.0\""),
        ));
    }
    Ok((id.to_owned(), version.to_owned()))
}

fn common_checks(body: &Value, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let obj = match body {
        Value::Object(o) if !o.is_empty() => o.clone(),
        Value::Object(_) | Value::Null => {
            return Err(ApiError::bad_request(1405, "Request body is null or empty"));
        }
        _ => return Err(invalid("the body must be a JSON object")),
    };
    if obj.contains_key("state") {
        return Err(ApiError::bad_request(
            1410,
            "state is not allowed in the create request; use the action endpoint",
        ));
    }
    let mut errors = Vec::new();
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            errors.push(format!("unknown field `{k}`"));
        }
    }
    errors.extend(check_name_description(&Value::Object(obj.clone())));
    if errors.is_empty() {
        Ok(obj)
    } else {
        Err(invalid_all(errors))
    }
}

fn check_name_description(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    match v.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => errors.push("`name` is required and must be a non-empty string".into()),
    }
    if v.get("description").is_some_and(|d| !d.is_string()) {
        errors.push("`description` must be a string".into());
    }
    errors
}

/// The server fields every entity starts with, in Adobe's order.
fn header_fields(id: &str, actor: &Actor, sb: &Sandbox) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("createdAt".into(), json!(actor.now_ms));
    m.insert("updatedAt".into(), json!(actor.now_ms));
    m.insert("createdBy".into(), json!(actor.by));
    m.insert("updatedBy".into(), json!(actor.by));
    m.insert("createdClient".into(), json!(actor.client));
    m.insert("updatedClient".into(), json!(actor.client));
    m.insert("sandboxId".into(), json!(sb.id));
    m.insert("sandboxName".into(), json!(sb.name));
    m.insert("imsOrgId".into(), json!(sb.org));
    m
}

fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k) {
            to.insert((*k).to_owned(), v.clone());
        }
    }
}

fn finish(m: &mut Map<String, Value>, actor: &Actor) {
    let etag = new_etag(actor.now_ms);
    m.insert("version".into(), json!(etag));
    m.insert("etag".into(), json!(etag));
}

/// Marks an entity changed: `updatedAt`, `updatedBy`, `updatedClient`, a new etag.
pub(crate) fn touch(v: &mut Value, actor: &Actor) -> String {
    let etag = new_etag(actor.now_ms);
    if let Some(m) = v.as_object_mut() {
        m.insert("updatedAt".into(), json!(actor.now_ms));
        m.insert("updatedBy".into(), json!(actor.by));
        m.insert("updatedClient".into(), json!(actor.client));
        m.insert("version".into(), json!(etag));
        m.insert("etag".into(), json!(etag));
    }
    etag
}

fn param_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks `auth` against the connection spec and masks its secrets; `authorizedDate` is set.
fn check_auth(platform: Platform, auth: &Value, today: &str) -> Result<Value, Vec<String>> {
    let mut errors = Vec::new();
    let Some(obj) = auth.as_object() else {
        return Err(vec!["`auth` must be an object {specName, params}".into()]);
    };
    for k in obj.keys() {
        if k != "specName" && k != "params" {
            errors.push(format!("auth: unknown field `{k}`"));
        }
    }
    let info = platform.info();
    let names: Vec<&str> = info.auth_methods.iter().map(|a| a.spec_name()).collect();
    let accepted = specs::accepted_auths(platform);
    let method = match obj.get("specName").and_then(Value::as_str) {
        Some(n) => match AuthMethod::from_spec_name(n).filter(|a| accepted.contains(a)) {
            Some(a) => a,
            None => {
                errors.push(format!(
                    "auth.specName `{n}` is not an auth spec of {}; use one of: {}",
                    platform.info().display_name,
                    names.join(", ")
                ));
                return Err(errors);
            }
        },
        None => {
            errors.push(format!(
                "auth.specName is required; one of: {}",
                names.join(", ")
            ));
            return Err(errors);
        }
    };
    let Some(params) = obj.get("params").and_then(Value::as_object) else {
        errors.push("auth.params must be an object".into());
        return Err(errors);
    };
    let mut out = Map::new();
    for (k, v) in params {
        if k == "authorizedDate" {
            continue;
        }
        let Some(spec) = info.auth_params(method).iter().find(|p| p.name == k) else {
            errors.push(format!(
                "auth.params: `{k}` is not a parameter of {}",
                method.spec_name()
            ));
            continue;
        };
        let Some(s) = param_string(v) else {
            errors.push(format!("auth.params.{k} must be a non-empty string"));
            continue;
        };
        if let Some(p) = spec.pattern.filter(|p| s != SECRET_MASK && !p.matches(&s)) {
            errors.push(format!("auth.params.{k}: {}", p.describe()));
        }
        out.insert(
            k.clone(),
            if spec.secret {
                json!(SECRET_MASK)
            } else {
                v.clone()
            },
        );
    }
    for p in info.auth_params(method).iter().filter(|p| p.required) {
        if !params.contains_key(p.name) {
            errors.push(format!(
                "auth.params.{} is required by {}",
                p.name,
                method.spec_name()
            ));
        }
    }
    out.insert("authorizedDate".into(), json!(today));
    if errors.is_empty() {
        Ok(json!({"specName": method.spec_name(), "params": out}))
    } else {
        Err(errors)
    }
}

fn today(actor: &Actor) -> String {
    chrono::DateTime::from_timestamp_millis(actor.now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn platform_of(spec_id: &str) -> Option<Platform> {
    Platform::by_connection_spec(spec_id)
}

/// Builds a base connection from a create body.
pub(crate) fn create_connection(
    body: &Value,
    id: &str,
    actor: &Actor,
    sb: &Sandbox,
) -> Result<Value, ApiError> {
    let obj = common_checks(
        body,
        &[
            "name",
            "description",
            "connectionSpec",
            "auth",
            "encryptionSpecs",
            "encryption",
        ],
    )?;
    let (spec_id, version) = spec_ref(&obj, "connectionSpec")?;
    let mut m = header_fields(id, actor, sb);
    copy(&obj, &mut m, &["name", "description"]);
    m.insert(
        "connectionSpec".into(),
        json!({"id": spec_id, "version": version}),
    );
    m.insert("state".into(), json!("enabled"));
    let encryption = obj.get("encryption").or_else(|| obj.get("encryptionSpecs"));
    if obj.contains_key("encryption") && obj.contains_key("encryptionSpecs") {
        return Err(invalid(
            "send the encryption as `encryptionSpecs` or `encryption`, not both",
        ));
    }
    if spec_id == catalog::PROFILE_STORE_SPEC_ID {
        if obj.contains_key("auth") || encryption.is_some() {
            return Err(invalid(
                "a Profile store base connection takes no `auth` and no encryption",
            ));
        }
    } else {
        let platform = platform_of(&spec_id).ok_or_else(|| {
            ApiError::bad_request(1413, format!("Please provide a valid spec id ({spec_id})"))
        })?;
        match obj.get("auth") {
            None if platform.info().auth_methods.is_empty() => {}
            None => {
                return Err(invalid(
                    "`auth` is required for a destination base connection",
                ));
            }
            Some(_) if platform.info().auth_methods.is_empty() => {
                return Err(invalid(format!(
                    "{} takes no `auth` (its connection spec has no auth spec)",
                    platform.info().display_name
                )));
            }
            Some(auth) => {
                m.insert(
                    "auth".into(),
                    check_auth(platform, auth, &today(actor)).map_err(invalid_all)?,
                );
            }
        }
        if let Some(e) = encryption {
            check_encryption(platform, e).map_err(invalid_all)?;
            m.insert("encryption".into(), e.clone());
        }
    }
    finish(&mut m, actor);
    Ok(Value::Object(m))
}

/// Checks an encryption block (`encryptionSpecs` as Adobe's tutorial sends it, or
/// `encryption` as stored connections show it): `{specName, params{encryptionAlgo,
/// publicKey}}`, on a card that takes encryption.
fn check_encryption(platform: Platform, e: &Value) -> Result<(), Vec<String>> {
    let info = platform.info();
    if !info.encryption {
        return Err(vec![format!(
            "{} takes no file encryption (its connection spec has no encryption spec)",
            info.display_name
        )]);
    }
    let mut errors = Vec::new();
    let Some(obj) = e.as_object() else {
        return Err(vec![
            "encryption must be an object {specName, params}".into(),
        ]);
    };
    for k in obj.keys() {
        if k != "specName" && k != "params" {
            errors.push(format!("encryption: unknown field `{k}`"));
        }
    }
    if !obj.get("specName").is_some_and(Value::is_string) {
        errors.push("encryption.specName is required".into());
    }
    match obj.get("params").and_then(Value::as_object) {
        Some(p) => {
            for k in p.keys() {
                if k != "encryptionAlgo" && k != "publicKey" {
                    errors.push(format!("encryption.params: unknown field `{k}`"));
                }
            }
            // `PGP/GPG` is how stored connections spell the algorithm.
            match p.get("encryptionAlgo").and_then(Value::as_str) {
                Some(a) if catalog::ENCRYPTION_ALGOS.contains(&a) || a == "PGP/GPG" => {}
                _ => errors.push(format!(
                    "encryption.params.encryptionAlgo must be one of: {}",
                    catalog::ENCRYPTION_ALGOS.join(", ")
                )),
            }
            if p.get("publicKey")
                .and_then(Value::as_str)
                .is_none_or(|k| k.trim().is_empty())
            {
                errors.push("encryption.params.publicKey is required (base64)".into());
            }
        }
        None => errors.push("encryption.params must be an object".into()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn base_connection<'a>(sb: &'a Sandbox, id: &str) -> Result<&'a Value, ApiError> {
    sb.get(Resource::Connection, id)
        .map(|e| e.value.as_ref())
        .ok_or_else(|| {
            invalid(format!(
                "baseConnectionId {id} does not exist in this sandbox"
            ))
        })
}

fn spec_summary(v: &Value) -> Value {
    json!({"id": v.pointer("/connectionSpec/id"), "version": v.pointer("/connectionSpec/version")})
}

/// Builds a Profile store source connection from a create body (`baseConnectionId`, `data`,
/// `params` optional).
pub(crate) fn create_source_connection(
    body: &Value,
    id: &str,
    actor: &Actor,
    sb: &Sandbox,
) -> Result<Value, ApiError> {
    let obj = common_checks(
        body,
        &[
            "name",
            "description",
            "connectionSpec",
            "baseConnectionId",
            "data",
            "params",
        ],
    )?;
    let (spec_id, version) = spec_ref(&obj, "connectionSpec")?;
    let data_lake = spec_id == catalog::DATA_LAKE_SPEC_ID;
    if data_lake {
        if obj.get("baseConnectionId").is_some_and(|b| !b.is_null()) {
            return Err(invalid(
                "a Data Lake source connection takes no `baseConnectionId`",
            ));
        }
        let errors = datasets::check_source_params(obj.get("params"));
        if !errors.is_empty() {
            return Err(invalid_all(errors));
        }
    } else if spec_id != catalog::PROFILE_STORE_SPEC_ID {
        return Err(ApiError::bad_request(
            1413,
            format!(
                "Please provide a valid spec id: {spec_id} is not a source spec (use the Profile store, {})",
                catalog::PROFILE_STORE_SPEC_ID
            ),
        ));
    }
    check_object_fields(&obj, &["data", "params"])?;
    let mut m = header_fields(id, actor, sb);
    copy(&obj, &mut m, &["name", "description"]);
    let base = match obj.get("baseConnectionId") {
        None | Some(Value::Null) => None,
        Some(Value::String(b)) => {
            let base = base_connection(sb, b)?;
            if base.pointer("/connectionSpec/id").and_then(Value::as_str)
                != Some(catalog::PROFILE_STORE_SPEC_ID)
            {
                return Err(invalid(format!(
                    "base connection {b} is not a Profile store connection"
                )));
            }
            m.insert("baseConnectionId".into(), json!(b));
            Some(json!({"id": b, "connectionSpec": spec_summary(base)}))
        }
        Some(_) => return Err(invalid("`baseConnectionId` must be a string")),
    };
    m.insert(
        "connectionSpec".into(),
        json!({"id": spec_id, "version": version}),
    );
    m.insert("state".into(), json!("enabled"));
    copy(&obj, &mut m, &["data", "params"]);
    let type_info = if data_lake {
        json!({"type": "Datasets", "id": "datalake"})
    } else {
        json!({"type": "ProfileFragments", "id": "ups"})
    };
    m.insert("typeInfo".into(), type_info);
    finish(&mut m, actor);
    if let Some(b) = base {
        m.insert("inheritedAttributes".into(), json!({"baseConnection": b}));
    }
    Ok(Value::Object(m))
}

fn check_object_fields(obj: &Map<String, Value>, keys: &[&str]) -> Result<(), ApiError> {
    for k in keys {
        if obj.get(*k).is_some_and(|v| !v.is_object()) {
            return Err(invalid(format!("`{k}` must be an object")));
        }
    }
    Ok(())
}

const TARGET_EXTRA_PARAMS: &[&str] = &["mode", "format", "includeFileManifest", "appendSegmentId"];

/// Checks a current card's target connection `params`: `mode` optional (`Server-to-server`,
/// or `FTP` on SFTP), the card's location fields, the file options against their enums, and
/// exactly one of `fileType` (audience flows) and `datasetFileType` (dataset flows).
fn check_current_target_params(platform: Platform, params: &Map<String, Value>) -> Vec<String> {
    let info = platform.info();
    let mut errors = Vec::new();
    let enum_check = |errors: &mut Vec<String>, k: &str, v: &Value, allowed: &[&str]| {
        if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
            errors.push(format!(
                "params.{k} {v} is not one of: {}",
                allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    let file_types: Vec<&str> = catalog::FileType::ALL.iter().map(|f| f.as_str()).collect();
    let compressions: Vec<&str> = catalog::Compression::ALL
        .iter()
        .map(|f| f.as_str())
        .collect();
    for (k, v) in params {
        match k.as_str() {
            "mode" => {
                if v.as_str()
                    .is_none_or(|m| specs::location_mode(platform, m).is_none())
                {
                    errors.push(format!(
                        "params.mode {v} is not accepted by {}; use \"{}\"",
                        info.display_name,
                        catalog::SERVER_TO_SERVER
                    ));
                }
            }
            "fileType" => enum_check(&mut errors, k, v, &file_types),
            "datasetFileType" => enum_check(&mut errors, k, v, &file_types[1..]),
            "compression" => enum_check(&mut errors, k, v, &compressions),
            "includeFileManifest" if !v.is_boolean() => {
                errors.push(format!("params.{k} must be a boolean"))
            }
            "includeFileManifest" => {}
            "csvOptions" => match v.as_object() {
                Some(o) => {
                    for (ck, cv) in o {
                        match catalog::CSV_OPTION_KEYS.iter().find(|(n, _)| n == ck) {
                            Some((_, allowed)) => {
                                enum_check(&mut errors, &format!("csvOptions.{ck}"), cv, allowed)
                            }
                            None => errors.push(format!(
                                "params.csvOptions: unknown option `{ck}`; options: {}",
                                catalog::CSV_OPTION_KEYS.map(|(n, _)| n).join(", ")
                            )),
                        }
                    }
                    if params.get("fileType").and_then(Value::as_str)
                        != Some(catalog::FileType::Csv.as_str())
                    {
                        errors.push("params.csvOptions applies only with fileType CSV".into());
                    }
                }
                None => errors.push("params.csvOptions must be an object".into()),
            },
            _ => {
                let Some(spec) = info.file_location.iter().find(|p| p.name == k) else {
                    let takes: Vec<&str> = info.file_location.iter().map(|p| p.name).collect();
                    errors.push(format!(
                        "params.{k} is not a parameter of {}; its location takes: {}",
                        info.display_name,
                        takes.join(", ")
                    ));
                    continue;
                };
                match v.as_str() {
                    Some(s) if !s.is_empty() => {
                        if let Some(p) = spec.pattern.filter(|p| !p.matches(s)) {
                            errors.push(format!("params.{k}: {}", p.describe()));
                        }
                    }
                    _ => errors.push(format!("params.{k} must be a non-empty string")),
                }
            }
        }
    }
    for p in info.file_location.iter().filter(|p| p.required) {
        if !params.contains_key(p.name) {
            errors.push(format!(
                "params.{} is required by {}",
                p.name, info.display_name
            ));
        }
    }
    if !params.contains_key("compression") {
        errors.push(format!(
            "params.compression is required; one of: {}",
            compressions.join(", ")
        ));
    }
    match (
        params.contains_key("fileType"),
        params.contains_key("datasetFileType"),
    ) {
        (true, true) => errors.push(
            "params: send fileType (audience exports) or datasetFileType (dataset exports), not both"
                .into(),
        ),
        (false, false) => errors.push(
            "params.fileType (audience exports) or params.datasetFileType (dataset exports) is required"
                .into(),
        ),
        _ => {}
    }
    errors
}

/// Checks a target connection's `params` against the platform's location modes.
fn check_target_params(platform: Platform, params: Option<&Value>) -> Vec<String> {
    let Some(params) = params.and_then(Value::as_object) else {
        return vec!["`params` is required and must be an object".into()];
    };
    if platform.info().card == Card::Current {
        return check_current_target_params(platform, params);
    }
    let modes: Vec<&str> = platform
        .info()
        .location_modes
        .iter()
        .map(|m| m.as_str())
        .collect();
    let mode = match params.get("mode").and_then(Value::as_str) {
        Some(m) => match specs::location_mode(platform, m) {
            Some(mode) => mode,
            None => {
                return vec![format!(
                    "params.mode `{m}` is not accepted by {}; use one of: {}",
                    platform.info().display_name,
                    modes.join(", ")
                )];
            }
        },
        None => {
            return vec![format!(
                "params.mode is required; one of: {}",
                modes.join(", ")
            )];
        }
    };
    let mut errors = Vec::new();
    for (k, v) in params {
        if TARGET_EXTRA_PARAMS.contains(&k.as_str()) {
            match k.as_str() {
                "format" if v != catalog::FILE_FORMAT => errors.push(format!(
                    "params.format must be \"{}\" (legacy destinations export CSV only)",
                    catalog::FILE_FORMAT
                )),
                "includeFileManifest" | "appendSegmentId" if !v.is_boolean() => {
                    errors.push(format!("params.{k} must be a boolean"))
                }
                _ => {}
            }
            continue;
        }
        let Some(spec) = platform
            .info()
            .location_params(mode)
            .iter()
            .find(|p| p.name == k)
        else {
            errors.push(format!("params.{k} is not a parameter of mode {mode}"));
            continue;
        };
        match v.as_str() {
            Some(s) if !s.is_empty() => {
                if let Some(p) = spec.pattern.filter(|p| !p.matches(s)) {
                    errors.push(format!("params.{k}: {}", p.describe()));
                }
            }
            _ => errors.push(format!("params.{k} must be a non-empty string")),
        }
    }
    for p in platform
        .info()
        .location_params(mode)
        .iter()
        .filter(|p| p.required)
    {
        if !params.contains_key(p.name) {
            errors.push(format!("params.{} is required by mode {mode}", p.name));
        }
    }
    errors
}

/// Builds a target connection from a create body.
pub(crate) fn create_target_connection(
    body: &Value,
    id: &str,
    actor: &Actor,
    sb: &Sandbox,
) -> Result<Value, ApiError> {
    let obj = common_checks(
        body,
        &[
            "name",
            "description",
            "connectionSpec",
            "baseConnectionId",
            "data",
            "params",
        ],
    )?;
    let (spec_id, version) = spec_ref(&obj, "connectionSpec")?;
    let platform = platform_of(&spec_id).ok_or_else(|| {
        ApiError::bad_request(
            1413,
            format!("Please provide a valid spec id: {spec_id} is not a destination spec"),
        )
    })?;
    check_object_fields(&obj, &["data"])?;
    let base_id = obj
        .get("baseConnectionId")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("`baseConnectionId` is required"))?;
    let base = base_connection(sb, base_id)?;
    if base.pointer("/connectionSpec/id").and_then(Value::as_str) != Some(spec_id.as_str()) {
        return Err(invalid(format!(
            "base connection {base_id} has another connection spec than {spec_id}"
        )));
    }
    let errors = check_target_params(platform, obj.get("params"));
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    let mut m = header_fields(id, actor, sb);
    copy(&obj, &mut m, &["name", "description"]);
    m.insert("baseConnectionId".into(), json!(base_id));
    m.insert(
        "connectionSpec".into(),
        json!({"id": spec_id, "version": version}),
    );
    m.insert("state".into(), json!("enabled"));
    copy(&obj, &mut m, &["data", "params"]);
    let inherited =
        json!({"baseConnection": {"id": base_id, "connectionSpec": spec_summary(base)}});
    finish(&mut m, actor);
    m.insert("inheritedAttributes".into(), inherited);
    Ok(Value::Object(m))
}

fn one_id(obj: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match obj.get(key).and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::String(id)]) => Ok(id.clone()),
        _ => Err(invalid(format!(
            "`{key}` must be an array holding exactly one id"
        ))),
    }
}

/// Builds a flow from a create body (the legacy batch body: name, flow spec, one source and
/// one target connection, one `GeneralTransform`). Audiences and
/// attributes are added by PATCH: non-empty selectors are refused at creation.
pub(crate) fn create_flow(
    body: &Value,
    id: &str,
    actor: &Actor,
    sb: &Sandbox,
) -> Result<Value, ApiError> {
    let obj = common_checks(
        body,
        &[
            "name",
            "description",
            "flowSpec",
            "sourceConnectionIds",
            "targetConnectionIds",
            "transformations",
            "scheduleParams",
        ],
    )?;
    let (spec_id, version) = spec_ref(&obj, "flowSpec")?;
    let flow_spec = specs::flow_spec(&spec_id).ok_or_else(|| {
        ApiError::bad_request(1413, format!("Please provide a valid spec id ({spec_id})"))
    })?;
    let source_id = one_id(&obj, "sourceConnectionIds")?;
    let target_id = one_id(&obj, "targetConnectionIds")?;
    let source = sb
        .get(Resource::SourceConnection, &source_id)
        .ok_or_else(|| invalid(format!("source connection {source_id} does not exist")))?
        .value
        .clone();
    let target = sb
        .get(Resource::TargetConnection, &target_id)
        .ok_or_else(|| invalid(format!("target connection {target_id} does not exist")))?
        .value
        .clone();
    let target_spec = target
        .pointer("/connectionSpec/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !flow_spec.targets.contains(&target_spec) {
        return Err(invalid(format!(
            "flow spec {} ({}) does not serve connection spec {target_spec}",
            flow_spec.name, flow_spec.id
        )));
    }
    let source_spec = source
        .pointer("/connectionSpec/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !flow_spec.sources.contains(&source_spec) {
        return Err(invalid(format!(
            "flow spec {} ({}) does not take source connection spec {source_spec}",
            flow_spec.name, flow_spec.id
        )));
    }
    let dataset = datasets::is_data_lake(&source);
    if dataset {
        if flow_spec.kind != specs::FlowKind::Dataset {
            return Err(invalid(format!(
                "flow spec {} ({}) does not take a Data Lake source",
                flow_spec.name, flow_spec.id
            )));
        }
        if target.pointer("/params/datasetFileType").is_none() {
            return Err(invalid(format!(
                "target connection {target_id} of a dataset flow needs params.datasetFileType"
            )));
        }
        let mut checked = obj.clone();
        let errors = datasets::check_dataset_flow(&mut checked, actor.now_secs());
        if !errors.is_empty() {
            return Err(invalid_all(errors));
        }
        return Ok(dataset_flow(
            &checked,
            id,
            actor,
            sb,
            (&spec_id, &version),
            &source,
            &target,
        ));
    }
    if obj.contains_key("scheduleParams") {
        return Err(invalid(
            "`scheduleParams` is for dataset flows (a Data Lake source)",
        ));
    }
    let card = patch::flow_card(&json!({"flowSpec": {"id": spec_id}}));
    let mut transformations = obj
        .get("transformations")
        .cloned()
        .ok_or_else(|| invalid("`transformations` is required"))?;
    if card == Card::Current && transformations.as_array().is_some_and(Vec::is_empty) {
        // Adobe's tutorial creates V2 audience flows with `transformations: []` and then adds
        // audiences by PATCH: the emulator materialises the empty V2 transformation.
        transformations = json!([{"name": catalog::TRANSFORMATION_NAME,
                                   "params": {"segmentSelectors": {"selectors": []}}}]);
    }
    let errors =
        patch::check_transformations(&mut transformations, &Value::Null, actor.now_secs(), card);
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    for list in ["segmentSelectors", "profileSelectors"] {
        let p = format!("/0/params/{list}/selectors");
        if transformations
            .pointer(&p)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(invalid(format!(
                "transformations{p} must be empty at creation; add audiences and attributes with PATCH"
            )));
        }
    }
    if card == Card::Legacy
        && transformations
            .pointer("/0/params/profileSelectors")
            .and_then(Value::as_object)
            .is_some_and(|o| o.len() > 1)
    {
        return Err(invalid(
            "mandatoryFields and primaryFields are set with PATCH after the attributes",
        ));
    }
    let flows = sb.col(Resource::Flow).len();
    if flows >= catalog::MAX_DESTINATIONS_PER_SANDBOX {
        return Err(invalid(format!(
            "this sandbox already has {flows} destination dataflows (limit {})",
            catalog::MAX_DESTINATIONS_PER_SANDBOX
        )));
    }
    let mut src_inh = json!({"id": source_id, "connectionSpec": spec_summary(&source)});
    if let Some(b) = source.pointer("/inheritedAttributes/baseConnection") {
        src_inh["baseConnection"] = b.clone();
    }
    src_inh["typeInfo"] = json!({"type": "ProfileFragments", "id": "ups"});
    let mut tgt_inh = json!({"id": target_id, "connectionSpec": spec_summary(&target)});
    if let Some(b) = target.pointer("/inheritedAttributes/baseConnection") {
        tgt_inh["baseConnection"] = b.clone();
    }
    let mut m = header_fields(id, actor, sb);
    copy(&obj, &mut m, &["name", "description"]);
    m.insert(
        "flowSpec".into(),
        json!({"id": spec_id, "version": version}),
    );
    m.insert("state".into(), json!("enabled"));
    finish(&mut m, actor);
    m.insert("sourceConnectionIds".into(), json!([source_id]));
    m.insert("targetConnectionIds".into(), json!([target_id]));
    m.insert(
        "inheritedAttributes".into(),
        json!({"properties": {"isDestinationFlow": true},
               "sourceConnections": [src_inh], "targetConnections": [tgt_inh]}),
    );
    m.insert("transformations".into(), transformations);
    m.insert("runs".into(), json!(format!("/runs?property=flowId=={id}")));
    m.insert(
        "lastOperation".into(),
        last_operation(actor, "create", json!([])),
    );
    Ok(Value::Object(m))
}

/// Builds a checked dataset flow (Data Lake source, `transformations: []`, `scheduleParams`).
fn dataset_flow(
    obj: &Map<String, Value>,
    id: &str,
    actor: &Actor,
    sb: &Sandbox,
    (spec_id, version): (&str, &str),
    source: &Value,
    target: &Value,
) -> Value {
    let source_id = source.get("id").cloned().unwrap_or(Value::Null);
    let target_id = target.get("id").cloned().unwrap_or(Value::Null);
    let src_inh = json!({"id": source_id, "connectionSpec": spec_summary(source)});
    let mut tgt_inh = json!({"id": target_id, "connectionSpec": spec_summary(target)});
    if let Some(b) = target.pointer("/inheritedAttributes/baseConnection") {
        tgt_inh["baseConnection"] = b.clone();
    }
    let mut m = header_fields(id, actor, sb);
    copy(obj, &mut m, &["name", "description"]);
    m.insert(
        "flowSpec".into(),
        json!({"id": spec_id, "version": version}),
    );
    m.insert("state".into(), json!("enabled"));
    finish(&mut m, actor);
    m.insert("sourceConnectionIds".into(), json!([source_id]));
    m.insert("targetConnectionIds".into(), json!([target_id]));
    m.insert(
        "inheritedAttributes".into(),
        json!({"properties": {"isDestinationFlow": true},
               "sourceConnections": [src_inh], "targetConnections": [tgt_inh]}),
    );
    m.insert("transformations".into(), json!([]));
    copy(obj, &mut m, &["scheduleParams"]);
    m.insert("runs".into(), json!(format!("/runs?property=flowId=={id}")));
    m.insert(
        "lastOperation".into(),
        last_operation(actor, "create", json!([])),
    );
    Value::Object(m)
}

/// The `lastOperation` block.
pub(crate) fn last_operation(actor: &Actor, operation: &str, ops: Value) -> Value {
    json!({"started": actor.now_ms, "updated": actor.now_ms, "percentCompleted": 100,
           "status": {"value": "completed", "properties": null, "errors": []},
           "ops": ops, "operation": operation})
}

/// Fields of a connection, besides `patch::SERVER_FIELDS`, that cannot change after creation.
const CONN_READ_ONLY: &[&str] = &[
    "connectionSpec",
    "baseConnectionId",
    "typeInfo",
    "inheritedAttributes",
];

/// PATCH of a connection, source connection or target connection: RFC 6902 on the stored
/// entity, then the create rules on the result. Returns the new entity (metadata untouched).
pub(crate) fn patch_connection(
    r: Resource,
    stored: &Value,
    ops: &Value,
    actor: &Actor,
) -> Result<Value, PatchRejection> {
    let parsed = patch::parse_ops(ops)?;
    let mut new = patch::apply_ops(stored, &parsed)?;
    let writable: &[&str] = match r {
        Resource::Connection => &["name", "description", "auth", "encryption"],
        _ => &["name", "description", "data", "params"],
    };
    patch::check_fields(stored, &new, CONN_READ_ONLY, writable)?;
    let mut errors = check_name_description(&new);
    let spec_id = stored
        .pointer("/connectionSpec/id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(e) = new
        .get("encryption")
        .filter(|e| Some(*e) != stored.get("encryption"))
    {
        match platform_of(spec_id) {
            Some(p) => errors.extend(check_encryption(p, e).err().unwrap_or_default()),
            None => errors.push("a Profile store base connection takes no encryption".into()),
        }
    }
    match r {
        Resource::Connection => match (platform_of(spec_id), new.get("auth")) {
            (None, Some(_)) => {
                errors.push("a Profile store base connection takes no `auth`".into())
            }
            (None, None) => {}
            (Some(p), None) if p.info().auth_methods.is_empty() => {}
            (Some(_), None) => errors.push("`auth` is required".into()),
            (Some(p), Some(_)) if p.info().auth_methods.is_empty() => errors.push(format!(
                "{} takes no `auth` (its connection spec has no auth spec)",
                p.info().display_name
            )),
            (Some(p), Some(auth)) => {
                if Some(auth) != stored.get("auth") {
                    match check_auth(p, auth, &today(actor)) {
                        Ok(a) => new["auth"] = a,
                        Err(e) => errors.extend(e),
                    }
                }
            }
        },
        Resource::TargetConnection => {
            if let Some(p) = platform_of(spec_id) {
                errors.extend(check_target_params(p, new.get("params")));
            }
            if new.get("data").is_some_and(|d| !d.is_object()) {
                errors.push("`data` must be an object".into());
            }
        }
        _ if datasets::is_data_lake(stored) && new.get("params") != stored.get("params") => {
            errors.push(
                "the datasets of a Data Lake source connection cannot be changed after creation; create a new source connection".into(),
            );
        }
        _ => {
            for k in ["data", "params"] {
                if new.get(k).is_some_and(|d| !d.is_object()) {
                    errors.push(format!("`{k}` must be an object"));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(new)
    } else {
        Err(PatchRejection::Rules(errors))
    }
}

/// Why an entity cannot be deleted, if it cannot.
pub(crate) fn delete_blocker(sb: &Sandbox, r: Resource, id: &str) -> Option<ApiError> {
    let flows = sb.col(Resource::Flow);
    let users: Vec<&str> = match r {
        Resource::Flow => return None,
        Resource::Connection => flows
            .values()
            .filter(|f| {
                ["sourceConnections", "targetConnections"].iter().any(|k| {
                    f.value
                        .pointer(&format!("/inheritedAttributes/{k}"))
                        .and_then(Value::as_array)
                        .is_some_and(|a| {
                            a.iter().any(|c| {
                                c.pointer("/baseConnection/id").and_then(Value::as_str) == Some(id)
                            })
                        })
                })
            })
            .filter_map(|f| f.value.get("id").and_then(Value::as_str))
            .collect(),
        Resource::SourceConnection | Resource::TargetConnection => {
            let key = if r == Resource::SourceConnection {
                "sourceConnectionIds"
            } else {
                "targetConnectionIds"
            };
            flows
                .values()
                .filter(|f| {
                    f.value
                        .get(key)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|x| x == id))
                })
                .filter_map(|f| f.value.get("id").and_then(Value::as_str))
                .collect()
        }
    };
    if users.is_empty() {
        return None;
    }
    let mut users = users;
    users.sort_unstable();
    Some(if r == Resource::Connection {
        ApiError::bad_request(
            1418,
            format!(
                "The connection {id} is used by one or more flows ({}); delete the flows first",
                users.join(", ")
            ),
        )
    } else {
        ApiError::bad_request(
            1447,
            format!(
                "Found active flows containing id {id} ({}): {}",
                col_name(r),
                users.join(", ")
            ),
        )
    })
}
