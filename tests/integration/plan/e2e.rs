//! `plan` end to end against the in-process emulator: the manifests in `manifests/`, read with
//! the real client and `fetch`, every case of issue 4 point 5, and each plan executed
//! against the emulator (by a small executor over the client, standing in for `apply`) to show
//! the service accepts it and that planning again finds nothing.

use crate::support::cli::Cli;
use crate::support::tempdir;
use destctl::client::{Auth, Client, ClientConfig, FlowAction};
use destctl::emulator::{Emulator, EmulatorConfig, OutOfBandEdit, RunningEmulator};
use destctl::fetch::{FetchOptions, fetch};
use destctl::live::LiveState;
use destctl::model::{DesiredDestination, DesiredState, ParamValue};
use destctl::plan::{
    Action, Change, Plan, PlanDetails, PlanError, PlanOptions, PlanTarget, build, update_for,
};
use destctl::render::{self, Format};
use destctl::wire::{EntityId, Etag, PatchOpKind, Resource};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

const ORG: &str = "E2E0000000000000PLAN0001@AdobeOrg";
const SEG: &str = "/transformations/0/params/segmentSelectors/selectors";
const PROF: &str = "/transformations/0/params/profileSelectors/selectors";
const MAND: &str = "/transformations/0/params/profileSelectors/mandatoryFields";
const PRIM: &str = "/transformations/0/params/profileSelectors/primaryFields";

struct Env {
    emu: RunningEmulator,
    client: Client,
}

async fn start() -> Env {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let client = Client::new(ClientConfig::new(
        emu.base_url(),
        "prod",
        Auth::ClientCredentials {
            ims_url: emu.base_url(),
            client_id: "plan-e2e".into(),
            client_secret: "not-a-secret".into(),
            org_id: ORG.into(),
            scopes: "openid".into(),
        },
    ))
    .unwrap();
    Env { emu, client }
}

fn manifests() -> DesiredState {
    destctl::manifest::load(&[PathBuf::from("manifests")])
        .expect("the example manifests validate")
        .desired
}

fn opts(prune: bool) -> PlanOptions {
    PlanOptions {
        target: PlanTarget {
            endpoint: "http://emulator".into(),
            sandbox: "prod".into(),
        },
        prune,
    }
}

impl Env {
    async fn live(&self, desired: &DesiredState) -> LiveState {
        fetch(&self.client, &FetchOptions::for_desired(desired))
            .await
            .unwrap()
    }

    async fn plan(&self, desired: &DesiredState, prune: bool) -> (Plan, PlanDetails) {
        let live = self.live(desired).await;
        build(desired, &live, &opts(prune)).unwrap()
    }

    /// Executes a plan like `apply`: `${ref:}` ids and secret references resolved, the
    /// activation patch right after a flow create, and the etag returned by an earlier action
    /// on the same entity used by a following update.
    async fn execute(&self, plan: &Plan) {
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        let mut etags: BTreeMap<String, Etag> = BTreeMap::new();
        for c in &plan.changes {
            let id = c
                .id()
                .map(|i| i.to_string())
                .as_deref()
                .map(|i| resolve(&json!(i), &refs));
            let id = id.map(|v| EntityId(v.as_str().unwrap().to_owned()));
            match c.action() {
                Action::Create => {
                    let body = resolve(c.body().unwrap(), &refs);
                    let w = self.client.create(c.resource(), &body).await.unwrap();
                    refs.insert(c.key().unwrap().to_owned(), w.id.0.clone());
                    if let Some(p) = &c.patch() {
                        let ops = serde_json::from_value::<Vec<destctl::wire::PatchOp>>(resolve(
                            &serde_json::to_value(p).unwrap(),
                            &refs,
                        ))
                        .unwrap();
                        self.client
                            .patch(c.resource(), &w.id, &w.etag, &ops)
                            .await
                            .unwrap();
                    }
                }
                Action::Update | Action::Adopt => {
                    let id = id.unwrap();
                    let etag = etags.get(&id.0).cloned().or(c.etag().cloned()).unwrap();
                    let ops = serde_json::from_value::<Vec<destctl::wire::PatchOp>>(resolve(
                        &serde_json::to_value(c.patch().unwrap()).unwrap(),
                        &refs,
                    ))
                    .unwrap();
                    let w = self
                        .client
                        .patch(c.resource(), &id, &etag, &ops)
                        .await
                        .unwrap_or_else(|e| panic!("{e}: {ops:#?}"));
                    etags.insert(id.0, w.etag);
                }
                Action::Enable | Action::Disable => {
                    let id = id.unwrap();
                    let a = if c.action() == Action::Enable {
                        FlowAction::Enable
                    } else {
                        FlowAction::Disable
                    };
                    let w = self.client.flow_action(&id, a).await.unwrap();
                    etags.insert(id.0, w.etag);
                }
                Action::Delete => self
                    .client
                    .delete(c.resource(), &id.unwrap())
                    .await
                    .unwrap(),
            }
        }
    }

