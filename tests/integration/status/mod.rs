//! Issue 9, point 3: `destctl status` against an emulator whose simulated clock the test moves,
//! with a failure injected into one flow's runs; and the runs API the emulator serves.

pub mod raw;

use crate::support::cli::Cli;
use crate::support::workspace::Workspace;
use crate::support::{tempdir, write};
use destctl::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use raw::Raw;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

/// 2026-12-01T00:00:00Z.
pub const DEC_1: i64 = 1_796_083_200_000;

pub const ACCESS_KEY: &str = "AKIADESTCTLFAKE23456";
pub const SECRET_KEY: &str = "fake/Secret+Key/For/Destctl/Examples0000";

/// An in-process emulator whose clock starts at 2026-12-01T00:00:00Z.
pub async fn emulator_at_dec_1() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        clock_start_ms: Some(DEC_1),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn destination(name: &str, bucket: &str) -> String {
    format!(
        "apiVersion: destctl/v1
kind: Destination
metadata: {{name: {name}}}
spec:
  displayName: {name} flow
  platform: amazon-s3
  connection:
    auth: Access Key
    params: {{s3AccessKey: '${{env:S3_KEY}}', s3SecretKey: '${{env:S3_SECRET}}'}}
  location: {{bucketName: {bucket}, path: exports, fileType: CSV}}
  attributes: [personalEmail.address]
---
"
    )
}

