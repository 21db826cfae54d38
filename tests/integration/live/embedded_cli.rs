//! The target as the command line resolves it: with nothing configured, the embedded emulator
//! (one stderr line, state in `.destctl/emulator.json`); with part of it, an error naming what
//! is missing.

use std::path::PathBuf;
use std::process::{Command, Output};

const TARGET_VARS: [&str; 8] = [
    "DESTCTL_ENDPOINT",
    "DESTCTL_IMS_URL",
    "AEP_CLIENT_ID",
    "AEP_CLIENT_SECRET",
    "AEP_ORG_ID",
    "AEP_SCOPES",
    "AEP_ACCESS_TOKEN",
    "AEP_SANDBOX",
];

/// A fresh directory holding `m/schedule.yaml` (a manifest set with nothing to create).
fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("destctl-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("m")).unwrap();
    std::fs::write(
        dir.join("m/schedule.yaml"),
        "apiVersion: destctl/v1\nkind: Schedule\nmetadata: {name: daily}\nspec: {exportMode: DAILY_FULL_EXPORT, frequency: DAILY, triggerType: SCHEDULED, startDate: 2021-12-20, startTime: \"17:00\"}\n",
    )
    .unwrap();
    dir
}

fn destctl(dir: &PathBuf, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_destctl"));
    cmd.current_dir(dir)
        .args(["apply", "--auto-approve", "m"])
        .env("NO_COLOR", "1");
    for v in TARGET_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
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
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_endpoint_without_credentials_is_an_error_naming_the_variables() {
    let dir = workdir();
    let out = destctl(&dir, &[("DESTCTL_ENDPOINT", "http://127.0.0.1:9")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for v in ["AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ORG_ID"] {
        assert!(stderr.contains(v), "{stderr}");
    }
    assert!(!stderr.contains("embedded emulator"), "{stderr}");
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
    assert!(stderr.contains("DESTCTL_ENDPOINT"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-never-shown"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
