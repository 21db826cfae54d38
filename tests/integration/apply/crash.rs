//! Crash safety and the process-level behaviour of `destctl apply`: a connection closed by the
//! emulator at any request is resolved in the same run; an apply stopped by a kill or Ctrl-C is
//! finished by a re-run; either way exactly one of each object and nothing left to plan.

use crate::support::apply::*;
use crate::support::cli::Cli;
use destctl::emulator::{FaultConfig, Latency, RunningEmulator};
use destctl::model::DesiredState;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_connection_lost_at_any_request_is_resolved_in_the_same_run() {
    let desired = load(&seed_paths());
    // How many Flow Service requests the seed scenario's apply makes.
    let emu = emulator(FaultConfig::default()).await;
    let applied = apply_live(&emu, &desired, false).await.unwrap();
    assert!(applied.report.is_success());
    let total = flow_service_requests(&emu);
    assert_eq!(
        total,
        6 + 6,
        "six list calls (five lists, the flow spec look-up), five creates and the activation patch"
    );
    emu.shutdown().await;

    for k in 0..total {
        let emu = emulator(FaultConfig {
            close_after: Some(k),
            ..FaultConfig::default()
        })
        .await;
        // The first run loses request k+1: idempotent ones are retried, a create or the
        // activation patch is resolved by looking at what the service holds. It converges.
        let first = apply_live(&emu, &desired, false).await.unwrap();
        assert!(
            first.report.is_success(),
            "k={k}: {}",
            first.report.to_text()
        );
        emu.set_faults(FaultConfig::default());
        assert_exactly_one_of_each(&emu, &desired).await;
        let rerun = apply_live(&emu, &desired, false).await.unwrap();
        assert!(
            rerun.report.is_success() && rerun.report.done.is_empty(),
            "k={k}: {}",
            rerun.report.to_text()
        );
        let plan = plan_now(&emu, &desired, false).await;
        assert!(!plan.has_changes(), "k={k}: {:#?}", plan.changes);
        assert_exactly_one_of_each(&emu, &desired).await;
        emu.shutdown().await;
    }
}

/// `destctl` in the repository root, signed in to `emu` with the embedded credentials; a
/// killed run's apply lock lasts 2 s unless the test shortens it (the re-run waits that long
/// for it, then takes it over).
fn destctl(emu: &RunningEmulator) -> Cli {
    let mut c = Cli::in_repo();
    c.emulator(&emu.base_url()).env("DESTCTL_LOCK_TTL", "2s");
    c
}

async fn run(cmd: Cli) -> Output {
    cmd.run().await
}

