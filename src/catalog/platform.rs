//! The destination platforms: each one's connection spec id, flow spec, and the auth methods
//! and file location modes it accepts.

use super::params::{ParamSpec, Pattern, ValueType, param};
use super::wire_enum::wire_enum;
use super::{AuthMethod, LocationMode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Name of the Adobe Campaign flow spec, whose id is looked up live in `/flowSpecs`.
pub const CAMPAIGN_FLOW_SPEC_NAME: &str = "upsToCampaign";
/// The id the emulator gives the `upsToCampaign` flow spec (Adobe's docs do not publish one).
pub const EMULATOR_CAMPAIGN_FLOW_SPEC_ID: &str = "d4b93ea2-07a6-4d06-a4b6-7bc2bfbe9a1c";
/// Legacy flow spec shared by cloud storage destinations and Oracle Eloqua.
pub const CLOUD_STORAGE_FLOW_SPEC_ID: &str = "71471eba-b620-49e4-90fd-23f1fa0174d8";

wire_enum! {
    /// A destination platform of the catalog.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Platform {
        /// Adobe Campaign.
        AdobeCampaign = "adobe-campaign",
        /// Oracle Eloqua.
        OracleEloqua = "oracle-eloqua",
        /// Oracle Responsys.
        OracleResponsys = "oracle-responsys",
        /// Salesforce Marketing Cloud.
        SalesforceMarketingCloud = "salesforce-marketing-cloud",
        /// Amazon S3 (the current card).
        AmazonS3 = "amazon-s3",
        /// Azure Blob Storage (the current card).
        AzureBlob = "azure-blob",
        /// SFTP (the current card).
        Sftp = "sftp",
        /// Azure Data Lake Storage Gen2.
        AzureDataLakeGen2 = "azure-data-lake-gen2",
        /// Adobe's Data Landing Zone.
        DataLandingZone = "data-landing-zone",
        /// Google Cloud Storage.
        GoogleCloudStorage = "google-cloud-storage",
        /// Amazon S3 (legacy card, retired by AEP).
        AmazonS3Legacy = "amazon-s3-legacy",
        /// Azure Blob storage (legacy card, retired by AEP).
        AzureBlobLegacy = "azure-blob-legacy",
        /// SFTP (legacy card, retired by AEP).
        SftpLegacy = "sftp-legacy",
    }
}

/// How a platform's flow spec is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowSpecRef {
    /// A documented, fixed id.
    Id(&'static str),
    /// A name to look up in `GET /flowSpecs?property=name==…`.
    Name(&'static str),
}

/// Which generation of destination card a platform is: the shape of its target connection
/// and flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Card {
    /// The batch destinations of Adobe's tutorial: `params.mode` S3/AZURE_BLOB/FTP, CSV only,
    /// `mandatoryFields`/`primaryFields` inside `profileSelectors`.
    Legacy,
    /// Today's cloud storage cards: `mode: Server-to-server`, file options (`fileType`,
    /// `compression`, `csvOptions`), `mandatoryFields`/`primaryFields` directly under the
    /// transformation params (V2 shape), all-optional filename macros.
    Current,
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
    /// Flow spec of the platform's audience flows (the one destctl sends).
    pub flow_spec: FlowSpecRef,
    /// Flow spec of the platform's dataset export flows (current cards).
    pub dataset_flow_spec_id: Option<&'static str>,
    /// Auth methods accepted, in the order Adobe's documentation lists them (empty: the card
    /// takes no credentials).
    pub auth_methods: &'static [AuthMethod],
    /// File location modes accepted.
    pub location_modes: &'static [LocationMode],
    /// The card generation.
    pub card: Card,
    /// Whether AEP retired this card (`validate` warns).
    pub retired: bool,
    /// The current card that replaced a retired one.
    pub replaced_by: Option<Platform>,
    /// The target connection params of a current card (besides `mode` and the file options).
    pub file_location: &'static [ParamSpec],
    /// Whether the card takes PGP encryption of the exported files.
    pub encryption: bool,
}

const SFTP_AUTHS: &[AuthMethod] = &[AuthMethod::SftpWithPassword, AuthMethod::SftpWithSshKey];
const CURRENT_MODES: &[LocationMode] = &[LocationMode::ServerToServer];