    /// Plans, executes, and checks that planning again finds nothing.
    async fn converge(&self, desired: &DesiredState, prune: bool) -> Plan {
        let (plan, _) = self.plan(desired, prune).await;
        self.execute(&plan).await;
        let (again, _) = self.plan(desired, prune).await;
        assert!(again.changes.is_empty(), "{:#?}", again.changes);
        plan
    }

    async fn flow_of(&self, desired: &DesiredState, name: &str) -> (String, Value) {
        let live = self.live(desired).await;
        let f = live
            .managed()
            .remove(name)
            .and_then(|d| d.flow)
            .expect("managed flow");
        let raw = self.client.get(Resource::Flow, &f.id).await.unwrap();
        (f.id.0.clone(), raw)
    }
}

/// Replaces `${ref:KEY}` by the created id and `${env:}` / `${file:}` references by their
/// values, wherever they are in a body.
fn resolve(v: &Value, refs: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(k) = s.strip_prefix("${ref:").and_then(|r| r.strip_suffix('}')) {
                return json!(refs[k]);
            }
            match destctl::model::SecretRef::parse(s) {
                Some(Ok(destctl::model::SecretRef::File(p))) => {
                    json!(std::fs::read_to_string(p).unwrap().trim_end())
                }
                Some(Ok(destctl::model::SecretRef::Env(n))) => json!(std::env::var(n).unwrap()),
                _ => v.clone(),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(x, refs)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), resolve(x, refs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn dest<'a>(d: &'a mut DesiredState, name: &str) -> &'a mut DesiredDestination {
    d.destinations
        .iter_mut()
        .find(|x| x.name.as_str() == name)
        .unwrap()
}

fn ops(c: &Change) -> Vec<(PatchOpKind, String)> {
    c.patch()
        .as_ref()
        .unwrap()
        .iter()
        .map(|o| (o.op, o.path.clone()))
        .collect()
}

fn only(plan: &Plan) -> &Change {
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    &plan.changes[0]
}

/// The whole example set applied.
async fn applied() -> (Env, DesiredState) {
    let env = start().await;
    let desired = manifests();
    env.converge(&desired, false).await;
    (env, desired)
}

#[tokio::test]
async fn empty_emulator_plans_every_create_chain_then_nothing() {
    let env = start().await;
    let desired = manifests();
    let n = desired.destinations.len();
    assert!(n >= 7);
    let (plan, details) = env.plan(&desired, false).await;
    // Plus one mapping set per Destination of a current card with exported columns.
    let mapping_sets = desired
        .destinations
        .iter()
        .filter(|d| !d.columns.is_empty())
        .count();
    assert_eq!(
        plan.summary.create,
        5 * n + 3 * desired.dataset_exports.len() + mapping_sets
    );
    assert_eq!((plan.summary.update, plan.summary.delete), (0, 0));
    for d in &desired.destinations {
        let keys: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.name() == d.name.as_str())
            .map(|c| c.key().unwrap().to_owned())
            .collect();
        let suffixes: Vec<_> = keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
        // A current card's mapping set (exported columns) is created just before its flow.
        let mut want = vec![
            "profileConnection",
            "sourceConnection",
            "connection",
            "targetConnection",
        ];
        if !d.columns.is_empty() {
            want.push("mappingSet");
        }
        want.push("flow");
        assert_eq!(suffixes, want);
    }
    let counts_before = env.emu.request_counts();
    assert!(counts_before.keys().all(|k| !k.starts_with("POST /data")));
    env.execute(&plan).await;
    let (again, details_again) = env.plan(&desired, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    assert_eq!(again.summary.unchanged, n + desired.dataset_exports.len());
    let text = render::render(Format::Text, &again, Some(&details_again), false);
    assert!(text.ends_with("Plan: 0 to create, 0 to update, 0 to delete.\n"));
    // the create plan of manifests/ in the three formats
    insta::assert_snapshot!(
        "manifests_text",
        render::render(Format::Text, &plan, Some(&details), false)
    );
    insta::assert_snapshot!(
        "manifests_json",
        render::render(Format::Json, &plan, Some(&details), false)
    );
    insta::assert_snapshot!(
        "manifests_markdown",
        render::render(Format::Markdown, &plan, Some(&details), false)
    );
}

