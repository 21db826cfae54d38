//! `destctl completions SHELL`, `destctl man`, and the LICENSE file.

use super::findings::text;
use crate::support::cli::Cli;
use crate::support::{root, tempdir};

#[test]
fn completions_for_every_shell_know_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Cli::new().args(["completions", shell]).output();
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["validate", "plan", "apply", "all-envs", "only"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = Cli::new().args(["completions", "tcsh"]).output();
    assert_eq!(out.status.code(), Some(1), "a usage error exits 1");
}

#[test]
fn the_man_page_is_generated_from_the_command_line() {
    let out = Cli::new().arg("man").output();
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH destctl 1"), "{page}");
    assert!(
        page.contains("validate") && page.contains("completions"),
        "{page}"
    );
    let dir = tempdir();
    let out = Cli::new().args(["man", "--out"]).arg(dir.path()).output();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = std::fs::read_to_string(dir.join("destctl-plan.1")).unwrap();
    assert!(plan.contains("all\\-envs"), "{plan}");
}

#[test]
fn the_license_file_matches_cargo_toml() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("license = \"Apache-2.0\""));
    let license = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(license.contains("Apache License"));
    assert!(license.contains("Version 2.0, January 2004"));
    assert!(license.contains("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
}
