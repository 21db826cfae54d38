//! Issue 9, point 4: `destctl import` of flows made by another client with plain HTTP
//! requests against the emulator (two of them sharing an account and a Profile store
//! connection, one with objects of its own) → `validate` → `plan` shows only adopts → `apply`
//! → `plan --detailed-exitcode` exits 0; an already managed flow is refused with its name.

mod plan;

use crate::status::raw::{PROFILE, Raw, S3, S3_FLOW_SPEC};
use crate::status::{ACCESS_KEY, SECRET_KEY, cli, emulator_at_dec_1};
use crate::support::snapshot::Redact;
use crate::support::tempdir;
use reqwest::Method;
use serde_json::{Value, json};

const SEG: &str = "/transformations/0/params/segmentSelectors/selectors/-";
const PROF: &str = "/transformations/0/params/profileSelectors/selectors/-";

fn audience(id: &str, name: &str, time: &str) -> Value {
    json!({"type": "PLATFORM_SEGMENT", "value": {"id": id, "name": name,
        "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
        "exportMode": "DAILY_FULL_EXPORT",
        "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED",
                     "startDate": "2026-12-01", "startTime": time}}})
}

async fn account(raw: &Raw, name: &str) -> String {
    raw.create(
        "/connections",
        json!({"name": name, "description": "S3 account made with curl",
               "connectionSpec": {"id": S3, "version": "1.0"},
               "auth": {"specName": "Access Key",
                        "params": {"s3AccessKey": ACCESS_KEY, "s3SecretKey": SECRET_KEY}}}),
    )
    .await
}

