//! The destination platforms: each one's connection spec id, flow spec, and the auth methods
//! and file location modes it accepts.

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
        /// Amazon S3 (legacy card).
        AmazonS3 = "amazon-s3",
        /// Azure Blob storage (legacy card).
        AzureBlob = "azure-blob",
        /// SFTP (legacy card).
        Sftp = "sftp",
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
    /// Auth methods accepted, in the order Adobe's documentation lists them.
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
}
