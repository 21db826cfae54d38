//! The library's top-level error: every command returns it, and `main` alone turns it into a
//! message and an exit code.

use crate::manifest::ManifestError;
use std::path::PathBuf;

/// Everything a destctl command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Manifests that do not validate (every problem, located).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `validate --strict` found warnings.
    #[error("{warnings} warning(s) and --strict was given")]
    StrictWarnings {
        /// How many warnings.
        warnings: usize,
    },
    /// The emulator failed to start or serve.
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    /// The target (endpoint, credentials, embedded emulator) cannot be resolved or started.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// A Flow Service request failed.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// No plan can be made (e.g. a platform change, which the API refuses).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime {
        /// The cause.
        source: std::io::Error,
    },
    /// `apply` failed or was refused.
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error: always 1 (2 is reserved for "changes present" and
    /// "drift found", which are results, not errors).
    pub fn exit_code(&self) -> u8 {
        1
    }
}
