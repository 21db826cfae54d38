//! The catalog: the one source of truth for connection and flow spec ids, the auth methods and
//! file locations each platform accepts, and the per-audience rules of the Flow Service
//! (reference `flow-service-api.md` §5.1–5.4). `validate`, `plan` and the emulator all read it.
//!
//! All seven platforms use the legacy batch specs of the seed tutorial (CSV files, profile
//! selectors inside `profileSelectors`), so every managed flow has one shape.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Connection spec id of the Profile store, the source of every destination flow.
pub const PROFILE_STORE_SPEC_ID: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";
/// Spec version sent with every `connectionSpec` / `flowSpec` reference.
pub const SPEC_VERSION: &str = "1.0";
/// Name of the Adobe Campaign flow spec, whose id is looked up live in `/flowSpecs`.
pub const CAMPAIGN_FLOW_SPEC_NAME: &str = "upsToCampaign";
/// The id the emulator gives the `upsToCampaign` flow spec (Adobe's docs do not publish one).
pub const EMULATOR_CAMPAIGN_FLOW_SPEC_ID: &str = "d4b93ea2-07a6-4d06-a4b6-7bc2bfbe9a1c";
/// Legacy flow spec shared by cloud storage destinations and Oracle Eloqua.
pub const CLOUD_STORAGE_FLOW_SPEC_ID: &str = "71471eba-b620-49e4-90fd-23f1fa0174d8";
/// The transformation name every flow carries.
pub const TRANSFORMATION_NAME: &str = "GeneralTransform";
/// File format of every legacy batch export.
pub const FILE_FORMAT: &str = "CSV";

/// Guardrail: audiences per destination flow (soft limit, a warning).
pub const MAX_AUDIENCES_PER_FLOW: usize = 250;
/// Guardrail: mapped attributes per destination flow (soft limit, a warning).
pub const MAX_ATTRIBUTES_PER_FLOW: usize = 50;
/// Guardrail: destinations per sandbox (hard limit, an error).
pub const MAX_DESTINATIONS_PER_SANDBOX: usize = 100;

/// A destination platform of the catalog.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Adobe Campaign.
    AdobeCampaign,
    /// Oracle Eloqua.
    OracleEloqua,
    /// Oracle Responsys.
    OracleResponsys,
    /// Salesforce Marketing Cloud.
    SalesforceMarketingCloud,
    /// Amazon S3 (legacy card).
    AmazonS3,
    /// Azure Blob storage (legacy card).
    AzureBlob,
    /// SFTP (legacy card).
    Sftp,
}