const S3_LOCATION: &[ParamSpec] = &[
    ParamSpec {
        pattern: Some(Pattern::S3BucketName),
        ..param("bucketName", true, false)
    },
    ParamSpec {
        pattern: Some(Pattern::FolderPathWithMacros),
        ..param("path", true, false)
    },
];
const AZURE_LOCATION: &[ParamSpec] = &[
    ParamSpec {
        pattern: Some(Pattern::AzureContainer),
        ..param("container", true, false)
    },
    ParamSpec {
        pattern: Some(Pattern::FolderPath),
        ..param("path", true, false)
    },
];
const PATH_LOCATION: &[ParamSpec] = &[param("path", true, false)];
const GCS_LOCATION: &[ParamSpec] = &[
    ParamSpec {
        pattern: Some(Pattern::GcsBucketName),
        ..param("bucketName", true, false)
    },
    ParamSpec {
        pattern: Some(Pattern::FolderPathWithMacros),
        ..param("path", true, false)
    },
];
const SFTP_LOCATION: &[ParamSpec] = &[param("remotePath", true, false)];

const fn legacy(
    platform: Platform,
    display_name: &'static str,
    connection_spec_id: &'static str,
    flow_spec: FlowSpecRef,
    auth_methods: &'static [AuthMethod],
    location_modes: &'static [LocationMode],
    replaced_by: Option<Platform>,
) -> PlatformInfo {
    PlatformInfo {
        platform,
        display_name,
        connection_spec_id,
        flow_spec,
        dataset_flow_spec_id: None,
        auth_methods,
        location_modes,
        card: Card::Legacy,
        retired: replaced_by.is_some(),
        replaced_by,
        file_location: &[],
        encryption: false,
    }
}

const fn current(
    platform: Platform,
    display_name: &'static str,
    connection_spec_id: &'static str,
    (audience_flow_spec_id, dataset_flow_spec_id): (&'static str, &'static str),
    auth_methods: &'static [AuthMethod],
    file_location: &'static [ParamSpec],
    encryption: bool,
) -> PlatformInfo {
    PlatformInfo {
        platform,
        display_name,
        connection_spec_id,
        flow_spec: FlowSpecRef::Id(audience_flow_spec_id),
        dataset_flow_spec_id: Some(dataset_flow_spec_id),
        auth_methods,
        location_modes: CURRENT_MODES,
        card: Card::Current,
        retired: false,
        replaced_by: None,
        file_location,
        encryption,
    }
}