#[tokio::test]
async fn reordering_the_yaml_plans_nothing() {
    let (env, desired) = applied().await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let yaml = std::fs::read_to_string("manifests/campaign-s3.yaml").unwrap();
    // attributes reversed, the two Audience documents swapped
    let attrs = "  attributes:\n    - homeAddress.countryCode\n    - person.name.firstName\n    - person.name.lastName\n    - personalEmail.address\n    - segmentMembership.status\n";
    assert!(yaml.contains(attrs));
    let reversed = "  attributes:\n    - segmentMembership.status\n    - personalEmail.address\n    - person.name.lastName\n    - person.name.firstName\n    - homeAddress.countryCode\n";
    let mut docs: Vec<String> = yaml
        .replace(attrs, reversed)
        .split("\n---\n")
        .map(str::to_owned)
        .collect();
    docs.swap(1, 2);
    std::fs::write(dir.join("campaign-s3.yaml"), docs.join("\n---\n")).unwrap();
    for f in std::fs::read_dir("manifests").unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap() != "campaign-s3.yaml" {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let reordered = destctl::manifest::load(std::slice::from_ref(&dir))
        .unwrap()
        .desired;
    let (plan, _) = env.plan(&reordered, false).await;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.summary.unchanged,
        desired.destinations.len() + desired.dataset_exports.len()
    );
    tmp.close();
}

