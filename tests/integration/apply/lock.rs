//! The apply lock: concurrent `destctl apply` processes against one emulator never duplicate
//! anything; an expired lease is taken over; a held lock past `--lock-timeout` fails naming the
//! holder; simultaneous lease creates resolve to one winner; `plan` takes no lock.

use crate::support::apply::*;
use crate::support::cli::{Cli, shown};
use crate::support::fake_server::{self, Mock, Reply, token_reply};
use chrono::{TimeDelta, Utc};
use destctl::apply::lock::{
    LEASE_NAME, Lease, LockError, LockOptions, MAX_UNSEEN_LISTS, acquire, list_leases, winner,
};
use destctl::catalog::{PROFILE_STORE_SPEC_ID, SPEC_VERSION};
use destctl::emulator::{FaultConfig, Latency, RunningEmulator};
use destctl::model::DesiredState;
use destctl::wire::Resource;
use serde_json::json;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SEED_ARGS: [&str; 2] = ["manifests/campaign-s3.yaml", "manifests/schedules.yaml"];
const LOCK_MESSAGE: &str = "the apply lock is held by run ";

/// `destctl` in the repository root, signed in to `emu`.
fn destctl(emu: &RunningEmulator, args: &[&str]) -> Cli {
    let mut c = Cli::in_repo();
    c.emulator(&emu.base_url()).args(args);
    c
}

/// Puts a lease object of another run on the emulator, expiring `expires_in` from now.
async fn foreign_lease(emu: &RunningEmulator, holder: &str, expires_in: TimeDelta) -> Lease {
    let now = Utc::now();
    let lease = Lease {
        holder: holder.into(),
        host: "other-host".into(),
        pid: 4242,
        since: now - TimeDelta::seconds(600),
        expires: now + expires_in,
    };
    client(emu)
        .create(
            Resource::Connection,
            &json!({
                "name": LEASE_NAME,
                "description": lease.to_string(),
                "connectionSpec": {"id": PROFILE_STORE_SPEC_ID, "version": SPEC_VERSION},
            }),
        )
        .await
        .unwrap();
    lease
}

/// `plan --detailed-exitcode` over the seed manifests: 0 when nothing is left to do.
async fn plan_exit(emu: &RunningEmulator) -> Output {
    let mut args = vec!["plan", "--detailed-exitcode"];
    args.extend(SEED_ARGS);
    destctl(emu, &args).run().await
}

