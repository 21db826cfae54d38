//! Environments end to end: one manifest set, two sandboxes with different variables, secret
//! references only in credential params, relative `${file:}`, and `--only`.

use super::findings::{edit, example_repo, run, text};
use crate::support::apply::count;
use crate::support::cli::Cli;
use crate::support::{emulator, write};
use destctl::emulator::FaultConfig;
use std::path::Path;

const CONFIG: &str = "apiVersion: destctl/v1
kind: Config
environments:
  dev:
    sandbox: dev
    vars: {bucket: acme-dev-exports, s3Name: S3 exports (dev)}
  prod:
    sandbox: prod
    vars: {bucket: acme-prod-exports, s3Name: S3 exports (prod)}
";

/// The example repository with `${var:}` in the amazon-s3 Destination.
fn repo_with_vars() -> crate::support::Dir {
    let dir = example_repo();
    edit(
        &dir,
        "manifests/amazon-s3.yaml",
        "bucketName: acme-aep-exports",
        "bucketName: ${var:bucket}",
    );
    edit(
        &dir,
        "manifests/amazon-s3.yaml",
        "displayName: Amazon S3 exports",
        "displayName: \"${var:s3Name}\"",
    );
    dir
}

fn code(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = run(dir, args);
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn two_sandboxes_with_different_vars_plan_apply_and_settle() {
    let dir = repo_with_vars();
    // Without a config file a variable is a located error.
    let (c, _, err) = code(&dir, &["validate"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("needs an environment"), "{err}");
    assert!(err.contains("manifests/amazon-s3.yaml:15:"), "{err}");

    write(&dir, "destctl.yaml", CONFIG);
    let (c, _, err) = code(&dir, &["validate"]);
    assert_eq!(c, Some(0), "{err}");
    assert!(err.contains("valid [environment dev]: 22 files"), "{err}");
    assert!(err.contains("valid [environment prod]: 22 files"), "{err}");

    // plan and apply need a choice when a config file exists.
    let (c, _, err) = code(&dir, &["plan"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("--env NAME"), "{err}");

    let (c, out, err) = code(&dir, &["plan", "--all-envs", "--detailed-exitcode"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(out.contains("=== environment dev ==="), "{out}");
    assert!(out.contains("=== environment prod ==="), "{out}");
    assert!(
        out.contains("(sandbox dev)") && out.contains("(sandbox prod)"),
        "{out}"
    );
    assert_eq!(out.matches("Plan: 98 to create").count(), 2, "{out}");

    let (c, out, err) = code(&dir, &["apply", "--all-envs", "--auto-approve"]);
    assert_eq!(c, Some(0), "{out}\n{err}");
    assert_eq!(
        out.matches("Apply complete: 98 created").count(),
        2,
        "{out}"
    );

    let (c, out, err) = code(&dir, &["plan", "--all-envs", "--detailed-exitcode"]);
    assert_eq!(c, Some(0), "{out}\n{err}");

    // Each sandbox got its own values.
    let state = std::fs::read_to_string(dir.join(".destctl/emulator.json")).unwrap();
    for v in [
        "acme-dev-exports",
        "acme-prod-exports",
        "S3 exports (dev)",
        "S3 exports (prod)",
    ] {
        assert!(state.contains(v), "{v} not in the emulator's state");
    }

    // Saved plans: one file per environment.
    let (c, out, err) = code(
        &dir,
        &[
            "plan",
            "--all-envs",
            "--out",
            "plan.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(c, Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["environments"]["dev"]["target"]["sandbox"], "dev");
    assert!(dir.join("plan.dev.json").exists() && dir.join("plan.prod.json").exists());
    let (c, _, err) = code(&dir, &["apply", "--env", "dev", "--plan", "plan.dev.json"]);
    assert_eq!(c, Some(0), "{err}");

    // An unknown environment and an undefined variable.
    let (c, _, err) = code(&dir, &["plan", "--env", "stage"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("no environment named `stage`"), "{err}");
    edit(
        &dir,
        "destctl.yaml",
        "s3Name: S3 exports (prod)",
        "other: x",
    );
    let (c, _, err) = code(&dir, &["validate", "--env", "prod"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(
        err.contains("[environment prod] undefined variable `s3Name` in environment `prod`"),
        "{err}"
    );
    assert!(err.contains("manifests/amazon-s3.yaml:7:"), "{err}");
}

#[test]
fn a_secret_reference_outside_a_credential_param_fails_validation() {
    let dir = example_repo();
    edit(
        &dir,
        "manifests/amazon-s3.yaml",
        "displayName: Amazon S3 exports",
        "displayName: ${env:AWS_SECRET}",
    );
    edit(
        &dir,
        "manifests/amazon-s3.yaml",
        "bucketName: acme-aep-exports",
        "bucketName: ${file:bucket.txt}",
    );
    let (c, _, err) = code(&dir, &["validate"]);
    assert_eq!(c, Some(1), "{err}");
    assert_eq!(err.matches("is a secret reference").count(), 2, "{err}");
    assert!(err.contains("use ${var:NAME}"), "{err}");
    assert!(err.contains("manifests/amazon-s3.yaml:7:"), "{err}");
    assert!(err.contains("manifests/amazon-s3.yaml:15:"), "{err}");
    // Nothing is sent: plan fails the same way before any request.
    let (c, _, err) = code(&dir, &["plan"]);
    assert_eq!(c, Some(1), "{err}");
    assert!(!dir.join(".destctl").exists(), "no emulator was started");
}

#[test]
fn relative_secret_files_are_read_from_the_manifest_directory_from_anywhere() {
    let dir = example_repo();
    let elsewhere = crate::support::tempdir();
    let manifests = dir.join("manifests");
    let out = Cli::in_dir(&elsewhere)
        .args(["apply", "--auto-approve"])
        .arg(&manifests)
        .output();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Cli::in_dir(&elsewhere)
        .args(["plan", "--format", "json"])
        .arg(&manifests)
        .output();
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_touches_only_its_destinations() {
    let emu = emulator::start(FaultConfig::default()).await;
    let dir = example_repo();
    let url = emu.base_url();
    let apply = |args: &'static [&'static str]| {
        let mut cli = Cli::in_dir(dir.path());
        cli.emulator(&url).args(args);
        cli.run()
    };
    let out = apply(&["apply", "--auto-approve", "--only", "campaign-*"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let flows = "POST /data/foundation/flowservice/flows";
    assert_eq!(count(&emu, flows), 4, "only the 4 campaign-* flows");
    assert_eq!(
        count(&emu, "POST /data/foundation/flowservice/targetConnections"),
        4
    );

    // Pruning never reaches outside the scope.
    std::fs::remove_file(dir.join("manifests/campaign-s3.yaml")).unwrap();
    let out = apply(&["plan", "--prune", "--only", "sftp-*", "--format", "json"]).await;
    let plan = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!plan.contains("\"action\": \"delete\""), "{plan}");
    let out = apply(&["plan", "--prune", "--format", "json"]).await;
    let plan = text(&out.stdout);
    assert!(
        plan.contains("\"action\": \"delete\""),
        "without --only the prune deletes campaign-s3: {plan}"
    );
}