#[tokio::test]
async fn audiences_added_removed_changed_in_one_patch() {
    let (env, mut desired) = applied().await;
    let (flow_id, flow) = env.flow_of(&desired, "campaign-s3").await;
    let live_sels = flow.pointer(SEG).unwrap().as_array().unwrap().clone();
    let d = dest(&mut desired, "campaign-s3");
    // one new audience (copied from another destination), one removed, one changed
    let removed = d.audiences[0].segment_id.clone();
    let mut new = d.audiences[1].clone();
    new.segment_id = destctl::model::SegmentId::parse("e2e-new-audience").unwrap();
    new.display_name = Some("E2E new".into());
    d.audiences.remove(0);
    d.audiences[0].filename_template = "%DESTINATION_NAME%_%SEGMENT_ID%_%TIMESTAMP%".into();
    let changed = d.audiences[0].segment_id.clone();
    d.audiences.push(new);
    let (plan, details) = env.plan(&desired, false).await;
    let c = only(&plan);
    assert_eq!((c.action(), c.resource()), (Action::Update, Resource::Flow));
    assert_eq!(
        c.id().map(|i| i.to_string()).as_deref(),
        Some(flow_id.as_str())
    );
    assert_eq!(c.etag().unwrap().0, flow["etag"].as_str().unwrap());
    let index = |id: &destctl::model::SegmentId| {
        live_sels
            .iter()
            .position(|s| s["value"]["id"] == id.as_str())
            .unwrap()
    };
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, format!("{SEG}/{}", index(&changed))),
            (PatchOpKind::Remove, format!("{SEG}/{}", index(&removed))),
            (PatchOpKind::Add, format!("{SEG}/-")),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    let replaced = c.patch().unwrap()[0].value.as_ref().unwrap();
    assert_eq!(
        replaced["value"]["createTime"],
        live_sels[index(&changed)]["value"]["createTime"]
    );
    let text = render::render(Format::Text, &plan, Some(&details), false);
    assert!(
        text.contains("+ audience E2E new (e2e-new-audience)"),
        "{text}"
    );
    env.execute(&plan).await;
    let (again, _) = env.plan(&desired, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn removals_go_in_descending_index_order() {
    let (env, mut desired) = applied().await;
    let d = dest(&mut desired, "campaign-s3");
    let mut extra = d.audiences.clone();
    for (i, a) in extra.iter_mut().enumerate() {
        a.segment_id = destctl::model::SegmentId::parse(&format!("extra-{i}")).unwrap();
    }
    d.audiences.extend(extra);
    env.converge(&desired, false).await;
    let (_, flow) = env.flow_of(&desired, "campaign-s3").await;
    let ids: Vec<String> = flow
        .pointer(SEG)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"]["id"].as_str().unwrap().to_owned())
        .collect();
    let d = dest(&mut desired, "campaign-s3");
    d.audiences.retain(|a| a.segment_id.as_str() == "extra-1");
    d.attributes.retain(|a| {
        a.as_str() != "homeAddress.countryCode" && a.as_str() != "segmentMembership.status"
    });
    let (plan, _) = env.plan(&desired, false).await;
    let c = only(&plan);
    let mut expected: Vec<usize> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| *id != "extra-1")
        .map(|(i, _)| i)
        .collect();
    expected.reverse();
    let mut want: Vec<(PatchOpKind, String)> = expected
        .into_iter()
        .map(|i| (PatchOpKind::Remove, format!("{SEG}/{i}")))
        .collect();
    let prof: Vec<String> = flow
        .pointer(PROF)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"]["path"].as_str().unwrap().to_owned())
        .collect();
    let mut pi: Vec<usize> = prof
        .iter()
        .enumerate()
        .filter(|(_, p)| *p == "homeAddress.countryCode" || *p == "segmentMembership.status")
        .map(|(i, _)| i)
        .collect();
    pi.reverse();
    want.extend(
        pi.into_iter()
            .map(|i| (PatchOpKind::Remove, format!("{PROF}/{i}"))),
    );
    want.push((PatchOpKind::Replace, "/description".into()));
    assert_eq!(ops(c), want);
    env.execute(&plan).await;
    assert!(env.plan(&desired, false).await.0.changes.is_empty());
}

