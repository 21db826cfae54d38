//! Benchmark of `apply` (not a timed test): 100 changed flows on an emulator answering every
//! Flow Service request after 50 ms, applied at parallelism 8. Reports the wall time of the
//! execution against the floor ⌈100/8⌉ × 50 ms (target ≤ 1.2×), the whole apply (list pages,
//! plan, execution), and the requests made (target: one PATCH per changed flow plus the list
//! pages).
//!
//! Run: `cargo bench --bench apply` (options: `--flows N`, `--latency-ms N`,
//! `--parallelism N`, `--runs N`).
// A benchmark: it prints its report and panics on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use destctl::apply::execute::Cancel;
use destctl::apply::secrets::Resolver;
use destctl::apply::{Approval, Context, Input, Silent, apply};
use destctl::client::{Auth, Client, ClientConfig};
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, Emulator, EmulatorConfig,
    FaultConfig, Latency, RunningEmulator,
};
use destctl::model::{DesiredState, ResourceName};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Opts {
    flows: usize,
    latency_ms: u64,
    parallelism: usize,
    runs: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        flows: 100,
        latency_ms: 50,
        parallelism: 8,
        runs: 3,
    };
    let args: Vec<String> = std::env::args().collect();
    for w in args.windows(2) {
        let v = || w[1].parse().expect("a number");
        match w[0].as_str() {
            "--flows" => o.flows = v(),
            "--latency-ms" => o.latency_ms = v() as u64,
            "--parallelism" => o.parallelism = v(),
            "--runs" => o.runs = v(),
            _ => {}
        }
    }
    o
}

fn client(emu: &RunningEmulator) -> Client {
    Client::new(ClientConfig::new(
        emu.base_url(),
        "prod",
        Auth::ClientCredentials {
            ims_url: emu.base_url(),
            client_id: EMBEDDED_CLIENT_ID.into(),
            client_secret: EMBEDDED_CLIENT_SECRET.into(),
            org_id: EMBEDDED_ORG_ID.into(),
            scopes: "openid".into(),
        },
    ))
    .unwrap()
}

fn ctx(emu: &RunningEmulator, parallelism: usize) -> Context {
    Context {
        endpoint: emu.base_url(),
        sandbox: "prod".into(),
        resolver: Resolver::new(|_| None, env!("CARGO_MANIFEST_DIR")),
        cancel: Cancel::new(),
        approval: Approval::Auto,
        parallelism,
        observer: std::sync::Arc::new(Silent),
        scope: destctl::model::Scope::all(),
    }
}

/// `flows` copies of the amazon-s3-legacy example (the legacy card, as before the current cards).
fn desired(flows: usize, variant: usize) -> DesiredState {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let all = destctl::manifest::load(&[root.join("manifests")])
        .expect("examples are valid")
        .desired;
    let template = all
        .destinations
        .iter()
        .find(|d| d.name.as_str() == "amazon-s3-legacy")
        .expect("amazon-s3-legacy example");
    let destinations = (0..flows)
        .map(|i| {
            let mut d = template.clone();
            d.name = ResourceName::parse(&format!("bench-{i:03}")).unwrap();
            d.display_name = format!("Bench flow {i} v{variant}");
            d
        })
        .collect();
    DesiredState {
        destinations,
        ..DesiredState::default()
    }
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let floor = Duration::from_millis(
            (o.flows.div_ceil(o.parallelism)) as u64 * o.latency_ms,
        );
        println!(
            "apply benchmark: {} changed flows, {} ms latency, parallelism {}, floor ⌈{}/{}⌉ × {} ms = {} ms",
            o.flows,
            o.latency_ms,
            o.parallelism,
            o.flows,
            o.parallelism,
            o.latency_ms,
            floor.as_millis()
        );
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let c = client(&emu);
        let setup = apply(
            Input::Live {
                desired: desired(o.flows, 0),
                prune: false,
            },
            &c,
            &ctx(&emu, 16),
        )
        .await
        .unwrap();
        assert!(setup.report.is_success(), "{}", setup.report.to_text());
        emu.set_faults(FaultConfig {
            latency: Latency::Fixed(Duration::from_millis(o.latency_ms)),
            ..FaultConfig::default()
        });
        for run in 1..=o.runs {
            let before = emu.request_counts();
            let start = Instant::now();
            let applied = apply(
                Input::Live {
                    desired: desired(o.flows, run),
                    prune: false,
                },
                &c,
                &ctx(&emu, o.parallelism),
            )
            .await
            .unwrap();
            let total = start.elapsed();
            let report = &applied.report;
            assert!(report.is_success(), "{}", report.to_text());
            assert_eq!(report.summary.updated, o.flows);
            let after = emu.request_counts();
            let mut delta: Vec<(String, u64)> = after
                .iter()
                .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect();
            delta.sort();
            let patches: u64 = delta
                .iter()
                .filter(|(k, _)| k.starts_with("PATCH "))
                .map(|(_, n)| n)
                .sum();
            let gets: u64 = delta
                .iter()
                .filter(|(k, _)| k.starts_with("GET "))
                .map(|(_, n)| n)
                .sum();
            let others: u64 = delta.iter().map(|(_, n)| n).sum::<u64>() - patches - gets;
            let exec = Duration::from_millis(report.elapsed_ms);
            println!(
                "run {run}: execution {} ms = {:.2}× floor (target ≤ 1.20×); whole apply (lists + plan + execution) {} ms = {:.2}× floor; requests: {} PATCH (target {}), {} GET list pages, {} other",
                exec.as_millis(),
                exec.as_secs_f64() / floor.as_secs_f64(),
                total.as_millis(),
                total.as_secs_f64() / floor.as_secs_f64(),
                patches,
                o.flows,
                gets,
                others
            );
            for (k, n) in &delta {
                println!("    {n:>4} {k}");
            }
        }
        emu.shutdown().await;
    });
}
