//! Plans: the change between the desired model and live state, as the JSON document
//! (docs/plan-format.md) that a reviewer reads and `apply` executes.

pub mod adopt;
mod build;
pub(crate) mod dataset;
pub(crate) mod desired;
pub mod diff;
pub mod digest;
mod document;
pub mod fingerprint;
pub(crate) mod mapping;
pub mod outside;

pub use build::{
    build, build_plan, dataset_update_for, location_words, plan_destination,
    take_over_former_names, update_for, update_of,
};
#[doc(hidden)]
pub use fuzzing::{activation_patch, flow_body};

/// The desired flow's create requests, for the fuzz targets (`fuzz/`) to build live flows the
/// way `apply` creates them (`crate::fuzzing`).
mod fuzzing {
    use crate::model::DesiredDestination;
    use crate::wire::PatchOp;
    use serde_json::Value;

    /// The `POST /flows` body of `d`: no audience and no attribute (they follow in
    /// [`activation_patch`]).
    pub fn flow_body(
        d: &DesiredDestination,
        flow_spec_id: &str,
        source_connection_id: &str,
        target_connection_id: &str,
    ) -> Value {
        super::desired::flow_body(d, flow_spec_id, source_connection_id, target_connection_id)
    }

    /// The patch that adds `d`'s audiences and profile attributes to its new flow.
    pub fn activation_patch(d: &DesiredDestination) -> Vec<PatchOp> {
        super::desired::activation_patch(d)
    }
}
pub use document::{
    Change, ChangeError, Create, Delete, FlowToggle, IdRef, ShapeError, Update, describe,
    parse_ref, resource_word,
};

use crate::catalog::Platform;
use crate::wire::Resource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plan file's format version.
pub const FORMAT_VERSION: u32 = 1;

/// Where a plan was computed against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTarget {
    /// Platform base URL (or emulator address).
    pub endpoint: String,
    /// Sandbox name.
    pub sandbox: String,
}

/// Change counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// `create` changes.
    pub create: usize,
    /// `update`, `enable` and `disable` changes.
    pub update: usize,
    /// `delete` changes.
    pub delete: usize,
    /// Managed flows with nothing to do.
    pub unchanged: usize,
    /// `adopt` changes (absent when none, so plans without adoption read and write as before).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adopt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `POST` a new entity.
    Create,
    /// `PATCH` an entity with `If-Match`.
    Update,
    /// `DELETE` an entity.
    Delete,
    /// `POST /flows/{id}/action?op=enable`.
    Enable,
    /// `POST /flows/{id}/action?op=disable`.
    Disable,
    /// `PATCH` an existing unmanaged entity with `If-Match`, writing the ownership marker into
    /// its description (and any update it needs in the same patch): `destctl import`'s
    /// objects taken over.
    Adopt,
}

impl Action {
    /// Its name in plan files and messages (`update`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Adopt => "adopt",
        }
    }
}

/// A managed flow that is not in the manifests and that the plan leaves in place (no `--prune`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftInPlace {
    /// The marker's name.
    pub name: String,
    /// The flow id.
    pub id: String,
}

impl LeftInPlace {
    /// `name` with the id of the first object of `entities` that exists (the flow first).
    fn first_of<const N: usize>(
        name: &str,
        entities: [&Option<std::sync::Arc<crate::live::LiveEntity>>; N],
    ) -> LeftInPlace {
        LeftInPlace {
            name: name.to_owned(),
            id: entities
                .into_iter()
                .flatten()
                .next()
                .map(|e| e.id.0.clone())
                .unwrap_or_default(),
        }
    }
}

/// What a plan does with a [`Duplicate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateDisposition {
    /// Deleted by this plan (`--prune`).
    Delete,
    /// Kept: no `--prune`.
    LeftInPlace,
    /// Kept although `--prune` was given: an object that stays uses it.
    InUse,
}

/// A managed object with the same marker name and role as the one the plan manages (the
/// oldest): never expected, e.g. a copy made by hand. Reported; deleted only with `--prune`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duplicate {
    /// The marker's name.
    pub name: String,
    /// Its collection.
    pub resource: Resource,
    /// Its id.
    pub id: String,
    /// The id of the object of the same role that the plan manages instead, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// What the plan does with it.
    pub disposition: DuplicateDisposition,
}

