//! Exported columns end to end against the in-process emulator.

use crate::support::apply::{
    apply_live, client, count, emulator, flow_id, get, load_with_texts, plan_now, tempdir, write,
};
use crate::support::cli::Cli;
use destctl::apply::{Input, apply};
use destctl::emulator::{FaultConfig, RunningEmulator};
use destctl::model::DesiredState;
use destctl::plan::{Action, Change, Plan};
use destctl::wire::{PatchOpKind, Resource};
use serde_json::{Value, json};

const POST_MAPPING_SET: &str = "POST /data/foundation/conversion/mappingSets";
const PATCH_FLOW: &str = "PATCH /data/foundation/flowservice/flows/{id}";
const POST_FLOW: &str = "POST /data/foundation/flowservice/flows";
const LIST_MAPPING_SETS: &str = "GET /data/foundation/conversion/mappingSets";
/// The emulator's request log keys a Data Prep GET by its literal path.
const GET_MAPPING_SET: &str = "GET /data/foundation/conversion/mappingSets/";
const PROFILE_MAPPING: &str = "/transformations/0/params/profileMapping";

/// An Amazon S3 (current card) Destination exporting `attributes` (YAML list items) and
/// `identities`.
fn manifest(attributes: &str, identities: &str) -> String {
    format!(
        "apiVersion: destctl/v1
kind: Destination
metadata: {{name: s3-columns}}
spec:
  platform: amazon-s3
  connection:
    auth: Access Key
    params:
      s3AccessKey: ${{file:{root}/secrets/example/s3-access-key}}
      s3SecretKey: ${{file:{root}/secrets/example/s3-secret-key}}
  location: {{bucketName: acme-aep-exports, path: columns, fileType: CSV}}
  attributes:
{attributes}
{identities}",
        root = crate::support::root().display()
    )
}

const BASE_ATTRIBUTES: &str = "    - person.name.firstName
    - {path: personalEmail.address, column: email}";
const IDENTITY: &str = "  identities: [{namespace: Email, column: email_id}]\n";

struct Repo {
    _dir: crate::support::Dir,
    path: std::path::PathBuf,
}

fn repo(attributes: &str, identities: &str) -> Repo {
    let dir = tempdir();
    let path = write(dir.path(), "s3.yaml", &manifest(attributes, identities));
    Repo { _dir: dir, path }
}

fn desired(attributes: &str, identities: &str) -> DesiredState {
    load_with_texts(&[], &[("s3.yaml", &manifest(attributes, identities))])
}

async fn flow_of(emu: &RunningEmulator) -> Value {
    get(emu, Resource::Flow, &flow_id(emu, "s3-columns").await).await
}

