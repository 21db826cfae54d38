//! Issue 12, point 3: input that cannot hurt. Each hostile manifest or secret file, made in a
//! temporary directory (FIFOs, devices, `/proc` links and directories cannot live in the
//! committed corpus), through the real binary against an in-process emulator: exit 1, a
//! located message (snapshot), zero requests on the emulator, bounded time, and the content
//! of what was refused never shown.

use crate::support::cli::Cli;
use crate::support::emulator;
use crate::support::snapshot::Redact;
use crate::support::{Dir, tempdir};
use destctl::emulator::{FaultConfig, RunningEmulator};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// In the environment of every run: must appear in no output (`/proc/self/environ`).
const CANARY: &str = "destctl-canary-7f3a9c";

/// A valid Destination whose secret key is `${file:../SECRET}` (the `SECRET` file beside `manifests/`) and access key `${env:ACCESS}`.
const DESTINATION: &str = "apiVersion: destctl/v1
kind: Destination
metadata:
  name: amazon-s3
spec:
  displayName: Amazon S3 exports
  platform: amazon-s3-legacy
  connection:
    auth: Access Key
    params:
      s3AccessKey: ${env:HOSTILE_ACCESS_KEY}
      s3SecretKey: ${file:../SECRET}
  location:
    mode: S3
    bucketName: acme-aep-exports
    path: /audiences
";

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("a symbolic link");
}

/// Runs `args` in `dir` against `emu`; checks exit 1, bounded time, no canary, zero
/// requests; returns stderr with the directory and port redacted.
async fn refused(emu: &RunningEmulator, dir: &Dir, args: &[&str], access_key: &str) -> String {
    emu.reset().await.unwrap();
    let started = Instant::now();
    let mut cli = Cli::in_dir(dir.path());
    cli.emulator(&emu.base_url())
        .env("HOSTILE_CANARY", CANARY)
        .env("HOSTILE_ACCESS_KEY", access_key)
        .args(args);
    let out: Output = cli.run().await;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}:\n{stderr}\n{stdout}");
    assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    assert!(
        !stderr.contains(CANARY) && !stdout.contains(CANARY),
        "{args:?}: the environment leaked:\n{stderr}"
    );
    assert!(
        stderr.len() < 20_000,
        "{args:?}: {} bytes on stderr",
        stderr.len()
    );
    let counts = emu.request_counts();
    assert!(
        counts.is_empty(),
        "{args:?}: requests were sent: {counts:?}"
    );
    Redact::new().dir(dir.path(), "dir").apply(&stderr)
}

/// One hostile case: what it puts in the directory (a `manifests/` directory and maybe a
/// `SECRET` file), and the commands that must refuse it.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    commands: &'static [&'static [&'static str]],
    access_key: &'static str,
}

const PLAN: &[&str] = &["plan", "manifests"];
const VALIDATE: &[&str] = &["validate", "manifests"];
const APPLY: &[&str] = &["apply", "--auto-approve", "manifests"];
const APPLY_PLAN: &[&str] = &["apply", "--auto-approve", "--plan", "manifests/plan.json"];

fn manifests(dir: &Path) -> std::path::PathBuf {
    let m = dir.join("manifests");
    std::fs::create_dir_all(&m).unwrap();
    m
}

fn with_secret(dir: &Path) -> std::path::PathBuf {
    std::fs::write(manifests(dir).join("d.yaml"), DESTINATION).unwrap();
    dir.join("SECRET")
}

