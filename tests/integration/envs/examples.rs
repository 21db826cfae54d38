//! The CI examples under `examples/ci/`: every `destctl` command written in them is read from
//! the files and run against the emulator, in file order, in a copy of the example repository
//! with the examples' `destctl.yaml`. A subcommand this test does not know fails it.

use super::findings::{example_repo, text};
use crate::support::cli::Cli;
use crate::support::{emulator, root};
use destctl::emulator::FaultConfig;

/// The subcommands this test runs.
const RUN: &[&str] = &[
    "validate",
    "plan",
    "apply",
    "drift",
    "schema",
    "completions",
    "man",
];

/// The example files and how many destctl commands each must hold at least.
const EXAMPLES: &[(&str, usize)] = &[
    ("examples/ci/github/destctl.yml", 4),
    ("examples/ci/gitlab/.gitlab-ci.yml", 4),
    ("examples/ci/kubernetes/drift-cronjob.yaml", 1),
    ("examples/ci/Containerfile", 0),
];

/// The `destctl …` command lines of a file: on lines that are not comments, `destctl`
/// standing alone as a word (after a space, `;`, `(` or at the start) and followed by a space;
/// the command ends at a shell operator. Shell and CI variables become `dev`, the examples'
/// first environment.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        // CI expressions (`${{ matrix.env }}`) are one word: the examples' first environment.
        let mut line = line.to_owned();
        while let Some(i) = line.find("${{") {
            let end = line[i..].find("}}").map_or(line.len(), |e| i + e + 2);
            line.replace_range(i..end, "dev");
        }
        let line = line.as_str();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let mut from = 0;
        while let Some(at) = line[from..].find("destctl ") {
            let at = from + at;
            from = at + "destctl ".len();
            let before = line[..at].chars().next_back();
            if !before.is_none_or(|c| matches!(c, ' ' | ';' | '(' | '\t')) {
                continue;
            }
            let mut args = Vec::new();
            for token in line[at..].split_whitespace().skip(1) {
                if matches!(token, "|" | "||" | "&&" | ";" | "2>&1")
                    || token.starts_with('>')
                    || token.starts_with('#')
                {
                    break;
                }
                let token = token.trim_end_matches(';').trim_matches(['"', '\'']);
                args.push(if token.contains('$') {
                    "dev".to_owned()
                } else {
                    token.to_owned()
                });
            }
            out.push(args);
        }
    }
    out
}

#[test]
fn commands_are_read_from_the_files() {
    let cmds = commands(
        "# destctl plan in a comment\nrun: destctl validate --all-envs\n  code=0; destctl plan --env ${{ matrix.env }} > plan.md || code=$?\nimage: x/destctl:1\nname: destctl-drift\n  destctl drift --env \"$env\"\n",
    );
    assert_eq!(
        cmds,
        [
            vec!["validate", "--all-envs"],
            vec!["plan", "--env", "dev"],
            vec!["drift", "--env", "dev"],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ci_example_command_runs_green_against_the_emulator() {
    let mut ran = 0;
    for (file, at_least) in EXAMPLES {
        let example = std::fs::read_to_string(root().join(file)).unwrap();
        let cmds = commands(&example);
        assert!(
            cmds.len() >= *at_least,
            "{file}: {} destctl command(s), expected at least {at_least}",
            cmds.len()
        );
        let emu = emulator::start(FaultConfig::default()).await;
        let dir = example_repo();
        std::fs::copy(
            root().join("examples/ci/destctl.yaml"),
            dir.join("destctl.yaml"),
        )
        .unwrap();
        for args in cmds {
            let sub = args.first().map(String::as_str).unwrap_or("");
            assert!(
                RUN.contains(&sub),
                "{file}: unknown destctl subcommand in `destctl {}`",
                args.join(" ")
            );
            let mut cli = Cli::in_dir(dir.path());
            cli.emulator(&emu.base_url()).args(&args);
            let out = cli.run().await;
            let code = out.status.code();
            let ok = code == Some(0)
                || (code == Some(2) && args.iter().any(|a| a == "--detailed-exitcode"));
            assert!(
                ok,
                "{file}: `destctl {}` exited {code:?}\n{}\n{}",
                args.join(" "),
                text(&out.stdout),
                text(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 6, "ran {ran} commands");
}
