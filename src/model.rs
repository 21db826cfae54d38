//! The desired model: what validated manifests ask for, one [`DesiredDestination`] per
//! `Destination` manifest with its audiences resolved. `plan` diffs it against live state.
//! Nothing here knows YAML; `manifest` builds it.

use crate::catalog::{
    AuthMethod, Compression, CsvOptions, ExportMode, FileType, LocationMode, Platform, Schedule,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Where a value was written in a manifest (1-based line and column).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceLocation {
    /// The manifest file, as given on the command line or found in a directory.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A value that is not a `metadata.name`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a valid name: use 1-63 lower-case letters, digits and '-', not starting or ending with '-'"
)]
pub struct InvalidName(pub String);

/// A `metadata.name`: lower-case letters, digits and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceName(String);

impl ResourceName {
    /// Checks the name's shape.
    pub fn parse(s: &str) -> Result<ResourceName, InvalidName> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(ResourceName(s.to_owned()))
        } else {
            Err(InvalidName(s.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value that is not an audience id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an audience id: use letters, digits, '-', '_' and '.' (usually a UUID)")]
pub struct InvalidSegmentId(pub String);

/// An AEP audience (segment definition) id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentId(String);

impl SegmentId {
    /// Checks the id: non-empty, no whitespace, no `/` or `%` (it is used in paths and
    /// filenames).
    pub fn parse(s: &str) -> Result<SegmentId, InvalidSegmentId> {
        if !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            Ok(SegmentId(s.to_owned()))
        } else {
            Err(InvalidSegmentId(s.to_owned()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value that is not an attribute path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an attribute path: write dot-separated XDM field names, e.g. person.name.firstName"
)]
pub struct InvalidAttributePath(pub String);

/// A profile attribute path such as `person.name.firstName`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttributePath(String);

impl AttributePath {
    /// Checks the path: dot-separated identifiers (`[A-Za-z_][A-Za-z0-9_]*`).
    pub fn parse(s: &str) -> Result<AttributePath, InvalidAttributePath> {
        let ok = !s.is_empty()
            && s.split('.').all(|seg| {
                let mut chars = seg.chars();
                matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if ok {
            Ok(AttributePath(s.to_owned()))
        } else {
            Err(InvalidAttributePath(s.to_owned()))
        }
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value written as `${…}` that is not a well-formed secret reference; each variant holds
/// the value as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    /// `${env:…}` with a name that is not an environment variable name.
    #[error(
        "`{0}`: an environment variable name is letters, digits and '_', not starting with a digit"
    )]
    EnvName(String),
    /// `${file:}`.
    #[error("`{0}`: the file path is empty")]
    EmptyPath(String),
    /// `${…}` of another kind.
    #[error("`{0}` is not a secret reference; write ${{env:NAME}} or ${{file:PATH}}")]
    Unknown(String),
}

/// Where a secret value comes from; plans and logs only ever show the reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretRef {
    /// `${env:NAME}`: an environment variable.
    Env(String),
    /// `${file:PATH}`: a file's contents (trailing newline trimmed); relative paths are taken
    /// from the current directory.
    File(String),
}

impl SecretRef {
    /// Parses `${env:NAME}` or `${file:PATH}`; `None` if `s` is not written as a reference at all.
    pub fn parse(s: &str) -> Option<Result<SecretRef, SecretRefError>> {
        let inner = s.strip_prefix("${")?.strip_suffix('}')?;
        Some(if let Some(name) = inner.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if ok {
                Ok(SecretRef::Env(name.to_owned()))
            } else {
                Err(SecretRefError::EnvName(s.to_owned()))
            }
        } else if let Some(path) = inner.strip_prefix("file:") {
            if path.is_empty() {
                Err(SecretRefError::EmptyPath(s.to_owned()))
            } else {
                Ok(SecretRef::File(path.to_owned()))
            }
        } else {
            Err(SecretRefError::Unknown(s.to_owned()))
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "${{env:{n}}}"),
            SecretRef::File(p) => write!(f, "${{file:{p}}}"),
        }
    }
}

/// An auth param value: a literal (non-secret params) or a secret reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// A plain value, sent as is.
    Literal(String),
    /// A reference, resolved by `apply` just before sending.
    Secret(SecretRef),
}

impl ParamValue {
    /// The value as it appears in a plan: literals as they are, secrets as their reference.
    pub fn to_plan_string(&self) -> String {
        match self {
            ParamValue::Literal(s) => s.clone(),
            ParamValue::Secret(r) => r.to_string(),
        }
    }
}

/// The destination account (base connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredConnection {
    /// The auth spec; `None` for a card without credentials (Data Landing Zone).
    pub auth: Option<AuthMethod>,
    /// Auth params by name.
    pub params: BTreeMap<String, ParamValue>,
    /// Raising it pushes the credentials again (they are write-only).
    pub credentials_version: u32,
    /// Where each param was written, for errors about unresolvable secrets (the encryption
    /// key under `publicKey`).
    pub locations: BTreeMap<String, SourceLocation>,
    /// The PGP public key the exported files are encrypted with (current cards), a
    /// `${file:…}` reference sent in the base connection's `encryptionSpecs`.
    pub encryption_key: Option<SecretRef>,
}

/// The file options of a current card's export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// File format.
    pub file_type: FileType,
    /// Compression.
    pub compression: Compression,
    /// CSV options given (only with `CSV`).
    pub csv_options: CsvOptions,
}

/// Where the files land (target connection params).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLocation {
    /// The location mode.
    pub mode: LocationMode,
    /// The mode's params (`bucketName`, `path`, `container`, `remotePath`), by name.
    pub params: BTreeMap<String, String>,
    /// Whether a manifest file is written beside each export.
    pub include_file_manifest: Option<bool>,
    /// The file options; `Some` exactly for current cards.
    pub files: Option<FileOptions>,
}

