//! `destctl drift` (and `plan`'s "changed outside destctl" part, and renames) run as the real
//! binary against an in-process emulator holding the example setup, applied by `destctl
//! apply`. Out-of-band edits go through the emulator's HTTP edit hook
//! (`POST /_emulator/flows/{id}/edit`), choosing who makes them and when.

mod cases;
mod envs;
mod fingerprint;
mod metrics;
mod rename;

use crate::support::cli::Cli;
use crate::support::emulator::start;
use crate::support::{Dir, copy_dir, root, tempdir};
use destctl::emulator::{FaultConfig, RunningEmulator};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// The segment id of `loyalty-segment`, activated to campaign-s3 only.
pub const LOYALTY: &str = "25768be6-ebd5-45cc-8913-12fb3f348613";
/// The segment id of `mountain-bikers`, activated to campaign-s3.
pub const BIKERS: &str = "9f7d37fd-7039-4454-94ef-2b0cd6c3206a";
/// 2026-11-30T08:00:00Z, the time the edits say they were made.
pub const EDIT_AT: i64 = 1_796_025_600_000;

/// An emulator with the example manifests applied, and the working directory holding them.
pub struct Setup {
    pub emu: RunningEmulator,
    pub dir: Dir,
}

impl Setup {
    pub async fn new() -> Setup {
        let emu = start(FaultConfig::default()).await;
        let dir = tempdir();
        copy_dir(&root().join("manifests"), &dir.join("manifests"));
        copy_dir(&root().join("secrets"), &dir.join("secrets"));
        let s = Setup { emu, dir };
        let out = s.run(&["apply", "--auto-approve"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        s
    }

    /// Runs destctl in the working directory against the emulator.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cli = Cli::in_dir(&self.dir);
        cli.emulator(&self.emu.base_url()).args(args);
        cli.run().await
    }

    /// `drift --format json`, with the exit code.
    pub async fn drift_json(&self) -> (i32, Value) {
        let out = self.run(&["drift", "--format", "json"]).await;
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 2, "{}", stderr(&out));
        (code, serde_json::from_slice(&out.stdout).unwrap())
    }

    /// The id of the flow of Destination `name` (found by its marker).
    pub async fn flow_id(&self, name: &str) -> String {
        let live = crate::support::apply::live(&self.emu).await;
        live.managed()
            .remove(name)
            .and_then(|d| d.flow)
            .map(|f| f.id.0.clone())
            .unwrap_or_else(|| panic!("no flow for {name}"))
    }

    /// An out-of-band edit through the HTTP hook, made by `by` at [`EDIT_AT`].
    pub async fn edit(&self, flow_id: &str, by: &str, edit: Value) {
        let url = format!("{}/_emulator/flows/{flow_id}/edit", self.emu.base_url());
        let body = json!({"by": by, "client": "exc_app", "at": EDIT_AT, "edit": edit});
        let resp = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status.as_u16(), 200, "{text}");
    }

    /// Replaces `from` (once) by `to` in a manifest.
    pub fn edit_manifest(&self, file: &str, from: &str, to: &str) {
        edit_file(&self.dir.join("manifests").join(file), from, to);
    }
}

pub fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} in {}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).unwrap();
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
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