#[tokio::test]
async fn name_description_mandatory_and_dedup_keys() {
    let (env, mut desired) = applied().await;
    let d = dest(&mut desired, "campaign-s3");
    d.display_name = "Campaign (renamed)".into();
    d.description = Some("New text".into());
    d.mandatory_attributes.truncate(1);
    d.deduplication_keys.clear();
    let (plan, _) = env.plan(&desired, false).await;
    assert_eq!(
        ops(only(&plan)),
        [
            (PatchOpKind::Replace, "/name".into()),
            (PatchOpKind::Replace, "/description".into()),
            (PatchOpKind::Replace, MAND.into()),
            (PatchOpKind::Remove, PRIM.into()),
        ]
    );
    env.execute(&plan).await;
    let d = dest(&mut desired, "campaign-s3");
    d.deduplication_keys =
        vec![destctl::model::AttributePath::parse("person.name.lastName").unwrap()];
    let plan = env.converge(&desired, false).await;
    assert_eq!(
        ops(only(&plan)),
        [
            (PatchOpKind::Add, PRIM.into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
}

#[tokio::test]
async fn server_fields_and_foreign_edits_of_unmanaged_fields_plan_nothing() {
    let (env, desired) = applied().await;
    let (flow_id, flow) = env.flow_of(&desired, "campaign-s3").await;
    // the server moves updateTime of a selector it rewrites; nothing managed changed
    let sels = flow.pointer(SEG).unwrap().clone();
    env.emu
        .out_of_band_edit(
            ORG,
            "prod",
            &flow_id,
            OutOfBandEdit::Patch(json!([{"op": "replace", "path": SEG, "value": sels}])),
        )
        .await
        .unwrap();
    let (plan, _) = env.plan(&desired, false).await;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[tokio::test]
async fn location_change_patches_the_target_connection() {
    let (env, mut desired) = applied().await;
    let d = dest(&mut desired, "campaign-s3");
    d.location
        .params
        .insert("path".into(), "/campaign/v2".into());
    d.location.include_file_manifest = None;
    let plan = env.converge(&desired, false).await;
    let c = only(&plan);
    assert_eq!(
        (c.action(), c.resource()),
        (Action::Update, Resource::TargetConnection)
    );
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, "/params".into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
    let live = env.live(&desired).await;
    let t = live
        .managed()
        .remove("campaign-s3")
        .unwrap()
        .target_connection
        .unwrap();
    let params = t.connection().unwrap().params.as_ref().unwrap();
    assert_eq!(params["path"], "/campaign/v2");
    assert!(params.get("includeFileManifest").is_none());
    // another location mode the platform accepts
    let d = dest(&mut desired, "campaign-s3");
    d.location.mode = destctl::catalog::LocationMode::Ftp;
    d.location.params.clear();
    d.location
        .params
        .insert("remotePath".into(), "/exports".into());
    let plan = env.converge(&desired, false).await;
    assert_eq!(
        only(&plan).patch().unwrap()[0].value,
        Some(json!({"mode": "FTP", "remotePath": "/exports", "format": "CSV"}))
    );
}

#[tokio::test]
async fn raised_credentials_version_and_changed_host_push_auth_params() {
    let (env, mut desired) = applied().await;
    dest(&mut desired, "campaign-s3")
        .connection
        .credentials_version = 2;
    let plan = env.converge(&desired, false).await;
    let c = only(&plan);
    assert_eq!(
        (c.action(), c.resource()),
        (Action::Update, Resource::Connection)
    );
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, "/auth/params".into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
    let json_plan = render::json(&plan);
    assert!(json_plan.contains("${file:secrets/example/campaign-s3-secret-key}"));
    let secret = std::fs::read_to_string("secrets/example/campaign-s3-secret-key").unwrap();
    assert!(!json_plan.contains(secret.trim()));
    let live = env.live(&desired).await;
    let conn = live
        .managed()
        .remove("campaign-s3")
        .unwrap()
        .connection
        .unwrap();
    assert_eq!(conn.marker.as_ref().unwrap().credentials_version, Some(2));

    let d = dest(&mut desired, "sftp-ssh-key");
    // The current SFTP card names the server `domain`.
    d.connection.params.insert(
        "domain".into(),
        ParamValue::Literal("sftp2.acme.example.com".into()),
    );
    let plan = env.converge(&desired, false).await;
    assert_eq!(
        ops(only(&plan))[0],
        (PatchOpKind::Replace, "/auth/params".into())
    );
}

#[tokio::test]
async fn disable_before_the_patch_enable_after() {
    let (env, mut desired) = applied().await;
    let d = dest(&mut desired, "campaign-s3");
    d.enabled = false;
    d.display_name = "Paused".into();
    let plan = env.converge(&desired, false).await;
    let actions: Vec<_> = plan.changes.iter().map(|c| c.action()).collect();
    assert_eq!(actions, [Action::Disable, Action::Update]);
    let (_, flow) = env.flow_of(&desired, "campaign-s3").await;
    assert_eq!(flow["state"], "disabled");
    let d = dest(&mut desired, "campaign-s3");
    d.enabled = true;
    d.display_name = "Running".into();
    let plan = env.converge(&desired, false).await;
    let actions: Vec<_> = plan.changes.iter().map(|c| c.action()).collect();
    assert_eq!(actions, [Action::Update, Action::Enable]);
    assert_eq!(plan.summary.update, 2);
}

#[tokio::test]
async fn a_flow_disabled_in_the_ui_is_enabled_again() {
    let (env, desired) = applied().await;
    let (flow_id, _) = env.flow_of(&desired, "amazon-s3").await;
    env.emu
        .out_of_band_edit(ORG, "prod", &flow_id, OutOfBandEdit::Disable)
        .await
        .unwrap();
    let plan = env.converge(&desired, false).await;
    let c = only(&plan);
    assert_eq!(
        (c.action(), c.id().map(|i| i.to_string()).as_deref()),
        (Action::Enable, Some(flow_id.as_str()))
    );
}

#[tokio::test]
async fn removed_destination_left_in_place_or_pruned() {
    let (env, mut desired) = applied().await;
    desired
        .destinations
        .retain(|d| d.name.as_str() != "sftp-password");
    let (plan, details) = env.plan(&desired, false).await;
    assert!(plan.changes.is_empty());
    assert_eq!(plan.left_in_place.len(), 1);
    assert_eq!(plan.left_in_place[0].name, "sftp-password");
    let text = render::render(Format::Text, &plan, Some(&details), false);
    assert!(
        text.contains("sftp-password (SFTP exports (password), SFTP): left in place"),
        "{text}"
    );

    let (plan, details) = env.plan(&desired, true).await;
    let kinds: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Action::Delete, Resource::Flow),
            (Action::Delete, Resource::TargetConnection),
            (Action::Delete, Resource::SourceConnection),
            (Action::Delete, Resource::Connection),
            (Action::Delete, Resource::Connection),
        ]
    );
    let md = render::render(Format::Markdown, &plan, Some(&details), false);
    assert!(md.find("> [!WARNING]").unwrap() < md.find("`-` delete flow").unwrap());
    env.execute(&plan).await;
    let (again, _) = env.plan(&desired, true).await;
    assert!(again.changes.is_empty() && again.left_in_place.is_empty());
}

#[tokio::test]
async fn unmanaged_objects_are_never_part_of_a_change() {
    let (env, desired) = applied().await;
    // a flow made in the UI: same shape, no marker
    let live = env.live(&desired).await;
    let managed = live.managed().remove("amazon-s3-legacy").unwrap();
    let body = json!({
        "name": "Made in the UI", "description": "not ours",
        "flowSpec": {"id": destctl::catalog::CLOUD_STORAGE_FLOW_SPEC_ID, "version": "1.0"},
        "sourceConnectionIds": [managed.source_connection.unwrap().id.0],
        "targetConnectionIds": [managed.target_connection.unwrap().id.0],
        "transformations": [{"name": "GeneralTransform", "params": {"profileSelectors": {"selectors": []}, "segmentSelectors": {"selectors": []}}}]
    });
    env.client.create(Resource::Flow, &body).await.unwrap();
    let (plan, _) = env.plan(&desired, true).await;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.left_in_place.is_empty());
}

