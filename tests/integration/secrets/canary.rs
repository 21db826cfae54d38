//! The secret canary: a secret value given in the environment and one in a file, a client
//! secret and an access token, each a recognisable canary, appear in no output, log or plan
//! file of any command — validate, plan in every format and with `--out`, apply, status,
//! import, the emulator — at `-vv` and at `RUST_LOG=trace`, including against a server that
//! answers every request with 500 and the request's headers and body echoed in its error
//! message. The commands are the one list [`STEPS`]: a new subcommand is one more line there.

use crate::support::cli::{Cli, shown};
use crate::support::emulator::EmulatorProcess;
use crate::support::fake_server::{Mock, Reply, Seen, token_reply};
use crate::support::{root, tempdir};
use axum::http::Method;
use destctl::apply::lock::LEASE_NAME;
use destctl::catalog::PROFILE_STORE_SPEC_ID;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

const ENV_CANARY: &str = "CANARY-env-7f3a9c1e";
const FILE_CANARY: &str = "CANARY-file-b52d04e8";
const CLIENT_SECRET_CANARY: &str = "CANARY-client-secret-19e7";
const TOKEN_CANARY: &str = "CANARY-token-c0ffee42";
const CANARIES: [&str; 4] = [ENV_CANARY, FILE_CANARY, CLIENT_SECRET_CANARY, TOKEN_CANARY];
/// Any 8 characters of a canary's random part (a cut-off echo still leaks).
const FRAGMENTS: [&str; 4] = ["7f3a9c1e", "b52d04e8", "secret-19e7", "c0ffee42"];

/// A work directory with two manifests: one takes its password from `${env:CANARY_PASSWORD}`,
/// the other its SSH key from `${file:../canary-key}` (relative to the manifest's directory).
fn workdir(dir: &Path) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    for (name, from, to) in [
        (
            "sftp-password.yaml",
            "${file:../secrets/example/sftp-password}",
            "${env:CANARY_PASSWORD}",
        ),
        (
            "sftp-ssh-key.yaml",
            "${file:../secrets/example/sftp-ssh-key}",
            "${file:../canary-key}",
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

/// Stands for the saved plan file in [`STEPS`].
const PLAN: &str = "{plan}";

/// One command the canary runs, in the order of [`STEPS`], in one work directory.
struct Step {
    /// Its arguments; [`PLAN`] is the saved plan file.
    args: &'static [&'static str],
    /// Its exit code against the emulator (the steps before it applied).
    emulator: i32,
    /// Its exit code against the server that lists nothing and echoes account creates.
    echoing_writes: i32,
}

const fn step(args: &'static [&'static str], emulator: i32, echoing_writes: i32) -> Step {
    Step {
        args,
        emulator,
        echoing_writes,
    }
}

/// Every command the canary runs, against the emulator and against the echoing servers.
/// A new subcommand is one more line here.
const STEPS: &[Step] = &[
    step(&["validate", "manifests"], 0, 0),
    step(&["plan", "manifests", "--format", "text"], 0, 0),
    step(&["plan", "manifests", "--format", "json"], 0, 0),
    step(&["plan", "manifests", "--format", "markdown"], 0, 0),
    step(&["plan", "manifests", "--out", PLAN], 0, 0),
    step(&["apply", "--plan", PLAN], 0, 1),
    // The applied accounts are read back by the next plans and apply.
    step(&["plan", "manifests", "--format", "text"], 0, 0),
    step(&["plan", "manifests", "--format", "json"], 0, 0),
    step(&["plan", "manifests", "--format", "markdown"], 0, 0),
    step(
        &["apply", "--auto-approve", "manifests", "--format", "json"],
        0,
        1,
    ),
    step(&["drift", "manifests", "--format", "text"], 0, 0),
    step(&["drift", "manifests", "--format", "json"], 0, 0),
    step(&["drift", "manifests", "--format", "markdown"], 0, 0),
    step(&["drift", "manifests", "--format", "openmetrics"], 0, 0),
    step(&["status", "manifests", "--format", "json"], 0, 2),
    step(&["import", "--out", "imported"], 0, 0),
];

impl Step {
    fn args(&self, plan_file: &Path) -> Vec<String> {
        self.args
            .iter()
            .map(|a| {
                if *a == PLAN {
                    plan_file.to_str().unwrap().to_owned()
                } else {
                    (*a).to_owned()
                }
            })
            .collect()
    }

    fn name(&self) -> String {
        self.args.join(" ")
    }
}

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

/// Every step against a `destctl emulator` process at one verbosity; the plan file and the
/// emulator's own log are checked as well.
async fn emulator_run(verbosity: (&'static str, Option<&'static str>)) {
    let mut envs = vec![];
    if let Some(f) = verbosity.1 {
        envs.push(("RUST_LOG", f));
    }
    let emu = EmulatorProcess::spawn_with_env(&[verbosity.0], &envs);
    let endpoint = emu.base_url().to_owned();
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    workdir(&dir);
    let plan_file = dir.join("plan.json");
    for step in STEPS {
        let mut c = destctl(&dir, &endpoint, verbosity);
        c.args(step.args(&plan_file));
        let out = c.run().await;
        let name = format!("{} {}", verbosity.0, step.name());
        assert_eq!(
            out.status.code(),
            Some(step.emulator),
            "{name}: {}",
            shown(&out)
        );
        check(&name, &out);
        if let Ok(saved) = std::fs::read_to_string(&plan_file) {
            assert_no_canary(&format!("the plan file after {name}"), &saved);
        }
    }
    // What `import` wrote (the manifests of unmanaged flows, if any).
    for f in std::fs::read_dir(dir.join("imported"))
        .into_iter()
        .flatten()
    {
        let f = f.unwrap().path();
        if let Ok(text) = std::fs::read_to_string(&f) {
            assert_no_canary(&format!("{}", f.display()), &text);
        }
    }
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(saved.contains("${env:CANARY_PASSWORD}") && saved.contains("${file:canary-key}"));
    let (_, log) = tokio::task::spawn_blocking(move || emu.interrupt())
        .await
        .unwrap();
    assert!(log.contains("stopping"), "{log}");
    assert_no_canary("the emulator's log", &log);
}

