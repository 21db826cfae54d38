//! `destctl validate [PATH...] [--strict]`: the offline check of manifests. Needs no secret
//! value and makes no network call.

use super::cli::ValidateArgs;
use super::{Context, Error, Exit, show_warnings};
use crate::diagnostics::count;
use crate::manifest::load;

/// Checks the manifests: diagnostics and a summary line on stderr.
pub(crate) fn run(args: &ValidateArgs, ctx: &Context) -> Result<Exit, Error> {
    let loaded = load(&args.paths)?;
    let warnings = loaded.warnings.len();
    show_warnings(&loaded, ctx);
    if args.strict && warnings > 0 {
        return Err(Error::StrictWarnings { warnings });
    }
    let d = &loaded.desired.destinations;
    let audiences: usize = d.iter().map(|d| d.audiences.len()).sum();
    let exports = loaded.desired.dataset_exports.len();
    let exports = if exports == 0 {
        String::new()
    } else {
        format!(", {}", count(exports, "dataset export"))
    };
    eprintln!(
        "valid: {} with {} and {} activated{exports} ({})",
        count(loaded.files.len(), "file"),
        count(d.len(), "destination"),
        count(audiences, "audience"),
        count(warnings, "warning"),
    );
    Ok(Exit::Success)
}