/// How a platform's flow spec is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowSpecRef {
    /// A documented, fixed id.
    Id(&'static str),
    /// A name to look up in `GET /flowSpecs?property=name==…`.
    Name(&'static str),
}

/// What the catalog knows of one platform.
#[derive(Clone, Copy, Debug)]
pub struct PlatformInfo {
    /// The platform.
    pub platform: Platform,
    /// Name shown to people, and the connection spec's `name` in the emulator.
    pub display_name: &'static str,
    /// Destination connection spec id.
    pub connection_spec_id: &'static str,
    /// Flow spec of the platform's audience flows.
    pub flow_spec: FlowSpecRef,
    /// Auth methods accepted, in the reference's order.
    pub auth_methods: &'static [AuthMethod],
    /// File location modes accepted.
    pub location_modes: &'static [LocationMode],
}

const SFTP_AUTHS: &[AuthMethod] = &[AuthMethod::SftpWithPassword, AuthMethod::SftpWithSshKey];

static PLATFORMS: [PlatformInfo; 7] = [
    PlatformInfo {
        platform: Platform::AdobeCampaign,
        display_name: "Adobe Campaign",
        connection_spec_id: "0b23e41a-cb4a-4321-a78f-3b654f5d7d97",
        flow_spec: FlowSpecRef::Name(CAMPAIGN_FLOW_SPEC_NAME),
        auth_methods: &[
            AuthMethod::S3,
            AuthMethod::SftpWithPassword,
            AuthMethod::SftpWithSshKey,
            AuthMethod::AzureBlob,
        ],
        location_modes: &[LocationMode::S3, LocationMode::AzureBlob, LocationMode::Ftp],
    },
    PlatformInfo {
        platform: Platform::OracleEloqua,
        display_name: "Oracle Eloqua",
        connection_spec_id: "c1e44b6b-e7c8-404b-9031-58f0ef760604",
        flow_spec: FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        auth_methods: SFTP_AUTHS,
        location_modes: &[LocationMode::S3, LocationMode::Ftp],
    },
    PlatformInfo {
        platform: Platform::OracleResponsys,
        display_name: "Oracle Responsys",
        connection_spec_id: "a5e28ddf-e265-426e-83a1-9d03a3a6822b",
        flow_spec: FlowSpecRef::Id("51d675ce-e270-408d-91fc-22717bdf2148"),
        auth_methods: SFTP_AUTHS,
        location_modes: &[LocationMode::S3, LocationMode::Ftp],
    },
    PlatformInfo {
        platform: Platform::SalesforceMarketingCloud,
        display_name: "Salesforce Marketing Cloud",
        connection_spec_id: "f599a5b3-60a7-4951-950a-cc4115c7ea27",
        flow_spec: FlowSpecRef::Id("493b2bd6-26e4-4167-ab3b-5e910bba44f0"),
        auth_methods: SFTP_AUTHS,
        location_modes: &[LocationMode::S3, LocationMode::Ftp],
    },
    PlatformInfo {
        platform: Platform::AmazonS3,
        display_name: "Amazon S3",
        connection_spec_id: "4890fc95-5a1f-4983-94bb-e060c08e3f81",
        flow_spec: FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        auth_methods: &[AuthMethod::AccessKey],
        location_modes: &[LocationMode::S3],
    },
    PlatformInfo {
        platform: Platform::AzureBlob,
        display_name: "Azure Blob Storage",
        connection_spec_id: "e258278b-a4cf-43ac-b158-4fa0ca0d948b",
        flow_spec: FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        auth_methods: &[AuthMethod::ConnectionString],
        location_modes: &[LocationMode::AzureBlob],
    },
    PlatformInfo {
        platform: Platform::Sftp,
        display_name: "SFTP",
        connection_spec_id: "64ef4b8b-a6e0-41b5-9677-3805d1ee5dd0",
        flow_spec: FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        auth_methods: &[AuthMethod::SftpBasic, AuthMethod::SftpWithSshKey],
        location_modes: &[LocationMode::Ftp],
    },
];

impl Platform {
    /// Every platform, in catalog order.
    pub fn all() -> impl Iterator<Item = Platform> {
        PLATFORMS.iter().map(|p| p.platform)
    }

    /// The catalog entry of this platform.
    pub fn info(self) -> &'static PlatformInfo {
        PLATFORMS
            .iter()
            .find(|p| p.platform == self)
            .expect("every platform is in the catalog")
    }

    /// The manifest name (`adobe-campaign`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::AdobeCampaign => "adobe-campaign",
            Platform::OracleEloqua => "oracle-eloqua",
            Platform::OracleResponsys => "oracle-responsys",
            Platform::SalesforceMarketingCloud => "salesforce-marketing-cloud",
            Platform::AmazonS3 => "amazon-s3",
            Platform::AzureBlob => "azure-blob",
            Platform::Sftp => "sftp",
        }
    }

    /// The platform whose destination connection spec has this id.
    pub fn by_connection_spec(id: &str) -> Option<Platform> {
        PLATFORMS
            .iter()
            .find(|p| p.connection_spec_id == id)
            .map(|p| p.platform)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parameter of an auth spec or a target location.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Parameter name as sent to the API.
    pub name: &'static str,
    /// Whether the API requires it.
    pub required: bool,
    /// Whether it is a credential: manifests must give it as a `${env:…}`/`${file:…}` reference.
    pub secret: bool,
    /// A check of the value's shape, with a description of what is allowed.
    pub pattern: Option<Pattern>,
    /// What kind of value a literal must be (text unless said otherwise).
    pub value_type: ValueType,
}

