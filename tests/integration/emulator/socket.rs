//! Issue 3, points 1, 9, 10, 11 over a real loopback socket: the in-process server, the state
//! file, fault injection, out-of-band edits, introspection, and concurrent writers.

use crate::support::cli::Cli;
use crate::support::emulator::EmulatorProcess;
use crate::support::tempdir;
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_ORG_ID, Emulator, EmulatorConfig, EmulatorError, FaultConfig,
    Latency, OutOfBandEdit, RunningEmulator, SeedFlows,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FS: &str = "/data/foundation/flowservice";
const PROFILE: &str = "8a9c3494-9708-43d7-ae3f-cda01e5030e1";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    sandbox: String,
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

impl Api {
    async fn new(emu: &RunningEmulator) -> Api {
        Api::at(&emu.base_url()).await
    }

    async fn at(base: &str) -> Api {
        let http = http();
        let token = crate::support::emulator::token(&http, base, EMBEDDED_CLIENT_ID).await;
        Api {
            http,
            base: base.to_owned(),
            token,
            sandbox: "prod".into(),
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{FS}{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-api-key", EMBEDDED_CLIENT_ID)
            .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
            .header("x-sandbox-name", &self.sandbox)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rb.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.send(self.req(Method::POST, path).json(&body)).await;
        assert_eq!(s, 201, "{v}");
        v
    }

    async fn chain(&self) -> (String, String) {
        let base = self
            .create(
                "/connections",
                json!({"name": "p", "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
            )
            .await;
        let src = self
            .create(
                "/sourceConnections",
                json!({"name": "s", "baseConnectionId": base["id"],
            "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
            )
            .await;
        let s3 = "4890fc95-5a1f-4983-94bb-e060c08e3f81";
        let dest = self
            .create(
                "/connections",
                json!({"name": "d", "connectionSpec": {"id": s3, "version": "1.0"},
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "AKIAIOSFODNN7EXAMPLE",
                "s3SecretKey": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab"}}}),
            )
            .await;
        let tgt = self
            .create(
                "/targetConnections",
                json!({"name": "t", "baseConnectionId": dest["id"],
            "connectionSpec": {"id": s3, "version": "1.0"},
            "params": {"mode": "S3", "bucketName": "acme", "path": "/x", "format": "CSV"}}),
            )
            .await;
        let flow = self.create("/flows", json!({"name": "flow", "flowSpec": {"id": "71471eba-b620-49e4-90fd-23f1fa0174d8", "version": "1.0"},
            "sourceConnectionIds": [src["id"]], "targetConnectionIds": [tgt["id"]],
            "transformations": [{"name": "GeneralTransform", "params": {
                "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]})).await;
        (
            flow["id"].as_str().unwrap().to_owned(),
            flow["etag"].as_str().unwrap().to_owned(),
        )
    }
}

fn segment(id: &str) -> Value {
    json!({"type": "PLATFORM_SEGMENT", "value": {"id": id,
        "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%",
        "exportMode": "FIRST_FULL_THEN_INCREMENTAL",
        "schedule": {"frequency": "EVERY_6_HOURS", "startDate": "2024-01-01"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_with_the_same_if_match_exactly_one_wins() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    let api = std::sync::Arc::new(Api::new(&emu).await);
    let (flow, etag) = api.chain().await;
    let n = 24;
    let mut tasks = Vec::new();
    for i in 0..n {
        let api = api.clone();
        let (flow, etag) = (flow.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            api.send(api.req(Method::PATCH, &format!("/flows/{flow}")).header("If-Match", etag)
                .json(&json!([{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
                               "value": segment(&format!("aud-{i}"))}]))).await
        }));
    }
    let mut wins = Vec::new();
    let mut lost = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s.as_u16() {
            200 => wins.push(v),
            412 => {
                lost += 1;
                assert_eq!(v["type"], "https://ns.adobe.com/aep/errors/FLOW-1404-412");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one PATCH wins");
    assert_eq!(lost, n - 1);
    let (_, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    let f = &got["items"][0];
    assert_eq!(f["etag"], wins[0]["etag"]);
    assert_eq!(
        f["transformations"][0]["params"]["segmentSelectors"]["selectors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Many clients creating at once: every create lands.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.create("/connections", json!({"name": format!("c{i}"), "connectionSpec": {"id": PROFILE, "version": "1.0"}})).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, count) = api
        .send(api.req(Method::GET, "/connections?count=true"))
        .await;
    assert_eq!(count["count"], 22);
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_are_seeded_reproducible_and_switchable_at_runtime() {
    let cfg = FaultConfig {
        seed: 42,
        p429: 0.25,
        retry_after_secs: 7,
        p500: 0.25,
        p503: 0.25,
        ..FaultConfig::default()
    };
    let emu = Emulator::start(EmulatorConfig {
        faults: cfg.clone(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&emu).await;
    let run = || async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let r = api.req(Method::GET, "/flowSpecs").send().await.unwrap();
            let s = r.status().as_u16();
            if s == 429 {
                assert_eq!(r.headers()["retry-after"], "7");
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["error_code"], "429050");
            } else if s >= 500 {
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["status"], s);
            }
            statuses.push(s);
        }
        statuses
    };
    let first = run().await;
    for s in [200, 429, 500, 503] {
        assert!(first.contains(&s), "{s} missing from {first:?}");
    }
    emu.set_faults(cfg.clone());
    assert_eq!(run().await, first, "same seed, same faults");
    // IMS is never faulted.
    Api::new(&emu).await;
    emu.set_faults(FaultConfig::default());
    assert!(run().await.iter().all(|s| *s == 200));

    emu.set_faults(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(150)),
        ..FaultConfig::default()
    });
    let t = Instant::now();
    assert_eq!(
        api.req(Method::GET, "/flowSpecs")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(150));
    emu.shutdown().await;
}

#[tokio::test]
async fn connection_closed_after_request_n() {
    let emu = Emulator::start(EmulatorConfig {
        faults: FaultConfig {
            close_after: Some(2),
            ..FaultConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&emu).await;
    for _ in 0..2 {
        assert_eq!(
            api.req(Method::GET, "/flows")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let third = api.req(Method::GET, "/flows").send().await;
    let err = third.expect_err("the third request's connection is closed without a response");
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(
        api.req(Method::GET, "/flows")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn out_of_band_edit_bumps_the_etag_as_a_ui_user() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu).await;
    let (flow, etag) = api.chain().await;
    let new = emu
        .out_of_band_edit(
            EMBEDDED_ORG_ID,
            "prod",
            &flow,
            OutOfBandEdit::Rename("Renamed in the UI".into()),
        )
        .await
        .unwrap();
    assert_ne!(new, etag);
    let (_, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    let f = &got["items"][0];
    assert_eq!(f["name"], "Renamed in the UI");
    assert_eq!(f["etag"], new.as_str());
    assert_eq!(f["updatedBy"], "aep-ui-user@AdobeID");
    assert_eq!(f["updatedClient"], "exc_app");
    assert_eq!(f["createdBy"], "destctl-emulator@AdobeID");
    // The client's etag is stale now.
    let (s, _) = api
        .send(
            api.req(Method::PATCH, &format!("/flows/{flow}"))
                .header("If-Match", &etag)
                .json(&json!([{"op": "replace", "path": "/name", "value": "x"}])),
        )
        .await;
    assert_eq!(s, 412);
    let added = emu
        .out_of_band_edit(EMBEDDED_ORG_ID, "prod", &flow, OutOfBandEdit::Patch(json!([
            {"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-", "value": segment("ui-aud")}])))
        .await
        .unwrap();
    assert_ne!(added, new);
    let disabled = emu
        .out_of_band_edit(EMBEDDED_ORG_ID, "prod", &flow, OutOfBandEdit::Disable)
        .await
        .unwrap();
    let (_, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    assert_eq!(got["items"][0]["state"], "disabled");
    assert_eq!(got["items"][0]["etag"], disabled.as_str());
    let bad = emu
        .out_of_band_edit(
            EMBEDDED_ORG_ID,
            "prod",
            &flow,
            OutOfBandEdit::Patch(json!([{"op": "move", "from": "/name", "path": "/x"}])),
        )
        .await;
    assert!(matches!(bad, Err(EmulatorError::Rejected(_))));
    let missing = emu
        .out_of_band_edit(EMBEDDED_ORG_ID, "prod", "nope", OutOfBandEdit::Enable)
        .await;
    assert!(matches!(missing, Err(EmulatorError::NoSuchFlow { .. })));
    emu.shutdown().await;
}

#[tokio::test]
async fn introspection_counts_and_reset() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu).await;
    let (flow, _) = api.chain().await;
    api.send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    api.send(api.req(Method::GET, "/flows")).await;
    let http = http();
    let counts: Value = http
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = &counts["requests"];
    assert_eq!(req["POST /ims/token/v3"], 1);
    assert_eq!(req[format!("POST {FS}/connections")], 2);
    assert_eq!(req[format!("POST {FS}/flows")], 1);
    assert_eq!(req[format!("GET {FS}/flows/{{id}}")], 1);
    assert_eq!(req[format!("GET {FS}/flows")], 1);
    assert_eq!(counts["total"], 8);
    assert_eq!(
        emu.request_counts()[&format!("POST {FS}/targetConnections")],
        1
    );

    let r = http
        .post(format!("{}/_emulator/reset", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, flows) = api.send(api.req(Method::GET, "/flows")).await;
    assert_eq!(flows["items"], json!([]));
    let counts: Value = http
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["total"], 1, "only the GET after the reset: {counts}");
    emu.shutdown().await;
}

#[tokio::test]
async fn state_file_survives_restarts_and_corruption_is_an_error() {
    let dir = tempdir();
    let file = dir.join("nested").join("state.json");
    let cfg = EmulatorConfig {
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(cfg.clone()).await.unwrap();
    assert!(file.exists(), "created at start");
    let api = Api::new(&emu).await;
    let (flow, etag) = api.chain().await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&flow), "written after every change");
    assert!(
        !text.contains("wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab"),
        "secrets are never stored"
    );
    let seeded = emu
        .seed_flows(
            EMBEDDED_ORG_ID,
            "dev",
            &SeedFlows {
                flows: 2,
                audiences_per_flow: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    emu.shutdown().await;
    let mut leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    leftovers.sort();
    // Issue 10: a clean shutdown also removes the lock file.
    assert_eq!(
        leftovers,
        ["state.json"],
        "no temporary or lock file left beside the state file: {leftovers:?}"
    );

    let emu = Emulator::start(cfg.clone()).await.unwrap();
    let api = Api::new(&emu).await;
    let (s, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    assert_eq!(s, 200);
    assert_eq!(got["items"][0]["etag"], etag.as_str());
    let mut dev = Api::new(&emu).await;
    dev.sandbox = "dev".into();
    let (_, c) = dev.send(dev.req(Method::GET, "/flows?count=true")).await;
    assert_eq!(c["count"], 2);
    assert_eq!(seeded.len(), 2);
    // New writes continue the sequence: newest first still holds.
    let (flow2, _) = api.chain().await;
    let (_, list) = api.send(api.req(Method::GET, "/flows")).await;
    assert_eq!(list["items"][0]["id"], flow2.as_str());
    emu.shutdown().await;

    std::fs::write(&file, "{\"formatVersion\": 1, \"seq\": ").unwrap();
    match Emulator::start(cfg.clone()).await {
        Err(EmulatorError::StateFile { path, message }) => {
            assert_eq!(path, file);
            assert!(message.contains("corrupt"), "{message}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a corrupt state file must not start"),
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"formatVersion\": 1, \"seq\": ",
        "never replaced"
    );
    let as_dir = EmulatorConfig {
        state_file: Some(dir.to_path_buf()),
        ..EmulatorConfig::default()
    };
    assert!(matches!(
        Emulator::start(as_dir).await,
        Err(EmulatorError::StateFile { .. })
    ));
    dir.close();
}

#[tokio::test]
async fn filters_and_paging_over_http() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let ids = emu
        .seed_flows(
            EMBEDDED_ORG_ID,
            "prod",
            &SeedFlows {
                flows: 3,
                audiences_per_flow: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let api = Api::new(&emu).await;
    let (s, v) = api
        .send(api.req(Method::GET, "/flows").query(&[(
            "property",
            "transformations[].params.segmentSelectors.selectors[].value.id==seg-1-1",
        )]))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["id"], ids[1].as_str());
    let (s, v) = api
        .send(
            api.req(Method::GET, "/flows")
                .query(&[("property", "createdAt>=1"), ("limit", "2")]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let href = v["_links"]["next"]["href"].as_str().unwrap();
    let (s, v) = api
        .send(
            api.http
                .get(format!("{}{FS}{href}", api.base))
                .bearer_auth(&api.token)
                .header("x-api-key", EMBEDDED_CLIENT_ID)
                .header("x-gw-ims-org-id", EMBEDDED_ORG_ID),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["_links"], json!({}));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_busy_port_names_the_cause_once() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = match Emulator::start(EmulatorConfig {
        listen: busy.local_addr().unwrap(),
        ..EmulatorConfig::default()
    })
    .await
    {
        Err(e) => e,
        Ok(_) => panic!("a busy port must not start"),
    };
    assert!(matches!(err, EmulatorError::Bind { .. }));
    let source = std::error::Error::source(&err).expect("the OS error is the source");
    let shown = err.to_string();
    assert!(
        !shown.contains(&source.to_string()),
        "the cause belongs to the source chain only: {shown}"
    );
    let mut chain = shown.clone();
    let mut s = std::error::Error::source(&err);
    while let Some(e) = s {
        chain.push_str(&format!(": {e}"));
        s = e.source();
    }
    assert_eq!(chain.matches(&source.to_string()).count(), 1, "{chain}");
}

#[tokio::test]
async fn a_failed_state_write_changes_nothing() {
    let dir = tempdir();
    let state_dir = dir.join("state");
    let file = state_dir.join("state.json");
    let emu = Emulator::start(EmulatorConfig {
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&emu).await;
    let (flow, etag) = api.chain().await;
    let on_disk = std::fs::read_to_string(&file).unwrap();

    // The state directory becomes a plain file: every write fails (even as root).
    std::fs::rename(&state_dir, dir.join("moved")).unwrap();
    std::fs::write(&state_dir, "not a directory").unwrap();

    let patch = |name: &str| {
        api.req(Method::PATCH, &format!("/flows/{flow}"))
            .header("If-Match", &etag)
            .json(&json!([{"op": "replace", "path": "/name", "value": name}]))
    };
    let (s, body) = api.send(patch("renamed")).await;
    assert_eq!(s, 500, "{body}");
    assert_eq!(
        body["type"],
        "https://ns.adobe.com/aep/errors/FLOW-1000-500"
    );
    let (s, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    assert_eq!(s, 200);
    assert_eq!(got["items"][0]["name"], "flow", "the PATCH was not applied");
    assert_eq!(got["items"][0]["etag"], etag.as_str());

    let (_, before) = api
        .send(api.req(Method::GET, "/connections?count=true"))
        .await;
    let (s, _) = api
        .send(
            api.req(Method::POST, "/connections")
                .json(&json!({"name": "p", "connectionSpec": {"id": PROFILE, "version": "1.0"}})),
        )
        .await;
    assert_eq!(s, 500);
    let (_, after) = api
        .send(api.req(Method::GET, "/connections?count=true"))
        .await;
    assert_eq!(after, before, "the create was not applied");
    let (s, _) = api
        .send(api.req(Method::DELETE, &format!("/flows/{flow}")))
        .await;
    assert_eq!(s, 500);
    let (s, _) = api
        .send(api.req(Method::POST, &format!("/flows/{flow}/action?op=disable")))
        .await;
    assert_eq!(s, 500);
    assert!(matches!(
        emu.out_of_band_edit(EMBEDDED_ORG_ID, "prod", &flow, OutOfBandEdit::Disable)
            .await,
        Err(EmulatorError::StateFile { .. })
    ));
    let (_, got) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    assert_eq!(got["items"][0]["state"], "enabled");
    assert_eq!(got["items"][0]["etag"], etag.as_str());

    // Once the directory is back, the retried PATCH applies exactly once.
    std::fs::remove_file(&state_dir).unwrap();
    std::fs::rename(dir.join("moved"), &state_dir).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), on_disk);
    let (s, body) = api.send(patch("renamed")).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = api.send(patch("renamed again")).await;
    assert_eq!(s, 412, "the first success consumed the etag");
    assert!(std::fs::read_to_string(&file).unwrap().contains("renamed"));
    emu.shutdown().await;
}

async fn edit_over_http(emu: &RunningEmulator, flow: &str, body: Value) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}/_emulator/flows/{flow}/edit", emu.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn out_of_band_edit_over_http() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu).await;
    let (flow, etag) = api.chain().await;
    let get = async || {
        let (s, v) = api
            .send(api.req(Method::GET, &format!("/flows/{flow}")))
            .await;
        assert_eq!(s, 200);
        v["items"][0].clone()
    };

    let (s, v) = edit_over_http(&emu, &flow, json!({"edit": {"rename": "From the UI"}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], flow.as_str());
    assert_ne!(v["etag"], etag.as_str());
    let f = get().await;
    assert_eq!(f["name"], "From the UI");
    assert_eq!(f["etag"], v["etag"]);
    assert_eq!(f["updatedBy"], "aep-ui-user@AdobeID");
    assert_eq!(f["updatedClient"], "exc_app");

    let body = json!({"org": EMBEDDED_ORG_ID, "sandbox": "prod",
                      "edit": {"description": "hand-written"}});
    let (s, v) = edit_over_http(&emu, &flow, body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(get().await["description"], "hand-written");
    let (s, _) = edit_over_http(&emu, &flow, json!({"edit": {"disable": true}})).await;
    assert_eq!(s, 200);
    assert_eq!(get().await["state"], "disabled");
    let (s, _) = edit_over_http(&emu, &flow, json!({"edit": {"enable": true}})).await;
    assert_eq!(s, 200);
    assert_eq!(get().await["state"], "enabled");
    let ops = json!([{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
                      "value": segment("ui-aud")}]);
    let (s, v) = edit_over_http(&emu, &flow, json!({"edit": {"patch": ops}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        get().await["transformations"][0]["params"]["segmentSelectors"]["selectors"][0]["value"]["id"],
        "ui-aud"
    );
    // Every API request was counted; the edits were not.
    assert!(
        emu.request_counts()
            .keys()
            .all(|k| !k.contains("_emulator")),
        "{:?}",
        emu.request_counts()
    );

    let (s, v) = edit_over_http(&emu, "no-such-flow", json!({"edit": {"rename": "x"}})).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["type"], "https://ns.adobe.com/aep/errors/FLOW-1439-404");
    let other_sandbox = json!({"sandbox": "dev", "edit": {"rename": "x"}});
    let (s, _) = edit_over_http(&emu, &flow, other_sandbox).await;
    assert_eq!(s, 404, "sandboxes stay isolated");
    let bad_patch = json!({"edit": {"patch": [{"op": "move", "from": "/name", "path": "/x"}]}});
    let (s, v) = edit_over_http(&emu, &flow, bad_patch).await;
    assert_eq!(s, 400, "{v}");
    for bad in [
        json!({"edit": {"enable": false}}),
        json!({"edit": {"explode": true}}),
        json!({"edit": {"rename": "x"}, "extra": 1}),
    ] {
        let (s, v) = edit_over_http(&emu, &flow, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn fault_injection_renames_flows_out_of_band() {
    // After the Nth request: once.
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = Api::new(&emu).await;
    let (flow, etag) = api.chain().await;
    emu.set_faults(FaultConfig {
        edit_after: Some(2),
        ..FaultConfig::default()
    });
    let get = async |api: &Api, flow: &str| {
        let (s, v) = api
            .send(api.req(Method::GET, &format!("/flows/{flow}")))
            .await;
        assert_eq!(s, 200, "{v}");
        v["items"][0].clone()
    };
    assert_eq!(get(&api, &flow).await["etag"], etag.as_str());
    let second = get(&api, &flow).await;
    assert_eq!(second["etag"], etag.as_str(), "the edit follows the answer");
    let third = get(&api, &flow).await;
    assert_eq!(third["name"], "flow (edited in the UI)");
    assert_ne!(third["etag"], etag.as_str());
    assert_eq!(third["updatedBy"], "aep-ui-user@AdobeID");
    for _ in 0..3 {
        assert_eq!(get(&api, &flow).await["etag"], third["etag"], "only once");
    }
    emu.shutdown().await;

    // By probability: seeded, so two runs edit after the same requests.
    let run = async || {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let api = Api::new(&emu).await;
        let (flow, _) = api.chain().await;
        emu.set_faults(FaultConfig {
            seed: 5,
            p_edit: 0.3,
            ..FaultConfig::default()
        });
        let mut names = Vec::new();
        for _ in 0..20 {
            names.push(get(&api, &flow).await["name"].as_str().unwrap().to_owned());
        }
        emu.shutdown().await;
        names
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert_ne!(
        a.first(),
        a.last(),
        "some requests were followed by an edit: {a:?}"
    );
    assert!(a.windows(2).any(|w| w[0] == w[1]), "not all: {a:?}");
}

#[tokio::test]
async fn a_state_file_serves_one_emulator_at_a_time() {
    let dir = tempdir();
    let file = dir.join(".destctl").join("emulator.json");
    let cfg = EmulatorConfig {
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    };
    let first = Emulator::start(cfg.clone()).await.unwrap();
    let lock = dir.join(".destctl").join("emulator.lock");
    match Emulator::start(cfg.clone()).await {
        Err(e @ EmulatorError::StateLocked { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains(&lock.display().to_string()), "{shown}");
            assert!(shown.contains(&file.display().to_string()), "{shown}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second emulator must not share the state file"),
    }

    // Another process: `destctl emulator` on the same state file exits 1 naming the lock.
    let mut child = Cli::new()
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the second emulator kept running");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("emulator.lock"), "{stderr}");

    // Once the first one stops, the state file is free again. Other tests of this binary spawn
    // processes concurrently, and a forked child shares the lock until it execs (the lock file
    // is close-on-exec): under load that window is visible, so the lock is given a moment.
    first.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let again = loop {
        match Emulator::start(cfg.clone()).await {
            Err(EmulatorError::StateLocked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break other.unwrap(),
        }
    };
    again.shutdown().await;
}

/// `destctl emulator` as a process: it serves over its socket, its fault options apply, and
/// Ctrl-C stops it cleanly.
#[tokio::test]
async fn the_emulator_command_serves_with_its_faults_and_stops_on_ctrl_c() {
    let emu = EmulatorProcess::spawn(&[]);
    let api = Api::at(emu.base_url()).await;
    let (flow, etag) = api.chain().await;
    let (s, v) = api
        .send(api.req(Method::GET, &format!("/flows/{flow}")))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"][0]["etag"], etag.as_str());
    let (status, stderr) = tokio::task::spawn_blocking(move || emu.interrupt())
        .await
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("destctl emulator: stopping"), "{stderr}");

    // Every Flow Service request answered 503; IMS is never faulted.
    let faulty = EmulatorProcess::spawn(&["--fault-503", "1"]);
    let api = Api::at(faulty.base_url()).await;
    let (s, v) = api.send(api.req(Method::GET, "/flows")).await;
    assert_eq!(s, 503, "{v}");
}
