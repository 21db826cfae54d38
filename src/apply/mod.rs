//! `destctl apply`: executes a plan — computed live from the manifests, or a saved, reviewed
//! plan file — with `If-Match` etags, creates in dependency order, Destinations in parallel,
//! secrets resolved before the first request, and a report of what was done.

pub mod execute;
pub(crate) mod graph;
pub mod lock;
pub mod preflight;
pub(crate) mod refs;
pub mod report;
pub mod secrets;

mod run;
pub use run::{
    Applied, Approval, Context, Input, LiveReplanner, Observer, Silent, apply, check_offline,
};

use crate::client::Client;
use crate::plan::{FORMAT_VERSION, Plan};
use execute::{Cancel, Executor, Mode, Progress};
use report::ApplyReport;
use secrets::{Resolver, SecretErrors, SecretLocations};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Builds the execution graph of `plan` as `apply` does before its first request (the error
/// in words), for the fuzz targets (`fuzz/`, `crate::fuzzing`).
#[doc(hidden)]
pub fn check_graph(plan: &Plan) -> Result<(), String> {
    graph::build(plan).map(drop).map_err(|e| e.to_string())
}

/// Why an apply stopped before or while sending.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The plan file cannot be read: missing, not a regular file, larger than
    /// [`MAX_PLAN_FILE_BYTES`], or not UTF-8.
    #[error("cannot read the plan file `{}`", path.display())]
    ReadPlan {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::manifest::FileError,
    },
    /// The plan file is not a plan.
    #[error("`{}` is not a destctl plan", path.display())]
    ParsePlan {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The plan file is from another format version.
    #[error("`{}` has plan format_version {found}; this destctl applies version {FORMAT_VERSION}. Re-run `destctl plan`", path.display())]
    PlanVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The saved plan's digest is missing or does not match its changes.
    #[error("`{}` is refused; nothing was sent", path.display())]
    PlanDigest {
        /// The file.
        path: PathBuf,
        /// What is wrong with the digest.
        source: crate::plan::digest::DigestError,
    },
    /// The plan cannot be executed as written.
    #[error("the plan cannot be executed; nothing was sent")]
    Graph(#[from] graph::GraphError),
    /// Secrets could not be resolved.
    #[error(transparent)]
    Secrets(#[from] SecretErrors),
    /// The saved plan is stale.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// No terminal to confirm on, and no `--auto-approve`.
    #[error(
        "refusing to apply without confirmation: stdin is not a terminal; review the plan and pass --auto-approve (nothing was sent)"
    )]
    NoTerminal,
    /// The user did not answer `yes`.
    #[error("apply cancelled; nothing was sent")]
    NotConfirmed,
    /// Reading the confirmation failed.
    #[error("cannot read the confirmation")]
    Prompt(#[source] std::io::Error),
    /// The target cannot be resolved or reached.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// Reading live state failed (nothing was written).
    #[error("reading live state failed; nothing was written")]
    Fetch(#[source] crate::client::ClientError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The current directory cannot be read (for `${file:…}` secrets).
    #[error("cannot determine the current directory")]
    CurrentDir(#[source] std::io::Error),
    /// The apply lock was not taken (held by another run past `--lock-timeout`, or
    /// unreachable).
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// The apply ran but did not do everything (the report on stdout says what).
    #[error("{}", incomplete_message(*.failed, *.not_run, *.interrupted))]
    Incomplete {
        /// Destinations that failed.
        failed: usize,
        /// Changes not attempted.
        not_run: usize,
        /// Whether Ctrl-C stopped it.
        interrupted: bool,
    },
}

fn incomplete_message(failed: usize, not_run: usize, interrupted: bool) -> String {
    let mut s = if interrupted {
        "apply interrupted".to_owned()
    } else {
        "apply incomplete".to_owned()
    };
    if failed > 0 {
        s.push_str(&format!(
            ": {failed} Destination{} failed",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if not_run > 0 {
        s.push_str(&format!(
            "{} {not_run} change{} not attempted",
            if failed > 0 { "," } else { ":" },
            if not_run == 1 { "" } else { "s" }
        ));
    }
    s.push_str(" (see the report); run `destctl plan` to see what is left");
    s
}

/// Largest saved plan file read, 64 MiB (a guard against a wrong path such as a device, not a
/// format limit).
pub const MAX_PLAN_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a saved plan file: a regular file (never a FIFO, device or `/proc` entry) of at most
/// [`MAX_PLAN_FILE_BYTES`], strictly typed (no unknown field, secret references only in a
/// connection's auth params), and with a digest that matches its changes.
pub fn read_plan_file(path: &Path) -> Result<Plan, ApplyError> {
    let read_plan = |source| ApplyError::ReadPlan {
        path: path.to_owned(),
        source,
    };
    let bytes =
        crate::manifest::source::read_regular(path, MAX_PLAN_FILE_BYTES).map_err(read_plan)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        read_plan(crate::manifest::FileError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        )))
    })?;
    let version: Option<u32> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format_version")?.as_u64())
        .map(|v| v as u32);
    if let Some(found) = version
        && found != FORMAT_VERSION
    {
        return Err(ApplyError::PlanVersion {
            path: path.to_owned(),
            found,
        });
    }
    let plan: Plan = serde_json::from_str(&text).map_err(|source| ApplyError::ParsePlan {
        path: path.to_owned(),
        source,
    })?;
    plan.verify_digest()
        .map_err(|source| ApplyError::PlanDigest {
            path: path.to_owned(),
            source,
        })?;
    Ok(plan)
}

/// Asks on `out` whether to apply and reads the answer from `input`: only `yes` approves.
pub fn confirm(
    input: &mut impl std::io::BufRead,
    out: &mut impl std::io::Write,
) -> Result<(), ApplyError> {
    write!(out, "\nApply these changes? Type 'yes' to confirm: ")
        .and_then(|_| out.flush())
        .map_err(ApplyError::Prompt)?;
    let mut line = String::new();
    input.read_line(&mut line).map_err(ApplyError::Prompt)?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(ApplyError::NotConfirmed)
    }
}

/// How to execute a plan.
#[derive(Clone)]
pub struct ExecuteOptions {
    /// Destinations at the same time.
    pub parallelism: usize,
    /// 412 handling.
    pub mode: Mode,
    /// Ctrl-C token.
    pub cancel: Cancel,
    /// Progress display.
    pub progress: Arc<dyn Progress>,
    /// Secret source.
    pub resolver: Resolver,
    /// Where the manifests wrote each secret (empty for saved plans).
    pub locations: SecretLocations,
}

/// A plan checked and with its secrets resolved, ready to send: built entirely before the
/// first request.
pub struct Prepared {
    graph: graph::ExecGraph,
    resolved: secrets::ResolvedPlan,
}

impl Prepared {
    /// Orders the plan and resolves every secret; any problem here means nothing is sent.
    pub fn new(
        plan: &Plan,
        resolver: &Resolver,
        locations: &SecretLocations,
    ) -> Result<Prepared, ApplyError> {
        let graph = graph::build(plan)?;
        let resolved = resolver.resolve_plan(plan, locations)?;
        Ok(Prepared { graph, resolved })
    }

    /// The execution graph.
    pub fn graph(&self) -> &graph::ExecGraph {
        &self.graph
    }

    /// Sends it.
    pub async fn execute(&self, client: &Client, opts: &ExecuteOptions) -> ApplyReport {
        let exec = Executor {
            client: client.clone(),
            parallelism: opts.parallelism,
            mode: opts.mode.clone(),
            cancel: opts.cancel.clone(),
            progress: opts.progress.clone(),
            resolver: opts.resolver.clone(),
            locations: opts.locations.clone(),
        };
        exec.run(&self.graph, &self.resolved).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation() {
        let mut out = Vec::new();
        assert!(confirm(&mut &b"yes\n"[..], &mut out).is_ok());
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("Apply these changes? Type 'yes'")
        );
        for answer in [&b"y\n"[..], b"no\n", b"", b"YES please\n"] {
            assert!(matches!(
                confirm(&mut &answer[..], &mut Vec::new()),
                Err(ApplyError::NotConfirmed)
            ));
        }
    }

    #[test]
    fn plan_files() {
        let dir = std::env::temp_dir().join(format!("destctl-planfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok.json");
        let body = |digest: &str| {
            format!(
                r#"{{"format_version":1,"target":{{"endpoint":"e","sandbox":"prod"}},{digest}
                "summary":{{"create":0,"update":0,"delete":0,"unchanged":0}},"changes":[]}}"#
            )
        };
        let target = crate::plan::PlanTarget {
            endpoint: "e".into(),
            sandbox: "prod".into(),
        };
        let digest = crate::plan::digest::digest(&target, &[]);
        std::fs::write(&ok, body(&format!(r#""digest":"{digest}","#))).unwrap();
        assert!(read_plan_file(&ok).unwrap().changes.is_empty());
        std::fs::write(&ok, body("")).unwrap();
        assert!(matches!(
            read_plan_file(&ok),
            Err(ApplyError::PlanDigest {
                source: crate::plan::digest::DigestError::Missing,
                ..
            })
        ));
        let v2 = dir.join("v2.json");
        std::fs::write(&v2, r#"{"format_version":2}"#).unwrap();
        assert!(matches!(
            read_plan_file(&v2),
            Err(ApplyError::PlanVersion { found: 2, .. })
        ));
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "not json").unwrap();
        assert!(matches!(
            read_plan_file(&bad),
            Err(ApplyError::ParsePlan { .. })
        ));
        assert!(matches!(
            read_plan_file(&dir.join("none.json")),
            Err(ApplyError::ReadPlan { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