/// Where an exported column's values come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnSource {
    /// A profile attribute (`personalEmail.address`).
    Attribute(AttributePath),
    /// The identities of a namespace (`Email`), from the profile's `identityMap`.
    Identity(String),
}

impl ColumnSource {
    /// The mapping's `source` as the Data Prep API takes it: the attribute path, or
    /// `identityMap.<namespace>` with a `.` inside the namespace written `//` (ASFB).
    pub fn mapping_source(&self) -> String {
        match self {
            ColumnSource::Attribute(p) => p.as_str().to_owned(),
            ColumnSource::Identity(ns) => format!("identityMap.{}", ns.replace('.', "//")),
        }
    }

    /// Reads a mapping's `source` back (the inverse of [`ColumnSource::mapping_source`]).
    pub fn from_mapping_source(s: &str) -> Option<ColumnSource> {
        match s.strip_prefix("identityMap.") {
            Some(ns) => Some(ColumnSource::Identity(ns.replace("//", "."))),
            None => AttributePath::parse(s).ok().map(ColumnSource::Attribute),
        }
    }
}

impl fmt::Display for ColumnSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnSource::Attribute(p) => write!(f, "{p}"),
            ColumnSource::Identity(ns) => write!(f, "identity {ns}"),
        }
    }
}

/// One column of the exported files of a current card: a mapping of its mapping set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExportedColumn {
    /// What is exported.
    pub source: ColumnSource,
    /// The column header (the mapping's `destination`): no `.`.
    pub column: String,
}

impl ExportedColumn {
    /// The default column of an attribute: its path with `.` written `_`
    /// (`personalEmail.address` → `personalEmail_address`, as Adobe's UI names it).
    pub fn default_column(path: &AttributePath) -> String {
        path.as_str().replace('.', "_")
    }
}

/// One audience activated to a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAudience {
    /// The `Audience` manifest's `metadata.name`.
    pub manifest: ResourceName,
    /// The AEP audience id.
    pub segment_id: SegmentId,
    /// Name shown in AEP (the selector's `name`), if given.
    pub display_name: Option<String>,
    /// Selector `description`, if given.
    pub description: Option<String>,
    /// The file name pattern.
    pub filename_template: String,
    /// Full or incremental.
    pub export_mode: ExportMode,
    /// When it is exported.
    pub schedule: Schedule,
    /// The `Schedule` manifest's name, when the activation named one (for display).
    pub schedule_name: Option<ResourceName>,
}

/// One `Destination` manifest with everything it needs resolved: the unit that `plan` creates,
/// updates or deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDestination {
    /// `metadata.name`; also the ownership marker.
    pub name: ResourceName,
    /// `metadata.formerNames`: earlier names whose live objects this Destination takes over.
    pub former_names: Vec<ResourceName>,
    /// Where the Destination document starts.
    pub source: SourceLocation,
    /// Flow name in AEP.
    pub display_name: String,
    /// Flow description (without the marker).
    pub description: Option<String>,
    /// The platform.
    pub platform: Platform,
    /// The account.
    pub connection: DesiredConnection,
    /// Where the files land.
    pub location: DesiredLocation,
    /// Exported profile attributes, in manifest order.
    pub attributes: Vec<AttributePath>,
    /// The exported columns of a current card (attributes, then exported identities), in
    /// manifest order: its mapping set. Empty on legacy cards, which export `attributes` as
    /// profile selectors.
    pub columns: Vec<ExportedColumn>,
    /// Attributes that must be present for a profile to be exported.
    pub mandatory_attributes: Vec<AttributePath>,
    /// Attributes that deduplicate the exported rows.
    pub deduplication_keys: Vec<AttributePath>,
    /// Identity namespaces that deduplicate the exported rows (current cards).
    pub identity_deduplication_keys: Vec<String>,
    /// Whether the flow runs.
    pub enabled: bool,
    /// Activated audiences, sorted by segment id.
    pub audiences: Vec<DesiredAudience>,
}

