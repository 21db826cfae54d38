//! The first-user findings: each test failed before its fix.

use crate::support::cli::Cli;
use crate::support::{Dir, copy_dir, root, tempdir};
use std::path::Path;
use std::process::Output;

/// A fresh directory with a copy of the example repository's `manifests/` and `secrets/`.
pub(crate) fn example_repo() -> Dir {
    let dir = tempdir();
    copy_dir(&root().join("manifests"), &dir.join("manifests"));
    copy_dir(&root().join("secrets"), &dir.join("secrets"));
    dir
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    Cli::in_dir(dir).args(args).output()
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
}

/// Drops every activation to `dest` from `manifests/audiences.yaml`.
fn drop_activations(dir: &Path, dest: &str) {
    let p = dir.join("manifests/audiences.yaml");
    let t = std::fs::read_to_string(&p).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in t.lines() {
        if line.trim_start().starts_with("- destination:") {
            skipping = line.trim_end().ends_with(&format!("destination: {dest}"));
        } else if !line.starts_with("      ") {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(&p, out).unwrap();
}

#[test]
fn a_typo_in_a_destination_reports_only_the_real_error() {
    let dir = example_repo();
    edit(
        &dir,
        "manifests/sftp-password.yaml",
        "\n  attributes:",
        "\n  atributes:",
    );
    let out = run(&dir, &["validate"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("no Destination named"), "{err}");
    assert_eq!(err.matches("  × ").count(), 1, "{err}");
    assert!(err.contains("unknown field `atributes`"), "{err}");
    assert!(
        err.contains("manifests are invalid: 1 error and 1 warning in 1 of 22 files"),
        "{err}"
    );
}

#[test]
fn summary_counts_say_what_they_count() {
    let dir = example_repo();
    let out = run(&dir, &["validate"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "valid: 22 files with 19 destinations, 5 audiences and 23 activations, 1 dataset export"
        ),
        "{err}"
    );
    let out = run(&dir, &["validate", "no-such-dir"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("manifests are invalid: 1 error; no manifest file was read"),
        "{err}"
    );
}

fn last_line(s: &str, prefix: &str) -> String {
    s.lines()
        .rfind(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{s}"))
        .to_owned()
}

/// `Plan: 1 to create, 2 to update, 3 to delete.` and `Apply complete: 1 created, 2 updated,
/// 3 deleted in …` as `(create, update, delete)`.
fn counts(line: &str) -> Vec<String> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(str::to_owned)
        .collect()
}

#[test]
fn plan_and_apply_count_the_same_work_the_same_way() {
    let dir = example_repo();
    let plan = run(&dir, &["plan"]);
    let applied = run(&dir, &["apply", "--auto-approve"]);
    let (plan, applied) = (text(&plan.stdout), text(&applied.stdout));
    let p = last_line(&plan, "Plan:");
    let a = last_line(&applied, "Apply complete:");
    assert_eq!(p, "Plan: 106 to create, 0 to update, 0 to delete.");
    assert!(
        a.starts_with("Apply complete: 106 created, 0 updated, 0 deleted"),
        "{a}"
    );

    // A rename (update), a disable, and one audience less on a third Destination.
    edit(
        &dir,
        "manifests/campaign-s3.yaml",
        "displayName: ",
        "displayName: Renamed ",
    );
    edit(
        &dir,
        "manifests/azure-blob.yaml",
        "\nspec:\n",
        "\nspec:\n  enabled: false\n",
    );
    let plan = text(&run(&dir, &["plan"]).stdout);
    let applied = run(&dir, &["apply", "--auto-approve"]);
    let a_text = text(&applied.stdout);
    assert!(applied.status.success(), "{a_text}");
    let p = last_line(&plan, "Plan:");
    let a = last_line(&a_text, "Apply complete:");
    assert_eq!(counts(&p), counts(&a), "{p} / {a}");
    // The rename, the disable, and the disabled flow's fingerprint patch (docs/drift.md).
    assert_eq!(counts(&p), ["0", "3", "0"], "{p}");
}

#[test]
fn delete_lines_name_the_destination_and_the_role() {
    let dir = example_repo();
    assert!(run(&dir, &["apply", "--auto-approve"]).status.success());
    std::fs::remove_file(dir.join("manifests/sftp-password.yaml")).unwrap();
    drop_activations(&dir, "sftp-password");
    let out = run(&dir, &["plan", "--prune"]);
    let plan = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for role in [
        "flow",
        "targetConnection",
        "sourceConnection",
        "connection",
        "profileConnection",
    ] {
        let resource = if role == "profileConnection" {
            "connection"
        } else {
            role
        };
        assert!(
            plan.contains(&format!("- delete {resource} sftp-password/{role} ")),
            "{role}:\n{plan}"
        );
    }
    let md = text(&run(&dir, &["plan", "--prune", "--format", "markdown"]).stdout);
    assert!(md.contains("delete flow sftp-password/flow "), "{md}");
}

#[test]
fn one_op_is_one_op_and_a_run_without_changes_names_its_target() {
    let dir = example_repo();
    assert!(run(&dir, &["apply", "--auto-approve"]).status.success());
    // A disabled flow: the action, then a patch of one op (the marker's fingerprint records
    // the new state; docs/drift.md).
    edit(
        &dir,
        "manifests/sftp-ssh-key.yaml",
        "\nspec:\n",
        "\nspec:\n  enabled: false\n",
    );
    let out = run(&dir, &["apply", "--auto-approve"]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("(1 op)"), "{report}");
    assert!(!report.contains("1 ops"), "{report}");
    let out = run(&dir, &["apply", "--auto-approve"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Target: embedded:.destctl/emulator.json (sandbox prod)\nNo changes"),
        "{err}"
    );
}

#[test]
fn the_embedded_emulator_leaves_no_lock_file_after_a_clean_exit() {
    let dir = example_repo();
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let out = run(&dir, args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(dir.join(".destctl/emulator.json").exists());
        assert!(
            !dir.join(".destctl/emulator.lock").exists(),
            "{args:?} left the lock file"
        );
    }
}

#[test]
fn help_cargo_toml_and_readme_name_only_what_exists() {
    use clap::CommandFactory;
    let cli = destctl::commands::Cli::command();
    let commands: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let description = cargo
        .lines()
        .find_map(|l| l.strip_prefix("description = "))
        .unwrap();
    // Every command verb the description lists (between `code:` and `and a`) exists.
    let listed = description
        .split_once("code:")
        .map(|(_, rest)| rest)
        .unwrap_or(description);
    for word in listed
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let verb_like = [
            "validate", "plan", "apply", "drift", "import", "status", "schema",
        ];
        if verb_like.contains(&word) {
            assert!(
                commands.iter().any(|c| c == word),
                "Cargo.toml's description names `{word}`, which is not a command"
            );
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for outside in ["DESIGN.md", "shared/", "§", "/work/"] {
        assert!(
            !readme.contains(outside),
            "README.md cites {outside:?}, outside the repository"
        );
    }
}
