//! The manifest documents as written in YAML (apiVersion `destctl/v1`), before validation.
//! Every value that a rule can reject is `Spanned`, so errors point at it. The same types
//! generate the JSON Schemas (`destctl schema`), so the schemas and the parser cannot drift.

use crate::catalog::wire_enum::wire_enum;
use crate::catalog::{
    AuthMethod, Compression, CsvOptions, ExportMode, FileType, Frequency, LocationMode, Platform,
    TriggerType,
};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::Spanned;
use std::borrow::Cow;
use std::fmt;

/// The only `apiVersion` this release reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub(crate) enum ApiVersion {
    /// `destctl/v1`.
    #[serde(rename = "destctl/v1")]
    V1,
}

wire_enum! {
    /// The manifest kinds; the string is the `kind` value.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub(crate) enum Kind {
        /// A destination account, file location and dataflow.
        Destination = "Destination",
        /// A reusable export schedule.
        Schedule = "Schedule",
        /// An audience and where it is activated.
        Audience = "Audience",
        /// Datasets exported to a Destination's location by a dataset flow.
        DatasetExport = "DatasetExport",
    }
}

/// The first look at a document: which kind it is. Other fields are read by the kind's type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Header {
    /// `apiVersion`, if present.
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: Option<Spanned<String>>,
    /// `kind`, if present.
    pub kind: Option<Spanned<String>>,
}

/// Just `metadata.name`, read leniently from a document whose structure has an error, so
/// that references to it are not reported as dangling on top of its real error.
#[derive(Debug, Deserialize)]
pub(crate) struct NameOnly {
    /// `metadata`, if it is a mapping with a `name`.
    pub metadata: NameOnlyMetadata,
}

/// `metadata` of [`NameOnly`].
#[derive(Debug, Deserialize)]
pub(crate) struct NameOnlyMetadata {
    /// The name.
    pub name: String,
}

/// `kind: Destination` (schema only; the header already chose the kind).
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum DestinationKind {
    /// The only value.
    Destination,
}

/// `kind: Schedule`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum ScheduleKind {
    /// The only value.
    Schedule,
}

/// `kind: Audience`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum AudienceKind {
    /// The only value.
    Audience,
}

/// `kind: DatasetExport`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum DatasetExportKind {
    /// The only value.
    DatasetExport,
}

/// A `DatasetExport` document: datasets exported on a schedule to a Destination's location.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "destctl DatasetExport")]
pub(crate) struct DatasetExportDoc {
    /// Always `destctl/v1`.
    #[schemars(with = "ApiVersion")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: Spanned<ApiVersion>,
    /// Always `DatasetExport`.
    #[schemars(with = "DatasetExportKind")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub kind: Spanned<DatasetExportKind>,
    /// The manifest's name, also the ownership marker of what destctl creates for it (it must
    /// differ from every Destination's name).
    pub metadata: Metadata,
    /// What to export.
    pub spec: DatasetExportSpec,
}

/// `spec` of a `DatasetExport`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DatasetExportSpec {
    /// The flow name in AEP (default: `metadata.name`).
    pub display_name: Option<String>,
    /// Optional description of the flow.
    pub description: Option<String>,
    /// A `Destination`'s `metadata.name` (a current card): its account and location are used.
    #[schemars(with = "String")]
    pub destination: Spanned<String>,
    /// The datasets to export (at least one).
    #[schemars(with = "Vec<DatasetSpec>")]
    pub datasets: Spanned<Vec<Spanned<DatasetSpec>>>,
    /// `JSON` or `PARQUET`.
    #[schemars(with = "FileType")]
    pub file_type: Spanned<FileType>,
    /// File compression (default `NONE`).
    #[schemars(with = "Option<Compression>")]
    pub compression: Option<Spanned<Compression>>,
    /// When the datasets are exported.
    #[schemars(with = "DatasetScheduleSpec")]
    pub schedule: Spanned<DatasetScheduleSpec>,
}

