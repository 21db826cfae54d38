//! The changes of a plan document and how a plan file is read. Each [`Change`] variant carries
//! exactly the fields its action needs, so `apply` executes a plan without re-checking its
//! shape. The JSON form is `format_version` 1: one object per change with `action`,
//! `resource`, `name` and the optional `id`, `etag`, `key`, `body` and `patch` (see
//! docs/plan-format.md). Reading is strict: an unknown field or a field the action does not
//! take is refused with a message naming the change (its position, action, resource and
//! Destination name) and the field. A secret reference (`${env:…}`, `${file:…}`) is accepted
//! only where the change's kind puts credentials: a connection create's `auth.params` and a
//! connection update's `/auth/params` patch, on params the catalog lists for an auth method;
//! anywhere else it is refused, so an edited plan cannot send a secret where it would be
//! stored in the clear.

use super::{Action, FORMAT_VERSION};
use crate::catalog::{AuthMethod, Platform};
use crate::wire::{EntityId, Etag, PatchOp, PatchOpKind, Resource};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The key inside `${ref:KEY}`, if `s` is written exactly as such a reference.
pub fn parse_ref(s: &str) -> Option<&str> {
    s.strip_prefix("${ref:")?
        .strip_suffix('}')
        .filter(|k| !k.is_empty())
}

/// An entity id as a change names it: a live entity, or one created earlier in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdRef {
    /// An existing entity.
    Live(EntityId),
    /// `${ref:KEY}`: the entity the plan's create of `KEY` makes.
    Ref(String),
}

impl IdRef {
    /// Reads an id as written in a plan.
    pub fn parse(s: &str) -> IdRef {
        match parse_ref(s) {
            Some(k) => IdRef::Ref(k.to_owned()),
            None => IdRef::Live(EntityId(s.to_owned())),
        }
    }

    /// The live id, unless it is a reference.
    pub fn live(&self) -> Option<&EntityId> {
        match self {
            IdRef::Live(id) => Some(id),
            IdRef::Ref(_) => None,
        }
    }
}

impl fmt::Display for IdRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRef::Live(id) => f.write_str(&id.0),
            IdRef::Ref(key) => write!(f, "${{ref:{key}}}"),
        }
    }
}

impl Serialize for IdRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IdRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IdRef, D::Error> {
        String::deserialize(d).map(|s| IdRef::parse(&s))
    }
}

/// `POST` a new entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Create {
    /// The collection.
    pub resource: Resource,
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// The plan-local name of the new entity (`campaign-s3/targetConnection`), which later
    /// changes refer to as `${ref:KEY}`.
    pub key: String,
    /// The request body (a JSON object); may hold `${ref:…}`, `${env:…}` and `${file:…}`
    /// strings.
    pub body: Value,
    /// Flows only: the activation patch (`"patch"` in the file), sent right after the create
    /// with the etag it returned.
    pub activation: Option<Vec<PatchOp>>,
}

/// `PATCH` an entity with `If-Match`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The collection.
    pub resource: Resource,
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// The entity.
    pub id: IdRef,
    /// The live etag the patch was computed from.
    pub etag: Etag,
    /// The JSON Patch, sent as is.
    pub patch: Vec<PatchOp>,
}

/// `DELETE` an entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Delete {
    /// The collection.
    pub resource: Resource,
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// The entity's role as a plan key (`campaign-s3/connection`, as creates name it), when
    /// known; shown to people, not used by `apply`.
    pub key: Option<String>,
    /// The entity.
    pub id: IdRef,
}

/// Enable or disable a flow (`POST /flows/{id}/action?op=…`); the resource is always a flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowToggle {
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// The flow.
    pub id: IdRef,
}

/// One step of a plan.
///
/// A create's body refers to an entity created earlier in the same plan as the string
/// `${ref:KEY}`, which `apply` replaces with the id the service returned. Secret values stay as
/// their `${env:…}`/`${file:…}` references until `apply` sends them.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// `POST` a new entity.
    Create(Create),
    /// `PATCH` an entity.
    Update(Update),
    /// `DELETE` an entity.
    Delete(Delete),
    /// Enable a flow.
    Enable(FlowToggle),
    /// Disable a flow.
    Disable(FlowToggle),
    /// Adopt an unmanaged entity: a `PATCH` with `If-Match` whose ops write the marker.
    Adopt(Update),
}

impl Change {
    /// A create without activation patch.
    pub fn create(resource: Resource, name: &str, key: String, body: Value) -> Change {
        Change::Create(Create {
            resource,
            name: name.to_owned(),
            key,
            body,
            activation: None,
        })
    }

    /// An update of `id` from `etag`.
    pub fn update(
        resource: Resource,
        name: &str,
        id: IdRef,
        etag: Etag,
        patch: Vec<PatchOp>,
    ) -> Change {
        Change::Update(Update {
            resource,
            name: name.to_owned(),
            id,
            etag,
            patch,
        })
    }

