//! `${ref:KEY}` references: how a create body (or a later change) names an entity created
//! earlier in the same plan, replaced at execution time by the id the service returned.

use crate::plan::IdRef;
pub(crate) use crate::plan::parse_ref;
use crate::wire::{EntityId, Etag};
use serde_json::Value;
use std::collections::HashMap;

/// Every key referenced anywhere inside `value`, in document order (duplicates kept).
pub(crate) fn refs_in(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(k) = parse_ref(s) {
                out.push(k.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// A `${ref:KEY}` whose entity has not been created (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`${{ref:{key}}}` names no entity created so far in this apply")]
pub(crate) struct UnresolvedRef {
    /// The key.
    pub key: String,
}

/// What this apply's own writes returned so far: the ids of creates, by plan key, and the
/// etags of entities it changed (a flow action gives the flow a new etag, which a following
/// update of the same flow must send).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CreatedIds {
    ids: HashMap<String, EntityId>,
    etags: HashMap<EntityId, Etag>,
}

impl CreatedIds {
    /// Records the id returned for the create of `key`.
    pub(crate) fn insert(&mut self, key: &str, id: EntityId) {
        self.ids.insert(key.to_owned(), id);
    }

    /// The id created for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&EntityId> {
        self.ids.get(key)
    }

    /// Records the etag one of this apply's writes returned for `id`.
    pub(crate) fn record_etag(&mut self, id: EntityId, etag: Etag) {
        self.etags.insert(id, etag);
    }

    /// The etag to send with an update of `id`: the one this apply's own last write returned,
    /// else the one the plan recorded.
    pub(crate) fn current_etag(&self, id: &EntityId, planned: &Etag) -> Etag {
        self.etags.get(id).unwrap_or(planned).clone()
    }

    /// Replaces every `${ref:KEY}` string inside `value` with its id.
    pub(crate) fn substitute(&self, value: &mut Value) -> Result<(), UnresolvedRef> {
        match value {
            Value::String(s) => {
                if let Some(k) = parse_ref(s) {
                    let id = self
                        .get(k)
                        .ok_or_else(|| UnresolvedRef { key: k.to_owned() })?;
                    *s = id.0.clone();
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.substitute(v)),
            Value::Object(map) => map.values_mut().try_for_each(|v| self.substitute(v)),
            _ => Ok(()),
        }
    }

    /// A change's `id`: a live id as is, or the id created for a `${ref:KEY}`.
    pub(crate) fn resolve_id(&self, id: &IdRef) -> Result<EntityId, UnresolvedRef> {
        match id {
            IdRef::Ref(k) => self
                .get(k)
                .cloned()
                .ok_or_else(|| UnresolvedRef { key: k.clone() }),
            IdRef::Live(id) => Ok(id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_only_whole_references() {
        assert_eq!(parse_ref("${ref:a/flow}"), Some("a/flow"));
        assert_eq!(parse_ref("${ref:}"), None);
        assert_eq!(parse_ref("x${ref:a}"), None);
        assert_eq!(parse_ref("${env:A}"), None);
    }

    #[test]
    fn substitutes_nested_references() {
        let mut ids = CreatedIds::default();
        ids.insert("d/sourceConnection", EntityId("s-1".into()));
        ids.insert("d/targetConnection", EntityId("t-1".into()));
        let mut body = json!({
            "name": "f",
            "sourceConnectionIds": ["${ref:d/sourceConnection}"],
            "targetConnectionIds": ["${ref:d/targetConnection}"],
            "x": {"y": "${env:KEEP}"}
        });
        assert_eq!(
            refs_in(&body),
            vec!["d/sourceConnection", "d/targetConnection"]
        );
        ids.substitute(&mut body).unwrap();
        assert_eq!(body["sourceConnectionIds"], json!(["s-1"]));
        assert_eq!(body["targetConnectionIds"], json!(["t-1"]));
        assert_eq!(body["x"]["y"], json!("${env:KEEP}"));
    }

    #[test]
    fn unknown_reference_is_an_error() {
        let ids = CreatedIds::default();
        let mut body = json!({"baseConnectionId": "${ref:d/connection}"});
        assert_eq!(
            ids.substitute(&mut body),
            Err(UnresolvedRef {
                key: "d/connection".into()
            })
        );
        assert_eq!(
            ids.resolve_id(&IdRef::parse("live-id")),
            Ok(EntityId("live-id".into()))
        );
        assert_eq!(
            ids.resolve_id(&IdRef::parse("${ref:d/flow}")),
            Err(UnresolvedRef {
                key: "d/flow".into()
            })
        );
    }
}