static PLATFORMS: [PlatformInfo; 13] = [
    legacy(
        Platform::AdobeCampaign,
        "Adobe Campaign",
        "0b23e41a-cb4a-4321-a78f-3b654f5d7d97",
        FlowSpecRef::Name(CAMPAIGN_FLOW_SPEC_NAME),
        &[
            AuthMethod::S3,
            AuthMethod::SftpWithPassword,
            AuthMethod::SftpWithSshKey,
            AuthMethod::AzureBlob,
        ],
        &[LocationMode::S3, LocationMode::AzureBlob, LocationMode::Ftp],
        None,
    ),
    legacy(
        Platform::OracleEloqua,
        "Oracle Eloqua",
        "c1e44b6b-e7c8-404b-9031-58f0ef760604",
        FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        SFTP_AUTHS,
        &[LocationMode::S3, LocationMode::Ftp],
        None,
    ),
    legacy(
        Platform::OracleResponsys,
        "Oracle Responsys",
        "a5e28ddf-e265-426e-83a1-9d03a3a6822b",
        FlowSpecRef::Id("51d675ce-e270-408d-91fc-22717bdf2148"),
        SFTP_AUTHS,
        &[LocationMode::S3, LocationMode::Ftp],
        None,
    ),
    legacy(
        Platform::SalesforceMarketingCloud,
        "Salesforce Marketing Cloud",
        "f599a5b3-60a7-4951-950a-cc4115c7ea27",
        FlowSpecRef::Id("493b2bd6-26e4-4167-ab3b-5e910bba44f0"),
        SFTP_AUTHS,
        &[LocationMode::S3, LocationMode::Ftp],
        None,
    ),
    current(
        Platform::AmazonS3,
        "Amazon S3",
        "4fce964d-3f37-408f-9778-e597338a21ee",
        (
            "1a0514a6-33d4-4c7f-aff8-594799c47549",
            "269ba276-16fc-47db-92b0-c1049a3c131f",
        ),
        &[AuthMethod::AccessKey, AuthMethod::AssumedRole],
        S3_LOCATION,
        true,
    ),
    current(
        Platform::AzureBlob,
        "Azure Blob Storage",
        "6d6b59bf-fb58-4107-9064-4d246c0e5bb2",
        (
            "752d422f-b16f-4f0d-b1c6-26e448e3b388",
            "95bd8965-fc8a-4119-b9c3-944c2c2df6d2",
        ),
        &[AuthMethod::ConnectionString],
        AZURE_LOCATION,
        true,
    ),
    current(
        Platform::Sftp,
        "SFTP",
        "36965a81-b1c6-401b-99f8-22508f1e6a26",
        (
            "fd36aaa4-bf2b-43fb-9387-43785eeeb799",
            "354d6aad-4754-46e4-a576-1b384561c440",
        ),
        SFTP_AUTHS,
        SFTP_LOCATION,
        true,
    ),
    current(
        Platform::AzureDataLakeGen2,
        "Azure Data Lake Storage Gen2",
        "be2c3209-53bc-47e7-ab25-145db8b873e1",
        (
            "db060570-a155-418a-a6d3-b4d97698e5dc",
            "17be2013-2549-41ce-96e7-a70363bec293",
        ),
        &[AuthMethod::AzureServicePrincipal],
        PATH_LOCATION,
        true,
    ),
    current(
        Platform::DataLandingZone,
        "Data Landing Zone",
        "10440537-2a7b-4583-ac39-ed38d4b848e8",
        (
            "7e635b9f-e59b-4546-8ba8-fce6496693c8",
            "cd2fc47e-e838-4f38-a581-8fff2f99b63a",
        ),
        &[],
        PATH_LOCATION,
        false,
    ),
    current(
        Platform::GoogleCloudStorage,
        "Google Cloud Storage",
        "c5d93acb-ea8b-4b14-8f53-02138444ae99",
        (
            "976d663b-80b4-4193-be6b-2d0487516623",
            "585c15c4-6cbf-4126-8f87-e26bff78b657",
        ),
        &[AuthMethod::GoogleCloudStorage],
        GCS_LOCATION,
        true,
    ),
    legacy(
        Platform::AmazonS3Legacy,
        "Amazon S3 (legacy)",
        "4890fc95-5a1f-4983-94bb-e060c08e3f81",
        FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        &[AuthMethod::AccessKey],
        &[LocationMode::S3],
        Some(Platform::AmazonS3),
    ),
    legacy(
        Platform::AzureBlobLegacy,
        "Azure Blob Storage (legacy)",
        "e258278b-a4cf-43ac-b158-4fa0ca0d948b",
        FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        &[AuthMethod::ConnectionString],
        &[LocationMode::AzureBlob],
        Some(Platform::AzureBlob),
    ),
    legacy(
        Platform::SftpLegacy,
        "SFTP (legacy)",
        "64ef4b8b-a6e0-41b5-9677-3805d1ee5dd0",
        FlowSpecRef::Id(CLOUD_STORAGE_FLOW_SPEC_ID),
        &[AuthMethod::SftpBasic, AuthMethod::SftpWithSshKey],
        &[LocationMode::Ftp],
        Some(Platform::Sftp),
    ),
];

impl PlatformInfo {
    /// The auth params of `auth` on this card: the current SFTP card names the server
    /// `domain` (no `host`), unlike the legacy cards.
    pub fn auth_params(&self, auth: AuthMethod) -> &'static [ParamSpec] {
        match (self.card, auth) {
            (Card::Current, AuthMethod::SftpWithPassword | AuthMethod::SftpBasic) => {
                CURRENT_SFTP_PASSWORD
            }
            (Card::Current, AuthMethod::SftpWithSshKey | AuthMethod::SftpSshPublicKey) => {
                CURRENT_SFTP_SSH_KEY
            }
            _ => auth.params(),
        }
    }

    /// The target connection params of `mode` on this card (besides `mode` and the file
    /// options).
    pub fn location_params(&self, mode: LocationMode) -> &'static [ParamSpec] {
        match mode {
            LocationMode::ServerToServer => self.file_location,
            _ => mode.params(),
        }
    }

    /// The audience flow spec ids the Flow Service accepts for this card: the one destctl
    /// sends, and for current cards the dataset flow spec id too, which Adobe's activation
    /// tutorial (and older migration guides) give as the audience flow spec.
    pub fn accepted_audience_flow_specs(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let FlowSpecRef::Id(id) = self.flow_spec {
            out.push(id);
        }
        out.extend(self.dataset_flow_spec_id);
        out
    }
}

