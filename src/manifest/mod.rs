//! Manifests: reading YAML files (serde-saphyr, with per-value positions), checking every rule
//! of the catalog and the references between documents, and building the desired model.
//!
//! [`load`] is the entry point for `validate`, `plan` and `apply`. It reports every problem it
//! finds in one [`ManifestError`]; a document whose structure cannot be read (an unknown
//! field, a wrong type) contributes that one error and the other documents are still checked.

mod check;
mod node;
pub(crate) mod raw;
pub mod schema;
pub(crate) mod source;

pub use crate::diagnostics::{Problem, Severity, Sources};
use crate::diagnostics::{count, render};
use crate::model::DesiredState;
/// Why a manifest or `${file:}` secret was not read (named in `apply::secrets::SecretError`).
pub use source::{FileError, FileKind};
use std::path::PathBuf;

/// The default manifest path.
pub const DEFAULT_PATH: &str = "manifests";

/// Valid manifests: the desired model and what deserves a warning.
#[derive(Debug)]
pub struct Loaded {
    /// The desired model: destinations sorted by name, their audiences by segment id.
    pub desired: DesiredState,
    /// Problems that do not fail validation (guardrails, ignored fields).
    pub warnings: Vec<Problem>,
    /// The files read, in reading order.
    pub files: Vec<PathBuf>,
    /// The files' text, for rendering the warnings.
    pub sources: Sources,
}

impl Loaded {
    /// The warnings as source snippets.
    pub fn render_warnings(&self, color: bool) -> String {
        render(&self.warnings, &self.sources, color)
    }
}

/// Manifests that do not validate: every problem found (errors and warnings, in file order).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ManifestError {
    /// The problems, errors and warnings, sorted by file and position.
    pub problems: Vec<Problem>,
    /// The files read.
    pub files: Vec<PathBuf>,
    /// The files' text (secret literals masked), for rendering.
    pub sources: Sources,
    /// The environment the manifests were loaded for ([`load_for`]).
    pub environment: Option<String>,
}

impl ManifestError {
    /// The problems that are errors.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    /// The problems that are warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }

    /// `N errors and M warnings in K files`, counting the files that have errors (`in K of
    /// F files` when fewer than the F files read have them; `no manifest file was read` when
    /// none could be).
    pub fn summary(&self) -> String {
        let e = self.errors().count();
        let w = self.warnings().count();
        let mut s = match &self.environment {
            Some(env) => format!(
                "[environment {env}] manifests are invalid: {}",
                count(e, "error")
            ),
            None => format!("manifests are invalid: {}", count(e, "error")),
        };
        if w > 0 {
            s.push_str(&format!(" and {}", count(w, "warning")));
        }
        let with_errors: std::collections::BTreeSet<&std::path::Path> = self
            .errors()
            .filter_map(|p| p.location.as_ref().map(|l| l.file.as_path()))
            .collect();
        let read = self.files.len();
        let k = with_errors.len();
        if read == 0 {
            s.push_str("; no manifest file was read");
        } else if k == read {
            s.push_str(&format!(" in {}", count(k, "file")));
        } else if k == 0 {
            s.push_str(&format!(" ({} read)", count(read, "file")));
        } else {
            s.push_str(&format!(" in {k} of {}", count(read, "file")));
        }
        s
    }

    /// Every problem as a source snippet.
    pub fn render(&self, color: bool) -> String {
        render(&self.problems, &self.sources, color)
    }
}

/// Reads the manifests under `paths` (files, or directories read recursively for `*.yaml` and
/// `*.yml` in sorted order), checks them, and builds the desired model. Needs no secret value
/// and makes no network call.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, ManifestError> {
    check::load(paths, None)
}

/// [`load`] for one environment of the config file: `${var:NAME}` references take its
/// values, and every problem names it.
pub fn load_for(
    paths: &[PathBuf],
    env: &crate::config::Environment,
) -> Result<Loaded, ManifestError> {
    check::load(paths, Some((&env.name, &env.vars))).map_err(|mut e| {
        for p in &mut e.problems {
            p.message = format!("[environment {}] {}", env.name, p.message);
        }
        e.environment = Some(env.name.clone());
        e
    })
}