#[tokio::test]
async fn an_interrupted_apply_is_adopted() {
    let env = start().await;
    let desired = manifests();
    let (mut plan, _) = env.plan(&desired, false).await;
    // stop after the first destination's target connection
    plan.changes.truncate(4);
    env.execute(&plan).await;
    let (plan, _) = env.plan(&desired, false).await;
    let first = &desired.destinations[0];
    let mine: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.name() == first.name.as_str())
        // A current card's exported columns: its mapping set is created before the flow.
        .filter(|c| c.resource() != Resource::MappingSet)
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].action(), mine[0].resource()),
        (Action::Create, Resource::Flow)
    );
    let body = mine[0].body().unwrap();
    assert!(
        !body["sourceConnectionIds"][0]
            .as_str()
            .unwrap()
            .starts_with("${ref:")
    );
    assert!(
        !body["targetConnectionIds"][0]
            .as_str()
            .unwrap()
            .starts_with("${ref:")
    );
    env.execute(&plan).await;
    assert!(env.plan(&desired, false).await.0.changes.is_empty());
    let live = env.live(&desired).await;
    let all = desired.destinations.len() + desired.dataset_exports.len();
    assert_eq!(live.flows.len(), all);
    assert_eq!(live.target_connections.len(), all);
}

#[tokio::test]
async fn platform_change_is_refused() {
    let (env, mut desired) = applied().await;
    let d = dest(&mut desired, "eloqua-sftp-password");
    d.platform = destctl::catalog::Platform::OracleResponsys;
    let live = env.live(&desired).await;
    let err = build(&desired, &live, &opts(false)).unwrap_err();
    assert!(matches!(err, PlanError::PlatformChanged { .. }), "{err}");
    assert!(err.to_string().contains("oracle-eloqua"), "{err}");
}