/// `n` concurrent applies of the seed scenario against one emulator: each succeeds or fails
/// naming the lock's holder, and the emulator ends with one of each object, no lease and
/// nothing to plan; how many runs waited for the lock.
async fn concurrent_applies(desired: Arc<DesiredState>, n: usize, trial: usize) -> usize {
    let emu = emulator(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(15)),
        ..FaultConfig::default()
    })
    .await;
    let runs: Vec<_> = (0..n)
        .map(|_| {
            let mut args = vec!["apply", "--auto-approve", "--lock-timeout", "60s"];
            args.extend(SEED_ARGS);
            tokio::spawn(destctl(&emu, &args).run())
        })
        .collect();
    let mut waited = 0;
    for run in runs {
        let out = run.await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || (out.status.code() == Some(1) && stderr.contains(LOCK_MESSAGE)),
            "n={n} trial={trial}: {}",
            shown(&out)
        );
        if stderr.contains("waiting for the apply lock, held by run ") {
            waited += 1;
        }
    }
    // One of each object per marker, and the lease is gone.
    assert_exactly_one_of_each(&emu, &desired).await;
    assert!(list_leases(&client(&emu)).await.unwrap().is_empty());
    let plan = plan_exit(&emu).await;
    assert_eq!(plan.status.code(), Some(0), "{}", shown(&plan));
    emu.shutdown().await;
    waited
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_never_duplicate() {
    let desired = Arc::new(load(&seed_paths()));
    // Three trials of two runs and two of four, each on its own emulator, all at once: the
    // runs of a trial mostly wait for each other's lock (polled every second).
    let mut trials = tokio::task::JoinSet::new();
    for (n, count) in [(2usize, 3), (4, 2)] {
        for trial in 0..count {
            trials.spawn(concurrent_applies(desired.clone(), n, trial));
        }
    }
    let mut waited = 0;
    while let Some(w) = trials.join_next().await {
        waited += w.expect("the trial passed");
    }
    // The runs overlapped: some waited for the lock.
    assert!(waited >= 3, "only {waited} runs waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over() {
    let desired = load(&seed_paths());
    let emu = emulator(FaultConfig::default()).await;
    foreign_lease(&emu, "crashed-run", TimeDelta::seconds(-5)).await;
    let mut args = vec!["apply", "--auto-approve", "--lock-timeout", "0"];
    args.extend(SEED_ARGS);
    let out = destctl(&emu, &args).run().await;
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("waiting"),
        "{}",
        shown(&out)
    );
    // Taken over by PATCH with If-Match, released by DELETE.
    assert_eq!(
        count(&emu, "PATCH /data/foundation/flowservice/connections/{id}"),
        1
    );
    assert!(list_leases(&client(&emu)).await.unwrap().is_empty());
    assert_exactly_one_of_each(&emu, &desired).await;
    assert_eq!(plan_exit(&emu).await.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_timeout_fails_naming_the_holder() {
    let emu = emulator(FaultConfig::default()).await;
    let lease = foreign_lease(&emu, "busy-run", TimeDelta::seconds(600)).await;
    let since = lease
        .since
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let before = writes(&emu);

    let mut args = vec!["apply", "--auto-approve", "--lock-timeout", "2s"];
    args.extend(SEED_ARGS);
    let started = std::time::Instant::now();
    let out = destctl(&emu, &args).run().await;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let holder = format!("run busy-run on other-host (pid 4242) since {since}");
    assert!(
        stderr.contains(&format!("waiting for the apply lock, held by {holder}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{LOCK_MESSAGE}busy-run on other-host")),
        "{stderr}"
    );
    assert!(
        stderr.contains("gave up after 2s (--lock-timeout)"),
        "{stderr}"
    );
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(writes(&emu), before, "nothing was written");

    // 0 fails at once, without waiting.
    let mut args = vec!["apply", "--auto-approve", "--lock-timeout", "0"];
    args.extend(SEED_ARGS);
    let out = destctl(&emu, &args).run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stderr.contains(&format!("{LOCK_MESSAGE}busy-run")),
        "{stderr}"
    );
    assert!(!stderr.contains("waiting"), "{stderr}");
    assert_eq!(writes(&emu), before);

    // A saved plan waits for the lock too.
    let dir = crate::support::tempdir();
    let plan_file = dir.path().join("plan.json");
    let plan_file = plan_file.to_str().unwrap();
    let mut args = vec!["plan", "--out", plan_file];
    args.extend(SEED_ARGS);
    // `plan` takes no lock: it runs while the lock is held and does not see the lease.
    let out = destctl(&emu, &args).run().await;
    assert!(out.status.success(), "{}", shown(&out));
    let out = destctl(&emu, &["apply", "--plan", plan_file, "--lock-timeout", "0"])
        .run()
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(LOCK_MESSAGE));
    assert_eq!(writes(&emu), before);
    assert_eq!(list_leases(&client(&emu)).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_applied_under_the_lock() {
    let desired = load(&seed_paths());
    let emu = emulator(FaultConfig::default()).await;
    let dir = crate::support::tempdir();
    let plan_file = dir.path().join("plan.json");
    let plan_file = plan_file.to_str().unwrap();
    let mut args = vec!["plan", "--out", plan_file];
    args.extend(SEED_ARGS);
    let out = destctl(&emu, &args).run().await;
    assert!(out.status.success(), "{}", shown(&out));
    let out = destctl(&emu, &["apply", "--plan", plan_file]).run().await;
    assert!(out.status.success(), "{}", shown(&out));
    // One lease created and deleted around the plan's writes.
    assert_eq!(
        count(&emu, "DELETE /data/foundation/flowservice/connections/{id}"),
        1
    );
    assert!(list_leases(&client(&emu)).await.unwrap().is_empty());
    assert_exactly_one_of_each(&emu, &desired).await;
    // Applied again, the saved plan's creates are refused by the pre-flight (run under the
    // lock), and the lock is released all the same.
    let out = destctl(&emu, &["apply", "--plan", plan_file]).run().await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(list_leases(&client(&emu)).await.unwrap().is_empty());
    assert_exactly_one_of_each(&emu, &desired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_lease_creates_resolve_to_one_winner() {
    for n in [2, 4] {
        for trial in 0..4 {
            let emu = emulator(FaultConfig {
                latency: Latency::Random {
                    min: Duration::ZERO,
                    max: Duration::from_millis(10),
                },
                ..FaultConfig::default()
            })
            .await;
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let c = client(&emu);
                    tokio::spawn(async move {
                        acquire(
                            &c,
                            &LockOptions::new(Duration::ZERO),
                            &CancellationToken::new(),
                            &(),
                        )
                        .await
                    })
                })
                .collect();
            let mut held = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(guard) => held.push(guard),
                    Err(LockError::Held { .. }) => {}
                    Err(e) => panic!("n={n} trial={trial}: {e}"),
                }
            }
            assert_eq!(held.len(), 1, "n={n} trial={trial}: one winner");
            let guard = held.pop().unwrap();
            // The losers deleted their own lease objects: the winner's is the only one left.
            let leases = list_leases(&client(&emu)).await.unwrap();
            assert_eq!(leases.len(), 1, "n={n} trial={trial}: {leases:?}");
            assert_eq!(&winner(&leases).unwrap().id, guard.id());
            guard.release().await.unwrap();
            assert!(list_leases(&client(&emu)).await.unwrap().is_empty());
            emu.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_and_a_taken_one_is_lost() {
    let emu = emulator(FaultConfig::default()).await;
    let c = client(&emu);
    let cancel = CancellationToken::new();
    let opts = LockOptions {
        ttl: Duration::from_millis(800),
        ..LockOptions::new(Duration::ZERO)
    };
    let guard = acquire(&c, &opts, &cancel, &()).await.unwrap();
    let first = list_leases(&c).await.unwrap().remove(0);
    // Renewed every 200 ms: within a few seconds even on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let renewed = loop {
        let now = list_leases(&c).await.unwrap().remove(0);
        if now.lease.expires > first.lease.expires {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "never renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(renewed.lease.since, first.lease.since);
    assert!(!guard.is_lost() && !cancel.is_cancelled());

    // Another run overwrites the lease (as a takeover would): the next renewal sees it and
    // cancels the apply. (A renewal landing between our list and our PATCH makes it 412: read
    // again and retry.)
    let mut stolen = false;
    for _ in 0..20 {
        let current = list_leases(&c).await.unwrap().remove(0);
        let mut other = current.lease.clone();
        other.holder = "thief".into();
        let patched = c
            .patch(
                Resource::Connection,
                &current.id,
                &current.etag,
                &[destctl::wire::PatchOp {
                    op: destctl::wire::PatchOpKind::Replace,
                    path: "/description".into(),
                    value: Some(json!(other.to_string())),
                }],
            )
            .await;
        match patched {
            Ok(_) => {
                stolen = true;
                break;
            }
            Err(destctl::client::ClientError::PreconditionFailed(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(stolen, "the lease was overwritten");
    tokio::time::timeout(Duration::from_secs(5), cancel.cancelled())
        .await
        .expect("the apply is cancelled");
    assert!(guard.is_lost());
    guard.release().await.unwrap();
    // The lease is the other run's now: left alone.
    assert_eq!(list_leases(&c).await.unwrap()[0].lease.holder, "thief");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_create_without_an_answer_is_sent_again() {
    // Request 1 lists the (no) leases; request 2, the create, gets no answer (not stored).
    let emu = emulator(FaultConfig {
        close_after: Some(1),
        ..FaultConfig::default()
    })
    .await;
    let c = client(&emu);
    let guard = acquire(
        &c,
        &LockOptions::new(Duration::ZERO),
        &CancellationToken::new(),
        &(),
    )
    .await
    .expect("the next list finds no lease, so it is created again");
    assert_eq!(
        count(&emu, "POST /data/foundation/flowservice/connections"),
        2
    );
    let leases = list_leases(&c).await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(&leases[0].id, guard.id());
    guard.release().await.unwrap();
    assert!(list_leases(&c).await.unwrap().is_empty());
}

/// A server that stores lease creates (answers them with an id) but never lists them back:
/// every list of connections is empty; creates and deletes succeed.
async fn never_listing_server() -> Mock {
    Mock::start(|seen, i| {
        if seen.path == "/ims/token/v3" {
            token_reply("never-listing-token", 3600)
        } else if seen.method == axum::http::Method::GET {
            Reply::json(200, json!({"items": []}))
        } else if seen.method == axum::http::Method::POST {
            Reply::json(200, json!({"id": format!("lease-{i}"), "etag": "\"1\""}))
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await
}

fn calls(server: &Mock, method: axum::http::Method) -> Vec<String> {
    server
        .api_calls()
        .into_iter()
        .filter(|s| s.method == method)
        .map(|s| s.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_but_never_listed_lease_fails_the_lock_fast() {
    let server = never_listing_server().await;
    let c = fake_server::client(&server.url(), fake_server::ready_token(), 0);
    let started = std::time::Instant::now();
    // Even with a long --lock-timeout: this is a service fault, not a holder to wait for.
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        acquire(
            &c,
            &LockOptions::new(Duration::from_secs(300)),
            &CancellationToken::new(),
            &(),
        ),
    )
    .await
    .expect("the lock gives up on its own, long before --lock-timeout")
    .err()
    .expect("no lock on a service that never lists the lease");
    let elapsed = started.elapsed();
    let LockError::NotListed { id, lists } = &err else {
        panic!("{err}");
    };
    assert_eq!(*lists, MAX_UNSEEN_LISTS);
    assert!(
        err.to_string().contains(&format!(
            "accepted lease object {id} but did not list it back"
        )),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // One create (never sent again while unseen), one list before it and one per miss, and
    // the created object is deleted by id.
    assert_eq!(
        calls(&server, axum::http::Method::POST),
        [format!("{}/connections", fake_server::FS)]
    );
    assert_eq!(
        calls(&server, axum::http::Method::GET).len(),
        1 + MAX_UNSEEN_LISTS as usize
    );
    assert_eq!(
        calls(&server, axum::http::Method::DELETE),
        [format!("{}/connections/{id}", fake_server::FS)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_against_a_never_listing_service_exits_1_quickly() {
    let server = never_listing_server().await;
    let mut args = vec!["apply", "--auto-approve", "--lock-timeout", "5m"];
    args.extend(SEED_ARGS);
    let mut cli = Cli::in_repo();
    cli.emulator(&server.url())
        .env("DESTCTL_IMS_URL", server.url())
        .args(&args);
    let started = std::time::Instant::now();
    // Killed (and the test failed) if it waits for --lock-timeout.
    let (out, _) =
        tokio::task::spawn_blocking(move || cli.output_bounded(Duration::from_secs(30), 2 << 30))
            .await
            .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        stderr.contains("did not list it back") && stderr.contains("a service fault"),
        "{}",
        shown(&out)
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    // The lease create, its delete, and nothing else was written.
    assert_eq!(calls(&server, axum::http::Method::POST).len(), 1);
    assert_eq!(calls(&server, axum::http::Method::DELETE).len(), 1);
    assert!(calls(&server, axum::http::Method::PATCH).is_empty());
}
