//! `destctl validate [PATH...] [--strict]`: the offline check of manifests.

use super::{DEFAULT_PATH, load};
use crate::diagnostics::{count, stderr_color};
use crate::error::Error;
use std::path::PathBuf;

/// Arguments of `destctl validate`.
#[derive(Clone, Debug, clap::Args)]
pub struct ValidateArgs {
    /// Manifest files or directories (read recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = DEFAULT_PATH)]
    pub paths: Vec<PathBuf>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
}

/// Checks the manifests: diagnostics and a summary line on stderr. Needs no secret value and
/// makes no network call.
pub fn validate(args: &ValidateArgs) -> Result<(), Error> {
    let loaded = load(&args.paths)?;
    let color = stderr_color();
    let warnings = loaded.warnings.len();
    if warnings > 0 {
        eprint!("{}", loaded.render_warnings(color));
    }
    if args.strict && warnings > 0 {
        return Err(Error::StrictWarnings { warnings });
    }
    let d = &loaded.desired.destinations;
    let audiences: usize = d.iter().map(|d| d.audiences.len()).sum();
    eprintln!(
        "valid: {} with {} and {} activated ({})",
        count(loaded.files.len(), "file"),
        count(d.len(), "destination"),
        count(audiences, "audience"),
        count(warnings, "warning"),
    );
    Ok(())
}