/// One dataset of a `DatasetExport`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DatasetSpec {
    /// The dataset id.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Its name in AEP (shown in the source connection).
    pub name: Option<String>,
}

/// `spec.schedule` of a `DatasetExport`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DatasetScheduleSpec {
    /// 1 with `timeUnit: day`; 3, 6, 9 or 12 with `hour`; 0 for a one-off full export.
    #[schemars(with = "u32")]
    pub interval: Spanned<u32>,
    /// `hour` or `day`.
    #[schemars(with = "crate::model::DatasetTimeUnit")]
    pub time_unit: Spanned<crate::model::DatasetTimeUnit>,
    /// First export, RFC 3339 (`2026-12-01T06:00:00Z`).
    #[schemars(with = "String")]
    pub start_time: Spanned<String>,
    /// Last export, RFC 3339 (default: AEP's, six months after creation).
    #[schemars(with = "Option<String>")]
    pub end_time: Option<Spanned<String>>,
    /// `FIRST_FULL_THEN_INCREMENTAL` (AEP's default) or `DAILY_FULL_EXPORT` (with interval 0).
    #[schemars(with = "Option<crate::model::DatasetExportMode>")]
    pub export_mode: Option<Spanned<crate::model::DatasetExportMode>>,
    /// Folder name pattern (`%DATASET_ID%`, `%DATETIME(YYYYMMdd_HHmmss)%`, …).
    pub folder_name_template: Option<String>,
}

/// `metadata` of every document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    /// Unique per kind: 1-63 lower-case letters, digits and `-`, not starting or ending with `-`.
    #[schemars(
        with = "String",
        regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    )]
    pub name: Spanned<String>,
}

/// `metadata` of a `Destination`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DestinationMetadata {
    /// Unique per kind: 1-63 lower-case letters, digits and `-`, not starting or ending with `-`.
    #[schemars(
        with = "String",
        regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    )]
    pub name: Spanned<String>,
    /// Names this Destination had before (a rename): its live objects marked with one of them
    /// are kept and their markers rewritten, instead of creating new ones and deleting the old.
    #[schemars(with = "Option<Vec<String>>")]
    pub former_names: Option<Vec<Spanned<String>>>,
}

/// A `Destination` document: one destination account, its file location and its dataflow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "destctl Destination")]
pub(crate) struct DestinationDoc {
    /// Always `destctl/v1`.
    #[schemars(with = "ApiVersion")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: Spanned<ApiVersion>,
    /// Always `Destination`.
    #[schemars(with = "DestinationKind")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub kind: Spanned<DestinationKind>,
    /// The manifest's name, also the ownership marker of what destctl creates for it.
    pub metadata: DestinationMetadata,
    /// What to create.
    #[schemars(with = "DestinationSpec")]
    pub spec: Spanned<DestinationSpec>,
}

/// `spec` of a `Destination`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DestinationSpec {
    /// The flow name in AEP (default: `metadata.name`).
    #[schemars(with = "Option<String>")]
    pub display_name: Option<Spanned<String>>,
    /// Optional description of the flow.
    pub description: Option<String>,
    /// The catalog platform.
    #[schemars(with = "Platform")]
    pub platform: Spanned<Platform>,
    /// The destination account (base connection); absent for a card without credentials
    /// (`data-landing-zone`).
    #[schemars(with = "Option<ConnectionSpec>")]
    pub connection: Option<Spanned<ConnectionSpec>>,
    /// Where the files land (target connection).
    #[schemars(with = "LocationSpec")]
    pub location: Spanned<LocationSpec>,
    /// Exported profile attributes: XDM paths such as `person.name.firstName`, or (current
    /// cards) `{path, column}` naming the file's column.
    #[serde(default)]
    #[schemars(with = "Vec<AttributeEntry>")]
    pub attributes: Option<Spanned<Vec<Spanned<AttributeEntry>>>>,
    /// Identities exported as columns (current cards; at most one per dataflow).
    #[serde(default)]
    #[schemars(with = "Vec<IdentityColumn>")]
    pub identities: Vec<Spanned<IdentityColumn>>,
    /// Attributes a profile must have to be exported; each one is among `attributes`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub mandatory_attributes: Vec<Spanned<String>>,
    /// Attributes that deduplicate exported rows; each one is among `attributes`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub deduplication_keys: Vec<Spanned<String>>,
    /// Identity namespaces (`ECID`, `GAID`, …) that deduplicate exported rows (current cards).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub identity_deduplication_keys: Vec<Spanned<String>>,
    /// Whether the dataflow runs (default true).
    pub enabled: Option<bool>,
    /// Live objects made outside destctl that this Destination takes over (written by
    /// `destctl import`): the next `apply` writes the ownership marker into them instead of
    /// creating new ones. Ignored once they carry the marker.
    pub adopt: Option<AdoptSpec>,
}

