//! `destctl drift` (and `plan`'s "changed outside destctl" part, and renames) run as the real
//! binary against an in-process emulator holding the example setup, applied by `destctl
//! apply` ([`applied`]); out-of-band edits through the emulator's HTTP hook
//! ([`Workspace::edit`]).

mod cases;
mod envs;
mod fingerprint;
mod metrics;
mod rename;

pub use crate::support::cli::{stderr, stdout};
use crate::support::emulator::start;
pub use crate::support::workspace::{EDIT_AT, Workspace, edit_file};
use destctl::emulator::FaultConfig;
use serde_json::Value;
#[allow(unused_imports)]
use serde_json::json;

/// The segment id of `loyalty-segment`, activated to campaign-s3 only.
pub const LOYALTY: &str = "25768be6-ebd5-45cc-8913-12fb3f348613";
/// The segment id of `mountain-bikers`, activated to campaign-s3.
pub const BIKERS: &str = "9f7d37fd-7039-4454-94ef-2b0cd6c3206a";

/// An emulator with the example manifests applied by `destctl apply`, and the working
/// directory holding them.
pub async fn applied() -> Workspace {
    let w = Workspace::with_examples(start(FaultConfig::default()).await);
    w.apply(&[]).await;
    w
}

/// `drift --format json` in `w`, with the exit code.
pub async fn drift_json(w: &Workspace) -> (i32, Value) {
    let out = w.run(&["drift", "--format", "json"]).await;
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 2, "{}", stderr(&out));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

/// The report's entry for Destination `name`.
pub fn destination<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

/// `(field, origin)` of each difference of `d`.
pub fn fields(d: &Value) -> Vec<(String, String)> {
    d["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["field"].as_str().unwrap().to_owned(),
                x["origin"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
