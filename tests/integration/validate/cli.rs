//! `destctl validate` end to end: the real binary on the example manifests, the invalid corpus
//! (exit 1 and the exact located message, snapshotted) and the warnings corpus.

use crate::support::cli::Cli;
use std::path::{Path, PathBuf};
use std::process::Output;

fn destctl(args: &[&str]) -> Output {
    Cli::in_repo().args(args).output()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .expect("corpus dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    files.sort();
    files
}

#[test]
fn example_manifests_are_valid() {
    let out = destctl(&["validate", "manifests/"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    insta::assert_snapshot!("example_manifests_are_valid", err);
    assert!(out.stdout.is_empty());
}

#[test]
fn default_path_is_manifests() {
    let out = destctl(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The same report as for `validate manifests/`.
    insta::assert_snapshot!("example_manifests_are_valid", stderr(&out));
}

#[test]
fn every_invalid_file_exits_1_with_its_located_message() {
    let files = yaml_files("tests/invalid");
    assert!(files.len() >= 95, "the corpus has {} files", files.len());
    let runs = crate::support::par_map(files, |file| {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let rel = format!("tests/invalid/{stem}.yaml");
        let out = destctl(&["validate", &rel]);
        (stem, rel, out)
    });
    for (stem, rel, out) in runs {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{rel}:\n{err}");
        assert!(
            err.contains(&format!("[{rel}:")),
            "{rel}: no located snippet:\n{err}"
        );
        assert!(
            err.contains("error: manifests are invalid"),
            "{rel}:\n{err}"
        );
        insta::with_settings!({
            snapshot_path => "snapshots/invalid",
            prepend_module_to_snapshot => false,
            description => rel.clone(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem, err);
        });
    }
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let out = destctl(&["validate", "tests/invalid/many-errors.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    for expected in [
        "missing required param s3SecretKey",
        "`Acme` is not a valid bucketName",
        "frequency EVERY_3_HOURS is not allowed",
        "`2021-02-29` is not a real calendar date",
        "no Destination named `nowhere`",
        "no Schedule named `never`",
        "filenameTemplate must contain %DESTINATION_NAME%",
        "unknown field `colour`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("8 errors and 1 warning in 1 file"), "{err}");
}

#[test]
fn problems_across_files_are_reported_together() {
    let out = destctl(&[
        "validate",
        "tests/invalid/end-date-before-start-date.yaml",
        "tests/invalid/secret-literal.yaml",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("problems_across_files", err);
}

#[test]
fn a_secret_literal_is_never_echoed() {
    let out = destctl(&["validate", "tests/invalid/secret-literal.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("spec.connection.params.password"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("password: *****"), "{err}");
}

#[test]
fn warnings_alone_exit_0_and_1_with_strict() {
    let files = yaml_files("tests/warnings");
    assert!(files.len() >= 2);
    for file in files {
        let rel = format!(
            "tests/warnings/{}",
            file.file_name().unwrap().to_str().unwrap()
        );
        let out = destctl(&["validate", &rel]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{rel}:\n{err}");
        assert!(err.contains("⚠"), "{rel}: no warning shown:\n{err}");
        assert!(err.contains("(1 warning)"), "{rel}:\n{err}");
        let strict = destctl(&["validate", "--strict", &rel]);
        let serr = stderr(&strict);
        assert_eq!(strict.status.code(), Some(1), "{rel}:\n{serr}");
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        insta::with_settings!({description => rel.clone(), omit_expression => true}, {
            insta::assert_snapshot!(format!("strict_{stem}"), serr);
        });
    }
}

#[test]
fn the_warnings_mention_the_guardrail() {
    let out = destctl(&["validate", "tests/warnings/too-many-attributes.yaml"]);
    insta::with_settings!({snapshot_path => "snapshots", omit_expression => true}, {
        insta::assert_snapshot!("warning_too_many_attributes", stderr(&out));
    });
}

#[test]
fn the_audience_guardrail_is_a_warning() {
    let out = destctl(&["validate", "tests/warnings/too-many-audiences.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::with_settings!({snapshot_path => "snapshots", omit_expression => true}, {
        insta::assert_snapshot!("warning_too_many_audiences", stderr(&out));
    });
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let bad = destctl(&["validate", "--no-such-flag"]);
    assert_eq!(bad.status.code(), Some(1));
    insta::assert_snapshot!("unknown_flag", stderr(&bad));
    let unknown = destctl(&["frobnicate"]);
    assert_eq!(unknown.status.code(), Some(1));
    let none = destctl(&[]);
    assert_eq!(none.status.code(), Some(1));
    let help = destctl(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    insta::assert_snapshot!("help", help);
    let version = destctl(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .starts_with("destctl ")
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let out = destctl(&["validate", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("missing_path", stderr(&out));
}

#[test]
fn colour_is_off_without_a_terminal() {
    let out = Cli::in_repo()
        .args(["validate", "tests/invalid/many-errors.yaml"])
        .env_remove("NO_COLOR")
        .output();
    assert!(!stderr(&out).contains('\u{1b}'));
}