/// `spec.adopt`: what a Destination takes over.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AdoptSpec {
    /// The id of the live destination flow. Its source and target connections and their base
    /// connections are adopted with it, except those another flow also uses (left unmanaged).
    #[schemars(with = "String")]
    pub flow_id: Spanned<String>,
}

/// `spec.connection`: the account's auth method and params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConnectionSpec {
    /// The auth spec name the platform accepts.
    #[schemars(with = "AuthMethod")]
    pub auth: Spanned<AuthMethod>,
    /// Auth params by name; credentials only as `${env:NAME}` or `${file:PATH}` references.
    #[serde(default)]
    #[schemars(with = "ParamsSchema")]
    pub params: Option<Spanned<SpannedMap>>,
    /// Credentials are write-only: raising this pushes them again (default 1).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub credentials_version: Option<Spanned<u32>>,
}

/// `spec.location`: the target connection's mode and params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LocationSpec {
    /// `S3`, `AZURE_BLOB` or `FTP`, as a legacy platform accepts (required there); current
    /// cards are `Server-to-server`, the default.
    #[schemars(with = "Option<LocationMode>")]
    pub mode: Option<Spanned<LocationMode>>,
    /// S3 bucket (mode `S3`).
    #[schemars(with = "Option<String>")]
    pub bucket_name: Option<Spanned<String>>,
    /// Folder in the bucket or container (modes `S3` and `AZURE_BLOB`).
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Azure Blob container (mode `AZURE_BLOB`).
    #[schemars(with = "Option<String>")]
    pub container: Option<Spanned<String>>,
    /// Folder on the server (mode `FTP`).
    #[schemars(with = "Option<String>")]
    pub remote_path: Option<Spanned<String>>,
    /// Whether a manifest file is written beside each export.
    pub include_file_manifest: Option<bool>,
    /// File format (current cards; default `CSV`).
    #[schemars(with = "Option<FileType>")]
    pub file_type: Option<Spanned<FileType>>,
    /// File compression (current cards; default `NONE`).
    #[schemars(with = "Option<Compression>")]
    pub compression: Option<Spanned<Compression>>,
    /// CSV options (current cards, `fileType: CSV`).
    #[schemars(with = "Option<CsvOptions>")]
    pub csv_options: Option<Spanned<CsvOptions>>,
    /// PGP encryption of the exported files (current cards but `data-landing-zone`).
    #[schemars(with = "Option<EncryptionSpec>")]
    pub encryption: Option<Spanned<EncryptionSpec>>,
}

/// `spec.location.encryption`: the PGP public key the files are encrypted with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct EncryptionSpec {
    /// The public key, as a `${file:PATH}` reference (ASCII-armoured or base64).
    #[schemars(with = "String")]
    pub public_key: Spanned<String>,
}