/// The mappings `(source, destination)` of the mapping set version the flow names.
async fn columns_of(emu: &RunningEmulator) -> Vec<(String, String)> {
    let flow = flow_of(emu).await;
    let pm = &flow["transformations"][0]["params"]["profileMapping"];
    let set = client(emu)
        .mapping_set(
            pm["mappingId"].as_str().unwrap(),
            pm["mappingVersion"].as_u64().unwrap(),
        )
        .await
        .unwrap();
    set["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["source"].as_str().unwrap().to_owned(),
                m["destination"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `GET /mappingSets/{id}` requests so far.
fn gets_by_id(emu: &RunningEmulator) -> u64 {
    emu.request_counts()
        .iter()
        .filter(|(k, _)| k.starts_with(GET_MAPPING_SET))
        .map(|(_, n)| n)
        .sum()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn shape(plan: &Plan) -> Vec<(Action, Resource)> {
    plan.changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect()
}

/// Creates the Destination; returns the emulator.
async fn created() -> RunningEmulator {
    let emu = emulator(FaultConfig::default()).await;
    let d = desired(BASE_ATTRIBUTES, "");
    let plan = plan_now(&emu, &d, false).await;
    assert_eq!(
        shape(&plan),
        [
            (Action::Create, Resource::Connection),
            (Action::Create, Resource::SourceConnection),
            (Action::Create, Resource::Connection),
            (Action::Create, Resource::TargetConnection),
            (Action::Create, Resource::MappingSet),
            (Action::Create, Resource::Flow),
        ]
    );
    let Change::Create(mapping) = &plan.changes[4] else {
        unreachable!()
    };
    assert_eq!(mapping.key, "s3-columns/mappingSet");
    assert_eq!(
        mapping.body["mappings"],
        json!([
            {"sourceType": "ATTRIBUTE", "source": "person.name.firstName", "destination": "person_name_firstName"},
            {"sourceType": "ATTRIBUTE", "source": "personalEmail.address", "destination": "email"},
        ])
    );
    assert!(
        mapping.body["name"]
            .as_str()
            .unwrap()
            .ends_with("[destctl:s3-columns]")
    );
    let Change::Create(flow) = &plan.changes[5] else {
        unreachable!()
    };
    let activation = flow.activation.as_ref().unwrap();
    assert!(
        !activation
            .iter()
            .any(|o| o.path.contains("profileSelectors")),
        "columns go through the mapping set: {activation:#?}"
    );
    let pm = activation
        .iter()
        .find(|o| o.path == PROFILE_MAPPING)
        .unwrap();
    assert_eq!(pm.op, PatchOpKind::Add);
    assert_eq!(
        pm.value,
        Some(json!({"mappingId": "${ref:s3-columns/mappingSet}", "mappingVersion": 0}))
    );
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(count(&emu, POST_MAPPING_SET), 1);
    assert_eq!(count(&emu, POST_FLOW), 1);
    assert_eq!(
        columns_of(&emu).await,
        pairs(&[
            ("person.name.firstName", "person_name_firstName"),
            ("personalEmail.address", "email"),
        ])
    );
    // The live read's mapping set budget: one list of the newest sets, which holds the one
    // the flow names (so no GET by id).
    let (lists, gets) = (count(&emu, LIST_MAPPING_SETS), gets_by_id(&emu));
    assert!(
        lists >= 1 && gets >= 1,
        "route keys: {:?}",
        emu.request_counts()
    );
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    assert_eq!(count(&emu, LIST_MAPPING_SETS), lists + 1);
    assert_eq!(gets_by_id(&emu), gets);
    emu
}

/// Plans `d` after the create: exactly a mapping set create and one `replace` of
/// `profileMapping` naming it; applies it and checks the requests, the new columns and the
/// convergence.
async fn change_columns(emu: &RunningEmulator, d: &DesiredState, want: &[(&str, &str)]) {
    let plan = plan_now(emu, d, false).await;
    assert_eq!(
        shape(&plan),
        [
            (Action::Create, Resource::MappingSet),
            (Action::Update, Resource::Flow),
        ],
        "{:#?}",
        plan.changes
    );
    let Change::Create(create) = &plan.changes[0] else {
        unreachable!()
    };
    let got: Vec<(String, String)> = create.body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["source"].as_str().unwrap().to_owned(),
                m["destination"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, pairs(want));
    let patch = columns_ops(plan.changes[1].patch().unwrap());
    assert_eq!(patch.len(), 1, "{patch:#?}");
    assert_eq!(patch[0].op, PatchOpKind::Replace);
    assert_eq!(patch[0].path, PROFILE_MAPPING);
    assert_eq!(
        patch[0].value,
        Some(json!({"mappingId": "${ref:s3-columns/mappingSet}", "mappingVersion": 0}))
    );
    let (posts, patches) = (count(emu, POST_MAPPING_SET), count(emu, PATCH_FLOW));
    apply_live(emu, d, false).await.unwrap();
    assert_eq!(count(emu, POST_MAPPING_SET), posts + 1);
    assert_eq!(count(emu, PATCH_FLOW), patches + 1);
    assert_eq!(columns_of(emu).await, pairs(want));
    let again = plan_now(emu, d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn adding_a_column_is_a_new_mapping_set_and_one_replace() {
    let emu = created().await;
    let d = desired(BASE_ATTRIBUTES, IDENTITY);
    change_columns(
        &emu,
        &d,
        &[
            ("person.name.firstName", "person_name_firstName"),
            ("personalEmail.address", "email"),
            ("identityMap.Email", "email_id"),
        ],
    )
    .await;
}

#[tokio::test]
async fn removing_a_column_is_a_new_mapping_set_and_one_replace() {
    let emu = created().await;
    let d = desired("    - {path: personalEmail.address, column: email}", "");
    change_columns(&emu, &d, &[("personalEmail.address", "email")]).await;
}

#[tokio::test]
async fn renaming_a_column_is_a_new_mapping_set_and_one_replace() {
    let emu = created().await;
    let d = desired(
        "    - person.name.firstName\n    - {path: personalEmail.address, column: email_address}",
        "",
    );
    change_columns(
        &emu,
        &d,
        &[
            ("person.name.firstName", "person_name_firstName"),
            ("personalEmail.address", "email_address"),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_apply_interrupted_after_the_mapping_set_create_converges_without_a_second_one() {
    let emu = created().await;
    let d = desired(BASE_ATTRIBUTES, IDENTITY);
    // Run only the mapping set's create: the run stops before the flow points at it.
    let mut plan = plan_now(&emu, &d, false).await;
    assert_eq!(plan.changes[0].resource(), Resource::MappingSet);
    plan.changes.truncate(1);
    plan.summary = Plan::count(&plan.changes, 0);
    plan.seal();
    let ctx = crate::support::apply::ctx(&emu);
    apply(Input::Saved(plan.clone()), &client(&emu), &ctx)
        .await
        .unwrap();
    assert_eq!(count(&emu, POST_MAPPING_SET), 2);

    // The saved plan is stale now: its mapping set exists.
    let err = apply(Input::Saved(plan), &client(&emu), &ctx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    // The next plan adopts the set the interrupted run made: only the flow is patched.
    let plan = plan_now(&emu, &d, false).await;
    assert_eq!(
        shape(&plan),
        [(Action::Update, Resource::Flow)],
        "{:#?}",
        plan.changes
    );
    let patch = columns_ops(plan.changes[0].patch().unwrap());
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0].op, PatchOpKind::Replace);
    let adopted = patch[0].value.as_ref().unwrap()["mappingId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!adopted.starts_with("${ref:"));
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(count(&emu, POST_MAPPING_SET), 2, "no second mapping set");
    let flow = flow_of(&emu).await;
    assert_eq!(
        flow["transformations"][0]["params"]["profileMapping"]["mappingId"],
        json!(adopted)
    );
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_applies_a_column_change_and_replans_to_exit_0() {
    let emu = emulator(FaultConfig::default()).await;
    let first = repo(BASE_ATTRIBUTES, "");
    let run = |args: Vec<std::ffi::OsString>| {
        let mut c = Cli::in_repo();
        c.emulator(&emu.base_url()).args(args);
        c.run()
    };
    let os = |p: &std::path::Path, extra: &[&str]| -> Vec<std::ffi::OsString> {
        extra
            .iter()
            .map(|s| std::ffi::OsString::from(*s))
            .chain([p.as_os_str().to_owned()])
            .collect()
    };
    let out = run(os(&first.path, &["apply", "--auto-approve"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let renamed = repo(
        "    - person.name.firstName\n    - {path: personalEmail.address, column: mail}",
        "",
    );
    let out = run(os(&renamed.path, &["plan", "--detailed-exitcode"])).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mail ← personalEmail.address"), "{text}");
    let out = run(os(&renamed.path, &["apply", "--auto-approve"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(os(&renamed.path, &["plan", "--detailed-exitcode"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(count(&emu, POST_MAPPING_SET), 2);
}

#[tokio::test]
async fn a_saved_column_change_reads_back_and_applies_with_its_digest() {
    let emu = created().await;
    let d = desired("    - {path: personalEmail.address, column: mail}", "");
    let plan = plan_now(&emu, &d, false).await;
    let text = serde_json::to_string_pretty(&plan).unwrap();
    assert!(text.contains("\"resource\": \"mappingSet\""), "{text}");
    let read: Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(read, plan);
    read.verify_digest().unwrap();
    let ctx = crate::support::apply::ctx(&emu);
    let posts = count(&emu, POST_MAPPING_SET);
    apply(Input::Saved(read), &client(&emu), &ctx)
        .await
        .unwrap();
    assert_eq!(count(&emu, POST_MAPPING_SET), posts + 1);
    assert_eq!(
        columns_of(&emu).await,
        pairs(&[("personalEmail.address", "mail")])
    );
    // An edited column in the saved plan no longer matches its digest.
    let mut edited: Value = serde_json::from_str(&text).unwrap();
    edited["changes"][0]["body"]["mappings"][0]["destination"] = json!("other");
    let edited: Plan = serde_json::from_value(edited).unwrap();
    assert!(edited.verify_digest().is_err());
}

#[tokio::test]
async fn a_flow_repointed_out_of_band_is_pointed_back_at_the_managed_mapping_set() {
    let emu = created().await;
    let d = desired(BASE_ATTRIBUTES, "");
    let ours = flow_of(&emu).await["transformations"][0]["params"]["profileMapping"].clone();
    // Someone maps other columns in the UI: a new (unmanaged) mapping set, the flow on it.
    let c = client(&emu);
    let theirs = c
        .create(
            Resource::MappingSet,
            &json!({"outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/x", "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
                    "mappings": [{"source": "person.name.lastName", "destination": "last"}]}),
        )
        .await
        .unwrap();
    let live = crate::support::apply::live(&emu).await;
    let flow = live.managed()["s3-columns"].flow.clone().unwrap();
    c.patch(
        Resource::Flow,
        &flow.id,
        &flow.etag,
        &[destctl::wire::PatchOp {
            op: PatchOpKind::Replace,
            path: PROFILE_MAPPING.into(),
            value: Some(json!({"mappingId": theirs.id.0, "mappingVersion": 0})),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        columns_of(&emu).await,
        pairs(&[("person.name.lastName", "last")])
    );

    // The set the flow names carries no marker, so the newest-sets list skips it: one GET.
    let gets = gets_by_id(&emu);
    let plan = plan_now(&emu, &d, false).await;
    assert_eq!(gets_by_id(&emu), gets + 1);
    assert_eq!(
        shape(&plan),
        [(Action::Update, Resource::Flow)],
        "{:#?}",
        plan.changes
    );
    let patch = columns_ops(plan.changes[0].patch().unwrap());
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0].op, PatchOpKind::Replace);
    assert_eq!(
        patch[0].value.as_ref(),
        Some(&ours),
        "the managed set is adopted again"
    );
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(count(&emu, POST_MAPPING_SET), 2, "no new mapping set");
    assert_eq!(
        columns_of(&emu).await,
        pairs(&[
            ("person.name.firstName", "person_name_firstName"),
            ("personalEmail.address", "email"),
        ])
    );
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

/// A flow patch's ops other than the fingerprint's `replace /description` (docs/drift.md), which
/// rides in the same request; asserts that it is the only other op.
fn columns_ops(patch: &[destctl::wire::PatchOp]) -> Vec<&destctl::wire::PatchOp> {
    let (description, rest): (Vec<_>, Vec<_>) =
        patch.iter().partition(|op| op.path == "/description");
    assert!(description.len() <= 1, "{patch:#?}");
    assert!(
        description.iter().all(|op| op.op == PatchOpKind::Replace),
        "{patch:#?}"
    );
    rest
}
