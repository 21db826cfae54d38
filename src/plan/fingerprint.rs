//! The fingerprint destctl writes into each marker (docs/drift.md): per field group of an
//! object, the digest of the group's canonical JSON, computed from the desired model when
//! applying and from the listed object when looking for drift. Both sides go through the same
//! managed views (`diff::live_flow_view` / `diff::desired_flow_view`), which keep managed keys
//! only: server-populated fields (`createTime`, `updatedAt`, `etag`, `lastOperation`, …) never
//! enter a group. Secrets never do either: the account group holds the auth method and the
//! literal (non-secret) params only.

use super::diff::{self, canonical};
use super::mapping;
use crate::live::LiveMappingSet;
use crate::marker::{Fingerprint, FpField, Marker};
use crate::model::{DesiredDestination, ParamValue};
use crate::wire::connection::Connection;
use crate::wire::flow::Flow;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Target connection `params` keys destctl manages; others found live are carried over.
pub(crate) const MANAGED_TARGET_KEYS: [&str; 10] = [
    "mode",
    "bucketName",
    "path",
    "container",
    "remotePath",
    "format",
    "fileType",
    "compression",
    "csvOptions",
    "includeFileManifest",
];

/// The field groups of a flow, each as its canonical value.
pub type FieldValues = BTreeMap<FpField, Value>;

fn trimmed(s: Option<&str>) -> Value {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, Value::from)
}

fn flow_fields(view: &Value, description: Value) -> FieldValues {
    let get = |k: &str| view.get(k).cloned().unwrap_or(Value::Null);
    let audiences = view
        .get("audiences")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<Value> = audiences.keys().map(|k| Value::from(k.as_str())).collect();
    BTreeMap::from([
        (FpField::Name, get("name")),
        (FpField::Description, description),
        (FpField::State, get("state")),
        (FpField::Audiences, Value::Array(ids)),
        (FpField::AudienceSettings, Value::Object(audiences)),
        (FpField::Attributes, get("attributes")),
        (FpField::Mandatory, get("mandatoryFields")),
        (FpField::Dedup, get("primaryFields")),
    ])
}

/// The flow's field groups as `d` asks for them.
/// With exported columns (today's cards) the attributes group holds the columns in order, as
/// `column ← source`, instead of the (then empty) profile selectors.
pub fn desired_flow_fields(d: &DesiredDestination) -> FieldValues {
    let mut fields = flow_fields(
        &diff::desired_flow_view_without_description(d),
        trimmed(d.description.as_deref()),
    );
    if !d.columns.is_empty() {
        fields.insert(FpField::Attributes, column_words(&mapping::wanted(d)));
    }
    fields
}

fn column_words(pairs: &[(String, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(source, column)| Value::String(format!("{column} ← {source}")))
            .collect(),
    )
}

/// [`live_flow_fields`] with the mapping set the flow points at, whose columns stand for the
/// attributes group when the flow exports through one.
pub fn live_flow_fields_with(flow: &Flow, mapping: Option<&LiveMappingSet>) -> FieldValues {
    let mut fields = live_flow_fields(flow);
    if let Some(m) = mapping.filter(|_| flow.has_profile_mapping()) {
        fields.insert(FpField::Attributes, column_words(&m.mappings));
    }
    fields
}

/// The user's text of a live description: what precedes the marker (all of it without one).
pub fn user_text(description: Option<&str>) -> Option<&str> {
    let d = description?;
    match Marker::parse(d) {
        Some((_, user)) => user,
        None => Some(d),
    }
}

/// The field groups of a live flow.
pub fn live_flow_fields(flow: &Flow) -> FieldValues {
    flow_fields(
        &diff::live_flow_view(flow),
        trimmed(user_text(flow.description.as_deref())),
    )
}

/// The fingerprint of some field groups.
pub fn fingerprint_of(fields: &FieldValues) -> Fingerprint {
    let mut fp = Fingerprint::new();
    for (f, v) in fields {
        fp.record(*f, &canonical(v));
    }
    fp
}

/// The fingerprint of the flow `d` asks for.
pub fn desired_flow_fingerprint(d: &DesiredDestination) -> Fingerprint {
    fingerprint_of(&desired_flow_fields(d))
}

