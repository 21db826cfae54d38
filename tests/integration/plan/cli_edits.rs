//! `destctl plan --format json` run as a binary on a copy of `manifests/` and `secrets/`
//! whose YAML is edited after the example setup was applied (on the embedded emulator, state
//! in the copy's `.destctl/emulator.json`): each kind of change of issue 4 point 5 plans as
//! exactly the expected ops.

use crate::support::cli::Cli;
use crate::support::{Dir, copy_dir, root, tempdir};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

const SEG: &str = "/transformations/0/params/segmentSelectors/selectors";

fn destctl(dir: &Path, args: &[&str]) -> Output {
    Cli::in_dir(dir).args(args).output()
}

/// A directory with the example setup applied, made once and copied by each test. (A static
/// is never dropped: this one directory outlives the run.)
fn applied() -> &'static Dir {
    static DIR: OnceLock<Dir> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = root();
        let dir = tempdir();
        copy_dir(&root.join("manifests"), &dir.join("manifests"));
        copy_dir(&root.join("secrets"), &dir.join("secrets"));
        let out = destctl(&dir, &["apply", "--auto-approve"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A fresh copy of the applied setup.
fn workdir() -> Dir {
    let dir = tempdir();
    copy_dir(applied(), &dir);
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("manifests").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} in {file}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

/// `plan --format json --detailed-exitcode` → the plan, after checking the exit code is 2.
fn plan(dir: &Path) -> Value {
    let out = destctl(dir, &["plan", "--format", "json", "--detailed-exitcode"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A change as `(action, resource, name, [(op, path)])`.
type Shape = (String, String, String, Vec<(String, String)>);

/// `(action, resource, name)` of each change, then the `(op, path)` of each patch op.
fn shape(plan: &Value) -> Vec<Shape> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
            let ops = c["patch"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .map(|o| {
                            (
                                o["op"].as_str().unwrap().to_owned(),
                                o["path"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (s("action"), s("resource"), s("name"), ops)
        })
        .collect()
}

fn one(action: &str, resource: &str, ops: &[(&str, &str)]) -> Vec<Shape> {
    vec![(
        action.into(),
        resource.into(),
        "campaign-s3".into(),
        ops.iter()
            .map(|(o, p)| ((*o).to_owned(), (*p).to_owned()))
            .collect(),
    )]
}

fn done(dir: Dir) {
    dir.close();
}

#[test]
fn the_applied_copy_has_nothing_to_do() {
    let dir = workdir();
    let out = destctl(&dir, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    done(dir);
}

#[test]
fn add_audience() {
    let dir = workdir();
    let path = dir.join("manifests/campaign-s3.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "---\napiVersion: destctl/v1\nkind: Audience\nmetadata:\n  name: vip\nspec:\n  segmentId: c0ffee00-0000-4000-8000-000000000003\n  displayName: VIP\n  activations:\n    - destination: campaign-s3\n      schedule: daily-6am\n",
    );
    std::fs::write(&path, text).unwrap();
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "flow",
            &[("add", &format!("{SEG}/-")), ("replace", "/description")]
        )
    );
    assert_eq!(
        p["changes"][0]["patch"][0]["value"]["value"]["id"],
        "c0ffee00-0000-4000-8000-000000000003"
    );
    done(dir);
}

#[test]
fn remove_audience() {
    let dir = workdir();
    // loyalty-segment (25768be6…) sorts before mountain-bikers (9f7d37fd…): selector 0
    // the loyalty-segment Audience is the file's last document: drop it
    let path = dir.join("manifests/campaign-s3.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("  name: loyalty-segment\n").unwrap();
    let doc = text[..at].rfind("---\n").unwrap();
    std::fs::write(&path, &text[..doc]).unwrap();
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "flow",
            &[("remove", &format!("{SEG}/0")), ("replace", "/description")]
        )
    );
    done(dir);
}

#[test]
fn change_schedule() {
    let dir = workdir();
    edit(
        &dir,
        "campaign-s3.yaml",
        "      schedule: once-2021-12-20-17h\n",
        "      schedule: daily-6am\n",
    );
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "flow",
            &[
                ("replace", &format!("{SEG}/1")),
                ("replace", "/description")
            ]
        )
    );
    let v = &p["changes"][0]["patch"][0]["value"]["value"];
    assert_eq!(v["id"], "9f7d37fd-7039-4454-94ef-2b0cd6c3206a");
    assert_eq!(v["schedule"]["frequency"], "DAILY");
    done(dir);
}

#[test]
fn rename() {
    let dir = workdir();
    edit(
        &dir,
        "campaign-s3.yaml",
        "  displayName: Adobe Campaign exports (S3)\n",
        "  displayName: Adobe Campaign exports (S3, v2)\n",
    );
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "flow",
            &[("replace", "/name"), ("replace", "/description")]
        )
    );
    assert_eq!(
        p["changes"][0]["patch"][0]["value"],
        "Adobe Campaign exports (S3, v2)"
    );
    done(dir);
}

#[test]
fn location_change() {
    let dir = workdir();
    edit(
        &dir,
        "campaign-s3.yaml",
        "    path: /campaign\n",
        "    path: /campaign/v2\n",
    );
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "targetConnection",
            &[("replace", "/params"), ("replace", "/description")]
        )
    );
    assert_eq!(p["changes"][0]["patch"][0]["value"]["path"], "/campaign/v2");
    assert_eq!(
        p["changes"][0]["patch"][0]["value"]["bucketName"],
        "acme-campaign-exports"
    );
    done(dir);
}

