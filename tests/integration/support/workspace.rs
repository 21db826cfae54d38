//! A work directory of manifests beside an in-process emulator, and `destctl` run in it
//! against that emulator (the setup of the drift and status tests); out-of-band edits through
//! the emulator's HTTP hook (`POST /_emulator/flows/{id}/edit`), choosing who makes them and
//! when.

use super::cli::{Cli, stderr};
use super::{Dir, copy_dir, root, tempdir};
use destctl::emulator::RunningEmulator;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// 2026-11-30T08:00:00Z, the time [`Workspace::edit`]'s edits say they were made.
pub const EDIT_AT: i64 = 1_796_025_600_000;

/// An emulator and a work directory; `destctl` runs there against it, with the variables
/// given to [`Workspace::env`].
pub struct Workspace {
    pub emu: RunningEmulator,
    pub dir: Dir,
    envs: Vec<(&'static str, &'static str)>,
}

impl Workspace {
    /// An empty work directory.
    pub fn new(emu: RunningEmulator) -> Workspace {
        Workspace {
            emu,
            dir: tempdir(),
            envs: Vec::new(),
        }
    }

    /// A work directory holding the repository's `manifests/` and `secrets/`.
    pub fn with_examples(emu: RunningEmulator) -> Workspace {
        let w = Workspace::new(emu);
        copy_dir(&root().join("manifests"), &w.dir.join("manifests"));
        copy_dir(&root().join("secrets"), &w.dir.join("secrets"));
        w
    }

    /// Sets `key` for every `destctl` run.
    pub fn env(mut self, key: &'static str, value: &'static str) -> Workspace {
        self.envs.push((key, value));
        self
    }

    /// `destctl ARGS` in the work directory against the emulator.
    pub fn cli(&self, args: &[&str]) -> Cli {
        let mut cli = Cli::in_dir(&self.dir);
        cli.emulator(&self.emu.base_url()).args(args);
        for (k, v) in &self.envs {
            cli.env(k, v);
        }
        cli
    }

    /// Runs `destctl ARGS`.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.cli(args).run().await
    }

    /// `destctl apply --auto-approve ARGS`, which must succeed.
    pub async fn apply(&self, args: &[&str]) {
        let mut cli = self.cli(&["apply", "--auto-approve"]);
        cli.args(args);
        let out = cli.run().await;
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// The id of the flow of Destination `name` (found by its marker).
    pub async fn flow_id(&self, name: &str) -> String {
        super::apply::flow_id(&self.emu, name).await
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

    /// Replaces `from` (once) by `to` in `manifests/FILE`.
    pub fn edit_manifest(&self, file: &str, from: &str, to: &str) {
        edit_file(&self.dir.join("manifests").join(file), from, to);
    }
}

/// Replaces `from`, which must occur once, by `to` in the file at `path`.
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
