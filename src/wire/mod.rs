//! The Flow Service's vocabulary, shared by every layer above it and by the emulator: entity
//! ids and etags, the four collections, the RFC 6902 operations destctl sends, and the typed
//! objects it lists ([`flow`], [`connection`]). Nothing here
//! knows about manifests, plans or HTTP.

pub mod connection;
pub mod flow;
pub mod json;
pub mod run;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entity id assigned by the Flow Service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(pub String);

/// An ETag exactly as the API returns it, quotes included (`"\"7400…\""`), sent verbatim in
/// `If-Match`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Etag(pub String);

/// A Flow Service collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    /// `/connections` (base connections).
    Connection,
    /// `/sourceConnections`.
    SourceConnection,
    /// `/targetConnections`.
    TargetConnection,
    /// `/flows`.
    Flow,
}

impl Resource {
    /// The collection path under the Flow Service base, e.g. `/flows`.
    pub fn collection(self) -> &'static str {
        match self {
            Resource::Connection => "/connections",
            Resource::SourceConnection => "/sourceConnections",
            Resource::TargetConnection => "/targetConnections",
            Resource::Flow => "/flows",
        }
    }
}

/// One RFC 6902 operation of a plan (destctl emits only `add`, `replace` and `remove`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchOp {
    /// `add`, `replace` or `remove`.
    pub op: PatchOpKind,
    /// JSON Pointer.
    pub path: String,
    /// The value (absent for `remove`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The operations destctl emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchOpKind {
    /// RFC 6902 `add`.
    Add,
    /// RFC 6902 `replace`.
    Replace,
    /// RFC 6902 `remove`.
    Remove,
}