const fn param(name: &'static str, required: bool, secret: bool) -> ParamSpec {
    ParamSpec {
        name,
        required,
        secret,
        pattern: None,
        value_type: ValueType::Text,
    }
}

/// The value type of a param written as a literal in a manifest (the API takes params as
/// JSON; manifests hold them as YAML scalars).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Any text.
    Text,
    /// A whole number from `min` to `max` inclusive.
    Integer {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
}

impl ValueType {
    /// A TCP port: 1-65535.
    pub const PORT: ValueType = ValueType::Integer { min: 1, max: 65535 };

    /// Whether `value` (a YAML scalar as written) is of this type.
    pub fn matches(self, value: &str) -> bool {
        match self {
            ValueType::Text => true,
            ValueType::Integer { min, max } => {
                !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && value.parse::<u32>().is_ok_and(|n| (min..=max).contains(&n))
            }
        }
    }

    /// What the type allows, for error messages.
    pub fn describe(self) -> String {
        match self {
            ValueType::Text => "text".into(),
            ValueType::Integer { min, max } => format!("a whole number from {min} to {max}"),
        }
    }
}

/// A named shape check on a parameter value (the API's regexes use look-arounds, so they are
/// written out by hand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// S3 bucket name: 3–63 characters, dot-separated labels of `[a-z0-9-]` that start and end
    /// with a letter or digit, not an IP address.
    S3BucketName,
    /// Azure Blob container: `^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$`.
    AzureContainer,
    /// AWS access key id: `^[A-Z2-7]{20}$`.
    S3AccessKey,
    /// AWS secret key: `^[A-Za-z0-9/+]{40}$`.
    S3SecretKey,
}

impl Pattern {
    /// Whether `value` has this shape.
    pub fn matches(self, value: &str) -> bool {
        match self {
            Pattern::S3BucketName => is_s3_bucket_name(value),
            Pattern::AzureContainer => {
                let b = value.as_bytes();
                (3..=63).contains(&b.len())
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
                    && !value.contains("--")
            }
            Pattern::S3AccessKey => {
                value.len() == 20
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
            }
            Pattern::S3SecretKey => {
                value.len() == 40
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'/' || c == b'+')
            }
        }
    }

    /// What the pattern allows, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Pattern::S3BucketName => {
                "3-63 characters of lower-case letters, digits, '-' and '.', each dot-separated label starting and ending with a letter or digit, not an IP address"
            }
            Pattern::AzureContainer => {
                "3-63 characters of lower-case letters, digits and '-', starting and ending with a letter or digit, no '--'"
            }
            Pattern::S3AccessKey => "20 characters of A-Z and 2-7",
            Pattern::S3SecretKey => "40 characters of A-Z, a-z, 0-9, '/' and '+'",
        }
    }
}

fn is_s3_bucket_name(v: &str) -> bool {
    if !(3..=63).contains(&v.len()) {
        return false;
    }
    let ip_like = v.split('.').count() > 1 && v.split('.').all(|l| l.parse::<u32>().is_ok());
    !ip_like
        && v.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// An auth method: the `auth.specName` of a base connection.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum AuthMethod {
    /// Adobe Campaign over Amazon S3.
    #[serde(rename = "S3")]
    S3,
    /// SFTP with a password.
    #[serde(rename = "SFTP with Password")]
    SftpWithPassword,
    /// SFTP with an SSH key.
    #[serde(rename = "SFTP with SSH Key")]
    SftpWithSshKey,
    /// Adobe Campaign over Azure Blob.
    #[serde(rename = "Azure Blob")]
    AzureBlob,
    /// The Amazon S3 card's access key pair.
    #[serde(rename = "Access Key")]
    AccessKey,
    /// The Azure Blob card's connection string.
    #[serde(rename = "ConnectionString")]
    ConnectionString,
    /// The SFTP card's password authentication.
    #[serde(rename = "Basic Authentication for sftp")]
    SftpBasic,
}

