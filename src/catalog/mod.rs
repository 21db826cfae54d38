//! The catalog: the one source of truth for connection and flow spec ids, the auth methods and
//! file locations each platform accepts, and the per-audience rules of the Flow Service
//! (export modes, frequencies, triggers, start times, filename templates). `validate`, `plan`
//! and the emulator all read it.
//!
//! Platforms are of two [`Card`] generations. The legacy batch cards of Adobe's batch
//! destination tutorial (Campaign, Eloqua, Responsys, SFMC, and the retired `*-legacy` cloud
//! storage cards) export CSV with `mandatoryFields`/`primaryFields` inside `profileSelectors`.
//! Today's cloud storage cards (Amazon S3, Azure Blob, SFTP, ADLS Gen2, Data Landing Zone,
//! Google Cloud Storage) use `mode: Server-to-server`, the file options (`files.rs`) and the V2 flow
//! shape, with those fields directly under the transformation params.
//!
//! By concept: [`platform`] (spec ids and what each platform accepts), [`auth`] (auth methods
//! and their params), [`location`] (file location modes and their params), [`params`] (the
//! shape of a param), [`schedule`] (modes, frequencies, triggers, start times and their rules)
//! and [`filename`] (filename template macros). Every enum with a wire string is declared with
//! `wire_enum!` (in `catalog/wire_enum.rs`), which writes that string once.

pub(crate) mod auth;
pub(crate) mod filename;
pub(crate) mod files;
pub(crate) mod location;
pub(crate) mod params;
pub(crate) mod platform;
pub(crate) mod schedule;
pub(crate) mod wire_enum;

pub use auth::AuthMethod;
pub use filename::{
    KNOWN_FILENAME_MACROS, REQUIRED_FILENAME_MACROS, V2_FILENAME_MACROS, check_filename_template,
    check_v2_filename_template,
};
pub use files::{
    CSV_OPTION_KEYS, Compression, CsvOptions, Delimiter, ENCRYPTION_ALGOS, ENCRYPTION_SPEC_NAME,
    Escape, FileType, PGP_ENCRYPTION_ALGO, Quote, ValueOutput,
};
pub use location::LocationMode;
pub use params::{ParamSpec, Pattern, ValueType};
pub use platform::{
    CAMPAIGN_FLOW_SPEC_NAME, CLOUD_STORAGE_FLOW_SPEC_ID, Card, EMULATOR_CAMPAIGN_FLOW_SPEC_ID,
    FlowSpecRef, Platform, PlatformInfo,
};
pub use schedule::{
    ExportMode, Frequency, Schedule, StartTime, StartTimeError, TriggerType, check_schedule,
};

/// Connection spec id of the Profile store, the source of every destination flow.
pub const PROFILE_STORE_SPEC_ID: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";
/// Connection spec id of the Data Lake, the source of dataset export flows.
pub const DATA_LAKE_SPEC_ID: &str = "23598e46-f560-407b-88d5-ea6207e49db0";
/// Provider id shared by the current cloud storage cards' specs.
pub const CLOUD_STORAGE_PROVIDER_ID: &str = "14e34fac-d307-11e9-bb65-2a2ae2dbcce4";
/// Spec version sent with every `connectionSpec` / `flowSpec` reference.
pub const SPEC_VERSION: &str = "1.0";
/// The transformation name every flow carries.
pub const TRANSFORMATION_NAME: &str = "GeneralTransform";
/// `params.mode` of a current card's target connection.
pub const SERVER_TO_SERVER: &str = "Server-to-server";
/// File format of every legacy batch export.
pub const FILE_FORMAT: &str = "CSV";

/// Guardrail: audiences per destination flow (soft limit, a warning).
pub const MAX_AUDIENCES_PER_FLOW: usize = 250;
/// Guardrail: mapped attributes per destination flow (soft limit, a warning).
pub const MAX_ATTRIBUTES_PER_FLOW: usize = 50;
/// Guardrail: destinations per sandbox (hard limit, an error).
pub const MAX_DESTINATIONS_PER_SANDBOX: usize = 100;

/// One broken schedule or filename rule; `field` is the offending field's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    /// The field at fault (`frequency`, `startTime`, `endDate`, `filenameTemplate`, …).
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::wire_enum::assert_serde_matches;
    use super::*;

    #[test]
    fn every_wire_enum_reads_and_writes_its_one_string() {
        assert_serde_matches(&Platform::ALL, |v| v.as_str(), Platform::parse);
        assert_serde_matches(&AuthMethod::ALL, |v| v.as_str(), AuthMethod::parse);
        assert_serde_matches(&LocationMode::ALL, |v| v.as_str(), LocationMode::parse);
        assert_serde_matches(&ExportMode::ALL, |v| v.as_str(), ExportMode::parse);
        assert_serde_matches(&Frequency::ALL, |v| v.as_str(), Frequency::parse);
        assert_serde_matches(&TriggerType::ALL, |v| v.as_str(), TriggerType::parse);
        assert_eq!(Platform::ALL.len(), 13);
        assert_eq!(Frequency::Every3Hours.as_str(), "EVERY_3_HOURS");
        assert_eq!(
            AuthMethod::SftpBasic.to_string(),
            "Basic Authentication for sftp"
        );
    }
}