async fn profile_base(raw: &Raw) -> String {
    raw.create(
        "/connections",
        json!({"name": "Profile store", "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
    )
    .await
}

/// A flow made the way the Adobe tutorials do it with curl: source and target connections,
/// the flow, then a PATCH adding attributes, keys and audiences.
async fn flow(
    raw: &Raw,
    name: &str,
    profile: &str,
    account: &str,
    path: &str,
    audiences: Vec<Value>,
) -> String {
    let src = raw
        .create(
            "/sourceConnections",
            json!({"name": format!("{name} source"), "baseConnectionId": profile,
                   "connectionSpec": {"id": PROFILE, "version": "1.0"},
                   "data": {"format": "CSV", "schema": null}}),
        )
        .await;
    let tgt = raw
        .create(
            "/targetConnections",
            json!({"name": format!("{name} target"), "baseConnectionId": account,
                   "connectionSpec": {"id": S3, "version": "1.0"},
                   "params": {"mode": "Server-to-server", "bucketName": "acme-exports",
                              "path": path, "fileType": "CSV", "compression": "GZIP",
                              "csvOptions": {"delimiter": ";"},
                              "includeFileManifest": true}}),
        )
        .await;
    let id = raw
        .create(
            "/flows",
            json!({"name": name, "description": "Built with curl by the data team",
                   "flowSpec": {"id": S3_FLOW_SPEC, "version": "1.0"},
                   "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
                   "transformations": [{"name": "GeneralTransform", "params": {
                       "segmentSelectors": {"selectors": []},
                       "profileSelectors": {"selectors": []}}}]}),
        )
        .await;
    let mut ops = vec![
        json!({"op": "add", "path": PROF, "value": {"type": "JSON_PATH", "value": {"path": "personalEmail.address"}}}),
        json!({"op": "add", "path": PROF, "value": {"type": "JSON_PATH", "value": {"path": "person.name.firstName"}}}),
        // Today's cards keep these directly under the params (the V2 flow shape).
        json!({"op": "add", "path": "/transformations/0/params/mandatoryFields",
               "value": ["personalEmail.address"]}),
        json!({"op": "add", "path": "/transformations/0/params/primaryFields",
               "value": [{"fieldType": "ATTRIBUTE", "attributePath": "personalEmail.address"}]}),
    ];
    for a in audiences {
        ops.push(json!({"op": "add", "path": SEG, "value": a}));
    }
    raw.patch(&format!("/flows/{id}"), Value::Array(ops)).await;
    id
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn import_round_trip_of_flows_made_with_curl_adopts_and_converges() {
    let emu = emulator_at_dec_1().await;
    let raw = Raw::new(&emu.base_url()).await;
    // Two flows sharing one account and one Profile store connection…
    let shared_profile = profile_base(&raw).await;
    let shared_account = account(&raw, "Shared S3 account").await;
    let loyalty = flow(
        &raw,
        "Loyalty to S3",
        &shared_profile,
        &shared_account,
        "/loyalty",
        vec![
            audience(
                "11111111-aaaa-4bbb-8ccc-000000000001",
                "Loyal customers",
                "17:00",
            ),
            audience("11111111-aaaa-4bbb-8ccc-000000000002", "VIP", "17:00"),
        ],
    )
    .await;
    let churn = flow(
        &raw,
        "Churn to S3",
        &shared_profile,
        &shared_account,
        "/churn",
        vec![
            audience("11111111-aaaa-4bbb-8ccc-000000000002", "VIP", "17:00"),
            audience("11111111-aaaa-4bbb-8ccc-000000000003", "At risk", "06:00"),
        ],
    )
    .await;
    // …and one with objects of its own, disabled in the UI.
    let own_profile = profile_base(&raw).await;
    let own_account = account(&raw, "Own S3 account").await;
    let solo = flow(
        &raw,
        "Solo export",
        &own_profile,
        &own_account,
        "/solo",
        vec![audience(
            "11111111-aaaa-4bbb-8ccc-000000000003",
            "At risk",
            "06:00",
        )],
    )
    .await;
    let (s, _) = raw
        .call(
            Method::POST,
            &format!("/flows/{solo}/action?op=disable"),
            None,
        )
        .await;
    assert_eq!(s, 200);

    let dir = tempdir();
    let out = cli(&dir, &emu, &["import", "--out", "m"]).run().await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let redact = Redact::new()
        .text(&shared_account, "shared-account")
        .text(&shared_profile, "shared-profile")
        .text(&loyalty, "loyalty-flow")
        .text(&churn, "churn-flow")
        .text(&solo, "solo-flow");
    insta::assert_snapshot!("import_stdout", redact.apply(&stdout));
    for var in [
        "LOYALTY_TO_S3_S3_ACCESS_KEY",
        "LOYALTY_TO_S3_S3_SECRET_KEY",
        "CHURN_TO_S3_S3_SECRET_KEY",
        "SOLO_EXPORT_S3_SECRET_KEY",
    ] {
        assert!(stderr.contains(var), "{var} in {stderr}");
    }
    assert!(!stderr.contains(SECRET_KEY) && !stdout.contains(SECRET_KEY));
    let read = |name: &str| std::fs::read_to_string(dir.join("m").join(name)).unwrap();
    insta::assert_snapshot!("loyalty_yaml", redact.apply(&read("loyalty-to-s3.yaml")));
    insta::assert_snapshot!("audiences_yaml", read("imported-audiences.yaml"));
    let schedules = read("imported-schedules.yaml");
    insta::assert_snapshot!("schedules_yaml", schedules);
    assert_eq!(
        schedules.matches("kind: Schedule").count(),
        2,
        "identical schedules merged"
    );

    // The variables the import asked for.
    let env = [
        ("LOYALTY_TO_S3_S3_ACCESS_KEY", ACCESS_KEY),
        ("LOYALTY_TO_S3_S3_SECRET_KEY", SECRET_KEY),
        ("CHURN_TO_S3_S3_ACCESS_KEY", ACCESS_KEY),
        ("CHURN_TO_S3_S3_SECRET_KEY", SECRET_KEY),
        ("SOLO_EXPORT_S3_ACCESS_KEY", ACCESS_KEY),
        ("SOLO_EXPORT_S3_SECRET_KEY", SECRET_KEY),
    ];
    let run = |args: &[&str]| {
        let mut c = cli(&dir, &emu, args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.run()
    };

    let out = run(&["validate", "m"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(&["plan", "m", "--format", "json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes.iter().all(|c| c["action"] == "adopt"),
        "only adopts: {changes:#?}"
    );
    // Loyalty and churn: flow, source, location (the account and Profile store connection
    // are shared: left unmanaged). Solo: all five.
    assert_eq!(changes.len(), 3 + 3 + 5, "{changes:#?}");
    assert_eq!(
        plan["summary"],
        json!({"create": 0, "update": 0, "delete": 0, "unchanged": 0, "adopt": 11})
    );
    for c in changes {
        let ops = c["patch"].as_array().unwrap();
        assert_eq!(ops.len(), 1, "only the marker: {c}");
        assert_eq!(ops[0]["path"], "/description");
    }
    assert!(!changes.iter().any(|c| c["id"] == shared_account.as_str()));

    let out = run(&["plan", "m"]).await;
    insta::assert_snapshot!("plan_adopts", redact.apply(&text(&out.stdout)));

    let out = run(&["plan", "m", "--format", "markdown"]).await;
    let md = text(&out.stdout);
    assert!(md.contains("11 to adopt"), "{md}");
    assert!(
        md.contains("adopt (objects made outside destctl taken over)"),
        "{md}"
    );

    // Reviewed as a saved plan, then applied exactly (pre-flight and digest included).
    let out = run(&["plan", "m", "--out", "plan.json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["apply", "--plan", "plan.json", "--auto-approve"]).await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("11 adopted"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "converged: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // Nothing but the markers was touched; the shared account was not.
    let (_, f) = raw
        .call(Method::GET, &format!("/flows/{loyalty}"), None)
        .await;
    let f = &f["items"][0];
    assert_eq!(f["name"], "Loyalty to S3");
    // The marker, with the fingerprint of the flow as adopted (docs/drift.md).
    let description = f["description"].as_str().unwrap();
    assert!(
        description.starts_with("Built with curl by the data team [destctl:loyalty-to-s3 fp=n"),
        "{description}"
    );
    let (_, a) = raw
        .call(Method::GET, &format!("/connections/{shared_account}"), None)
        .await;
    assert_eq!(a["items"][0]["description"], "S3 account made with curl");
    let (_, a) = raw
        .call(Method::GET, &format!("/connections/{own_account}"), None)
        .await;
    let description = a["items"][0]["description"].as_str().unwrap();
    assert!(
        description
            .starts_with("S3 account made with curl [destctl:solo-export credentials=1 fp=c"),
        "{description}"
    );
    let (_, f) = raw.call(Method::GET, &format!("/flows/{solo}"), None).await;
    assert_eq!(f["items"][0]["state"], "disabled");

    // Importing a managed flow again is refused with its Destination's name.
    let out = run(&["import", "--out", "again", "--id", &loyalty]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("already managed by Destination `loyalty-to-s3`"),
        "{err}"
    );
    assert!(!dir.join("again").exists());
    // Without --id, managed flows are skipped.
    let out = run(&["import", "--out", "again"]).await;
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("No unmanaged destination flow"));
    assert_eq!(text(&out.stderr).matches("skipped flow").count(), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn import_selects_by_name_and_platform_and_never_overwrites() {
    let emu = emulator_at_dec_1().await;
    let raw = Raw::new(&emu.base_url()).await;
    let p = profile_base(&raw).await;
    let a1 = account(&raw, "a1").await;
    let a2 = account(&raw, "a2").await;
    flow(&raw, "EU weekly", &p, &a1, "/eu", vec![]).await;
    flow(&raw, "US weekly", &p, &a2, "/us", vec![]).await;
    let dir = tempdir();
    let out = cli(&dir, &emu, &["import", "--out", "m", "--name", "eu*"])
        .run()
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("m/eu-weekly.yaml").exists());
    assert!(!dir.join("m/us-weekly.yaml").exists());
    // The EU flow is already imported in m/ (its adoption pending): a second import skips it.
    let out = cli(
        &dir,
        &emu,
        &["import", "--out", "m", "--platform", "amazon-s3"],
    )
    .run()
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already imported as `eu-weekly`"),
        "{}",
        text(&out.stderr)
    );
    assert!(dir.join("m/us-weekly.yaml").exists());
    assert!(!dir.join("m/eu-weekly-2.yaml").exists());
    // A file import would write exists already: refused, nothing written.
    std::fs::write(dir.join("n-us.yaml"), "").unwrap();
    std::fs::create_dir_all(dir.join("n")).unwrap();
    std::fs::write(dir.join("n/us-weekly.yaml"), "# mine\n").unwrap();
    let out = cli(&dir, &emu, &["import", "--out", "n", "--name", "US*"])
        .run()
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exists already"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("n/us-weekly.yaml")).unwrap(),
        "# mine\n"
    );
    let out = cli(&dir, &emu, &["import", "--platform", "nope"])
        .run()
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a platform"));
    emu.shutdown().await;
}

/// Adobe Campaign over SFTP with a password, made with curl: the flow spec found by name, the
/// non-secret auth params (domain, host, username) copied, the password an `${env:}`; the
/// round trip converges too.
#[tokio::test]
async fn a_campaign_sftp_flow_round_trips_with_its_literal_auth_params() {
    const CAMPAIGN: &str = "0b23e41a-cb4a-4321-a78f-3b654f5d7d97";
    let emu = emulator_at_dec_1().await;
    let raw = Raw::new(&emu.base_url()).await;
    let p = profile_base(&raw).await;
    let account = raw
        .create(
            "/connections",
            json!({"name": "Campaign SFTP", "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
                   "auth": {"specName": "SFTP with Password",
                            "params": {"domain": "sftp.campaign.test", "host": "sftp.campaign.test",
                                       "username": "aep", "password": "hunter2-not-shown"}}}),
        )
        .await;
    let src = raw
        .create(
            "/sourceConnections",
            json!({"name": "src", "baseConnectionId": p,
                   "connectionSpec": {"id": PROFILE, "version": "1.0"}}),
        )
        .await;
    let tgt = raw
        .create(
            "/targetConnections",
            json!({"name": "tgt", "baseConnectionId": account,
                   "connectionSpec": {"id": CAMPAIGN, "version": "1.0"},
                   "params": {"mode": "FTP", "remotePath": "/incoming", "format": "CSV"}}),
        )
        .await;
    let flow = raw
        .create(
            "/flows",
            json!({"name": "Campaign: weekly newsletter", "flowSpec":
                       {"id": destctl::catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID, "version": "1.0"},
                   "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
                   "transformations": [{"name": "GeneralTransform", "params": {
                       "segmentSelectors": {"selectors": []},
                       "profileSelectors": {"selectors": []}}}]}),
        )
        .await;
    raw.patch(
        &format!("/flows/{flow}"),
        json!([{"op": "add", "path": SEG, "value": audience(
            "22222222-aaaa-4bbb-8ccc-000000000001", "Newsletter", "08:00")}]),
    )
    .await;

    let dir = tempdir();
    let out = cli(
        &dir,
        &emu,
        &["import", "--out", "m", "--platform", "adobe-campaign"],
    )
    .run()
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("CAMPAIGN_WEEKLY_NEWSLETTER_PASSWORD"),
        "{stderr}"
    );
    let doc = std::fs::read_to_string(dir.join("m/campaign-weekly-newsletter.yaml")).unwrap();
    for line in [
        "platform: adobe-campaign",
        "auth: \"SFTP with Password\"",
        "domain: sftp.campaign.test",
        "username: aep",
        "password: '${env:CAMPAIGN_WEEKLY_NEWSLETTER_PASSWORD}'",
        "mode: FTP",
        "remotePath: \"/incoming\"",
    ] {
        assert!(doc.contains(line), "{line} in {doc}");
    }
    assert!(!doc.contains("***") && !doc.contains("hunter2"));
    let run = |args: &[&str]| {
        let mut c = cli(&dir, &emu, args);
        c.env("CAMPAIGN_WEEKLY_NEWSLETTER_PASSWORD", "hunter2-not-shown");
        c.run()
    };
    let out = run(&["plan", "m", "--format", "json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["summary"]["adopt"], 5, "{plan:#}");
    assert_eq!(plan["changes"].as_array().unwrap().len(), 5, "{plan:#}");
    let out = run(&["apply", "m", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    emu.shutdown().await;
}

#[test]
fn a_bad_adopt_is_located_and_sends_nothing() {
    let dir = tempdir();
    let doc = "apiVersion: destctl/v1
kind: Destination
metadata: {name: d}
spec:
  platform: data-landing-zone
  location: {path: audiences, fileType: JSON}
  adopt:
    flowId: \"not a/flow id\"
";
    crate::support::write(&dir, "m/d.yaml", doc);
    let out = crate::support::cli::Cli::in_dir(&dir)
        .args(["validate", "m"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("spec.adopt.flowId"), "{err}");
    assert!(err.contains("d.yaml:8"), "{err}");
    crate::support::write(
        &dir,
        "m/d.yaml",
        &doc.replace("flowId: \"not a/flow id\"", "flowId: f1\n    from: ui"),
    );
    let out = crate::support::cli::Cli::in_dir(&dir)
        .args(["validate", "m"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown field `from`"),
        "{}",
        text(&out.stderr)
    );
}