impl AuthMethod {
    /// Every auth method.
    pub const ALL: [AuthMethod; 7] = [
        AuthMethod::S3,
        AuthMethod::SftpWithPassword,
        AuthMethod::SftpWithSshKey,
        AuthMethod::AzureBlob,
        AuthMethod::AccessKey,
        AuthMethod::ConnectionString,
        AuthMethod::SftpBasic,
    ];

    /// The `auth.specName` sent to the API.
    pub fn spec_name(self) -> &'static str {
        match self {
            AuthMethod::S3 => "S3",
            AuthMethod::SftpWithPassword => "SFTP with Password",
            AuthMethod::SftpWithSshKey => "SFTP with SSH Key",
            AuthMethod::AzureBlob => "Azure Blob",
            AuthMethod::AccessKey => "Access Key",
            AuthMethod::ConnectionString => "ConnectionString",
            AuthMethod::SftpBasic => "Basic Authentication for sftp",
        }
    }

    /// The auth method with this spec name.
    pub fn from_spec_name(name: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|a| a.spec_name() == name)
    }

    /// The params of this auth spec.
    pub fn params(self) -> &'static [ParamSpec] {
        const SFTP_PASSWORD: &[ParamSpec] = &[
            param("domain", true, false),
            param("host", true, false),
            param("username", true, false),
            param("password", true, true),
        ];
        const SFTP_SSH: &[ParamSpec] = &[
            param("domain", true, false),
            param("host", true, false),
            param("username", true, false),
            param("sshKey", true, true),
            ParamSpec {
                value_type: ValueType::PORT,
                ..param("port", false, false)
            },
        ];
        const S3: &[ParamSpec] = &[
            param("accessId", true, true),
            param("secretKey", true, true),
        ];
        const CONNECTION_STRING: &[ParamSpec] = &[param("connectionString", true, true)];
        const ACCESS_KEY: &[ParamSpec] = &[
            ParamSpec {
                pattern: Some(Pattern::S3AccessKey),
                ..param("s3AccessKey", true, true)
            },
            ParamSpec {
                pattern: Some(Pattern::S3SecretKey),
                ..param("s3SecretKey", true, true)
            },
        ];
        const SFTP_BASIC: &[ParamSpec] = &[
            param("host", true, false),
            param("username", true, false),
            param("password", true, true),
            param("domain", false, false),
            ParamSpec {
                value_type: ValueType::PORT,
                ..param("port", false, false)
            },
        ];
        match self {
            AuthMethod::S3 => S3,
            AuthMethod::SftpWithPassword => SFTP_PASSWORD,
            AuthMethod::SftpWithSshKey => SFTP_SSH,
            AuthMethod::AzureBlob | AuthMethod::ConnectionString => CONNECTION_STRING,
            AuthMethod::AccessKey => ACCESS_KEY,
            AuthMethod::SftpBasic => SFTP_BASIC,
        }
    }

    /// The param of this name, if the spec has one.
    pub fn param(self, name: &str) -> Option<&'static ParamSpec> {
        self.params().iter().find(|p| p.name == name)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// A file location mode: the target connection's `params.mode`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum LocationMode {
    /// An Amazon S3 bucket.
    #[serde(rename = "S3")]
    S3,
    /// An Azure Blob container.
    #[serde(rename = "AZURE_BLOB")]
    AzureBlob,
    /// An SFTP server.
    #[serde(rename = "FTP")]
    Ftp,
}

impl LocationMode {
    /// Every location mode.
    pub const ALL: [LocationMode; 3] =
        [LocationMode::S3, LocationMode::AzureBlob, LocationMode::Ftp];