#[tokio::test]
async fn a_412_is_resolved_by_re_planning_the_flow() {
    let (env, mut desired) = applied().await;
    dest(&mut desired, "campaign-s3").display_name = "Mine".into();
    let (plan, _) = env.plan(&desired, false).await;
    let c = only(&plan).clone();
    let id = EntityId(c.id().unwrap().to_string());
    // someone edits the flow in the UI in between
    env.emu
        .out_of_band_edit(ORG, "prod", &id.0, OutOfBandEdit::Rename("Theirs".into()))
        .await
        .unwrap();
    let err = env
        .client
        .patch(Resource::Flow, &id, c.etag().unwrap(), c.patch().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(412));
    let live = env.live(&desired).await;
    let fresh = update_for(
        dest(&mut desired, "campaign-s3"),
        &live.managed().remove("campaign-s3").unwrap(),
        Resource::Flow,
        live.campaign_flow_spec_id.as_deref(),
    )
    .unwrap()
    .unwrap();
    assert_ne!(fresh.etag(), c.etag());
    assert_eq!(
        ops(&fresh),
        [
            (PatchOpKind::Replace, "/name".into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
    env.client
        .patch(
            Resource::Flow,
            &id,
            fresh.etag().unwrap(),
            fresh.patch().unwrap(),
        )
        .await
        .unwrap();
    assert!(env.plan(&desired, false).await.0.changes.is_empty());
}

#[test]
fn invalid_manifests_plan_nothing_and_send_no_request() {
    let out = Cli::in_repo()
        .args(["plan", "tests/invalid/attribute-path-invalid.yaml"])
        .env("DESTCTL_ENDPOINT", "http://127.0.0.1:9")
        .env("AEP_ACCESS_TOKEN", "t")
        .env("AEP_CLIENT_ID", "c")
        .env("AEP_ORG_ID", "O@AdobeOrg")
        .output();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_command_end_to_end() {
    let env = start().await;
    let base = env.emu.base_url();
    let tmp = tempdir();
    let out_file = tmp.join("plan.json");
    let run = |args: &[&str]| {
        Cli::in_repo()
            .arg("plan")
            .args(args)
            .target(&base, "plan-e2e", "not-a-secret", ORG)
            .output()
    };
    let out_arg = out_file.to_str().unwrap().to_owned();
    let o = run(&["--detailed-exitcode", "--out", &out_arg]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    // Exactly the text rendering of the create plan pinned above, the endpoint aside.
    insta::assert_snapshot!("manifests_text", stdout.replace(&base, "http://emulator"));
    let saved: Plan = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(saved.target.endpoint, base);
    let o = run(&["--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let printed: Plan = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed, saved);
    let o = run(&["--format", "markdown"]);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("## destctl plan")
    );
    let o = run(&["--format", "yaml"]);
    assert_eq!(o.status.code(), Some(1));
    env.execute(&saved).await;
    let o = run(&["--detailed-exitcode"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    tmp.close();
}

/// The user's path on a fresh machine: nothing configured, so the embedded emulator; `plan`
/// shows every create, `apply` runs them, `plan` finds nothing; a manifest edit plans exactly
/// its ops and converges too.
#[test]
fn embedded_emulator_plan_apply_plan() {
    let dir = tempdir();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::create_dir_all(dir.join("secrets/example")).unwrap();
    for sub in ["manifests", "secrets/example"] {
        for f in std::fs::read_dir(sub).unwrap() {
            let p = f.unwrap().path();
            std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let run = |args: &[&str]| {
        let o = Cli::in_dir(&dir).args(args).output();
        (
            o.status.code(),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("using the embedded emulator"), "{err}");
    assert!(
        out.ends_with("Plan: 106 to create, 0 to update, 0 to delete.\n"),
        "{out}"
    );
    let (code, _, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    insta::assert_snapshot!("embedded_no_changes", out);

    let path = dir.join("manifests/campaign-s3.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let yaml = yaml
        .replace("credentialsVersion: 1", "credentialsVersion: 2")
        .replace(
            "    - segmentMembership.status\n",
            "    - segmentMembership.status\n    - mobilePhone.number\n",
        );
    std::fs::write(&path, yaml).unwrap();
    let (code, out, err) = run(&["plan", "--detailed-exitcode", "--format", "json"]);
    assert_eq!(code, Some(2), "{err}");
    let plan: Plan = serde_json::from_str(&out).unwrap();
    let kinds: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource(), c.patch().map(|p| p.len())))
        .collect();
    assert_eq!(
        kinds,
        [
            (Action::Update, Resource::Connection, Some(2)),
            (Action::Update, Resource::Flow, Some(2)),
        ]
    );
    let (code, _, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    dir.close();
}