/// A whole plan (docs/plan-format.md). Reading one refuses unknown fields at every level, a
/// change without the shape of its action, and any `format_version` but [`FORMAT_VERSION`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`].
    #[serde(deserialize_with = "document::read_version")]
    pub format_version: u32,
    /// Where it was computed.
    pub target: PlanTarget,
    /// `sha256:HEX` of `target` and `changes` ([`digest`]); `apply --plan` refuses a file
    /// without one or whose changes no longer match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Counts of `changes`.
    pub summary: Summary,
    /// The steps, in execution order.
    #[serde(deserialize_with = "document::read_changes")]
    pub changes: Vec<Change>,
    /// Managed flows no longer in the manifests, kept because `--prune` was not given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_in_place: Vec<LeftInPlace>,
    /// Managed objects duplicating another one's marker name and role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<Duplicate>,
    /// Differences made outside destctl since the last apply (information: `changes` already
    /// revert them as the manifests say). Absent in plans without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_outside: Vec<outside::OutOfBand>,
}

/// What `build_plan` needs besides desired and live state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Where live state was read (recorded in the plan).
    pub target: PlanTarget,
    /// Delete managed objects whose Destination is no longer in the manifests.
    pub prune: bool,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A flow spec named in the catalog was not found in `/flowSpecs`.
    #[error(
        "Destination `{destination}`: the flow spec `{spec_name}` was not found in the sandbox's /flowSpecs; the flow cannot be created"
    )]
    FlowSpecNotFound {
        /// The Destination's name.
        destination: String,
        /// The flow spec name looked up.
        spec_name: String,
    },
    /// The manifest's platform differs from the live objects' connection spec, which the API
    /// cannot change.
    #[error(
        "Destination `{destination}`: its {resource} {id} uses the connection spec of {live}, but the manifest says platform {desired}; the Flow Service cannot change a connection's spec. Give the Destination a new metadata.name (and apply with --prune to delete the old one), or delete the old objects first"
    )]
    PlatformChanged {
        /// The Destination's name.
        destination: String,
        /// The live object's collection.
        resource: String,
        /// The live object's id.
        id: String,
        /// What the live object is (platform name or spec id).
        live: String,
        /// The manifest's platform.
        desired: Platform,
    },
    /// The manifest's auth method differs from the live account's `auth.specName`, which no
    /// documented patch path changes (only `/auth/params` is patchable on a connection).
    #[error(
        "Destination `{destination}`: its account (connection {id}) uses the auth method `{live}`, but the manifest says `{desired}`; the Flow Service patches only a connection's /auth/params, not its auth method. Give the Destination a new metadata.name (and apply with --prune to delete the old one), or delete the old objects first"
    )]
    AuthMethodChanged {
        /// The Destination's name.
        destination: String,
        /// The live account's id.
        id: String,
        /// The live `auth.specName`.
        live: String,
        /// The manifest's auth method (its spec name).
        desired: String,
    },
    /// `spec.adopt.flowId` names a flow that is not a live destination flow.
    #[error(
        "Destination `{destination}`: spec.adopt.flowId {id} is not a destination flow of this sandbox; remove spec.adopt to create new objects instead"
    )]
    AdoptFlowNotFound {
        /// The Destination's name.
        destination: String,
        /// The flow id.
        id: String,
    },
    /// Two Destinations adopt the same flow.
    #[error(
        "Destinations `{first}` and `{second}` both adopt flow {id} (spec.adopt.flowId); keep one"
    )]
    AdoptedTwice {
        /// The first Destination.
        first: String,
        /// The second.
        second: String,
        /// The flow id.
        id: String,
    },
    /// `spec.adopt.flowId` names a flow another Destination manages.
    #[error(
        "Destination `{destination}`: flow {id} is already managed by Destination `{owner}`; it cannot be adopted twice"
    )]
    AdoptFlowManaged {
        /// The Destination's name.
        destination: String,
        /// The flow id.
        id: String,
        /// The Destination whose marker it carries.
        owner: String,
    },
    /// A DatasetExport's platform has no dataset flow spec (validation refuses it; a plan
    /// built from another desired model may still meet it).
    #[error("DatasetExport `{export}`: {platform} has no dataset flow spec")]
    NoDatasetFlowSpec {
        /// The DatasetExport's name.
        export: String,
        /// The platform of its Destination.
        platform: Platform,
    },
    /// A DatasetExport's Destination has no account live and the plan creates none (its flow
    /// exists without a managed base connection, e.g. imported).
    #[error(
        "DatasetExport `{export}`: Destination `{destination}` has no managed account (base connection) to export to; apply the Destination first"
    )]
    DatasetExportNoAccount {
        /// The DatasetExport's name.
        export: String,
        /// Its Destination's name.
        destination: String,
    },
    /// A managed flow lacks the legacy transformation destctl patches.
    #[error(
        "flow {id} has no `{missing}`: it is not a legacy batch destination flow that destctl can patch"
    )]
    UnexpectedFlowShape {
        /// The flow id.
        id: String,
        /// The JSON Pointer that is missing.
        missing: String,
    },
}

