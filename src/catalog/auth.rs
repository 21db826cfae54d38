//! Auth methods: the `auth.specName` of a destination base connection and the params each
//! one takes.

use super::params::{ParamSpec, Pattern, ValueType, param};
use super::wire_enum::wire_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

wire_enum! {
    /// An auth method: the `auth.specName` of a base connection.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum AuthMethod {
        /// Adobe Campaign over Amazon S3.
        S3 = "S3",
        /// SFTP with a password.
        SftpWithPassword = "SFTP with Password",
        /// SFTP with an SSH key.
        SftpWithSshKey = "SFTP with SSH Key",
        /// Adobe Campaign over Azure Blob.
        AzureBlob = "Azure Blob",
        /// The Amazon S3 card's access key pair.
        AccessKey = "Access Key",
        /// The Azure Blob card's connection string.
        ConnectionString = "ConnectionString",
        /// The legacy SFTP card's password authentication (also accepted by the current SFTP
        /// card, as Adobe's API examples send it).
        SftpBasic = "Basic Authentication for sftp",
        /// The current SFTP card's SSH key authentication as Adobe's API examples name it (the
        /// card itself lists `SFTP with SSH Key`).
        SftpSshPublicKey = "SSH PublicKey Authentication for sftp",
        /// The current Amazon S3 card's IAM role.
        AssumedRole = "Assumed Role",
        /// Azure Data Lake Storage Gen2's service principal.
        AzureServicePrincipal = "Azure Service Principal Auth",
        /// Google Cloud Storage's HMAC key pair.
        GoogleCloudStorage = "Google Cloud Storage authentication credentials",
    }
}

impl AuthMethod {
    /// The `auth.specName` sent to the API (its wire string).
    pub fn spec_name(self) -> &'static str {
        self.as_str()
    }

    /// The auth method with this spec name.
    pub fn from_spec_name(name: &str) -> Option<AuthMethod> {
        Self::parse(name)
    }

    /// The auth spec's `type` in a connection spec's `authSpec` list.
    pub fn spec_type(self) -> String {
        match self {
            AuthMethod::AssumedRole => "S3RoleBased".into(),
            other => other.spec_name().replace(' ', ""),
        }
    }

    /// The params of this auth spec on the legacy cards and the cards without a variant of
    /// their own (see `PlatformInfo::auth_params`).
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
        const ASSUMED_ROLE: &[ParamSpec] = &[param("s3Role", true, false)];
        const SERVICE_PRINCIPAL: &[ParamSpec] = &[
            param("url", true, false),
            param("servicePrincipalId", true, false),
            param("servicePrincipalKey", true, true),
            param("tenant", true, false),
        ];
        const GCS: &[ParamSpec] = &[
            param("accessKeyId", true, true),
            param("secretAccessKey", true, true),
        ];
        match self {
            AuthMethod::S3 => S3,
            AuthMethod::SftpSshPublicKey => SFTP_SSH,
            AuthMethod::AssumedRole => ASSUMED_ROLE,
            AuthMethod::AzureServicePrincipal => SERVICE_PRINCIPAL,
            AuthMethod::GoogleCloudStorage => GCS,
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