const CURRENT_SFTP_PASSWORD: &[ParamSpec] = &[
    param("domain", true, false),
    param("username", true, false),
    param("password", true, true),
    ParamSpec {
        value_type: ValueType::PORT,
        ..param("port", false, false)
    },
];
const CURRENT_SFTP_SSH_KEY: &[ParamSpec] = &[
    param("domain", true, false),
    param("username", true, false),
    param("sshKey", true, true),
    ParamSpec {
        value_type: ValueType::PORT,
        ..param("port", false, false)
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

    /// The retired card a current card replaced, if any.
    pub fn retired_predecessor(self) -> Option<Platform> {
        PLATFORMS
            .iter()
            .find(|p| p.replaced_by == Some(self))
            .map(|p| p.platform)
    }

    /// The platform whose destination connection spec has this id.
    pub fn by_connection_spec(id: &str) -> Option<Platform> {
        PLATFORMS
            .iter()
            .find(|p| p.connection_spec_id == id)
            .map(|p| p.platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(params: &[ParamSpec]) -> Vec<&str> {
        params.iter().map(|p| p.name).collect()
    }

    #[test]
    fn auth_and_location_params_depend_on_the_card() {
        let sftp = Platform::Sftp.info();
        assert_eq!(
            names(sftp.auth_params(AuthMethod::SftpWithPassword)),
            ["domain", "username", "password", "port"]
        );
        assert_eq!(
            names(sftp.auth_params(AuthMethod::SftpSshPublicKey)),
            ["domain", "username", "sshKey", "port"]
        );
        let eloqua = Platform::OracleEloqua.info();
        assert_eq!(
            names(eloqua.auth_params(AuthMethod::SftpWithPassword)),
            ["domain", "host", "username", "password"]
        );
        assert_eq!(
            names(
                Platform::AzureBlob
                    .info()
                    .location_params(LocationMode::ServerToServer)
            ),
            ["container", "path"]
        );
        assert_eq!(
            names(
                Platform::AmazonS3Legacy
                    .info()
                    .location_params(LocationMode::S3)
            ),
            ["bucketName", "path"]
        );
        assert_eq!(
            Platform::GoogleCloudStorage
                .info()
                .accepted_audience_flow_specs(),
            [
                "976d663b-80b4-4193-be6b-2d0487516623",
                "585c15c4-6cbf-4126-8f87-e26bff78b657"
            ]
        );
        assert_eq!(
            Platform::SftpLegacy.info().accepted_audience_flow_specs(),
            [CLOUD_STORAGE_FLOW_SPEC_ID]
        );
        assert!(Platform::DataLandingZone.info().auth_methods.is_empty());
        assert!(!Platform::DataLandingZone.info().encryption);
    }

    #[test]
    fn every_platform_has_an_entry_and_unique_spec() {
        let ids: std::collections::BTreeSet<_> = Platform::all()
            .map(|p| p.info().connection_spec_id)
            .collect();
        assert_eq!(ids.len(), 13);
        let current: Vec<_> = Platform::all()
            .filter(|p| p.info().card == Card::Current)
            .collect();
        assert_eq!(current.len(), 6);
        let retired: Vec<_> = Platform::all().filter(|p| p.info().retired).collect();
        assert_eq!(
            retired,
            [
                Platform::AmazonS3Legacy,
                Platform::AzureBlobLegacy,
                Platform::SftpLegacy
            ]
        );
        for p in Platform::all() {
            assert_eq!(
                Platform::by_connection_spec(p.info().connection_spec_id),
                Some(p)
            );
        }
    }
}
