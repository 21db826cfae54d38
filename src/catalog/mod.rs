//! The catalog: the one source of truth for connection and flow spec ids, the auth methods and
//! file locations each platform accepts, and the per-audience rules of the Flow Service
//! (export modes, frequencies, triggers, start times, filename templates). `validate`, `plan`
//! and the emulator all read it.
//!
//! All seven platforms use the legacy batch specs of Adobe's batch destination tutorial (CSV
//! files, profile selectors inside `profileSelectors`), so every managed flow has one shape.
//!
//! By concept: [`platform`] (spec ids and what each platform accepts), [`auth`] (auth methods
//! and their params), [`location`] (file location modes and their params), [`params`] (the
//! shape of a param), [`schedule`] (modes, frequencies, triggers, start times and their rules)
//! and [`filename`] (filename template macros). Every enum with a wire string is declared with
//! `wire_enum!` (in `catalog/wire_enum.rs`), which writes that string once.

pub(crate) mod auth;
pub(crate) mod filename;
pub(crate) mod location;
pub(crate) mod params;
pub(crate) mod platform;
pub(crate) mod schedule;
pub(crate) mod wire_enum;

pub use auth::AuthMethod;
pub use filename::{KNOWN_FILENAME_MACROS, REQUIRED_FILENAME_MACROS, check_filename_template};
pub use location::LocationMode;
pub use params::{ParamSpec, Pattern, ValueType};
pub use platform::{
    CAMPAIGN_FLOW_SPEC_NAME, CLOUD_STORAGE_FLOW_SPEC_ID, EMULATOR_CAMPAIGN_FLOW_SPEC_ID,
    FlowSpecRef, Platform, PlatformInfo,
};
pub use schedule::{
    ExportMode, Frequency, Schedule, StartTime, StartTimeError, TriggerType, check_schedule,
};

/// Connection spec id of the Profile store, the source of every destination flow.
pub const PROFILE_STORE_SPEC_ID: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";
/// Spec version sent with every `connectionSpec` / `flowSpec` reference.
pub const SPEC_VERSION: &str = "1.0";
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
        assert_eq!(Platform::ALL.len(), 7);
        assert_eq!(Frequency::Every3Hours.as_str(), "EVERY_3_HOURS");
        assert_eq!(
            AuthMethod::SftpBasic.to_string(),
            "Basic Authentication for sftp"
        );
    }
}