#[test]
fn credentials_version_raise() {
    let dir = workdir();
    edit(
        &dir,
        "campaign-s3.yaml",
        "    credentialsVersion: 1\n",
        "    credentialsVersion: 2\n",
    );
    let p = plan(&dir);
    assert_eq!(
        shape(&p),
        one(
            "update",
            "connection",
            &[("replace", "/auth/params"), ("replace", "/description")]
        )
    );
    let patch = &p["changes"][0]["patch"];
    assert_eq!(
        patch[0]["value"]["accessId"],
        "${file:secrets/example/campaign-s3-access-id}"
    );
    assert!(
        patch[1]["value"]
            .as_str()
            .unwrap()
            .contains("[destctl:campaign-s3 credentials=2 fp="),
        "{patch}"
    );
    done(dir);
}

#[test]
fn enabled_false() {
    let dir = workdir();
    edit(
        &dir,
        "campaign-s3.yaml",
        "  enabled: true\n",
        "  enabled: false\n",
    );
    let p = plan(&dir);
    // The action carries no body: the flow's patch records the new state in the marker's
    // fingerprint (docs/drift.md).
    let mut want = one("disable", "flow", &[]);
    want.extend(one("update", "flow", &[("replace", "/description")]));
    assert_eq!(shape(&p), want);
    assert!(p["changes"][0]["id"].is_string());
    done(dir);
}

/// Adds a copy of campaign-s3's flow (new id, created later) to the emulator's state file, as
/// if someone had made a second flow with the same marker. Returns `(kept id, copy id)`.
fn duplicate_campaign_flow(dir: &Path) -> (String, String) {
    let path = dir.join(".destctl/emulator.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let seq = state["seq"].as_u64().unwrap() + 1;
    state["seq"] = seq.into();
    let flows = state["sandboxes"][0]["flows"].as_array_mut().unwrap();
    let kept = flows
        .iter()
        .find(|f| {
            f["entity"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("[destctl:campaign-s3 fp="))
        })
        .unwrap()
        .clone();
    let mut copy = kept.clone();
    let id = uuid::Uuid::new_v4().to_string();
    let etag = Value::from(format!("\"{}\"", uuid::Uuid::new_v4()));
    copy["seq"] = seq.into();
    copy["entity"]["id"] = id.clone().into();
    copy["entity"]["etag"] = etag.clone();
    copy["entity"]["version"] = etag;
    copy["entity"]["createdAt"] = (kept["entity"]["createdAt"].as_i64().unwrap() + 1000).into();
    flows.push(copy);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    (kept["entity"]["id"].as_str().unwrap().to_owned(), id)
}

#[test]
fn a_duplicate_flow_is_warned_about_and_pruned() {
    let dir = workdir();
    let (kept, copy) = duplicate_campaign_flow(&dir);
    let line =
        format!("duplicate flow {copy} (same marker as {kept}): left in place; --prune deletes it");
    let out = destctl(&dir, &["plan", "--format", "json", "--detailed-exitcode"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "destctl: warning: Destination `campaign-s3`: {line}"
        )),
        "{stderr}"
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["changes"], serde_json::json!([]));
    assert_eq!(
        p["duplicates"],
        serde_json::json!([{"name": "campaign-s3", "resource": "flow", "id": copy,
            "kept": kept, "disposition": "left_in_place"}])
    );
    let text = destctl(&dir, &["plan"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(&format!("! {line}")),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    let p = {
        let out = destctl(&dir, &["plan", "--format", "json", "--prune"]);
        assert!(out.status.success());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(shape(&p), one("delete", "flow", &[]));
    assert_eq!(p["changes"][0]["id"], copy.as_str());
    let out = destctl(&dir, &["apply", "--auto-approve", "--prune"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = destctl(&dir, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0));
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(p.get("duplicates").is_none(), "{p}");
    done(dir);
}