async fn wait_for_writes(emu: &RunningEmulator, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while writes(emu) < n {
        assert!(Instant::now() < deadline, "apply never reached {n} writes");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The seed scenario's manifests, as `destctl` arguments from the repository root.
const SEED_ARGS: [&str; 2] = ["manifests/campaign-s3.yaml", "manifests/schedules.yaml"];

/// Kills an apply while its write `k` (counting the apply lock's lease create as write 0) is
/// in flight, lets that request land, then re-runs the apply: it waits out the killed run's
/// lease (1 s), takes the lock over and converges to exactly one of each object.
async fn kill_at_write_then_rerun(desired: Arc<DesiredState>, k: u64) {
    let emu = emulator(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(80)),
        ..FaultConfig::default()
    })
    .await;
    let mut cmd = destctl(&emu);
    cmd.env("DESTCTL_LOCK_TTL", "1s")
        .arg("apply")
        .arg("--auto-approve")
        .args(SEED_ARGS)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for_writes(&emu, k + 1).await;
    child.kill().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(
        !status.success(),
        "k={k}: the apply finished before the kill"
    );
    // Let the request that was in flight land.
    tokio::time::sleep(Duration::from_millis(150)).await;
    emu.set_faults(FaultConfig::default());

    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--auto-approve").args(SEED_ARGS);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "k={k}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !plan_now(&emu, &desired, false).await.has_changes(),
        "k={k}"
    );
    assert_exactly_one_of_each(&emu, &desired).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_process_then_rerun_converges() {
    let desired = Arc::new(load(&seed_paths()));
    // Six writes: five creates and the activation patch, after the lease create of the apply
    // lock. Kill while write k is in flight: the six crash points at once, each on its own
    // emulator, since each re-run mostly waits for the killed run's lease to expire.
    let mut trials = tokio::task::JoinSet::new();
    for k in 1..=6u64 {
        trials.spawn(kill_at_write_then_rerun(desired.clone(), k));
    }
    while let Some(trial) = trials.join_next().await {
        trial.expect("the trial passed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_new_requests_reports_and_exits_1() {
    let desired = load(&all_paths());
    let emu = emulator(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(60)),
        ..FaultConfig::default()
    })
    .await;
    let mut cmd = destctl(&emu);
    cmd.args(["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for_writes(&emu, 8).await;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let at_signal = writes(&emu);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let after = writes(&emu);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(
        stdout.contains("interrupted)"),
        "not-attempted changes listed: {stdout}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    // Only the requests in flight (one per running Destination) finish after the signal, then
    // the apply lock is released (one DELETE).
    assert!(after <= at_signal + 3, "{at_signal} then {after}");
    let planned = 6 * desired.destinations.len() as u64;
    assert!(after < planned);

    emu.set_faults(FaultConfig::default());
    let mut cmd = destctl(&emu);
    cmd.args(["apply", "--auto-approve"]);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
    assert_exactly_one_of_each(&emu, &desired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_and_auto_approve_nothing_is_sent() {
    let emu = emulator(FaultConfig::default()).await;
    let mut cmd = destctl(&emu);
    cmd.arg("apply");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--auto-approve"), "{stderr}");
    assert!(
        emu.request_counts().is_empty(),
        "{:?}",
        emu.request_counts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_send_nothing() {
    let emu = emulator(FaultConfig::default()).await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    write(
        &dir,
        "bad.yaml",
        "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: Bad_Name}\nspec: {}\n",
    );
    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--auto-approve").arg(&dir);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(emu.request_counts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_output_holds_no_secret_value_even_when_verbose() {
    let emu = emulator(FaultConfig::default()).await;
    let secrets: Vec<String> = std::fs::read_dir(root().join("secrets/example"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "README.md")
        .map(|p| std::fs::read_to_string(p).unwrap().trim_end().to_owned())
        .filter(|s| s.len() >= 8)
        .collect();
    for format in ["text", "json"] {
        let mut cmd = destctl(&emu);
        cmd.args(["apply", "--auto-approve", "-vvv", "--format", format]);
        let out = run(cmd).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "secret leaked:\n{text}");
            }
        }
    }
    let mut cmd = destctl(&emu);
    cmd.args(["apply", "--auto-approve", "--format", "json"]);
    let out = run(cmd).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["created"], 0);
    assert_eq!(report["done"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_saved_plan_round_trip_and_stale_refusal() {
    let emu = emulator(FaultConfig::default()).await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let plan_file = dir.join("plan.json");
    let mut cmd = destctl(&emu);
    cmd.arg("plan").arg("--out").arg(&plan_file);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Applying the reviewed plan: no question asked, everything created.
    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--plan").arg(&plan_file);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = destctl(&emu);
    cmd.args(["plan", "--detailed-exitcode"]);
    assert_eq!(run(cmd).await.status.code(), Some(0));

    // The same plan again is stale: everything it creates exists now.
    let before = writes(&emu);
    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--plan").arg(&plan_file);
    let out = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let redact = crate::support::snapshot::Redact::new()
        .dir(&dir, "tmp")
        .text(emu.base_url(), "endpoint");
    insta::assert_snapshot!("stale_saved_plan", redact.apply(&stderr));
    // Zero writes besides the apply lock's lease (created, then deleted).
    assert_eq!(writes(&emu), before + 2, "zero writes");
    assert_eq!(
        count(&emu, "DELETE /data/foundation/flowservice/connections/{id}"),
        2
    );
}
