//! The secret canary: a secret value given in the environment and one in a file, a client
//! secret and an access token, each a recognisable canary, appear in no output, log or plan
//! file of any command — validate, plan in every format and with `--out`, apply, the emulator
//! — at `-vv` and at `RUST_LOG=trace`, including against a server that answers every request
//! with 500 and the request's headers and body echoed in its error message.

use crate::support::cli::Cli;
use crate::support::emulator::EmulatorProcess;
use crate::support::fake_server::{Mock, Reply, Seen, token_reply};
use crate::support::{root, tempdir};
use std::path::Path;
use std::process::Output;

const ENV_CANARY: &str = "CANARY-env-7f3a9c1e";
const FILE_CANARY: &str = "CANARY-file-b52d04e8";
const CLIENT_SECRET_CANARY: &str = "CANARY-client-secret-19e7";
const TOKEN_CANARY: &str = "CANARY-token-c0ffee42";
const CANARIES: [&str; 4] = [ENV_CANARY, FILE_CANARY, CLIENT_SECRET_CANARY, TOKEN_CANARY];
/// Any 8 characters of a canary's random part (a cut-off echo still leaks).
const FRAGMENTS: [&str; 4] = ["7f3a9c1e", "b52d04e8", "secret-19e7", "c0ffee42"];

/// A work directory with two manifests: one takes its password from `${env:CANARY_PASSWORD}`,
/// the other its SSH key from `${file:canary-key}`.
fn workdir(dir: &Path) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    for (name, from, to) in [
        (
            "sftp-password.yaml",
            "${file:secrets/example/sftp-password}",
            "${env:CANARY_PASSWORD}",
        ),
        (
            "sftp-ssh-key.yaml",
            "${file:secrets/example/sftp-ssh-key}",
            "${file:canary-key}",
        ),
    ] {
        let text = std::fs::read_to_string(root().join("manifests").join(name)).unwrap();
        assert!(text.contains(from));
        std::fs::write(dir.join("manifests").join(name), text.replace(from, to)).unwrap();
    }
    std::fs::write(dir.join("canary-key"), format!("{FILE_CANARY}\n")).unwrap();
}

fn assert_no_canary(what: &str, text: &str) {
    for c in CANARIES.iter().chain(FRAGMENTS.iter()) {
        assert!(!text.contains(c), "{what} leaks {c:?}:\n{text}");
    }
}

fn check(what: &str, out: &Output) {
    assert_no_canary(
        &format!("{what} stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_no_canary(
        &format!("{what} stderr"),
        &String::from_utf8_lossy(&out.stderr),
    );
}

/// The two log settings every command runs with.
const VERBOSITY: [(&str, Option<&str>); 2] = [("-vv", None), ("-v", Some("trace"))];

fn destctl(dir: &Path, endpoint: &str, verbosity: (&str, Option<&str>)) -> Cli {
    let mut c = Cli::in_dir(dir);
    c.env("CANARY_PASSWORD", ENV_CANARY);
    c.emulator(endpoint);
    c.arg(verbosity.0);
    if let Some(filter) = verbosity.1 {
        c.env("RUST_LOG", filter);
    }
    c
}

/// validate, plan in every format and to a file, apply, and a second plan, against a
/// `destctl emulator` process; the emulator's own log is checked as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_in_any_output_log_or_plan_file() {
    for verbosity in VERBOSITY {
        let mut envs = vec![];
        if let Some(f) = verbosity.1 {
            envs.push(("RUST_LOG", f));
        }
        let emu = EmulatorProcess::spawn_with_env(&[verbosity.0], &envs);
        let endpoint = emu.base_url().to_owned();
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
        workdir(&dir);
        let run = |args: Vec<String>| {
            let mut c = destctl(&dir, &endpoint, verbosity);
            c.args(args);
            c.run()
        };
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let out = run(s(&["validate", "manifests"])).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        check("validate", &out);
        for format in ["text", "json", "markdown"] {
            let out = run(s(&["plan", "manifests", "--format", format])).await;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            check(&format!("plan --format {format}"), &out);
        }
        let plan_file = dir.join("plan.json");
        let out = run(s(&[
            "plan",
            "manifests",
            "--out",
            plan_file.to_str().unwrap(),
        ]))
        .await;
        assert!(out.status.success());
        check("plan --out", &out);
        let saved = std::fs::read_to_string(&plan_file).unwrap();
        assert!(saved.contains("${env:CANARY_PASSWORD}") && saved.contains("${file:canary-key}"));
        assert_no_canary("the plan file", &saved);
        let out = run(s(&["apply", "--plan", plan_file.to_str().unwrap()])).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        check("apply --plan", &out);
        // The applied accounts are read back by the next plan and apply.
        for format in ["text", "json", "markdown"] {
            let out = run(s(&["plan", "manifests", "--format", format])).await;
            assert!(out.status.success());
            check(&format!("second plan --format {format}"), &out);
        }
        let out = run(s(&[
            "apply",
            "--auto-approve",
            "manifests",
            "--format",
            "json",
        ]))
        .await;
        assert!(out.status.success());
        check("apply (live)", &out);
        let (_, log) = emu.interrupt();
        assert!(log.contains("stopping"), "{log}");
        assert_no_canary("the emulator's log", &log);
    }
}