const CASES: &[Case] = &[
    Case {
        name: "manifest_proc_self_environ",
        setup: |d| symlink("/proc/self/environ", &manifests(d).join("zz.yaml")),
        commands: &[VALIDATE, PLAN, APPLY],
        access_key: "x",
    },
    Case {
        name: "manifest_dev_zero",
        setup: |d| symlink("/dev/zero", &manifests(d).join("zero.yaml")),
        commands: &[VALIDATE, PLAN, APPLY],
        access_key: "x",
    },
    Case {
        name: "manifest_fifo",
        setup: |d| mkfifo(&manifests(d).join("pipe.yaml")),
        commands: &[VALIDATE, PLAN, APPLY],
        access_key: "x",
    },
    Case {
        name: "manifest_fifo_given_as_a_file",
        setup: |d| mkfifo(&manifests(d).join("pipe.yaml")),
        commands: &[&["validate", "manifests/pipe.yaml"]],
        access_key: "x",
    },
    Case {
        name: "manifest_dangling_symlink",
        setup: |d| symlink("nowhere.yaml", &manifests(d).join("a.yaml")),
        commands: &[VALIDATE, PLAN],
        access_key: "x",
    },
    Case {
        name: "manifest_too_large",
        setup: |d| {
            let big = format!("# {}\n", "x".repeat(4 * 1024 * 1024));
            std::fs::write(manifests(d).join("big.yaml"), big).unwrap();
        },
        commands: &[VALIDATE, PLAN],
        access_key: "x",
    },
    Case {
        name: "manifest_one_long_line",
        setup: |d| {
            let text = DESTINATION.replace(
                "path: /audiences",
                &format!("path: /audiences\n    bogus: {}", "y".repeat(3_000_000)),
            );
            std::fs::write(manifests(d).join("long.yaml"), text).unwrap();
        },
        commands: &[VALIDATE, PLAN],
        access_key: "x",
    },
    Case {
        name: "manifest_escape_sequences",
        setup: |d| {
            let text =
                DESTINATION.replace("name: amazon-s3", "name: \"amazon\\e]0;pwned\\a\\e[2J\"");
            std::fs::write(manifests(d).join("esc.yaml"), text).unwrap();
        },
        commands: &[VALIDATE, PLAN],
        access_key: "x",
    },
    Case {
        name: "secret_file_fifo",
        setup: |d| mkfifo(&with_secret(d)),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_dev_zero",
        setup: |d| symlink("/dev/zero", &with_secret(d)),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_proc_self_environ",
        setup: |d| symlink("/proc/self/environ", &with_secret(d)),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_directory",
        setup: |d| std::fs::create_dir(with_secret(d)).unwrap(),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_empty",
        setup: |d| std::fs::write(with_secret(d), "").unwrap(),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_whitespace",
        setup: |d| std::fs::write(with_secret(d), " \t\n\n").unwrap(),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "secret_file_too_large",
        setup: |d| std::fs::write(with_secret(d), "k".repeat(64 * 1024 + 1)).unwrap(),
        commands: &[APPLY],
        access_key: "x",
    },
    Case {
        name: "saved_plan_fifo",
        setup: |d| mkfifo(&manifests(d).join("plan.json")),
        commands: &[APPLY_PLAN],
        access_key: "x",
    },
    Case {
        name: "saved_plan_dev_zero",
        setup: |d| symlink("/dev/zero", &manifests(d).join("plan.json")),
        commands: &[APPLY_PLAN],
        access_key: "x",
    },
    Case {
        name: "saved_plan_proc_self_environ",
        setup: |d| symlink("/proc/self/environ", &manifests(d).join("plan.json")),
        commands: &[APPLY_PLAN],
        access_key: "x",
    },
    Case {
        name: "secret_env_whitespace",
        setup: |d| std::fs::write(with_secret(d), "a-real-secret\n").unwrap(),
        commands: &[APPLY],
        access_key: "   ",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_input_exits_1_located_with_no_request() {
    let emu = emulator::start(FaultConfig::default()).await;
    for case in CASES {
        let dir = tempdir();
        (case.setup)(dir.path());
        let mut first: Option<String> = None;
        for args in case.commands {
            let text = refused(&emu, &dir, args, case.access_key).await;
            let located = ["[dir]/", "manifests/"].iter().any(|p| text.contains(p));
            assert!(located, "{}: {args:?}: not located:\n{text}", case.name);
            assert!(
                !text.contains('\u{1b}'),
                "{}: raw escape:\n{text}",
                case.name
            );
            if first.is_none() {
                insta::with_settings!({
                    snapshot_path => "snapshots/hostile",
                    prepend_module_to_snapshot => false,
                    description => format!("destctl {}", args.join(" ")),
                    omit_expression => true,
                }, {
                    insta::assert_snapshot!(case.name, text);
                });
                first = Some(text);
            }
        }
    }
    emu.shutdown().await;
}

/// Whether `s` holds a control character other than a line break (what a terminal would act on).
fn has_raw_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_in_a_display_name_never_reach_the_terminal() {
    let emu = emulator::start(FaultConfig::default()).await;
    let dir = tempdir();
    let example = crate::support::root().join("secrets/example");
    std::fs::copy(example.join("s3-secret-key"), dir.path().join("SECRET")).unwrap();
    let access = std::fs::read_to_string(example.join("s3-access-key")).unwrap();
    let text = DESTINATION.replace(
        "displayName: Amazon S3 exports",
        "displayName: \"S3 \\e]0;pwned\\a\\e[2J\\x9b31m exports\"",
    );
    std::fs::write(manifests(dir.path()).join("d.yaml"), text).unwrap();
    for args in [
        &["plan", "manifests"][..],
        &["plan", "--format", "markdown", "manifests"],
        &["apply", "--auto-approve", "manifests"],
        &["plan", "manifests"],
    ] {
        let mut cli = Cli::in_dir(dir.path());
        cli.emulator(&emu.base_url())
            .env("HOSTILE_ACCESS_KEY", access.trim())
            .args(args);
        let out = cli.run().await;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{args:?}: {stderr}\n{stdout}"
        );
        assert!(!has_raw_control(&stdout), "{args:?}: {stdout:?}");
        assert!(!has_raw_control(&stderr), "{args:?}: {stderr:?}");
        if args[0] == "plan" && args.len() > 2 {
            assert!(stdout.contains("\\u{1b}]0;pwned\\u{7}"), "{stdout}");
        }
    }
    emu.shutdown().await;
}