    /// The `mode` value sent to the API.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationMode::S3 => "S3",
            LocationMode::AzureBlob => "AZURE_BLOB",
            LocationMode::Ftp => "FTP",
        }
    }

    /// The mode with this API value.
    pub fn parse(s: &str) -> Option<LocationMode> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The target connection params of this mode (besides `mode`, `format` and
    /// `includeFileManifest`).
    pub fn params(self) -> &'static [ParamSpec] {
        const S3: &[ParamSpec] = &[
            ParamSpec {
                pattern: Some(Pattern::S3BucketName),
                ..param("bucketName", true, false)
            },
            param("path", true, false),
        ];
        const AZURE: &[ParamSpec] = &[
            ParamSpec {
                pattern: Some(Pattern::AzureContainer),
                ..param("container", true, false)
            },
            param("path", true, false),
        ];
        const FTP: &[ParamSpec] = &[param("remotePath", true, false)];
        match self {
            LocationMode::S3 => S3,
            LocationMode::AzureBlob => AZURE,
            LocationMode::Ftp => FTP,
        }
    }
}

impl fmt::Display for LocationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audience's export mode.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExportMode {
    /// A full file every time.
    DailyFullExport,
    /// A full file first, then only the changes.
    FirstFullThenIncremental,
}

impl ExportMode {
    /// The frequencies this export mode allows (reference §5.1).
    pub fn frequencies(self) -> &'static [Frequency] {
        match self {
            ExportMode::DailyFullExport => &[
                Frequency::Once,
                Frequency::Daily,
                Frequency::Weekly,
                Frequency::Monthly,
            ],
            ExportMode::FirstFullThenIncremental => &[
                Frequency::Daily,
                Frequency::Every3Hours,
                Frequency::Every6Hours,
                Frequency::Every8Hours,
                Frequency::Every12Hours,
            ],
        }
    }

    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportMode::DailyFullExport => "DAILY_FULL_EXPORT",
            ExportMode::FirstFullThenIncremental => "FIRST_FULL_THEN_INCREMENTAL",
        }
    }
}

impl fmt::Display for ExportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often an audience is exported.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Frequency {
    /// One export.
    #[serde(rename = "ONCE")]
    Once,
    /// Every day.
    #[serde(rename = "DAILY")]
    Daily,
    /// Every week (full exports only; newer docs).
    #[serde(rename = "WEEKLY")]
    Weekly,
    /// Every month (full exports only; newer docs).
    #[serde(rename = "MONTHLY")]
    Monthly,
    /// Every 3 hours (incremental only).
    #[serde(rename = "EVERY_3_HOURS")]
    Every3Hours,
    /// Every 6 hours (incremental only).
    #[serde(rename = "EVERY_6_HOURS")]
    Every6Hours,
    /// Every 8 hours (incremental only).
    #[serde(rename = "EVERY_8_HOURS")]
    Every8Hours,
    /// Every 12 hours (incremental only).
    #[serde(rename = "EVERY_12_HOURS")]
    Every12Hours,
}

impl Frequency {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "ONCE",
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Every3Hours => "EVERY_3_HOURS",
            Frequency::Every6Hours => "EVERY_6_HOURS",
            Frequency::Every8Hours => "EVERY_8_HOURS",
            Frequency::Every12Hours => "EVERY_12_HOURS",
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What starts an export.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerType {
    /// Right after the daily batch segmentation job.
    AfterSegmentEval,
    /// At a fixed UTC time (`startTime` required).
    Scheduled,
}

impl TriggerType {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::AfterSegmentEval => "AFTER_SEGMENT_EVAL",
            TriggerType::Scheduled => "SCHEDULED",
        }
    }
}

impl fmt::Display for TriggerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A full hour of the day, written `HH:00` (the API allows no minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StartTime(u8);

impl StartTime {
    /// Parses `HH:MM`; the minutes must be `00`.
    pub fn parse(s: &str) -> Result<StartTime, String> {
        let b = s.as_bytes();
        let shape_ok =
            b.len() == 5 && b[2] == b':' && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(format!(
                "`{s}` is not a time of day; write HH:00, e.g. \"17:00\""
            ));
        }
        let hour: u8 = s[..2].parse().expect("two digits");
        if hour > 23 || &s[3..] != "00" {
            return Err(format!(
                "`{s}` is not a full hour; startTime is HH:00 with HH from 00 to 23"
            ));
        }
        Ok(StartTime(hour))
    }

    /// The hour, 0–23.
    pub fn hour(self) -> u8 {
        self.0
    }

    /// A start time at this hour (0–23).
    pub fn from_hour(hour: u8) -> Option<StartTime> {
        (hour < 24).then_some(StartTime(hour))
    }
}