/// Every step against a `destctl emulator` process, at each verbosity (at once, each with its
/// own emulator and work directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_in_any_output_log_or_plan_file() {
    let mut runs = tokio::task::JoinSet::new();
    for verbosity in VERBOSITY {
        runs.spawn(emulator_run(verbosity));
    }
    while let Some(run) = runs.join_next().await {
        run.expect("the run passed");
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
    // `Retry-After: 0`: the one retry of each request is sent at once, not after a backoff.
    Reply::json(
        500,
        serde_json::json!({"errorMessage": message, "errorDetails": message}),
    )
    .header("retry-after", "0")
}

/// A server that grants a token, keeps the apply lock's lease objects and answers list calls,
/// but echoes every account create (each carries a canary).
async fn echoing_writes() -> Mock {
    // The apply lock's lease objects: stored, listed back and deleted like the service does
    // (a lease that is never listed back fails the lock, before any account create).
    let leases: Arc<Mutex<Vec<Value>>> = Arc::default();
    Mock::start(move |seen, i| {
        let body = String::from_utf8_lossy(&seen.body);
        let mut leases = leases.lock().unwrap();
        if seen.path == "/ims/token/v3" {
            token_reply(TOKEN_CANARY, 3600)
        } else if seen.method == Method::GET {
            let profile_store = seen
                .params("property")
                .iter()
                .any(|p| p.contains(PROFILE_STORE_SPEC_ID));
            let items = if profile_store {
                leases.clone()
            } else {
                vec![]
            };
            Reply::json(200, json!({"items": items}))
        } else if seen.method == Method::POST && body.contains(LEASE_NAME) {
            let mut lease: Value = serde_json::from_slice(&seen.body).unwrap();
            lease["id"] = json!(format!("lease-{i}"));
            lease["etag"] = json!("\"1\"");
            lease["createdAt"] = json!(i);
            leases.push(lease.clone());
            Reply::json(200, lease)
        } else if seen.method == Method::DELETE {
            leases.retain(|l| {
                !seen
                    .path
                    .ends_with(&format!("/{}", l["id"].as_str().unwrap()))
            });
            Reply::json(200, json!({}))
        } else if seen.method == Method::POST && !body.contains("\"auth\"") {
            // Creates other than the accounts succeed, so every account create is sent.
            Reply::json(200, json!({"id": format!("id-{i}"), "etag": "\"1\""}))
        } else {
            echo(seen)
        }
    })
    .await
}

/// Every step at one verbosity against its own echoing server: one that echoes every request,
/// the IMS token request (with the client secret in its body) included, or
/// ([`echoing_writes`]) one that echoes every account create.
async fn echoing_run(verbosity: (&'static str, Option<&'static str>), echoes_writes: bool) {
    let server = if echoes_writes {
        echoing_writes().await
    } else {
        Mock::start(|seen, _| echo(seen)).await
    };
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    workdir(&dir);
    let plan_file = dir.join("plan.json");
    let mut all_output = String::new();
    for step in STEPS {
        let before = server.seen().len();
        let mut c = destctl(&dir, &server.url(), verbosity);
        c.env("AEP_CLIENT_SECRET", CLIENT_SECRET_CANARY)
            .env("DESTCTL_IMS_URL", server.url())
            // One retry: the echo is the same every time, and the test stays quick.
            .env("DESTCTL_MAX_RETRIES", "1")
            .args(step.args(&plan_file));
        let out = c.run().await;
        let name = format!("{} {} against an echoing server", verbosity.0, step.name());
        let text = shown(&out);
        if echoes_writes {
            assert_eq!(
                out.status.code(),
                Some(step.echoing_writes),
                "{name}: {text}"
            );
        } else if server.seen().len() > before {
            // Every request, the token request first, is echoed in a 500.
            assert_eq!(out.status.code(), Some(1), "{name}: {text}");
            assert!(text.contains("<redacted>"), "{name}: {text}");
        }
        check(&name, &out);
        if let Ok(saved) = std::fs::read_to_string(&plan_file) {
            assert_no_canary(&format!("the plan file after {name}"), &saved);
        }
        all_output.push_str(&text);
    }
    if echoes_writes {
        // The account creates (both secrets) and the bearer token were echoed back, and shown
        // redacted.
        let echoed: String = server
            .seen()
            .iter()
            .filter(|s| s.method == Method::POST)
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect();
        assert!(echoed.contains(ENV_CANARY) && echoed.contains(FILE_CANARY));
        assert!(all_output.contains("<redacted>"), "{all_output}");
    }
}

/// Every step against the echoing servers, at each verbosity: the four runs at once, each with
/// its own server and work directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_from_an_echoing_error_server() {
    let mut runs = tokio::task::JoinSet::new();
    for verbosity in VERBOSITY {
        for echoes_writes in [false, true] {
            runs.spawn(echoing_run(verbosity, echoes_writes));
        }
    }
    while let Some(run) = runs.join_next().await {
        run.expect("the run passed");
    }
}
