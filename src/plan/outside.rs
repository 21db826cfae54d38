//! The vocabulary of differences made outside destctl: what `destctl drift` reports per field,
//! and what a plan lists apart from its changes (`changed_outside`, docs/plan-format.md). The
//! drift module computes them; the plan document only carries them.

use crate::wire::Resource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who made a difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A change made outside destctl.
    Outside,
    /// A change of the manifests not applied yet.
    Pending,
    /// Changed on both sides since the last apply.
    Both,
    /// Cannot be told (no fingerprint).
    Unknown,
}

impl Origin {
    /// Its name in JSON (`outside`).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Outside => "outside",
            Origin::Pending => "pending",
            Origin::Both => "both",
            Origin::Unknown => "unknown",
        }
    }
}

/// How much a difference matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Cosmetic: a name or description.
    Low,
    /// What is exported or when: schedules, templates, attributes, keys, an extra audience.
    Medium,
    /// Exports stop or go elsewhere: a disabled flow, a removed audience, another location or
    /// account, a deleted object.
    High,
}

impl Severity {
    /// Its name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// What differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftField {
    /// A whole object (deleted, not created yet, or no longer in the manifests).
    Object,
    /// The marker's Destination name (a rename with `metadata.formerNames`).
    Marker,
    /// The flow name.
    Name,
    /// The flow description's text.
    Description,
    /// Enabled or disabled.
    State,
    /// An audience exported or not.
    Audience,
    /// An audience's schedule.
    Schedule,
    /// An audience's filename template.
    FilenameTemplate,
    /// An audience's export mode.
    ExportMode,
    /// An audience's name or description.
    AudienceLabel,
    /// An exported attribute.
    Attribute,
    /// The mandatory attributes.
    MandatoryAttributes,
    /// The deduplication keys.
    DeduplicationKeys,
    /// The file location (target connection params).
    Location,
    /// The account's auth method or non-secret params.
    Account,
    /// The credentials version (credentials are write-only: a raise pushes them again).
    Credentials,
}

impl DriftField {
    /// Its name in JSON and reports (`filename_template`).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftField::Object => "object",
            DriftField::Marker => "marker",
            DriftField::Name => "name",
            DriftField::Description => "description",
            DriftField::State => "state",
            DriftField::Audience => "audience",
            DriftField::Schedule => "schedule",
            DriftField::FilenameTemplate => "filename_template",
            DriftField::ExportMode => "export_mode",
            DriftField::AudienceLabel => "audience_label",
            DriftField::Attribute => "attribute",
            DriftField::MandatoryAttributes => "mandatory_attributes",
            DriftField::DeduplicationKeys => "deduplication_keys",
            DriftField::Location => "location",
            DriftField::Account => "account",
            DriftField::Credentials => "credentials",
        }
    }
}

/// The last change of a live object, as the Flow Service records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangedBy {
    /// `updatedBy`.
    #[serde(default)]
    pub by: Option<String>,
    /// `updatedClient`.
    #[serde(default)]
    pub client: Option<String>,
    /// `updatedAt`, epoch milliseconds.
    #[serde(default)]
    pub at: Option<i64>,
}

/// One field-level difference between live and the manifests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// The object it is on.
    pub resource: Resource,
    /// That object's id (absent for an object that does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What differs.
    pub field: DriftField,
    /// The audience's segment id, for audience fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The live value (`null`: absent).
    pub live: Value,
    /// The manifests' value (`null`: absent).
    pub manifests: Value,
    /// Who moved.
    pub origin: Origin,
    /// How much it matters.
    pub severity: Severity,
    /// The object's last change (for differences not pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<ChangedBy>,
}

/// The differences of one Destination made outside destctl (origin outside, both or unknown),
/// as a plan lists them: `apply` reverts them only as the manifests say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutOfBand {
    /// The Destination's `metadata.name`.
    pub name: String,
    /// Its differences.
    pub differences: Vec<Difference>,
}