/// Two S3 Destinations exporting one audience daily at 17:00 from 2026-12-01.
fn manifests(dir: &Path) {
    let mut text = destination("exports-a", "bucket-a");
    text.push_str(&destination("exports-b", "bucket-b"));
    text.push_str(
        "apiVersion: destctl/v1
kind: Schedule
metadata: {name: daily-17h}
spec: {exportMode: DAILY_FULL_EXPORT, frequency: DAILY, triggerType: SCHEDULED, startDate: 2026-12-01, startTime: \"17:00\"}
---
apiVersion: destctl/v1
kind: Audience
metadata: {name: loyal}
spec:
  segmentId: 0b6f7a52-1c9e-4d3f-8a2b-5e6c7d8e9f01
  displayName: Loyal customers
  activations:
    - {destination: exports-a, schedule: daily-17h}
    - {destination: exports-b, schedule: daily-17h}
",
    );
    write(dir, "m/all.yaml", &text);
}

/// The status scenario ([`manifests`] in `m/`) beside an emulator at 2026-12-01, its S3
/// secrets set.
async fn workspace() -> Workspace {
    let w = Workspace::new(emulator_at_dec_1().await)
        .env("S3_KEY", ACCESS_KEY)
        .env("S3_SECRET", SECRET_KEY);
    manifests(&w.dir);
    w
}

/// `destctl ARGS` in `dir` against `emu`, with the S3 secrets set.
pub fn cli(dir: &Path, emu: &RunningEmulator, args: &[&str]) -> Cli {
    let mut c = Cli::in_dir(dir);
    c.emulator(&emu.base_url())
        .env("S3_KEY", ACCESS_KEY)
        .env("S3_SECRET", SECRET_KEY)
        .args(args);
    c
}

/// `status` output with the report's instant (the clock ticks) replaced by `[now]`.
fn redact_now(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.find("as of ") {
            Some(at) => {
                let rest = &line[at + 6..];
                let end = rest.find([' ', ',']).unwrap_or(rest.len());
                out.push_str(&line[..at + 6]);
                out.push_str("[now]");
                out.push_str(&rest[end..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

async fn status(w: &Workspace, extra: &[&str]) -> (i32, String, String) {
    let mut c = w.cli(&["status", "m"]);
    c.args(extra);
    let out = c.run().await;
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn status_shows_runs_after_the_clock_advances_and_flags_an_injected_failure() {
    let w = workspace().await;
    w.apply(&["m"]).await;

    // Just created: no run is due yet, nothing is flagged.
    let (code, text, err) = status(&w, &[]).await;
    assert_eq!(code, 0, "{text}{err}");
    assert_eq!(text.matches("waiting").count(), 2, "{text}");

    // Two days: each flow ran at 17:00 on the 1st and the 2nd.
    let raw = Raw::new(&w.emu.base_url()).await;
    assert_eq!(raw.advance("2d").await, 4);
    let (code, text, err) = status(&w, &[]).await;
    assert_eq!(code, 0, "{text}{err}");
    insta::assert_snapshot!("status_healthy", redact_now(&text));

    // The next run of exports-b fails.
    let (_, json_text, _) = status(&w, &["--format", "json"]).await;
    let report: Value = serde_json::from_str(&json_text).unwrap();
    let b = report["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "exports-b")
        .unwrap();
    let flow_b = b["flow_id"].as_str().unwrap();
    let (s, v) = raw
        .hook(
            &format!("/_emulator/flows/{flow_b}/fail"),
            json!({"runs": 1}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(raw.advance("1d").await, 2);

    let (code, text, err) = status(&w, &[]).await;
    assert_eq!(code, 2, "an unhealthy flow exits 2: {text}{err}");
    insta::assert_snapshot!("status_failing", redact_now(&text));

    let (code, json_text, _) = status(&w, &["--format", "json"]).await;
    assert_eq!(code, 2);
    let report: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(report["format_version"], 1);
    assert_eq!(
        report["summary"],
        json!({"total": 2, "healthy": 1, "unhealthy": 1})
    );
    let b = &report["destinations"][1];
    assert_eq!(b["health"], "failing");
    assert_eq!(b["last_run"]["status"], "failed");
    assert_eq!(b["last_run"]["started_at"], "2026-12-03T17:00:00Z");
    assert_eq!(b["last_run"]["files"], 0);
    assert_eq!(b["last_run"]["errors"][0]["code"], "EXPORT-2001-500");
    assert_eq!(b["runs_in_window"], 1);

    let (code, md, _) = status(&w, &["--format", "markdown"]).await;
    assert_eq!(code, 2);
    assert!(
        md.contains("| `exports-b` | enabled | **failing** | failed 2026-12-03T17:00:00Z | "),
        "{md}"
    );

    // A one-hour window: exports-a's last success (17:00) is older, so it is stale; the failure
    // comes from exports-b's lastRunDetails.
    let (code, json_text, _) = status(&w, &["--format", "json", "--window", "1h"]).await;
    assert_eq!(code, 2);
    let report: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(report["destinations"][0]["health"], "stale");
    assert_eq!(report["destinations"][1]["health"], "failing");
    assert_eq!(report["destinations"][1]["last_run"]["status"], "failed");

    // A failure run heals with the next success; a disabled flow is reported, not flagged.
    assert_eq!(raw.advance("1d").await, 2);
    let (s, _) = raw
        .call(
            Method::POST,
            &format!("/flows/{flow_b}/action?op=disable"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (code, json_text, _) = status(&w, &["--format", "json"]).await;
    assert_eq!(code, 0, "{json_text}");
    let report: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(report["destinations"][0]["health"], "healthy");
    assert_eq!(report["destinations"][1]["health"], "disabled");
    w.emu.shutdown().await;
}

#[tokio::test]
async fn a_destination_never_applied_is_missing_and_exits_2() {
    let w = workspace().await;
    let (code, text, err) = status(&w, &[]).await;
    assert_eq!(code, 2, "{text}{err}");
    assert_eq!(text.matches("missing").count(), 2, "{text}");
    let (code, _, err) = status(&w, &["--window", "soon"]).await;
    assert_eq!(code, 1, "a bad window is a usage error: {err}");
    assert!(err.contains("is not a window"), "{err}");
    w.emu.shutdown().await;
}

#[tokio::test]
async fn the_runs_api_filters_by_flow_pages_and_reads_one_run() {
    let w = workspace().await;
    w.apply(&["m"]).await;
    let raw = Raw::new(&w.emu.base_url()).await;
    assert_eq!(raw.advance("3d").await, 6);
    let (_, flows) = raw.call(Method::GET, "/flows", None).await;
    let flow = &flows["items"][0];
    let id = flow["id"].as_str().unwrap();
    let (s, page) = raw
        .call(
            Method::GET,
            &format!("/runs?property=flowId=={id}&limit=2"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|r| r["flowId"] == id));
    // Newest first; the next page holds the third.
    assert_eq!(
        items[0]["metrics"]["durationSummary"]["startedAtUTC"],
        DEC_1 + (2 * 24 + 17) * 3_600_000
    );
    let next = page["_links"]["next"]["href"].as_str().unwrap();
    let token = next.split("continuationToken=").nth(1).unwrap();
    let (_, page2) = raw
        .call(
            Method::GET,
            &format!("/runs?continuationToken={token}"),
            None,
        )
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    // The run shape of the reference, and the flow's lastRunDetails.
    let run = &items[0];
    for key in [
        "id",
        "createdAt",
        "updatedAt",
        "flowId",
        "flowSpec",
        "etag",
        "sandboxName",
        "imsOrgId",
    ] {
        assert!(!run[key].is_null(), "{key} in {run}");
    }
    let m = &run["metrics"];
    assert_eq!(m["statusSummary"]["status"], "success");
    assert!(m["recordSummary"]["outputRecordCount"].as_u64().unwrap() > 0);
    assert_eq!(m["fileSummary"]["outputFileCount"], 1);
    assert!(
        m["recordSummary"]["targetSummaries"][0]["entitySummaries"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("segment:")
    );
    let (_, again) = raw.call(Method::GET, &format!("/flows/{id}"), None).await;
    assert_eq!(again["items"][0]["lastRunDetails"]["id"], run["id"]);
    assert_eq!(again["items"][0]["lastRunDetails"]["state"], "success");
    assert_eq!(
        again["items"][0]["etag"], flow["etag"],
        "a run is not an edit"
    );
    let run_id = run["id"].as_str().unwrap();
    let (s, one) = raw
        .call(Method::GET, &format!("/runs/{run_id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(one["items"][0]["id"], run["id"]);
    let (s, _) = raw.call(Method::GET, "/runs/not-a-run", None).await;
    assert_eq!(s, 404);
    // The clock: read, set forward, refuse backwards; Date follows it.
    let r = reqwest::get(format!("{}/_emulator/clock", w.emu.base_url()))
        .await
        .unwrap();
    let date = r.headers()["date"].to_str().unwrap().to_owned();
    assert!(date.starts_with("Fri, 04 Dec 2026"), "{date}");
    let now: Value = r.json().await.unwrap();
    assert!(
        now["now"].as_str().unwrap().starts_with("2026-12-04T00:00"),
        "{now}"
    );
    let (s, v) = raw
        .hook("/_emulator/clock", json!({"set": "2026-12-01T00:00:00Z"}))
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = raw
        .hook("/_emulator/clock", json!({"set": "2026-12-05T18:00:00Z"}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["runsCreated"], 4,
        "the 4th and the 5th at 17:00, two flows"
    );
    let (s, _) = raw
        .hook("/_emulator/clock", json!({"advance": "soon"}))
        .await;
    assert_eq!(s, 400);
    let (s, _) = raw.hook("/_emulator/flows/nope/fail", json!({})).await;
    assert_eq!(s, 404);

    // The same from the library: a failure for one run, a day later.
    w.emu.state().fail_runs(id, 1);
    let made = w
        .emu
        .state()
        .advance_clock(std::time::Duration::from_secs(86_400))
        .await
        .unwrap();
    assert_eq!(made, 2);
    let (_, page) = raw
        .call(
            Method::GET,
            &format!("/runs?property=flowId=={id}&limit=1"),
            None,
        )
        .await;
    let newest = &page["items"][0]["metrics"];
    assert_eq!(newest["statusSummary"]["status"], "failed");
    assert_eq!(newest["recordSummary"]["outputRecordCount"], 0);
    assert_eq!(
        newest["statusSummary"]["errors"][0]["code"],
        "EXPORT-2001-500"
    );
    w.emu.shutdown().await;
}

#[test]
fn the_emulator_command_starts_its_clock_where_told() {
    let emu =
        crate::support::emulator::EmulatorProcess::spawn(&["--clock", "2026-12-01T00:00:00Z"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body: Value = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::get(format!("{}/_emulator/clock", emu.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(
        body["now"].as_str().unwrap().starts_with("2026-12-01T00:0"),
        "{body}"
    );
    let out = Cli::new()
        .args(["emulator", "--clock", "tomorrow"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an RFC 3339 instant"));
}

/// A service that refuses the `createdAt` filter on runs (Adobe documents only `id`, `flowId`
/// and `state` as filterable): `status` lists by flow and applies the window itself, in the
/// service's time (its `Date`).
#[tokio::test]
async fn a_refused_time_filter_falls_back_to_the_flow_filter() {
    use crate::support::fake_server::{Mock, Reply, token_reply};
    const H: i64 = 3_600_000;
    // Thu, 03 Dec 2026 18:00:00 GMT.
    let now = DEC_1 + (2 * 24 + 18) * H;
    let date = "Thu, 03 Dec 2026 18:00:00 GMT";
    let mock = Mock::start(move |req, _| {
        let path = req.path.as_str();
        let reply = if path.ends_with("/ims/token/v3") {
            token_reply("t", 86_399)
        } else if path.ends_with("/flows") {
            let flow = |name: &str| {
                json!({"id": format!("flow-{name}"), "etag": "\"1\"", "name": name,
                       "description": format!("[destctl:{name}]"), "state": "enabled",
                       "createdAt": DEC_1})
            };
            Reply::json(
                200,
                json!({"items": [flow("exports-a"), flow("exports-b")], "_links": {}}),
            )
        } else if path.ends_with("/runs") && req.params("property").len() > 1 {
            Reply::json(
                400,
                json!({"type": "https://ns.adobe.com/aep/errors/FLOW-1449-400", "title": "Bad Request",
                       "status": 400, "errorMessage": "Invalid filter field createdAt"}),
            )
        } else if path.ends_with("/runs") {
            let run = |flow: &str, at: i64, status: &str| {
                json!({"id": format!("{flow}-{at}"), "flowId": flow, "createdAt": at,
                       "metrics": {"durationSummary": {"startedAtUTC": at, "completedAtUTC": at + 60_000},
                                   "recordSummary": {"outputRecordCount": 10},
                                   "fileSummary": {"outputFileCount": 1},
                                   "statusSummary": {"status": status, "errors": []}}})
            };
            Reply::json(
                200,
                json!({"items": [run("flow-exports-a", now - H, "Success"),
                                 run("flow-exports-b", now - 30 * H, "Success"),
                                 run("flow-exports-a", now - 48 * H, "Failed")],
                       "_links": {}}),
            )
        } else {
            Reply::json(404, json!({}))
        };
        reply.header("date", date)
    })
    .await;
    let dir = tempdir();
    manifests(&dir);
    let mut c = Cli::in_dir(&dir);
    c.target(
        &mock.url(),
        "client",
        "secret",
        "0000000000000000DE57C711@AdobeOrg",
    )
    .args(["status", "m", "--format", "json"]);
    let out = c.run().await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["as_of"], "2026-12-03T18:00:00Z",
        "the service's time"
    );
    let a = &report["destinations"][0];
    assert_eq!(a["health"], "healthy");
    assert_eq!(
        a["runs_in_window"], 1,
        "the 48-hour-old failure is outside the window"
    );
    assert_eq!(report["destinations"][1]["health"], "stale");
    let runs_calls: Vec<usize> = mock
        .api_calls()
        .iter()
        .filter(|s| s.path.ends_with("/runs"))
        .map(|s| s.params("property").len())
        .collect();
    assert_eq!(runs_calls, vec![2, 1]);
}

/// The example repository (Destinations and a DatasetExport) applied, two simulated days:
/// the dataset export's flow ran daily at 06:00 on its `scheduleParams`.
#[tokio::test]
async fn a_dataset_export_is_reported_from_its_runs() {
    use crate::support::apply::{all_paths, apply_live, load};
    let emu = emulator_at_dec_1().await;
    let desired = load(&all_paths());
    let applied = apply_live(&emu, &desired, false).await.unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    let made = emu
        .state()
        .advance_clock(std::time::Duration::from_secs(2 * 86_400))
        .await
        .unwrap();
    assert!(made >= 2, "{made}");
    let mut c = Cli::in_repo();
    c.emulator(&emu.base_url())
        .args(["status", "manifests", "--format", "json"]);
    let out = c.run().await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 2)), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let export = report["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "web-events-daily")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(export["health"], "healthy", "{export:#}");
    assert_eq!(export["runs_in_window"], 1);
    assert_eq!(export["last_run"]["started_at"], "2026-12-02T06:00:00Z");
    assert_eq!(export["last_run"]["status"], "success");
    emu.shutdown().await;
}

/// `--env`/`--all-envs` (a config file with two sandboxes): `status` reports each environment,
/// one exit code; `import` reads exactly one.
#[tokio::test]
async fn environments_are_reported_each_and_import_takes_one() {
    let w = workspace().await;
    write(
        &w.dir,
        "destctl.yaml",
        "apiVersion: destctl/v1\nkind: Config\nenvironments:\n  dev: {sandbox: dev}\n  prod: {sandbox: prod}\n",
    );
    w.apply(&["m", "--all-envs"]).await;
    let raw = Raw::new(&w.emu.base_url()).await;
    assert_eq!(
        raw.advance("2d").await,
        8,
        "two flows in two sandboxes, two days"
    );
    let (code, text, err) = status(&w, &["--all-envs", "--format", "json"]).await;
    assert_eq!(code, 0, "{text}{err}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["environments"]["dev"]["summary"]["healthy"], 2,
        "{doc:#}"
    );
    let prod_b = doc["environments"]["prod"]["destinations"][1]["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = raw
        .hook(
            &format!("/_emulator/flows/{prod_b}/fail"),
            json!({"sandbox": "prod"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(raw.advance("1d").await, 4);
    let (code, text, _) = status(&w, &["--all-envs"]).await;
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("=== environment dev ===") && text.contains("=== environment prod ==="));
    let (code, _, _) = status(&w, &["--env", "dev"]).await;
    assert_eq!(code, 0, "dev is healthy");
    let (code, text, _) = status(&w, &["--env", "prod", "--format", "markdown"]).await;
    assert_eq!(code, 2);
    assert!(text.contains("**failing**"), "{text}");

    let out = w.cli(&["import", "--all-envs", "--out", "x"]).run().await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("import reads one sandbox"));
    let out = w.cli(&["import", "--env", "dev", "--out", "x"]).run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No unmanaged destination flow"));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("skipped flow")
            .count(),
        2,
        "dev's two managed flows"
    );
    w.emu.shutdown().await;
}
