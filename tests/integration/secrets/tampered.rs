//! A saved plan edited after `destctl plan --out` wrote it — a patch changed, a secret
//! reference injected, changes dropped, the file cut, an unknown field, the digest removed — is
//! refused by `destctl apply --plan`: exit 1, a message naming what is wrong, and not one
//! request to the emulator (the IMS token included).

use crate::support::apply::*;
use crate::support::cli::Cli;
use crate::support::snapshot::Redact;
use destctl::emulator::{FaultConfig, RunningEmulator};
use serde_json::Value;

fn destctl(emu: &RunningEmulator) -> Cli {
    let mut c = Cli::in_repo();
    c.emulator(&emu.base_url());
    c
}

/// The index of the first change matching `pred`.
fn position(plan: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .position(pred)
        .expect("a matching change")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_saved_plans_are_refused_with_zero_requests() {
    let emu = emulator(FaultConfig::default()).await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let plan_file = dir.join("plan.json");
    let mut cmd = destctl(&emu);
    cmd.arg("plan").arg("--out").arg(&plan_file);
    let out = cmd.run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&plan_file).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert!(saved["digest"].as_str().unwrap().starts_with("sha256:"));

    // A flow create with its activation patch, and an account create.
    let flow = position(&saved, |c| {
        c["resource"] == "flow" && c.get("patch").is_some()
    });
    let account = position(&saved, |c| {
        c["resource"] == "connection" && c["body"].get("auth").is_some()
    });

    let mut edited_patch = saved.clone();
    edited_patch["changes"][flow]["patch"][0]["value"] = serde_json::json!({"type": "EDITED"});
    let mut edited_body = saved.clone();
    edited_body["changes"][account]["body"]["auth"]["params"]["host"] = "evil.example.com".into();
    let mut injected = saved.clone();
    injected["changes"][flow]["body"]["name"] = "${env:AEP_CLIENT_SECRET}".into();
    let mut injected_param = saved.clone();
    injected_param["changes"][account]["body"]["auth"]["params"]["apiToken"] =
        "${file:/etc/passwd}".into();
    let mut fewer = saved.clone();
    let n = fewer["changes"].as_array().unwrap().len();
    fewer["changes"].as_array_mut().unwrap().truncate(n / 2);
    let mut unknown = saved.clone();
    unknown["changes"][flow]["force"] = true.into();
    let mut no_digest = saved.clone();
    no_digest.as_object_mut().unwrap().remove("digest");
    let mut other_digest = saved.clone();
    other_digest["digest"] = format!("sha256:{}", "0".repeat(64)).into();
    let cut = text[..text.len() / 2].to_owned();

    let cases: Vec<(&str, String)> = vec![
        ("edited_patch", edited_patch.to_string()),
        ("edited_body", edited_body.to_string()),
        ("injected_secret_ref", injected.to_string()),
        ("injected_secret_param", injected_param.to_string()),
        ("truncated_changes", fewer.to_string()),
        ("truncated_file", cut),
        ("unknown_field", unknown.to_string()),
        ("missing_digest", no_digest.to_string()),
        ("wrong_digest", other_digest.to_string()),
    ];
    let redact = Redact::new()
        .dir(&dir, "tmp")
        .text(emu.base_url(), "endpoint");
    for (name, content) in cases {
        let before = emu.request_counts();
        let path = write(&dir, "tampered.json", &content);
        let mut cmd = destctl(&emu);
        cmd.arg("apply").arg("--plan").arg(&path);
        let out = cmd.run().await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(emu.request_counts(), before, "{name}: zero requests");
        assert!(out.stdout.is_empty(), "{name}");
        insta::assert_snapshot!(name, redact.apply(&stderr));
    }

    // The untouched plan still applies.
    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--plan").arg(&plan_file);
    let out = cmd.run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Key order and whitespace are not part of the digest: a plan reformatted by a tool (here
/// compacted, keys as they come) still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reformatted_plan_still_applies() {
    let emu = emulator(FaultConfig::default()).await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let plan_file = dir.join("plan.json");
    let mut cmd = destctl(&emu);
    cmd.arg("plan").arg("--out").arg(&plan_file);
    assert!(cmd.run().await.status.success());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let compact = write(&dir, "compact.json", &v.to_string());
    let mut cmd = destctl(&emu);
    cmd.arg("apply").arg("--plan").arg(&compact);
    let out = cmd.run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