    /// The adoption of the unmanaged entity `id` at `etag`.
    pub fn adopt(
        resource: Resource,
        name: &str,
        id: IdRef,
        etag: Etag,
        patch: Vec<PatchOp>,
    ) -> Change {
        Change::Adopt(Update {
            resource,
            name: name.to_owned(),
            id,
            etag,
            patch,
        })
    }

    /// A delete of `id`.
    pub fn delete(resource: Resource, name: &str, id: IdRef) -> Change {
        Change::Delete(Delete {
            resource,
            name: name.to_owned(),
            key: None,
            id,
        })
    }

    /// A delete of `id`, whose role is named by `key` (`NAME/ROLE`).
    pub fn delete_keyed(resource: Resource, name: &str, key: String, id: IdRef) -> Change {
        Change::Delete(Delete {
            resource,
            name: name.to_owned(),
            key: Some(key),
            id,
        })
    }

    /// Enables the flow `id`.
    pub fn enable(name: &str, id: IdRef) -> Change {
        Change::Enable(FlowToggle {
            name: name.to_owned(),
            id,
        })
    }

    /// Disables the flow `id`.
    pub fn disable(name: &str, id: IdRef) -> Change {
        Change::Disable(FlowToggle {
            name: name.to_owned(),
            id,
        })
    }

    /// What the change does.
    pub fn action(&self) -> Action {
        match self {
            Change::Create(_) => Action::Create,
            Change::Update(_) => Action::Update,
            Change::Delete(_) => Action::Delete,
            Change::Enable(_) => Action::Enable,
            Change::Disable(_) => Action::Disable,
            Change::Adopt(_) => Action::Adopt,
        }
    }

    /// On which collection.
    pub fn resource(&self) -> Resource {
        match self {
            Change::Create(c) => c.resource,
            Change::Update(u) | Change::Adopt(u) => u.resource,
            Change::Delete(d) => d.resource,
            Change::Enable(_) | Change::Disable(_) => Resource::Flow,
        }
    }

    /// The Destination manifest's `metadata.name`.
    pub fn name(&self) -> &str {
        match self {
            Change::Create(c) => &c.name,
            Change::Update(u) | Change::Adopt(u) => &u.name,
            Change::Delete(d) => &d.name,
            Change::Enable(t) | Change::Disable(t) => &t.name,
        }
    }

    /// The entity changed (all but creates).
    pub fn id(&self) -> Option<&IdRef> {
        match self {
            Change::Create(_) => None,
            Change::Update(u) | Change::Adopt(u) => Some(&u.id),
            Change::Delete(d) => Some(&d.id),
            Change::Enable(t) | Change::Disable(t) => Some(&t.id),
        }
    }

    /// The etag an update was computed from.
    pub fn etag(&self) -> Option<&Etag> {
        match self {
            Change::Update(u) | Change::Adopt(u) => Some(&u.etag),
            _ => None,
        }
    }

    /// The plan-local name of what a create makes.
    pub fn key(&self) -> Option<&str> {
        match self {
            Change::Create(c) => Some(&c.key),
            Change::Delete(d) => d.key.as_deref(),
            _ => None,
        }
    }

    /// A create's request body.
    pub fn body(&self) -> Option<&Value> {
        match self {
            Change::Create(c) => Some(&c.body),
            _ => None,
        }
    }

    /// An update's patch, or a flow create's activation patch.
    pub fn patch(&self) -> Option<&[PatchOp]> {
        match self {
            Change::Create(c) => c.activation.as_deref(),
            Change::Update(u) | Change::Adopt(u) => Some(&u.patch),
            _ => None,
        }
    }

    /// `update flow of `campaign-s3``, for messages.
    pub fn describe(&self) -> String {
        describe(self.action(), self.resource(), self.name())
    }
}

/// The word for a resource in messages: its name in plan files (`targetConnection`).
pub fn resource_word(r: Resource) -> &'static str {
    match r {
        Resource::Connection => "connection",
        Resource::SourceConnection => "sourceConnection",
        Resource::TargetConnection => "targetConnection",
        Resource::Flow => "flow",
        Resource::MappingSet => "mappingSet",
    }
}

/// `ACTION RESOURCE of `NAME``, for messages.
pub fn describe(action: Action, resource: Resource, name: &str) -> String {
    format!(
        "{} {} of `{name}`",
        action.as_str(),
        resource_word(resource)
    )
}

/// The file form of a change: the field order of `format_version` 1.
#[derive(Serialize)]
struct ChangeFields<'a> {
    action: Action,
    resource: Resource,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a Etag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<&'a [PatchOp]>,
}