impl LocationSpec {
    /// The mode params written, by API name, in a fixed order.
    pub(crate) fn params(&self) -> [(&'static str, Option<&Spanned<String>>); 4] {
        [
            ("bucketName", self.bucket_name.as_ref()),
            ("path", self.path.as_ref()),
            ("container", self.container.as_ref()),
            ("remotePath", self.remote_path.as_ref()),
        ]
    }
}

/// A `Schedule` document: a named, reusable export schedule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "destctl Schedule")]
pub(crate) struct ScheduleDoc {
    /// Always `destctl/v1`.
    #[schemars(with = "ApiVersion")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: Spanned<ApiVersion>,
    /// Always `Schedule`.
    #[schemars(with = "ScheduleKind")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub kind: Spanned<ScheduleKind>,
    /// The schedule's name, used by activations.
    pub metadata: Metadata,
    /// The schedule.
    pub spec: ScheduleSpec,
}

/// A schedule: export mode, frequency, trigger and dates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScheduleSpec {
    /// Full files every time, or a full file then increments.
    #[schemars(with = "ExportMode")]
    pub export_mode: Spanned<ExportMode>,
    /// How often; `DAILY_FULL_EXPORT` takes ONCE, DAILY, WEEKLY, MONTHLY;
    /// `FIRST_FULL_THEN_INCREMENTAL` takes DAILY, EVERY_3/6/8/12_HOURS.
    #[schemars(with = "Frequency")]
    pub frequency: Spanned<Frequency>,
    /// What starts an export; `SCHEDULED` needs `startTime`.
    #[schemars(with = "Option<TriggerType>")]
    pub trigger_type: Option<Spanned<TriggerType>>,
    /// First day of exports, `YYYY-MM-DD`.
    #[schemars(with = "String", extend("format" = "date"))]
    pub start_date: Spanned<String>,
    /// Last day of exports, `YYYY-MM-DD`, not before `startDate`; not with
    /// `DAILY_FULL_EXPORT` + `ONCE`.
    #[schemars(with = "Option<String>", extend("format" = "date"))]
    pub end_date: Option<Spanned<String>>,
    /// Hour of the export in UTC, `HH:00`.
    #[schemars(with = "Option<crate::catalog::StartTime>")]
    pub start_time: Option<Spanned<String>>,
}

/// An `Audience` document: one AEP audience and the destinations it is activated to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "destctl Audience")]
pub(crate) struct AudienceDoc {
    /// Always `destctl/v1`.
    #[schemars(with = "ApiVersion")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: Spanned<ApiVersion>,
    /// Always `Audience`.
    #[schemars(with = "AudienceKind")]
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub kind: Spanned<AudienceKind>,
    /// The manifest's name.
    pub metadata: Metadata,
    /// The audience and its activations.
    pub spec: AudienceSpec,
}

/// `spec` of an `Audience`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AudienceSpec {
    /// The AEP audience (segment definition) id, usually a UUID.
    #[schemars(with = "String")]
    pub segment_id: Spanned<String>,
    /// Name shown in AEP for the audience in the flow.
    pub display_name: Option<String>,
    /// Description shown in AEP for the audience in the flow.
    pub description: Option<String>,
    /// Where the audience is exported; one destination at most once.
    #[serde(default)]
    #[schemars(with = "Vec<Activation>")]
    pub activations: Vec<Spanned<Activation>>,
}

/// One activation of an audience to a destination.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Activation {
    /// A `Destination`'s `metadata.name`.
    #[schemars(with = "String")]
    pub destination: Spanned<String>,
    /// A `Schedule`'s `metadata.name`, or an inline schedule.
    #[schemars(with = "ScheduleRef")]
    pub schedule: Spanned<ScheduleRef>,
    /// Exported file names; must hold `%DESTINATION_NAME%` and `%SEGMENT_ID%`
    /// (default `%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%`).
    #[schemars(with = "Option<String>")]
    pub filename_template: Option<Spanned<String>>,
}

/// One `spec.attributes` item: a path, or `{path, column}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributeEntry {
    /// The XDM path.
    pub path: String,
    /// The column header, when named (current cards).
    pub column: Option<String>,
}

