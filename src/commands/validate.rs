//! `destctl validate [PATH...] [--strict] [--env NAME]... [--all-envs]`: the offline check
//! of manifests. Needs no secret value and makes no network call. With a config file, the
//! manifests are checked once per environment (every environment unless some are named),
//! after `${var:}` substitution.

use super::cli::ValidateArgs;
use super::envs::{self, WhenNoneNamed};
use super::{Context, Error, Exit, show_warnings};
use crate::diagnostics::count;
use crate::manifest::{Loaded, load, load_for};

/// Checks the manifests: diagnostics and a summary line on stderr.
pub(crate) fn run(args: &ValidateArgs, ctx: &Context) -> Result<Exit, Error> {
    let Some(environments) = envs::select(&args.env, WhenNoneNamed::All)? else {
        return check(load(&args.paths)?, args, ctx, "");
    };
    if let [env] = environments.as_slice() {
        let label = format!(" [environment {}]", env.name);
        return check(load_for(&args.paths, env)?, args, ctx, &label);
    }
    let total = environments.len();
    let mut failed = 0;
    for env in &environments {
        let label = format!(" [environment {}]", env.name);
        let result = load_for(&args.paths, env)
            .map_err(Error::from)
            .and_then(|loaded| check(loaded, args, ctx, &label));
        if let Err(e) = result {
            failed += 1;
            super::report(&e, ctx);
        }
    }
    if failed > 0 {
        return Err(Error::Environments { failed, total });
    }
    Ok(Exit::Success)
}

/// Shows the warnings and the summary line of loaded manifests (`label` names the
/// environment).
fn check(loaded: Loaded, args: &ValidateArgs, ctx: &Context, label: &str) -> Result<Exit, Error> {
    let warnings = loaded.warnings.len();
    show_warnings(&loaded, ctx);
    if args.strict && warnings > 0 {
        return Err(Error::StrictWarnings { warnings });
    }
    let d = &loaded.desired.destinations;
    let activations: usize = d.iter().map(|d| d.audiences.len()).sum();
    let audiences: std::collections::BTreeSet<&str> = d
        .iter()
        .flat_map(|d| d.audiences.iter().map(|a| a.manifest.as_str()))
        .collect();
    let exports = loaded.desired.dataset_exports.len();
    let exports = if exports == 0 {
        String::new()
    } else {
        format!(", {}", count(exports, "dataset export"))
    };
    eprintln!(
        "valid{label}: {} with {}, {} and {}{exports} ({})",
        count(loaded.files.len(), "file"),
        count(d.len(), "destination"),
        count(audiences.len(), "audience"),
        count(activations, "activation"),
        count(warnings, "warning"),
    );
    Ok(Exit::Success)
}
