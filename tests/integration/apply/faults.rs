//! One-run convergence under faults: seeded 429/500/503 with latency and lost answers (the
//! write committed, the connection closed before the answer), ten applies of `manifests/` per
//! fault rate, each on a fresh emulator; zero duplicates ever. Also the process-level bounds:
//! SIGTERM handled like Ctrl-C, a dead endpoint failing at the request timeout, retries shown
//! on stderr.

use crate::support::apply::*;
use crate::support::cli::Cli;
use destctl::apply::{Input, apply};
use destctl::client::{Client, RetryPolicy};
use destctl::emulator::{FaultConfig, Latency, RunningEmulator};
use destctl::marker::Marker;
use destctl::model::DesiredState;
use destctl::wire::Resource;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client like [`client`] with quick retries (2-20 ms instead of 0.5-15 s) and 15 of them
/// (`--max-retries 15`): at a 60 % failure rate a request fails 16 times in a row with a
/// probability of 0.03 %, and an apply of `manifests/` sends about 150.
fn fault_client(emu: &RunningEmulator) -> Client {
    let mut cfg = client_config(&emu.base_url());
    cfg.retry = RetryPolicy {
        max_retries: 15,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
    };
    Client::new(cfg).unwrap()
}

/// Objects per (collection, connection spec, marker): more than one is a duplicate.
async fn marker_counts(c: &Client) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for r in [
        Resource::Connection,
        Resource::SourceConnection,
        Resource::TargetConnection,
        Resource::Flow,
    ] {
        for item in c.list(r.collection(), &[]).await.unwrap() {
            let Some((marker, _)) = item
                .get("description")
                .and_then(Value::as_str)
                .and_then(Marker::parse)
            else {
                continue;
            };
            let spec = item
                .pointer("/connectionSpec/id")
                .or_else(|| item.pointer("/flowSpec/id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            *counts
                .entry((r.collection().to_owned(), spec, marker.name))
                .or_insert(0) += 1;
        }
    }
    counts
}

/// One apply of `desired` under `faults`: whether it converged in this one run.
async fn trial(desired: Arc<DesiredState>, faults: FaultConfig) -> bool {
    let seed = faults.seed;
    let emu = emulator(faults).await;
    let client = fault_client(&emu);
    let applied = apply(
        Input::Live {
            desired: (*desired).clone(),
            prune: false,
        },
        &client,
        &ctx(&emu),
    )
    .await;
    emu.set_faults(FaultConfig::default());
    let dups: Vec<_> = marker_counts(&client)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(dups.is_empty(), "seed {seed}: duplicates {dups:?}");
    let converged = matches!(&applied, Ok(a) if a.report.is_success());
    if converged {
        assert!(
            !plan_now(&emu, &desired, false).await.has_changes(),
            "seed {seed}: a successful apply left changes"
        );
        assert_exactly_one_of_each(&emu, &desired).await;
    } else {
        eprintln!(
            "seed {seed}: not converged: {:?}",
            applied.map(|a| a.report.to_text())
        );
    }
    emu.shutdown().await;
    converged
}

/// Ten applies at fault rate `p` (30 % of it 429, 30 % 503, 20 % 500, 20 % lost answers), all
/// at once, each on its own emulator; how many converged.
async fn ten_trials(p: f64, first_seed: u64) -> usize {
    let desired = Arc::new(load(&all_paths()));
    let mut set = tokio::task::JoinSet::new();
    for seed in first_seed..first_seed + 10 {
        set.spawn(trial(
            desired.clone(),
            FaultConfig {
                seed,
                p429: p * 0.3,
                p503: p * 0.3,
                p500: p * 0.2,
                p_lost: p * 0.2,
                retry_after_secs: 0,
                latency: Latency::Random {
                    min: Duration::ZERO,
                    max: Duration::from_millis(3),
                },
                ..FaultConfig::default()
            },
        ));
    }
    let mut converged = 0;
    while let Some(ok) = set.join_next().await {
        converged += usize::from(ok.expect("trial panicked"));
    }
    converged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_faults_nine_of_ten_converge_without_duplicates() {
    let converged = ten_trials(0.30, 1000).await;
    eprintln!("30 % faults: {converged} of 10 converged in one run");
    assert!(converged >= 9, "{converged} of 10 converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_percent_faults_seven_of_ten_converge_without_duplicates() {
    let converged = ten_trials(0.60, 2000).await;
    eprintln!("60 % faults: {converged} of 10 converged in one run");
    assert!(converged >= 7, "{converged} of 10 converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_answer_lost_still_one_of_each() {
    // Every answer of the first run is lost after the write is committed: each create is
    // found by its marker and adopted.
    let desired = load(&seed_paths());
    let emu = emulator(FaultConfig {
        seed: 5,
        p_lost: 0.5,
        ..FaultConfig::default()
    })
    .await;
    let applied = apply(
        Input::Live {
            desired: desired.clone(),
            prune: false,
        },
        &fault_client(&emu),
        &ctx(&emu),
    )
    .await
    .expect("apply runs");
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    emu.set_faults(FaultConfig::default());
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
    assert_exactly_one_of_each(&emu, &desired).await;
}

/// `destctl` in the repository root, signed in to `emu`.
fn destctl(emu: &RunningEmulator) -> Cli {
    let mut c = Cli::in_repo();
    c.emulator(&emu.base_url());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_shown_on_stderr() {
    let desired = load(&seed_paths());
    let seed_args = ["manifests/campaign-s3.yaml", "manifests/schedules.yaml"];
    // The first request's connection is closed: a list, retried.
    let emu = emulator(FaultConfig {
        close_after: Some(0),
        ..FaultConfig::default()
    })
    .await;
    let mut cmd = destctl(&emu);
    cmd.arg("plan").args(seed_args);
    let out = cmd.run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let retry = stderr
        .lines()
        .find(|l| l.contains("retrying"))
        .unwrap_or_else(|| panic!("no retry line: {stderr}"));
    assert!(
        retry.starts_with("destctl: GET /data/foundation/flowservice/")
            && retry.contains(": request failed: ")
            && retry.contains("; retrying (attempt 2 of 11) in "),
        "{retry}"
    );
    emu.shutdown().await;

    // The apply lock (list, lease create, list), six list calls, then the first create's
    // connection is closed: the create is looked for by its marker, not found, and sent again.
    let emu = emulator(FaultConfig {
        close_after: Some(9),
        ..FaultConfig::default()
    })
    .await;
    let mut cmd = destctl(&emu);
    cmd.args(["apply", "--auto-approve"]).args(seed_args);
    let out = cmd.run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("destctl: POST /data/foundation/flowservice/connections: outcome unknown; looking for campaign-s3 "),
        "{stderr}"
    );
    assert!(
        stderr.contains("; not there yet; retrying (attempt 2 of 11) in "),
        "{stderr}"
    );
    emu.set_faults(FaultConfig::default());
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
    assert_exactly_one_of_each(&emu, &desired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_new_requests_reports_and_exits_1() {
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while writes(&emu) < 8 {
        assert!(
            Instant::now() < deadline,
            "the apply never reached 8 writes"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let at_signal = writes(&emu);
    let sent = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    let after = writes(&emu);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(stderr.contains("terminated (SIGTERM)"), "{stderr}");
    // The requests in flight, then the apply lock's release (one DELETE of the lease).
    assert!(after <= at_signal + 3, "{at_signal} then {after}");
    assert!(
        destctl::apply::lock::list_leases(&client(&emu))
            .await
            .unwrap()
            .is_empty(),
        "the lock was released"
    );

    emu.set_faults(FaultConfig::default());
    let mut cmd = destctl(&emu);
    cmd.args(["apply", "--auto-approve"]);
    let out = cmd.run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
    assert_exactly_one_of_each(&emu, &desired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_fails_at_the_request_timeout_with_retries_shown() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    let started = Instant::now();
    let mut cmd = Cli::in_repo();
    cmd.target(&format!("http://{addr}"), "id", "secret", "org@AdobeOrg")
        .args([
            "plan",
            "manifests/campaign-s3.yaml",
            "manifests/schedules.yaml",
        ])
        .args(["--request-timeout", "300ms"]);
    let out = cmd.run().await;
    let took = started.elapsed();
    holder.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(stderr.contains("retrying (attempt 2 of 11)"), "{stderr}");
    assert!(
        !stderr.contains("attempt 4 of"),
        "timeouts retried twice at most: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_timeout_bounds_a_run() {
    let emu = emulator(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(1500)),
        ..FaultConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut cmd = destctl(&emu);
    cmd.args(["plan", "--total-timeout", "1s"]);
    let out = cmd.run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the total timeout passed"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