/// `{path, column}` as written.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AttributeColumn {
    /// The XDM path, e.g. `personalEmail.address`.
    path: String,
    /// The column header in the exported files (no `.`), e.g. `email`.
    column: String,
}

impl<'de> Deserialize<'de> for AttributeEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttributeEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute path or {path, column}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AttributeEntry, E> {
                Ok(AttributeEntry {
                    path: v.to_owned(),
                    column: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AttributeEntry, A::Error> {
                AttributeColumn::deserialize(de::value::MapAccessDeserializer::new(map)).map(|c| {
                    AttributeEntry {
                        path: c.path,
                        column: Some(c.column),
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for AttributeEntry {
    fn schema_name() -> Cow<'static, str> {
        "AttributeEntry".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let named = generator.subschema_for::<AttributeColumn>();
        json_schema!({
            "description": "An exported attribute: its XDM path, or {path, column} naming its column (current cards)",
            "anyOf": [
                {"type": "string", "description": "An XDM path; its column is the path with '.' written '_'"},
                named
            ]
        })
    }
}

/// One `spec.identities` item: an identity namespace exported as a column.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityColumn {
    /// The identity namespace code, e.g. `Email`, `ECID`.
    pub namespace: String,
    /// The column header in the exported files (no `.`); default: the namespace.
    #[serde(default)]
    pub column: Option<String>,
}

/// The file name template used when an activation gives none.
pub(crate) const DEFAULT_FILENAME_TEMPLATE: &str =
    "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%";

/// An activation's schedule: a `Schedule` name or an inline schedule.
#[derive(Debug)]
pub(crate) enum ScheduleRef {
    /// A `Schedule`'s `metadata.name`.
    Name(String),
    /// A schedule written in place.
    Inline(Box<ScheduleSpec>),
}

impl<'de> Deserialize<'de> for ScheduleRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ScheduleRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Schedule name or an inline schedule map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScheduleRef, E> {
                Ok(ScheduleRef::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ScheduleRef, A::Error> {
                ScheduleSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| ScheduleRef::Inline(Box::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ScheduleRef {
    fn schema_name() -> Cow<'static, str> {
        "ScheduleRef".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let inline = generator.subschema_for::<ScheduleSpec>();
        json_schema!({
            "description": "A Schedule's metadata.name, or an inline schedule",
            "anyOf": [
                {"type": "string", "description": "A Schedule's metadata.name"},
                inline
            ]
        })
    }
}

/// A YAML mapping of string keys to scalars, each key and value with its location, in the
/// order written.
#[derive(Debug, Default)]
pub(crate) struct SpannedMap(pub Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for SpannedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpannedMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of param names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpannedMap, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.push((key, map.next_value()?));
                }
                Ok(SpannedMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Schema of `connection.params`.
struct ParamsSchema;

impl JsonSchema for ParamsSchema {
    fn schema_name() -> Cow<'static, str> {
        "ConnectionParams".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Auth params by name. Secret params only as ${env:NAME} or ${file:PATH}.",
            "type": "object",
            "additionalProperties": {"type": ["string", "integer"]}
        })
    }
}

/// Schema of any manifest document (the combined schema).
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(title = "destctl manifest")]
#[allow(dead_code)]
pub(crate) enum AnyDoc {
    /// A `Destination`.
    Destination(Box<DestinationDoc>),
    /// A `Schedule`.
    Schedule(Box<ScheduleDoc>),
    /// An `Audience`.
    Audience(Box<AudienceDoc>),
    /// A `DatasetExport`.
    DatasetExport(Box<DatasetExportDoc>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::wire_enum::assert_serde_matches;

    #[test]
    fn kinds_read_and_write_their_one_string() {
        assert_serde_matches(&Kind::ALL, |k| k.as_str(), Kind::parse);
        assert_eq!(Kind::parse("Audience"), Some(Kind::Audience));
        assert_eq!(Kind::parse("audience"), None);
    }
}
