//! File location modes: the target connection's `params.mode` and the params each legacy
//! mode takes.

use super::params::{ParamSpec, Pattern, param};
use super::wire_enum::wire_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

wire_enum! {
    /// A file location mode: the target connection's `params.mode`.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum LocationMode {
        /// An Amazon S3 bucket.
        S3 = "S3",
        /// An Azure Blob container.
        AzureBlob = "AZURE_BLOB",
        /// An SFTP server.
        Ftp = "FTP",
        /// Any current card: its location fields are the card's own
        /// (`PlatformInfo::location_params`).
        ServerToServer = "Server-to-server",
    }
}

impl LocationMode {
    /// The target connection params of this legacy mode (besides `mode`, `format` and
    /// `includeFileManifest`); `Server-to-server` has none of its own.
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
            LocationMode::ServerToServer => &[],
        }
    }
}
