//! Emulator speed at benchmark scale: 20 sandboxes × 100 flows × 250 audiences (≈500k
//! selectors). Measures, over loopback HTTP, a list page of 100 such flows, the audience
//! reverse lookup, a single GET, and a PATCH of one such flow.
//!
//! Run: `cargo bench --bench emulator` (optional args: iterations, default 30).
// A benchmark: it prints its report and panics on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_ORG_ID, Emulator, EmulatorConfig, SeedFlows, apply_flow_patch,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SANDBOXES: usize = 20;
const FLOWS: usize = 100;
const AUDIENCES: usize = 250;
const ATTRIBUTES: usize = 20;
const FS: &str = "/data/foundation/flowservice";

fn report(name: &str, mut samples: Vec<Duration>, extra: &str) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    let p95 = samples[(samples.len() * 95 / 100).min(samples.len() - 1)];
    println!(
        "{name:<44} n={:<4} min {:>8.2} ms  median {:>8.2} ms  mean {:>8.2} ms  p95 {:>8.2} ms  {extra}",
        samples.len(),
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        mean,
        ms(p95)
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let t = Instant::now();
        let mut flows = Vec::new();
        for s in 0..SANDBOXES {
            let seed = SeedFlows {
                flows: FLOWS,
                audiences_per_flow: AUDIENCES,
                attributes_per_flow: ATTRIBUTES,
                name_prefix: format!("sb{s}-flow"),
                ..SeedFlows::default()
            };
            flows.push(emu.seed_flows(EMBEDDED_ORG_ID, &format!("sb-{s}"), &seed).await.unwrap());
        }
        println!(
            "seeded {SANDBOXES} sandboxes x {FLOWS} flows x {AUDIENCES} audiences ({} selectors) in {:.1} s",
            SANDBOXES * FLOWS * AUDIENCES,
            t.elapsed().as_secs_f64()
        );
        let token = emu.state().issue_token(EMBEDDED_CLIENT_ID);
        let http = reqwest::Client::new();
        let base = emu.base_url();
        let req = |method: reqwest::Method, path: &str| {
            http.request(method, format!("{base}{FS}{path}"))
                .bearer_auth(&token)
                .header("x-api-key", EMBEDDED_CLIENT_ID)
                .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
                .header("x-sandbox-name", "sb-7")
        };

        let mut samples = Vec::new();
        let mut bytes = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let r = req(reqwest::Method::GET, "/flows?limit=100&property=inheritedAttributes.properties.isDestinationFlow==true")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body = r.bytes().await.unwrap();
            samples.push(t.elapsed());
            bytes = body.len();
        }
        let page: Value = serde_json::from_slice(
            &req(reqwest::Method::GET, "/flows?limit=100").send().await.unwrap().bytes().await.unwrap(),
        )
        .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), FLOWS);
        report("GET /flows page of 100 flows x 250 audiences", samples, &format!("{:.1} MB/page", bytes as f64 / 1e6));

        let mut samples = Vec::new();
        for i in 0..iterations {
            let t = Instant::now();
            let r = req(
                reqwest::Method::GET,
                &format!("/flows?property=transformations%5B%5D.params.segmentSelectors.selectors%5B%5D.value.id==seg-{}-{}", i % FLOWS, i % AUDIENCES),
            )
            .send()
            .await
            .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["items"].as_array().unwrap().len(), 1);
            samples.push(t.elapsed());
        }
        report("GET /flows audience reverse lookup", samples, "");

        let flow = &flows[7][42];
        let mut samples = Vec::new();
        for _ in 0..iterations {
            let t = Instant::now();
            let r = req(reqwest::Method::GET, &format!("/flows/{flow}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            samples.push(t.elapsed());
        }
        report("GET /flows/{id} (250 audiences)", samples, "");

        let v: Value = req(reqwest::Method::GET, &format!("/flows/{flow}")).send().await.unwrap().json().await.unwrap();
        let mut etag = v["items"][0]["etag"].as_str().unwrap().to_owned();
        let mut samples = Vec::new();
        for i in 0..iterations {
            let ops = if i % 2 == 0 {
                json!([{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
                        "value": {"type": "PLATFORM_SEGMENT", "value": {"id": format!("bench-{i}"),
                            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%",
                            "exportMode": "DAILY_FULL_EXPORT",
                            "schedule": {"frequency": "DAILY", "triggerType": "AFTER_SEGMENT_EVAL", "startDate": "2024-01-01"}}}}])
            } else {
                json!([{"op": "remove", "path": format!("/transformations/0/params/segmentSelectors/selectors/{AUDIENCES}")}])
            };
            let t = Instant::now();
            let r = req(reqwest::Method::PATCH, &format!("/flows/{flow}"))
                .header("If-Match", &etag)
                .json(&ops)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            samples.push(t.elapsed());
            etag = v["etag"].as_str().unwrap().to_owned();
        }
        report("PATCH /flows/{id} (250 audiences, 1 op)", samples, "");

        let mut samples = Vec::new();
        for _ in 0..iterations {
            let ops: Vec<Value> = (0..AUDIENCES)
                .map(|a| json!({"op": "replace", "path": format!("/transformations/0/params/segmentSelectors/selectors/{a}/value/name"), "value": format!("renamed {a}")}))
                .collect();
            let t = Instant::now();
            let r = req(reqwest::Method::PATCH, &format!("/flows/{flow}"))
                .header("If-Match", &etag)
                .json(&ops)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            samples.push(t.elapsed());
            etag = v["etag"].as_str().unwrap().to_owned();
        }
        report("PATCH /flows/{id} (250 audiences, 250 ops)", samples, "");
        let stored: Value = req(reqwest::Method::GET, &format!("/flows/{flow}")).send().await.unwrap().json().await.unwrap();
        let stored = stored["items"][0].clone();
        let add = json!([{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": {"type": "PLATFORM_SEGMENT", "value": {"id": "in-process",
                "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%", "exportMode": "DAILY_FULL_EXPORT",
                "schedule": {"frequency": "DAILY", "triggerType": "AFTER_SEGMENT_EVAL", "startDate": "2024-01-01"}}}}]);
        let mut samples = Vec::new();
        for _ in 0..iterations {
            let t = Instant::now();
            let out = apply_flow_patch(&stored, &add, 1_700_000_000).unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(out);
        }
        report("apply_flow_patch in process (250 audiences)", samples, "");
        emu.shutdown().await;
    });
}