/// The target params keys compared for `d`: the managed keys and the manifest's own.
fn location_keys(want: &Map<String, Value>) -> BTreeSet<String> {
    MANAGED_TARGET_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .chain(want.keys().cloned())
        .collect()
}

/// The location (target connection params, managed keys) that `d` asks for.
pub fn desired_location(d: &DesiredDestination) -> Value {
    super::desired::target_params(d)
}

/// The managed keys of a live target connection's params, compared with what `d` asks for.
pub fn live_location(d: &DesiredDestination, c: &Connection) -> Value {
    let want = desired_location(d);
    let want = want.as_object().cloned().unwrap_or_default();
    let keys = location_keys(&want);
    let mut out = Map::new();
    if let Some(params) = &c.params {
        for (k, v) in params {
            if keys.contains(k) && !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The names of the account params destctl compares: the auth method's non-secret params and
/// any param the manifest gives as a literal.
fn literal_param_names(d: &DesiredDestination) -> BTreeSet<&str> {
    let specs = match d.connection.auth {
        Some(auth) => d.platform.info().auth_params(auth),
        None => &[],
    };
    let mut names: BTreeSet<&str> = specs.iter().filter(|p| !p.secret).map(|p| p.name).collect();
    for (k, v) in &d.connection.params {
        if matches!(v, ParamValue::Literal(_)) {
            names.insert(k);
        }
    }
    // A secret param is never part of the account group, even written as a literal.
    for p in specs.iter().filter(|p| p.secret) {
        names.remove(p.name);
    }
    names
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn account_value(spec_name: Option<&str>, params: BTreeMap<&str, Option<String>>) -> Value {
    let mut p = Map::new();
    for (k, v) in params {
        p.insert(k.to_owned(), v.map_or(Value::Null, Value::String));
    }
    let mut m = Map::new();
    m.insert("auth".into(), spec_name.map_or(Value::Null, Value::from));
    m.insert("params".into(), Value::Object(p));
    Value::Object(m)
}

/// The account (auth method, non-secret params) that `d` asks for.
pub fn desired_account(d: &DesiredDestination) -> Value {
    let params = literal_param_names(d)
        .into_iter()
        .map(|k| {
            let v = match d.connection.params.get(k) {
                Some(ParamValue::Literal(s)) => Some(s.clone()),
                _ => None,
            };
            (k, v)
        })
        .collect();
    account_value(d.connection.auth.map(|a| a.spec_name()), params)
}

/// The same view of a live base connection.
pub fn live_account(d: &DesiredDestination, c: &Connection) -> Value {
    let auth = c.auth.as_ref();
    let live = auth.and_then(|a| a.params.as_ref());
    let params = literal_param_names(d)
        .into_iter()
        .map(|k| (k, live.and_then(|p| p.get(k)).and_then(scalar_string)))
        .collect();
    account_value(auth.and_then(|a| a.spec_name.as_deref()), params)
}

/// A one-field fingerprint.
pub fn single(field: FpField, v: &Value) -> Fingerprint {
    let mut fp = Fingerprint::new();
    fp.record(field, &canonical(v));
    fp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_flow_equal_to_the_desired_one_has_its_fingerprint() {
        let view = json!({"name": "N", "state": "enabled", "attributes": ["a.b"],
            "mandatoryFields": [], "primaryFields": [], "audiences": {"s1": {"filenameTemplate": "x"}}});
        let a = fingerprint_of(&flow_fields(&view, Value::Null));
        let mut other = view.clone();
        other["audiences"]["s1"]["filenameTemplate"] = json!("y");
        let b = fingerprint_of(&flow_fields(&other, Value::Null));
        let differing: Vec<FpField> = a
            .fields()
            .zip(b.fields())
            .filter(|(x, y)| x != y)
            .map(|(x, _)| x.0)
            .collect();
        assert_eq!(differing, [FpField::AudienceSettings]);
    }

    #[test]
    fn user_text_ignores_the_marker() {
        assert_eq!(user_text(Some("hi [destctl:a fp=n000001]")), Some("hi"));
        assert_eq!(user_text(Some("[destctl:a]")), None);
        assert_eq!(user_text(Some("made by hand")), Some("made by hand"));
    }
}