/// What the plan does to one Destination, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DestinationStatus {
    /// Its flow is created.
    Create,
    /// Something of it is updated, enabled or disabled.
    Update,
    /// Nothing to do.
    Unchanged,
    /// Its objects are deleted (`--prune`).
    Delete,
    /// Not in the manifests, kept (no `--prune`).
    LeftInPlace,
    /// Objects made outside destctl are adopted (`spec.adopt`).
    Adopt,
}

impl DestinationStatus {
    /// The word shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationStatus::Create => "create",
            DestinationStatus::Update => "update",
            DestinationStatus::Unchanged => "no changes",
            DestinationStatus::Delete => "delete",
            DestinationStatus::LeftInPlace => {
                "left in place (not in the manifests; --prune deletes it)"
            }
            DestinationStatus::Adopt => "adopt (objects made outside destctl taken over)",
        }
    }
}

/// What a plan does to one Destination, in words and views, for the renderers. Not part of the
/// plan file.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationDetail {
    /// The Destination's `metadata.name`.
    pub name: String,
    /// The flow name in AEP (desired, else live).
    pub display_name: Option<String>,
    /// The platform (desired, else from the live connection spec).
    pub platform: Option<Platform>,
    /// The account in words (auth method and its non-secret params), when known.
    pub account: Option<String>,
    /// The file location in words (mode and its params), when known.
    pub location: Option<String>,
    /// The overall action.
    pub status: DestinationStatus,
    /// Audiences added, changed or removed.
    pub audiences: Vec<diff::AudienceChange>,
    /// Attributes added or removed.
    pub attributes: Vec<(diff::Sign, String)>,
    /// Other changes, in words (rename, enable, …).
    pub notes: Vec<(diff::Sign, String)>,
    /// Changes of the account or location in words, each shown under the update of its entity.
    pub entity_notes: Vec<(Resource, diff::Sign, String)>,
    /// The managed part of the live flow ([`diff::live_flow_view`]), if it exists and the
    /// Destination is updated or deleted (the renderers show it for those only).
    pub before: Option<Value>,
    /// The managed part of the desired flow, if the Destination is created or updated.
    pub after: Option<Value>,
}

/// Per-Destination details of a plan, sorted by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanDetails {
    /// One entry per Destination in the manifests or managed live.
    pub destinations: Vec<DestinationDetail>,
}

impl Plan {
    /// Records the digest of its target and changes (done by [`build_plan`]).
    pub fn seal(&mut self) {
        self.digest = Some(digest::digest(&self.target, &self.changes));
    }

    /// Checks that its target and changes are those its digest was computed over.
    pub fn verify_digest(&self) -> Result<(), digest::DigestError> {
        digest::verify(self.digest.as_deref(), &self.target, &self.changes)
    }

    /// Whether the plan changes anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Counts the changes into a [`Summary`] (with `unchanged` as given).
    pub fn count(changes: &[Change], unchanged: usize) -> Summary {
        let mut s = Summary {
            unchanged,
            ..Summary::default()
        };
        for c in changes {
            match c {
                Change::Create(_) => s.create += 1,
                Change::Update(_) | Change::Enable(_) | Change::Disable(_) => s.update += 1,
                Change::Delete(_) => s.delete += 1,
                Change::Adopt(_) => s.adopt += 1,
            }
        }
        s
    }
}