impl Serialize for Change {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ChangeFields {
            action: self.action(),
            resource: self.resource(),
            name: self.name(),
            id: self.id(),
            etag: self.etag(),
            key: self.key(),
            body: self.body(),
            patch: self.patch(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Change, D::Error> {
        read_change(None, Value::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// What is wrong with the shape of one change of a plan file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The change (or patch op) is not a JSON object.
    #[error("is not a JSON object")]
    NotAnObject,
    /// A field the action needs is absent.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field no change has.
    #[error("unknown field `{0}`")]
    Unknown(String),
    /// A field of another action.
    #[error("field `{field}` is not allowed in {on}")]
    NotAllowed {
        /// The field.
        field: &'static str,
        /// `a `create` change`, `a `remove` op`.
        on: String,
    },
    /// A field whose value has the wrong type or is not one of the known values.
    #[error("field `{field}`: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An update, delete or toggle of a mapping set, which destctl only creates.
    #[error("a mapping set is only ever created (the Data Prep API has no patch or delete)")]
    MappingSetCreateOnly,
    /// Enable or disable of something that is not a flow.
    #[error("only flows can be enabled or disabled")]
    NotAFlow,
    /// An activation patch on the create of something that is not a flow.
    #[error("field `patch` is allowed on a create only for a flow (its activation patch)")]
    ActivationNotAFlow,
    /// A secret reference where the change puts no credentials.
    #[error(
        "secret reference `{reference}` in field `{field}` at `{pointer}`: a saved plan may hold secret references only in a connection's auth params (a create's `body.auth.params`, an update's `/auth/params` patch) and a connection create's PGP key (`body.encryptionSpecs.params.publicKey`); re-run `destctl plan`"
    )]
    SecretRefMisplaced {
        /// `body` or `patch`.
        field: &'static str,
        /// Where inside it (a JSON Pointer; for a patch, the op's path and below).
        pointer: String,
        /// The reference as written.
        reference: String,
    },
    /// A patch operation is malformed.
    #[error("patch op #{op}: {problem}")]
    PatchOp {
        /// 1-based position in `patch`.
        op: usize,
        /// What is wrong.
        problem: Box<ShapeError>,
    },
}

/// A change of a plan file that does not have the shape of its action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ChangeError {
    /// 1-based position in `changes`, when read as part of a plan.
    pub index: Option<usize>,
    /// `update flow of `NAME``, once action, resource and name are known.
    pub what: Option<String>,
    /// What is wrong.
    pub problem: ShapeError,
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("plan change")?;
        if let Some(i) = self.index {
            write!(f, " #{i}")?;
        }
        if let Some(w) = &self.what {
            write!(f, " ({w})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

const FIELDS: [&str; 8] = [
    "action", "resource", "name", "id", "etag", "key", "body", "patch",
];
const OP_FIELDS: [&str; 3] = ["op", "path", "value"];

fn invalid(field: &'static str, e: serde_json::Error) -> ShapeError {
    ShapeError::Invalid {
        field,
        message: e.to_string(),
    }
}

fn typed<T: de::DeserializeOwned>(field: &'static str, v: Value) -> Result<T, ShapeError> {
    serde_json::from_value(v).map_err(|e| invalid(field, e))
}

/// Reads one change; `index` is its 1-based position in the plan.
fn read_change(index: Option<usize>, value: Value) -> Result<Change, ChangeError> {
    let mut what = None;
    read_fields(value, &mut what).map_err(|problem| ChangeError {
        index,
        what,
        problem,
    })
}

fn read_fields(value: Value, what: &mut Option<String>) -> Result<Change, ShapeError> {
    let Value::Object(mut m) = value else {
        return Err(ShapeError::NotAnObject);
    };
    let mut take = |f: &'static str| m.remove(f);
    let action: Action = typed(
        "action",
        take("action").ok_or(ShapeError::Missing("action"))?,
    )?;
    let resource: Resource = typed(
        "resource",
        take("resource").ok_or(ShapeError::Missing("resource"))?,
    )?;
    let name: String = typed("name", take("name").ok_or(ShapeError::Missing("name"))?)?;
    *what = Some(describe(action, resource, &name));
    if let Some(unknown) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ShapeError::Unknown(unknown.clone()));
    }
    if resource == Resource::MappingSet && action != Action::Create {
        return Err(ShapeError::MappingSetCreateOnly);
    }
    let allowed: &[&str] = match action {
        Action::Create => &["key", "body", "patch"],
        Action::Update | Action::Adopt => &["id", "etag", "patch"],
        Action::Delete => &["id", "key"],
        Action::Enable | Action::Disable => &["id"],
    };
    for field in FIELDS[3..].iter().copied() {
        if m.contains_key(field) && !allowed.contains(&field) {
            return Err(ShapeError::NotAllowed {
                field,
                on: format!(
                    "{} `{}` change",
                    if matches!(action, Action::Update | Action::Enable | Action::Adopt) {
                        "an"
                    } else {
                        "a"
                    },
                    action.as_str()
                ),
            });
        }
    }
    let mut required = |f: &'static str| m.remove(f).ok_or(ShapeError::Missing(f));
    let change = match action {
        Action::Create => {
            let key: String = typed("key", required("key")?)?;
            if key.is_empty() {
                return Err(ShapeError::Invalid {
                    field: "key",
                    message: "is empty".into(),
                });
            }
            let body = required("body")?;
            if !body.is_object() {
                return Err(ShapeError::Invalid {
                    field: "body",
                    message: "is not a JSON object".into(),
                });
            }
            let activation = match m.remove("patch") {
                None => None,
                Some(_) if resource != Resource::Flow => {
                    return Err(ShapeError::ActivationNotAFlow);
                }
                Some(p) => Some(read_patch(p)?),
            };
            Change::Create(Create {
                resource,
                name,
                key,
                body,
                activation,
            })
        }
        Action::Update | Action::Adopt => {
            let id = typed("id", required("id")?)?;
            let etag = typed("etag", required("etag")?)?;
            let patch = read_patch(required("patch")?)?;
            let u = Update {
                resource,
                name,
                id,
                etag,
                patch,
            };
            if action == Action::Adopt {
                if u.id.live().is_none() {
                    return Err(ShapeError::Invalid {
                        field: "id",
                        message: "an adopted entity exists already: a live id, not a ${ref:…}"
                            .into(),
                    });
                }
                Change::Adopt(u)
            } else {
                Change::Update(u)
            }
        }
        Action::Delete => Change::Delete(Delete {
            resource,
            name,
            id: typed("id", required("id")?)?,
            key: m.remove("key").map(|k| typed("key", k)).transpose()?,
        }),
        Action::Enable | Action::Disable => {
            if resource != Resource::Flow {
                return Err(ShapeError::NotAFlow);
            }
            let t = FlowToggle {
                name,
                id: typed("id", required("id")?)?,
            };
            if action == Action::Enable {
                Change::Enable(t)
            } else {
                Change::Disable(t)
            }
        }
    };
    check_secret_refs(&change)?;
    Ok(change)
}

/// Whether `s` would be read as a secret by `apply`.
fn is_secret_ref(s: &str) -> bool {
    s.starts_with("${env:") || s.starts_with("${file:")
}

/// Every string of `value` that is a secret reference, with its JSON Pointer below `base`.
fn secret_refs(value: &Value, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if is_secret_ref(s) => out.push((pointer, s.clone())),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                secret_refs(v, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                secret_refs(v, format!("{pointer}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Where a connection create's body holds the PGP public key reference.
const ENCRYPTION_KEY_POINTER: &str = "/encryptionSpecs/params/publicKey";

/// The auth param a pointer `/auth/params/NAME` names.
fn auth_param(pointer: &str) -> Option<&str> {
    pointer
        .strip_prefix("/auth/params/")
        .filter(|p| !p.contains('/'))
}

/// Refuses a secret reference anywhere but the credentials of a connection create or update.
fn check_secret_refs(change: &Change) -> Result<(), ShapeError> {
    let misplaced = |field, (pointer, reference): (String, String)| {
        Err(ShapeError::SecretRefMisplaced {
            field,
            pointer,
            reference,
        })
    };
    match change {
        Change::Create(c) => {
            let mut refs = Vec::new();
            secret_refs(&c.body, String::new(), &mut refs);
            let method = c.body["auth"]["specName"]
                .as_str()
                .and_then(AuthMethod::from_spec_name);
            let platform = c.body["connectionSpec"]["id"]
                .as_str()
                .and_then(Platform::by_connection_spec);
            for r in refs {
                // The auth params of the card (the current SFTP card's differ from the legacy
                // ones), and the PGP public key of a card that encrypts files.
                let allowed = c.resource == Resource::Connection
                    && (auth_param(&r.0).zip(method).is_some_and(|(p, m)| {
                        platform
                            .map_or(m.params(), |pl| pl.info().auth_params(m))
                            .iter()
                            .any(|s| s.name == p)
                    }) || (r.0 == ENCRYPTION_KEY_POINTER
                        && platform.is_some_and(|pl| pl.info().encryption)));
                if !allowed {
                    return misplaced("body", r);
                }
            }
            for op in c.activation.iter().flatten() {
                let mut refs = Vec::new();
                if let Some(v) = &op.value {
                    secret_refs(v, op.path.clone(), &mut refs);
                }
                if let Some(r) = refs.into_iter().next() {
                    return misplaced("patch", r);
                }
            }
        }
        Change::Update(u) | Change::Adopt(u) => {
            for op in &u.patch {
                let mut refs = Vec::new();
                if let Some(v) = &op.value {
                    secret_refs(v, op.path.clone(), &mut refs);
                }
                for r in refs {
                    let allowed = u.resource == Resource::Connection
                        && auth_param(&r.0)
                            .is_some_and(|p| AuthMethod::ALL.iter().any(|m| m.param(p).is_some()));
                    if !allowed {
                        return misplaced("patch", r);
                    }
                }
            }
        }
        Change::Delete(_) | Change::Enable(_) | Change::Disable(_) => {}
    }
    Ok(())
}

fn read_patch(value: Value) -> Result<Vec<PatchOp>, ShapeError> {
    let Value::Array(ops) = value else {
        return Err(ShapeError::Invalid {
            field: "patch",
            message: "is not a JSON array".into(),
        });
    };
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| {
            read_op(op).map_err(|problem| ShapeError::PatchOp {
                op: i + 1,
                problem: Box::new(problem),
            })
        })
        .collect()
}

fn read_op(value: Value) -> Result<PatchOp, ShapeError> {
    let Value::Object(m) = value else {
        return Err(ShapeError::NotAnObject);
    };
    if let Some(unknown) = m.keys().find(|k| !OP_FIELDS.contains(&k.as_str())) {
        return Err(ShapeError::Unknown(unknown.clone()));
    }
    let mut m: Map<String, Value> = m;
    let kind: PatchOpKind = typed("op", m.remove("op").ok_or(ShapeError::Missing("op"))?)?;
    let path: String = typed("path", m.remove("path").ok_or(ShapeError::Missing("path"))?)?;
    if !(path.is_empty() || path.starts_with('/')) {
        return Err(ShapeError::Invalid {
            field: "path",
            message: format!("`{path}` is not a JSON Pointer"),
        });
    }
    let value = m.remove("value");
    match (kind, &value) {
        (PatchOpKind::Add | PatchOpKind::Replace, None) => Err(ShapeError::Missing("value")),
        (PatchOpKind::Remove, Some(_)) => Err(ShapeError::NotAllowed {
            field: "value",
            on: "a `remove` op".into(),
        }),
        _ => Ok(PatchOp {
            op: kind,
            path,
            value,
        }),
    }
}

/// Reads a plan's `format_version`, refusing any other than [`FORMAT_VERSION`].
pub(super) fn read_version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v == FORMAT_VERSION {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "plan format_version {v} is not supported: this destctl reads format_version {FORMAT_VERSION}; re-run `destctl plan`"
        )))
    }
}

/// Reads a plan's `changes`, naming the position of a malformed change.
pub(super) fn read_changes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Change>, D::Error> {
    struct Changes;
    impl<'de> Visitor<'de> for Changes {
        type Value = Vec<Change>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of changes")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Change>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(v) = seq.next_element::<Value>()? {
                out.push(read_change(Some(out.len() + 1), v).map_err(de::Error::custom)?);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, PlanTarget, Summary};
    use proptest::prelude::*;
    use serde_json::json;

    /// A plan file around `changes`, with `extra` fields merged into its top level.
    fn file(changes: Value, extra: Value) -> String {
        let mut plan = json!({
            "format_version": 1,
            "target": {"endpoint": "http://127.0.0.1:1", "sandbox": "prod"},
            "summary": {"create": 0, "update": 0, "delete": 0, "unchanged": 0},
            "changes": changes,
        });
        for (k, v) in extra.as_object().expect("an object") {
            plan[k] = v.clone();
        }
        plan.to_string()
    }

    fn read(text: &str) -> Result<Plan, String> {
        serde_json::from_str::<Plan>(text).map_err(|e| e.to_string())
    }

    /// The message of reading a plan whose only change is `change`.
    fn refused(change: Value) -> String {
        read(&file(json!([change]), json!({}))).expect_err("a malformed change")
    }

    fn update() -> Value {
        json!({"action": "update", "resource": "flow", "name": "campaign-s3", "id": "f-1",
               "etag": "\"e1\"", "patch": [{"op": "replace", "path": "/name", "value": "n"}]})
    }

    fn with(mut change: Value, field: &str, value: Value) -> Value {
        change[field] = value;
        change
    }

    fn without(mut change: Value, field: &str) -> Value {
        change.as_object_mut().expect("an object").remove(field);
        change
    }

    /// A mapping set is only ever created: its create reads back, an update or delete of one
    /// is refused naming the change.
    #[test]
    fn mapping_sets_are_create_only() {
        let create = json!({"action": "create", "resource": "mappingSet", "name": "a",
                            "key": "a/mappingSet",
                            "body": {"name": "a exported columns [destctl:a]",
                                     "mappings": [{"source": "x.y", "destination": "x_y"}]}});
        let plan = read(&file(json!([create]), json!({}))).unwrap();
        assert_eq!(plan.changes[0].resource(), Resource::MappingSet);
        let update = with(update(), "resource", json!("mappingSet"));
        assert_eq!(
            refused(update),
            "plan change #1 (update mappingSet of `campaign-s3`): a mapping set is only ever created (the Data Prep API has no patch or delete) at line 1 column 296"
        );
        let delete = json!({"action": "delete", "resource": "mappingSet", "name": "a", "id": "m"});
        assert!(refused(delete).contains("only ever created"));
    }

    /// Every wrong shape is refused with the change's position, action, resource and name, and
    /// the field.
    #[test]
    fn wrong_shapes_name_the_change_and_the_field() {
        let create = json!({"action": "create", "resource": "connection", "name": "a",
                            "key": "a/connection", "body": {"name": "x"}});
        let cases = [
            (
                without(update(), "etag"),
                "plan change #1 (update flow of `campaign-s3`): missing field `etag`",
            ),
            (
                without(update(), "patch"),
                "plan change #1 (update flow of `campaign-s3`): missing field `patch`",
            ),
            (
                without(update(), "id"),
                "plan change #1 (update flow of `campaign-s3`): missing field `id`",
            ),
            (
                with(update(), "body", json!({})),
                "plan change #1 (update flow of `campaign-s3`): field `body` is not allowed in an `update` change",
            ),
            (
                with(create.clone(), "id", json!("c-1")),
                "plan change #1 (create connection of `a`): field `id` is not allowed in a `create` change",
            ),
            (
                with(create.clone(), "etag", json!("\"e\"")),
                "plan change #1 (create connection of `a`): field `etag` is not allowed in a `create` change",
            ),
            (
                without(create.clone(), "key"),
                "plan change #1 (create connection of `a`): missing field `key`",
            ),
            (
                without(create.clone(), "body"),
                "plan change #1 (create connection of `a`): missing field `body`",
            ),
            (
                with(create.clone(), "body", json!(["x"])),
                "plan change #1 (create connection of `a`): field `body`: is not a JSON object",
            ),
            (
                with(create.clone(), "patch", json!([])),
                "plan change #1 (create connection of `a`): field `patch` is allowed on a create only for a flow (its activation patch)",
            ),
            (
                json!({"action": "enable", "resource": "connection", "name": "a", "id": "c-1"}),
                "plan change #1 (enable connection of `a`): only flows can be enabled or disabled",
            ),
            (
                json!({"action": "disable", "resource": "flow", "name": "a"}),
                "plan change #1 (disable flow of `a`): missing field `id`",
            ),
            (
                json!({"action": "delete", "resource": "flow", "name": "a", "id": "f", "etag": "\"e\""}),
                "plan change #1 (delete flow of `a`): field `etag` is not allowed in a `delete` change",
            ),
            (
                json!({"resource": "flow", "name": "a", "id": "f"}),
                "plan change #1: missing field `action`",
            ),
            (
                json!({"action": "delete", "name": "a", "id": "f"}),
                "plan change #1: missing field `resource`",
            ),
            (
                json!({"action": "delete", "resource": "flow", "id": "f"}),
                "plan change #1: missing field `name`",
            ),
            (
                json!({"action": "delete", "resource": "flows", "name": "a", "id": "f"}),
                "plan change #1: field `resource`: unknown variant `flows`",
            ),
            (
                with(update(), "etag", json!(7)),
                "plan change #1 (update flow of `campaign-s3`): field `etag`: invalid type: integer `7`, expected a string",
            ),
            (json!("delete"), "plan change #1: is not a JSON object"),
            (
                with(update(), "patch", json!({})),
                "plan change #1 (update flow of `campaign-s3`): field `patch`: is not a JSON array",
            ),
            (
                with(
                    update(),
                    "patch",
                    json!([{"op": "replace", "path": "/name"}]),
                ),
                "plan change #1 (update flow of `campaign-s3`): patch op #1: missing field `value`",
            ),
            (
                with(
                    update(),
                    "patch",
                    json!([{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": "/b", "value": 1}]),
                ),
                "plan change #1 (update flow of `campaign-s3`): patch op #2: field `value` is not allowed in a `remove` op",
            ),
            (
                with(update(), "patch", json!([{"op": "move", "path": "/a"}])),
                "plan change #1 (update flow of `campaign-s3`): patch op #1: field `op`: unknown variant `move`",
            ),
            (
                with(update(), "patch", json!([{"op": "remove", "path": "a"}])),
                "plan change #1 (update flow of `campaign-s3`): patch op #1: field `path`: `a` is not a JSON Pointer",
            ),
        ];
        for (change, message) in cases {
            let got = refused(change.clone());
            assert!(
                got.starts_with(message),
                "{change}\n  got: {got}\n want: {message}"
            );
        }
    }

    /// Secret references are read only in a connection's auth params; anywhere else the plan
    /// is refused, naming the change, the field and where in it.
    #[test]
    fn secret_references_only_in_connection_auth_params() {
        let account = json!({"action": "create", "resource": "connection", "name": "a",
            "key": "a/connection", "body": {"name": "a account",
            "auth": {"specName": "Basic Authentication for sftp",
                     "params": {"host": "${env:HOST}", "password": "${file:pw}"}}}});
        let cred_update = json!({"action": "update", "resource": "connection", "name": "a",
            "id": "c-1", "etag": "\"e\"", "patch": [{"op": "replace", "path": "/auth/params",
            "value": {"password": "${env:PW}", "username": "u"}}]});
        let encrypted = json!({"action": "create", "resource": "connection", "name": "a",
            "key": "a/connection", "body": {"name": "a account",
            "connectionSpec": {"id": "4fce964d-3f37-408f-9778-e597338a21ee", "version": "1.0"},
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "${env:A}", "s3SecretKey": "${env:B}"}},
            "encryptionSpecs": {"specName": "Encryption spec",
                                "params": {"encryptionAlgo": "PGPGPG", "publicKey": "${file:k.asc}"}}}});
        let current_sftp = json!({"action": "create", "resource": "connection", "name": "a",
            "key": "a/connection", "body": {"name": "a account",
            "connectionSpec": {"id": "36965a81-b1c6-401b-99f8-22508f1e6a26", "version": "1.0"},
            "auth": {"specName": "SFTP with Password",
                     "params": {"domain": "${env:D}", "password": "${env:P}"}}}});
        for ok in [
            account.clone(),
            cred_update.clone(),
            encrypted.clone(),
            current_sftp.clone(),
        ] {
            assert!(read(&file(json!([ok.clone()]), json!({}))).is_ok(), "{ok}");
        }
        // The key only on a card that encrypts (not the Data Landing Zone, not without a spec).
        let mut dlz_key = encrypted.clone();
        dlz_key["body"]["connectionSpec"]["id"] = json!("10440537-2a7b-4583-ac39-ed38d4b848e8");
        dlz_key["body"].as_object_mut().unwrap().remove("auth");
        let mut no_spec_key = encrypted.clone();
        no_spec_key["body"]
            .as_object_mut()
            .unwrap()
            .remove("connectionSpec");
        no_spec_key["body"].as_object_mut().unwrap().remove("auth");
        for bad in [dlz_key, no_spec_key] {
            assert!(
                refused(bad.clone()).contains("at `/encryptionSpecs/params/publicKey`"),
                "{bad}"
            );
        }
        let mut in_name = account.clone();
        in_name["body"]["name"] = json!("${env:AEP_CLIENT_SECRET}");
        let mut unknown_param = account.clone();
        unknown_param["body"]["auth"]["params"]["token"] = json!("${env:AEP_CLIENT_SECRET}");
        let mut flow_body = account.clone();
        flow_body["resource"] = json!("targetConnection");
        let mut patch_name = cred_update.clone();
        patch_name["patch"] = json!([{"op": "replace", "path": "/name", "value": "${env:X}"}]);
        let mut flow_patch = cred_update.clone();
        flow_patch["resource"] = json!("flow");
        let cases = [
            (
                in_name,
                "plan change #1 (create connection of `a`): secret reference `${env:AEP_CLIENT_SECRET}` in field `body` at `/name`: a saved plan may hold secret references only in a connection's auth params",
            ),
            (
                unknown_param,
                "plan change #1 (create connection of `a`): secret reference `${env:AEP_CLIENT_SECRET}` in field `body` at `/auth/params/token`",
            ),
            (
                flow_body,
                "plan change #1 (create targetConnection of `a`): secret reference `${env:HOST}` in field `body` at `/auth/params/host`",
            ),
            (
                patch_name,
                "plan change #1 (update connection of `a`): secret reference `${env:X}` in field `patch` at `/name`",
            ),
            (
                flow_patch,
                "plan change #1 (update flow of `a`): secret reference `${env:PW}` in field `patch` at `/auth/params/password`",
            ),
        ];
        for (change, message) in cases {
            let got = refused(change.clone());
            assert!(
                got.starts_with(message),
                "{change}\n  got: {got}\n want: {message}"
            );
        }
    }

    #[test]
    fn the_position_counts_from_one() {
        let ok = update();
        let bad = without(update(), "etag");
        let msg = read(&file(json!([ok.clone(), ok, bad]), json!({}))).unwrap_err();
        assert!(
            msg.starts_with("plan change #3 (update flow of `campaign-s3`)"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let change = |c: Value| file(json!([c]), json!({}));
        let cases = [
            (
                file(json!([]), json!({"extra": 1})),
                "unknown field `extra`",
            ),
            (
                file(
                    json!([]),
                    json!({"target": {"endpoint": "e", "sandbox": "s", "region": "x"}}),
                ),
                "unknown field `region`",
            ),
            (
                file(
                    json!([]),
                    json!({"summary": {"create": 0, "update": 0, "delete": 0, "unchanged": 0, "total": 0}}),
                ),
                "unknown field `total`",
            ),
            (
                change(with(update(), "ids", json!(["f-2"]))),
                "plan change #1 (update flow of `campaign-s3`): unknown field `ids`",
            ),
            (
                change(with(
                    update(),
                    "patch",
                    json!([{"op": "replace", "path": "/name", "value": "n", "from": "/x"}]),
                )),
                "plan change #1 (update flow of `campaign-s3`): patch op #1: unknown field `from`",
            ),
            (
                file(
                    json!([]),
                    json!({"left_in_place": [{"name": "a", "id": "f", "state": "enabled"}]}),
                ),
                "unknown field `state`",
            ),
            (
                file(
                    json!([]),
                    json!({"duplicates": [{"name": "a", "resource": "flow", "id": "f", "disposition": "delete", "why": 1}]}),
                ),
                "unknown field `why`",
            ),
        ];
        for (text, message) in cases {
            let got = read(&text).unwrap_err();
            assert!(
                got.starts_with(message),
                "{text}\n  got: {got}\n want: {message}"
            );
        }
    }

    #[test]
    fn another_format_version_is_refused() {
        let msg = read(&file(json!([]), json!({"format_version": 2}))).unwrap_err();
        assert!(
            msg.starts_with(
                "plan format_version 2 is not supported: this destctl reads format_version 1; re-run `destctl plan`"
            ),
            "{msg}"
        );
        assert!(read(&file(json!([]), json!({}))).is_ok());
    }

    /// A plan file as `format_version` 1 writes it reads into the typed changes and is written
    /// back byte for byte.
    #[test]
    fn format_version_1_reads_and_writes_back_identically() {
        let text = file(
            json!([
                {"action": "create", "resource": "flow", "name": "a", "key": "a/flow",
                 "body": {"sourceConnectionIds": ["${ref:a/sourceConnection}"]},
                 "patch": [{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-", "value": {"type": "PLATFORM_SEGMENT"}}]},
                {"action": "disable", "resource": "flow", "name": "a", "id": "${ref:a/flow}"},
                update(),
                {"action": "enable", "resource": "flow", "name": "b", "id": "f-2"},
                {"action": "delete", "resource": "targetConnection", "name": "c", "id": "t-3"},
            ]),
            json!({"left_in_place": [{"name": "d", "id": "f-4"}]}),
        );
        let plan = read(&text).unwrap();
        assert_eq!(
            plan.changes[1],
            Change::disable("a", IdRef::Ref("a/flow".into()))
        );
        assert_eq!(
            plan.changes[3],
            Change::enable("b", IdRef::Live(EntityId("f-2".into())))
        );
        assert!(
            matches!(&plan.changes[0], Change::Create(c) if c.activation.as_ref().map(Vec::len) == Some(1))
        );
        assert_eq!(serde_json::to_string(&plan).unwrap(), text);
    }

    fn resource() -> impl Strategy<Value = Resource> {
        prop_oneof![
            Just(Resource::Connection),
            Just(Resource::SourceConnection),
            Just(Resource::TargetConnection),
            Just(Resource::Flow),
        ]
    }

    fn id() -> impl Strategy<Value = IdRef> {
        prop_oneof![
            "[a-z0-9-]{1,12}".prop_map(|s| IdRef::Live(EntityId(s))),
            "[a-z-]{1,8}/[a-zA-Z]{1,8}".prop_map(IdRef::Ref),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i32>().prop_map(Value::from),
            "[ -~]{0,10}".prop_map(Value::from),
            "[a-z]{1,6}".prop_map(|k| Value::from(format!("${{ref:{k}/flow}}"))),
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
        ]
    }

    fn object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-zA-Z]{1,6}", leaf(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn ops() -> impl Strategy<Value = Vec<PatchOp>> {
        let op = (0..3u8, "(/[a-z0-9-]{1,6}){1,3}", object()).prop_map(|(k, path, value)| {
            let op = [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove][k as usize];
            PatchOp {
                op,
                path,
                value: (op != PatchOpKind::Remove).then_some(value),
            }
        });
        prop::collection::vec(op, 0..4)
    }

    fn change() -> impl Strategy<Value = Change> {
        let name = "[a-z][a-z0-9-]{0,10}";
        prop_oneof![
            (
                resource(),
                name,
                "[a-z/]{1,10}",
                object(),
                prop::option::of(ops())
            )
                .prop_map(|(resource, name, key, body, activation)| Change::Create(
                    Create {
                        resource,
                        name,
                        key,
                        body,
                        activation: activation.filter(|_| resource == Resource::Flow),
                    }
                )),
            (resource(), name, id(), "\"[0-9a-f]{1,8}\"", ops()).prop_map(
                |(resource, name, id, etag, patch)| Change::Update(Update {
                    resource,
                    name,
                    id,
                    etag: Etag(etag),
                    patch,
                })
            ),
            (resource(), name, id()).prop_map(|(resource, name, id)| Change::Delete(Delete {
                resource,
                key: Some(format!("{name}/flow")),
                name,
                id
            })),
            (name, id()).prop_map(|(name, id)| Change::Enable(FlowToggle { name, id })),
            (name, id()).prop_map(|(name, id)| Change::Disable(FlowToggle { name, id })),
        ]
    }

    proptest! {
        /// Serialize → read back → the same plan, and the same text again.
        #[test]
        fn plans_round_trip(changes in prop::collection::vec(change(), 0..8), unchanged in 0..5usize) {
            let plan = Plan {
                format_version: FORMAT_VERSION,
                target: PlanTarget { endpoint: "http://127.0.0.1:9".into(), sandbox: "prod".into() },
                digest: None,
                summary: Plan::count(&changes, unchanged),
                changes,
                left_in_place: vec![],
                duplicates: vec![],
                changed_outside: vec![],
            };
            let text = serde_json::to_string_pretty(&plan).unwrap();
            let back: Plan = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &plan);
            prop_assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
            for c in &plan.changes {
                let one: Change = serde_json::from_value(serde_json::to_value(c).unwrap()).unwrap();
                prop_assert_eq!(&one, c);
            }
        }
    }

    #[test]
    fn summary_counts_follow_the_variants() {
        let id = || IdRef::Live(EntityId("x".into()));
        let changes = vec![
            Change::create(Resource::Flow, "a", "a/flow".into(), json!({})),
            Change::enable("a", id()),
            Change::disable("a", id()),
            Change::update(Resource::Flow, "a", id(), Etag("\"e\"".into()), vec![]),
            Change::delete(Resource::Connection, "b", id()),
        ];
        assert_eq!(
            Plan::count(&changes, 3),
            Summary {
                create: 1,
                update: 3,
                delete: 1,
                unchanged: 3,
                adopt: 0
            }
        );
    }
}