impl fmt::Display for StartTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:00", self.0)
    }
}

impl Serialize for StartTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StartTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StartTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for StartTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StartTime".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):00$",
            "description": "A full hour in UTC, HH:00"
        })
    }
}

/// An audience export schedule, as the API's selector `schedule` object holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// How often.
    pub frequency: Frequency,
    /// What starts each export; the API invents no default, so `None` stays absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<TriggerType>,
    /// First day of exports.
    pub start_date: NaiveDate,
    /// Last day of exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// Hour of the export, for `SCHEDULED` triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<StartTime>,
}

/// One broken schedule or filename rule; `field` is the offending field's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    /// The field at fault (`frequency`, `startTime`, `endDate`, `filenameTemplate`, …).
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Checks the schedule rules of reference §5.1 for one audience.
pub fn check_schedule(mode: ExportMode, schedule: &Schedule) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    if !mode.frequencies().contains(&schedule.frequency) {
        let allowed: Vec<_> = mode.frequencies().iter().map(|f| f.as_str()).collect();
        out.push(RuleViolation {
            field: "frequency",
            message: format!(
                "frequency {} is not allowed with exportMode {}; allowed: {}",
                schedule.frequency,
                mode,
                allowed.join(", ")
            ),
        });
    }
    if schedule.trigger_type == Some(TriggerType::Scheduled) && schedule.start_time.is_none() {
        out.push(RuleViolation {
            field: "startTime",
            message: "triggerType SCHEDULED needs a startTime (HH:00, UTC)".into(),
        });
    }
    if let Some(end) = schedule.end_date {
        if mode == ExportMode::DailyFullExport && schedule.frequency == Frequency::Once {
            out.push(RuleViolation {
                field: "endDate",
                message:
                    "endDate does not apply to a DAILY_FULL_EXPORT with frequency ONCE; remove it"
                        .into(),
            });
        } else if end < schedule.start_date {
            out.push(RuleViolation {
                field: "endDate",
                message: format!("endDate {end} is before startDate {}", schedule.start_date),
            });
        }
    }
    out
}

/// Macros a legacy `filenameTemplate` must hold.
pub const REQUIRED_FILENAME_MACROS: [&str; 2] = ["%DESTINATION_NAME%", "%SEGMENT_ID%"];
/// Every macro a legacy `filenameTemplate` may hold.
pub const KNOWN_FILENAME_MACROS: [&str; 5] = [
    "%DESTINATION_NAME%",
    "%SEGMENT_ID%",
    "%SEGMENT_NAME%",
    "%DATETIME(YYYYMMdd_HHmmss)%",
    "%TIMESTAMP%",
];

/// Checks a legacy `filenameTemplate` (reference §5.2): both required macros present; every
/// `%MACRO%` written in upper case is a known one; at most one of the date macros. A `%…%` with
/// lower-case letters or spaces is custom text, which the docs allow.
pub fn check_filename_template(template: &str) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    for required in REQUIRED_FILENAME_MACROS {
        if !template.contains(required) {
            out.push(RuleViolation {
                field: "filenameTemplate",
                message: format!("filenameTemplate must contain {required}"),
            });
        }
    }
    let mut dates = 0;
    for token in filename_tokens(template) {
        let looks_like_macro = token
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || b"_()".contains(&c))
            || token.starts_with("DATETIME(");
        let full = format!("%{token}%");
        if KNOWN_FILENAME_MACROS.contains(&full.as_str()) {
            if full.starts_with("%DATETIME") || full == "%TIMESTAMP%" {
                dates += 1;
            }
        } else if looks_like_macro {
            out.push(RuleViolation {
                field: "filenameTemplate",
                message: format!(
                    "unknown macro {full}; known macros: {}",
                    KNOWN_FILENAME_MACROS.join(", ")
                ),
            });
        }
    }
    if dates > 1 {
        out.push(RuleViolation {
            field: "filenameTemplate",
            message: "use only one of %DATETIME(YYYYMMdd_HHmmss)% and %TIMESTAMP%".into(),
        });
    }
    out
}