/// The echoed request as an error message: every header (`Authorization` too) and the body.
fn echo(seen: &Seen) -> Reply {
    let headers: Vec<String> = seen
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
        .collect();
    let message = format!(
        "echo of {} {}: {} body: {}",
        seen.method,
        seen.path,
        headers.join("; "),
        String::from_utf8_lossy(&seen.body)
    );
    Reply::json(
        500,
        serde_json::json!({"errorMessage": message, "errorDetails": message}),
    )
}

/// Against an echoing server: first one that echoes every request, the IMS token request
/// (with the client secret in its body) included; then one that grants a token and answers
/// list calls, but echoes every write (each account create carries a canary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_from_an_echoing_error_server() {
    let everything = Mock::start(|seen, _| echo(seen)).await;
    let writes = Mock::start(|seen, i| {
        let body = String::from_utf8_lossy(&seen.body);
        if seen.path == "/ims/token/v3" {
            token_reply(TOKEN_CANARY, 3600)
        } else if seen.method == axum::http::Method::GET {
            Reply::json(200, serde_json::json!({"items": []}))
        } else if seen.method == axum::http::Method::POST && !body.contains("\"auth\"") {
            // Creates other than the accounts succeed, so every account create is sent.
            Reply::json(
                200,
                serde_json::json!({"id": format!("id-{i}"), "etag": "\"1\""}),
            )
        } else {
            echo(seen)
        }
    })
    .await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    workdir(&dir);
    for verbosity in VERBOSITY {
        for (server, echoes_writes) in [(&everything, false), (&writes, true)] {
            let run = |args: &[&str]| {
                let mut c = destctl(&dir, &server.url(), verbosity);
                c.env("AEP_CLIENT_SECRET", CLIENT_SECRET_CANARY)
                    .env("DESTCTL_IMS_URL", server.url())
                    // One retry: the echo is the same every time, and the test stays quick.
                    .env("DESTCTL_MAX_RETRIES", "1")
                    .args(args);
                c.run()
            };
            for format in ["text", "json", "markdown"] {
                let out = run(&["plan", "manifests", "--format", format]).await;
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                if echoes_writes {
                    assert!(out.status.success(), "{stderr}");
                } else {
                    assert_eq!(out.status.code(), Some(1), "{stderr}");
                    assert!(stderr.contains("<redacted>"), "{stderr}");
                }
                check(&format!("plan {format} against an echoing server"), &out);
            }
            let out = run(&["apply", "--auto-approve", "manifests"]).await;
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            check("apply against an echoing server", &out);
            if echoes_writes {
                // The create body (both secrets) and the bearer token were echoed back.
                let echoed: String = server
                    .seen()
                    .iter()
                    .filter(|s| s.method == axum::http::Method::POST)
                    .map(|s| String::from_utf8_lossy(&s.body).into_owned())
                    .collect();
                assert!(echoed.contains(ENV_CANARY) && echoed.contains(FILE_CANARY));
                let shown = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
                assert!(shown.contains("<redacted>"), "{shown}");
            }
        }
    }
}
