//! The target as the command line resolves it: with nothing configured, the embedded emulator
//! (one stderr line, state in `.destctl/emulator.json`); with part of it, an error naming what
//! is missing.

use crate::support::cli::Cli;
use crate::support::{Dir, schedule_only, tempdir};
use std::path::Path;
use std::process::Output;

/// A fresh directory holding `m/schedule.yaml` (a manifest set with nothing to create).
fn workdir() -> Dir {
    let dir = tempdir();
    schedule_only(&dir);
    dir
}

fn destctl(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Cli::in_dir(dir);
    cmd.args(["apply", "--auto-approve", "m"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
}

#[test]
fn nothing_configured_uses_the_embedded_emulator_and_says_so() {
    let dir = workdir();
    let out = destctl(&dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("embedded emulator"))
        .collect();
    assert_eq!(
        notices,
        [
            "destctl: no AEP endpoint or credentials configured; using the embedded emulator (state in .destctl/emulator.json)"
        ]
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("embedded emulator"));
    assert!(dir.join(".destctl/emulator.json").is_file());
    dir.close();
}

#[test]
fn an_endpoint_without_credentials_is_an_error_naming_the_variables() {
    let dir = workdir();
    let out = destctl(&dir, &[("DESTCTL_ENDPOINT", "http://127.0.0.1:9")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    insta::assert_snapshot!("endpoint_without_credentials", stderr);
    assert!(!dir.join(".destctl").exists());

    let out = destctl(
        &dir,
        &[
            ("AEP_CLIENT_ID", "id"),
            ("AEP_CLIENT_SECRET", "s3cr3t-never-shown"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("s3cr3t-never-shown"), "{stderr}");
    insta::assert_snapshot!("credentials_without_endpoint", stderr);
    dir.close();
}