fn filename_tokens(template: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                tokens.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_an_entry_and_unique_spec() {
        let ids: std::collections::BTreeSet<_> = Platform::all()
            .map(|p| p.info().connection_spec_id)
            .collect();
        assert_eq!(ids.len(), 7);
        for p in Platform::all() {
            assert_eq!(
                Platform::by_connection_spec(p.info().connection_spec_id),
                Some(p)
            );
        }
    }

    #[test]
    fn port_params_are_whole_numbers_in_range() {
        assert!(ValueType::PORT.matches("22"));
        assert!(ValueType::PORT.matches("65535"));
        assert!(!ValueType::PORT.matches("22x"));
        assert!(!ValueType::PORT.matches("0"));
        assert!(!ValueType::PORT.matches("65536"));
        assert!(!ValueType::PORT.matches("+22"));
        assert!(!ValueType::PORT.matches(""));
        assert!(ValueType::Text.matches("22x"));
        for auth in [AuthMethod::SftpWithSshKey, AuthMethod::SftpBasic] {
            assert_eq!(auth.param("port").unwrap().value_type, ValueType::PORT);
        }
    }

    #[test]
    fn patterns() {
        assert!(Pattern::S3BucketName.matches("acme-exports"));
        assert!(Pattern::S3BucketName.matches("a.b-c"));
        assert!(!Pattern::S3BucketName.matches("192.168.1.1"));
        assert!(!Pattern::S3BucketName.matches("Acme"));
        assert!(!Pattern::S3BucketName.matches("-acme"));
        assert!(!Pattern::S3BucketName.matches("ab"));
        assert!(Pattern::AzureContainer.matches("exports-1"));
        assert!(!Pattern::AzureContainer.matches("ex--ports"));
        assert!(Pattern::S3AccessKey.matches("AKIAIOSFODNN7EXAMPLE"));
        assert!(!Pattern::S3AccessKey.matches("AKIAIOSFODNN7EXAMPL1"));
    }

    #[test]
    fn start_time() {
        assert_eq!(StartTime::parse("17:00").unwrap().hour(), 17);
        assert!(StartTime::parse("17:30").is_err());
        assert!(StartTime::parse("24:00").is_err());
        assert!(StartTime::parse("7:00").is_err());
    }

    #[test]
    fn schedule_rules() {
        let s = Schedule {
            frequency: Frequency::Every6Hours,
            trigger_type: Some(TriggerType::Scheduled),
            start_date: NaiveDate::from_ymd_opt(2022, 1, 2).unwrap(),
            end_date: Some(NaiveDate::from_ymd_opt(2022, 1, 1).unwrap()),
            start_time: None,
        };
        let fields: Vec<_> = check_schedule(ExportMode::DailyFullExport, &s)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["frequency", "startTime", "endDate"]);
        assert!(
            check_schedule(
                ExportMode::FirstFullThenIncremental,
                &Schedule {
                    end_date: None,
                    start_time: StartTime::from_hour(3),
                    ..s
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn filename_rules() {
        assert!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%")
                .is_empty()
        );
        assert!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%this is custom text%")
                .is_empty()
        );
        assert_eq!(check_filename_template("%SEGMENT_ID%").len(), 1);
        assert_eq!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%FOO%").len(),
            1
        );
        assert_eq!(
            check_filename_template(
                "%DESTINATION_NAME%_%SEGMENT_ID%_%TIMESTAMP%_%DATETIME(YYYYMMdd_HHmmss)%"
            )
            .len(),
            1
        );
    }
}