/// The Destinations a run may touch: all of them, or those whose name matches one of the
/// `--only` globs (`*` any run of characters, `?` one character).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    patterns: Vec<String>,
}

impl Scope {
    /// Every Destination.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// The Destinations matching any of `patterns` (every Destination when it is empty).
    pub fn only(patterns: Vec<String>) -> Scope {
        Scope { patterns }
    }

    /// Whether this scope is every Destination.
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the Destination `name` is in scope.
    pub fn contains(&self, name: &str) -> bool {
        self.is_all() || self.patterns.iter().any(|p| glob(p, name))
    }
}

/// Whether `name` matches the glob `pattern` (`*`, `?`; everything else literal).
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl DesiredState {
    /// Only the Destinations in `scope` (and the dataset exports to them).
    pub fn scoped(mut self, scope: &Scope) -> DesiredState {
        self.destinations
            .retain(|d| scope.contains(d.name.as_str()));
        self.dataset_exports
            .retain(|e| scope.contains(e.destination.as_str()));
        self
    }
}

/// One dataset of a dataset export (`params.datasets` item of the Data Lake source connection).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DesiredDataset {
    /// The dataset id (`dataSetId`).
    pub id: String,
    /// Its name, as shown in AEP, if given.
    pub name: Option<String>,
}

/// How a dataset export's schedule counts time (`scheduleParams.timeUnit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetTimeUnit {
    /// Every `interval` hours (3, 6, 9 or 12).
    Hour,
    /// Every day (`interval` 1), or once (`interval` 0 with a full export).
    Day,
}

/// What each run of a dataset export writes (`scheduleParams.exportMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DatasetExportMode {
    /// One full export (with `interval` 0, `timeUnit` day).
    DailyFullExport,
    /// A full first export, then the new data only.
    FirstFullThenIncremental,
}

/// A dataset export's schedule: the flow's `scheduleParams` (times in epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSchedule {
    /// Full or incremental, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_mode: Option<DatasetExportMode>,
    /// First export, epoch seconds.
    pub start_time: i64,
    /// Last export, epoch seconds, when given (AEP defaults it to six months after creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Runs every `interval` `time_unit`s.
    pub interval: u32,
    /// Hours or days.
    pub time_unit: DatasetTimeUnit,
    /// The folder name pattern, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_name_template: Option<String>,
}

/// One `DatasetExport` manifest: datasets exported by a dataset flow to the location of a
/// Destination of a current card, with that Destination's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDatasetExport {
    /// `metadata.name`; also the ownership marker of its objects.
    pub name: ResourceName,
    /// Where the DatasetExport document starts.
    pub source: SourceLocation,
    /// Flow name in AEP (default: `metadata.name`).
    pub display_name: String,
    /// Flow description (without the marker).
    pub description: Option<String>,
    /// The Destination whose account and location the files go to.
    pub destination: ResourceName,
    /// That Destination's platform (a current card).
    pub platform: Platform,
    /// That Destination's location params (`bucketName`, `path`, …), by name.
    pub location: BTreeMap<String, String>,
    /// That Destination's location mode.
    pub mode: LocationMode,
    /// The datasets, in manifest order.
    pub datasets: Vec<DesiredDataset>,
    /// `JSON` or `PARQUET`.
    pub file_type: FileType,
    /// Compression.
    pub compression: Compression,
    /// When it runs.
    pub schedule: DatasetSchedule,
}

/// Everything the manifests ask for, destinations and dataset exports sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// The destinations.
    pub destinations: Vec<DesiredDestination>,
    /// Live flows to adopt (`spec.adopt.flowId`), by Destination name.
    pub adoptions: BTreeMap<ResourceName, crate::wire::EntityId>,
    /// The dataset exports.
    pub dataset_exports: Vec<DesiredDatasetExport>,
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn globs() {
        let s = Scope::only(vec!["campaign-*".into(), "sftp-?sh-key".into()]);
        assert!(s.contains("campaign-s3"));
        assert!(s.contains("sftp-ssh-key"));
        assert!(!s.contains("sftp-password"));
        assert!(!s.contains("xcampaign-s3"));
        assert!(Scope::all().contains("anything"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbc"));
        assert!(!glob("a*b", "ac"));
    }
}
