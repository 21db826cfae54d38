//! DatasetExport end to end: created (Data Lake source connection, target connection on the
//! Destination's account, flow with the card's dataset flow spec and `scheduleParams`), its
//! schedule changed with one `replace /scheduleParams`, its dataset list changed as a new source
//! connection + `replace /sourceConnectionIds` + deletion of the old one, an interrupted swap
//! finished by the next run, an interrupted create adopted, a saved swap plan read back and
//! applied, and every run converging to an empty plan. Each write is checked
//! against the emulator's request counts.

use crate::support::apply::{
    apply_live, client, count, emulator, flow_id, get, load, load_with_texts, plan_now, root,
    tempdir, write, writes,
};
use destctl::apply::{Input, apply};
use destctl::emulator::{FaultConfig, RunningEmulator};
use destctl::model::{DesiredDataset, DesiredState};
use destctl::plan::{Action, Change, Plan};
use destctl::wire::{EntityId, PatchOpKind, Resource};
use serde_json::{Value, json};

const POST_SOURCE: &str = "POST /data/foundation/flowservice/sourceConnections";
const POST_TARGET: &str = "POST /data/foundation/flowservice/targetConnections";
const POST_FLOW: &str = "POST /data/foundation/flowservice/flows";
const PATCH_FLOW: &str = "PATCH /data/foundation/flowservice/flows/{id}";
const DELETE_SOURCE: &str = "DELETE /data/foundation/flowservice/sourceConnections/{id}";
const S3_DATASET_FLOW_SPEC: &str = "269ba276-16fc-47db-92b0-c1049a3c131f";
const DATA_LAKE: &str = "23598e46-f560-407b-88d5-ea6207e49db0";

const EXPORT: &str = "apiVersion: destctl/v1
kind: DatasetExport
metadata: {name: web-events-daily}
spec:
  destination: amazon-s3
  datasets: [{id: 5f9c2a1b3c4d5e6f7a8b9c0d, name: Web events}]
  fileType: PARQUET
  compression: GZIP
  schedule: {interval: 1, timeUnit: day, startTime: 2026-12-01T06:00:00Z}
";

/// The example S3 Destination and a DatasetExport on it.
fn desired() -> DesiredState {
    let d = load_with_texts(
        &[root().join("manifests/amazon-s3.yaml")],
        &[("export.yaml", EXPORT)],
    );
    assert_eq!(d.dataset_exports.len(), 1);
    d
}

fn ops(c: &Change) -> Vec<(PatchOpKind, String, Option<Value>)> {
    c.patch()
        .unwrap()
        .iter()
        .map(|o| (o.op, o.path.clone(), o.value.clone()))
        .collect()
}

fn of_export(plan: &Plan) -> Vec<&Change> {
    plan.changes
        .iter()
        .filter(|c| c.name() == "web-events-daily")
        .collect()
}

/// Applies `d` on a fresh emulator; returns the emulator and the export's flow id.
async fn created(d: &DesiredState) -> (RunningEmulator, String) {
    let emu = emulator(FaultConfig::default()).await;
    let applied = apply_live(&emu, d, false).await.unwrap();
    let mine = of_export(&applied.plan);
    let shape: Vec<(Action, Resource)> = mine.iter().map(|c| (c.action(), c.resource())).collect();
    assert_eq!(
        shape,
        [
            (Action::Create, Resource::SourceConnection),
            (Action::Create, Resource::TargetConnection),
            (Action::Create, Resource::Flow),
        ]
    );
    // The Destination's chain (5 creates) and the export's 3.
    assert_eq!(count(&emu, POST_SOURCE), 2);
    assert_eq!(count(&emu, POST_TARGET), 2);
    assert_eq!(count(&emu, POST_FLOW), 2);
    let flow_id = flow_id(&emu, "web-events-daily").await;
    (emu, flow_id)
}

#[tokio::test]
async fn a_dataset_export_is_created_on_the_dataset_flow_spec_and_converges() {
    let d = desired();
    let (emu, flow_id) = created(&d).await;
    let flow = get(&emu, Resource::Flow, &flow_id).await;
    assert_eq!(flow["flowSpec"]["id"], S3_DATASET_FLOW_SPEC);
    assert_eq!(flow["transformations"], json!([]));
    assert_eq!(flow["scheduleParams"]["interval"], 1);
    assert_eq!(flow["scheduleParams"]["timeUnit"], "day");
    assert_eq!(flow["scheduleParams"]["startTime"], 1_796_104_800_i64);
    assert!(
        flow["scheduleParams"]["endTime"].is_i64(),
        "AEP's default end"
    );
    assert!(
        flow["description"]
            .as_str()
            .unwrap()
            .ends_with("[destctl:web-events-daily]")
    );
    let source = get(
        &emu,
        Resource::SourceConnection,
        flow["sourceConnectionIds"][0].as_str().unwrap(),
    )
    .await;
    assert_eq!(source["connectionSpec"]["id"], DATA_LAKE);
    assert_eq!(
        source["params"]["datasets"],
        json!([{"dataSetId": "5f9c2a1b3c4d5e6f7a8b9c0d", "name": "Web events"}])
    );
    let target = get(
        &emu,
        Resource::TargetConnection,
        flow["targetConnectionIds"][0].as_str().unwrap(),
    )
    .await;
    assert_eq!(target["params"]["datasetFileType"], "PARQUET");
    assert_eq!(target["params"]["compression"], "GZIP");
    assert_eq!(target["params"]["bucketName"], "acme-aep-exports");
    assert!(target["params"].get("fileType").is_none());
    // The export uses the Destination's account.
    let live = crate::support::apply::live(&emu).await;
    let account = live.managed()["amazon-s3"]
        .connection
        .as_ref()
        .unwrap()
        .id
        .0
        .clone();
    assert_eq!(target["baseConnectionId"], json!(account));
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn a_schedule_change_is_one_replace_of_schedule_params() {
    let mut d = desired();
    let (emu, flow_id) = created(&d).await;
    d.dataset_exports[0].schedule.interval = 6;
    d.dataset_exports[0].schedule.time_unit = destctl::model::DatasetTimeUnit::Hour;
    let plan = plan_now(&emu, &d, false).await;
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = &plan.changes[0];
    assert_eq!((c.action(), c.resource()), (Action::Update, Resource::Flow));
    let o = ops(c);
    assert_eq!(o.len(), 1);
    assert_eq!(
        (o[0].0, o[0].1.as_str()),
        (PatchOpKind::Replace, "/scheduleParams")
    );
    assert_eq!(
        o[0].2,
        Some(json!({"startTime": 1_796_104_800_i64, "interval": 6, "timeUnit": "hour"}))
    );
    let (writes_before, patches_before) = (writes(&emu), count(&emu, PATCH_FLOW));
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(count(&emu, PATCH_FLOW) - patches_before, 1);
    // The apply lock takes its own writes; the export's only Flow Service write is the PATCH.
    assert_eq!(
        count(&emu, POST_SOURCE) + count(&emu, POST_FLOW) + count(&emu, DELETE_SOURCE),
        4
    );
    assert!(writes(&emu) > writes_before);
    let flow = get(&emu, Resource::Flow, &flow_id).await;
    assert_eq!(flow["scheduleParams"]["interval"], 6);
    assert_eq!(flow["scheduleParams"]["timeUnit"], "hour");
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

/// Adds a second dataset to the export.
fn with_more_datasets(d: &mut DesiredState) {
    d.dataset_exports[0].datasets.push(DesiredDataset {
        id: "6a0d3b2c4d5e6f7a8b9c0d1e".into(),
        name: Some("Orders".into()),
    });
}

#[tokio::test]
async fn a_changed_dataset_list_swaps_the_source_connection_in_order() {
    let mut d = desired();
    let (emu, flow_id) = created(&d).await;
    let old_source = get(&emu, Resource::Flow, &flow_id).await["sourceConnectionIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    with_more_datasets(&mut d);
    let plan = plan_now(&emu, &d, false).await;
    let shape: Vec<(Action, Resource)> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        shape,
        [
            (Action::Create, Resource::SourceConnection),
            (Action::Update, Resource::Flow),
            (Action::Delete, Resource::SourceConnection),
        ],
        "{:#?}",
        plan.changes
    );
    assert_eq!(
        ops(&plan.changes[1]),
        [(
            PatchOpKind::Replace,
            "/sourceConnectionIds".to_owned(),
            Some(json!(["${ref:web-events-daily/sourceConnection}"]))
        )]
    );
    assert_eq!(plan.changes[2].id().unwrap().to_string(), old_source);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["summary"],
        json!({"create": 1, "update": 1, "delete": 1, "unchanged": 1})
    );

    let (posts, patches, deletes) = (
        count(&emu, POST_SOURCE),
        count(&emu, PATCH_FLOW),
        count(&emu, DELETE_SOURCE),
    );
    apply_live(&emu, &d, false).await.unwrap();
    // One of each: the emulator refuses (1447) deleting a source connection a flow uses, so
    // the delete succeeding shows it ran after the flow's switch.
    assert_eq!(count(&emu, POST_SOURCE) - posts, 1);
    assert_eq!(count(&emu, PATCH_FLOW) - patches, 1);
    assert_eq!(count(&emu, DELETE_SOURCE) - deletes, 1);
    let flow = get(&emu, Resource::Flow, &flow_id).await;
    let new_source = flow["sourceConnectionIds"][0].as_str().unwrap();
    assert_ne!(new_source, old_source);
    assert_eq!(
        flow["inheritedAttributes"]["sourceConnections"][0]["id"],
        new_source
    );
    let source = get(&emu, Resource::SourceConnection, new_source).await;
    assert_eq!(source["params"]["datasets"].as_array().unwrap().len(), 2);
    let gone = client(&emu)
        .get(Resource::SourceConnection, &EntityId(old_source))
        .await;
    assert!(gone.is_err());
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn an_interrupted_swap_is_finished_without_a_second_source_connection() {
    let mut d = desired();
    let (emu, flow_id) = created(&d).await;
    with_more_datasets(&mut d);
    // Run only the first step of the swap: the new source connection is created, then the
    // run stops before the flow is switched.
    let mut plan = plan_now(&emu, &d, false).await;
    plan.changes.truncate(1);
    plan.summary = Plan::count(&plan.changes, 0);
    plan.seal();
    let ctx = crate::support::apply::ctx(&emu);
    apply(Input::Saved(plan), &client(&emu), &ctx)
        .await
        .unwrap();
    let posts = count(&emu, POST_SOURCE);

    let plan = plan_now(&emu, &d, false).await;
    let shape: Vec<(Action, Resource)> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        shape,
        [
            (Action::Update, Resource::Flow),
            (Action::Delete, Resource::SourceConnection),
        ],
        "the source connection made by the interrupted run is reused: {:#?}",
        plan.changes
    );
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(count(&emu, POST_SOURCE), posts);
    let flow = get(&emu, Resource::Flow, &flow_id).await;
    let source = get(
        &emu,
        Resource::SourceConnection,
        flow["sourceConnectionIds"][0].as_str().unwrap(),
    )
    .await;
    assert_eq!(source["params"]["datasets"].as_array().unwrap().len(), 2);
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn a_412_on_a_dataset_flow_is_replanned_from_the_dataset_export() {
    use destctl::apply::execute::{Cancel, Mode, NoProgress};
    use destctl::apply::secrets::{Resolver, SecretLocations};
    use destctl::apply::{ExecuteOptions, LiveReplanner, Prepared};
    use destctl::emulator::{EMBEDDED_ORG_ID, OutOfBandEdit};
    use std::sync::Arc;

    let mut d = desired();
    let (emu, flow_id) = created(&d).await;
    d.dataset_exports[0].schedule.start_time += 3600;
    let before = crate::support::apply::live(&emu).await;
    let plan = plan_now(&emu, &d, false).await;
    assert_eq!(plan.changes.len(), 1);
    let resolver = Resolver::new(|_| None, root());
    let prepared = Prepared::new(&plan, &resolver, &SecretLocations::default()).unwrap();
    // Someone renames the flow in the UI between plan and apply: the PATCH gets 412.
    emu.out_of_band_edit(
        EMBEDDED_ORG_ID,
        "prod",
        &flow_id,
        OutOfBandEdit::Rename("UI name".into()),
    )
    .await
    .unwrap();
    let c = client(&emu);
    let replanner = LiveReplanner::new(c.clone(), d.clone(), &before);
    let patches = count(&emu, PATCH_FLOW);
    let report = prepared
        .execute(
            &c,
            &ExecuteOptions {
                parallelism: 1,
                mode: Mode::Live(Arc::new(replanner)),
                cancel: Cancel::new(),
                progress: Arc::new(NoProgress),
                resolver: Resolver::new(|_| None, root()),
                locations: SecretLocations::default(),
            },
        )
        .await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(
        count(&emu, PATCH_FLOW) - patches,
        2,
        "the 412 and the retry"
    );
    let flow = get(&emu, Resource::Flow, &flow_id).await;
    assert_eq!(
        flow["scheduleParams"]["startTime"],
        1_796_104_800_i64 + 3600
    );
    assert_eq!(
        flow["name"], "web-events-daily",
        "the re-plan restores the manifest's name"
    );
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[tokio::test]
async fn a_removed_dataset_export_is_left_in_place_then_pruned_flow_first() {
    let mut d = desired();
    let (emu, _) = created(&d).await;
    d.dataset_exports.clear();
    let kept = plan_now(&emu, &d, false).await;
    assert!(kept.changes.is_empty(), "{:#?}", kept.changes);
    assert_eq!(kept.left_in_place.len(), 1);
    assert_eq!(kept.left_in_place[0].name, "web-events-daily");
    let pruned = plan_now(&emu, &d, true).await;
    let shape: Vec<(Action, Resource)> = pruned
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        shape,
        [
            (Action::Delete, Resource::Flow),
            (Action::Delete, Resource::TargetConnection),
            (Action::Delete, Resource::SourceConnection),
        ]
    );
    apply_live(&emu, &d, true).await.unwrap();
    let live = crate::support::apply::live(&emu).await;
    assert!(!live.managed().contains_key("web-events-daily"));
    // The Destination (and the account the export used) stays.
    assert!(live.managed()["amazon-s3"].connection.is_some());
    assert!(plan_now(&emu, &d, true).await.changes.is_empty());
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_and_a_saved_swap_plan_round_trips() {
    let mut d = desired();
    let emu = emulator(FaultConfig::default()).await;
    // A first run that stops after the export's source and target connections.
    let mut plan = plan_now(&emu, &d, false).await;
    let flow_at = plan
        .changes
        .iter()
        .position(|c| c.name() == "web-events-daily" && c.resource() == Resource::Flow)
        .unwrap();
    plan.changes.truncate(flow_at);
    plan.summary = Plan::count(&plan.changes, 0);
    plan.seal();
    let ctx = crate::support::apply::ctx(&emu);
    apply(Input::Saved(plan), &client(&emu), &ctx)
        .await
        .unwrap();
    let again = plan_now(&emu, &d, false).await;
    let mine = of_export(&again);
    assert_eq!(mine.len(), 1, "only the flow is left to create: {mine:#?}");
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
    apply_live(&emu, &d, false).await.unwrap();
    assert_eq!(
        count(&emu, POST_SOURCE),
        2,
        "no second Data Lake source connection"
    );

    // The swap as a saved plan: written, read back strictly, applied.
    with_more_datasets(&mut d);
    let plan = plan_now(&emu, &d, false).await;
    let text = serde_json::to_string_pretty(&plan).unwrap();
    let read: Plan = serde_json::from_str(&text).unwrap();
    read.verify_digest().unwrap();
    apply(Input::Saved(read), &client(&emu), &ctx)
        .await
        .unwrap();
    assert!(plan_now(&emu, &d, false).await.changes.is_empty());
}

#[tokio::test]
async fn the_swap_reads_in_order_in_text_markdown_and_json() {
    use destctl::plan::{PlanOptions, PlanTarget, build};
    use destctl::render::{Format, render};
    let mut d = desired();
    let (emu, _) = created(&d).await;
    with_more_datasets(&mut d);
    let (plan, details) = build(
        &d,
        &crate::support::apply::live(&emu).await,
        &PlanOptions {
            target: PlanTarget {
                endpoint: "http://emulator".into(),
                sandbox: "prod".into(),
            },
            prune: false,
        },
    )
    .unwrap();
    let position = |text: &str, needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing in:\n{text}"))
    };
    for format in [Format::Text, Format::Markdown] {
        let text = render(format, &plan, Some(&details), false);
        let create = position(
            &text,
            "create sourceConnection web-events-daily/sourceConnection",
        );
        let update = position(&text, "update flow");
        let delete = position(&text, "delete sourceConnection");
        assert!(create < update && update < delete, "{text}");
        assert!(
            text.contains("datasets cannot change on a source connection"),
            "{text}"
        );
        assert!(text.contains("Orders (6a0d3b2c4d5e6f7a8b9c0d1e)"), "{text}");
        assert!(!text.contains("Exports to this destination stop"), "{text}");
    }
    let json: Value = serde_json::from_str(&render(Format::Json, &plan, None, false)).unwrap();
    let actions: Vec<(&str, &str)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["resource"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("create", "sourceConnection"),
            ("update", "flow"),
            ("delete", "sourceConnection")
        ]
    );
    assert_eq!(
        json["changes"][1]["patch"],
        json!([{"op": "replace", "path": "/sourceConnectionIds",
                "value": ["${ref:web-events-daily/sourceConnection}"]}])
    );
}

/// A DatasetExport on every current card of the example repository applies on the card's
/// dataset flow spec and converges.
#[tokio::test]
async fn a_dataset_export_on_every_current_card_applies_and_converges() {
    use destctl::catalog::Card;
    let mut d = load(&[root().join("manifests")]);
    let dir = tempdir();
    let mut text = String::new();
    let current: Vec<String> = d
        .destinations
        .iter()
        .filter(|x| x.platform.info().card == Card::Current)
        .map(|x| x.name.to_string())
        .collect();
    assert!(current.len() >= 6, "{current:?}");
    for name in &current {
        text.push_str(&format!(
            "---\napiVersion: destctl/v1\nkind: DatasetExport\nmetadata: {{name: export-of-{name}}}\nspec:\n  destination: {name}\n  datasets: [{{id: ds-{name}}}]\n  fileType: JSON\n  schedule: {{interval: 3, timeUnit: hour, startTime: 2026-12-01T06:00:00Z}}\n"
        ));
    }
    let extra = write(dir.path(), "exports.yaml", &text);
    d = load(&[root().join("manifests"), extra]);
    let emu = emulator(FaultConfig::default()).await;
    let applied = apply_live(&emu, &d, false).await.unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    crate::support::apply::assert_exactly_one_of_each(&emu, &d).await;
    let live = crate::support::apply::live(&emu).await;
    let managed = live.managed();
    for e in &d.dataset_exports {
        let flow = managed[e.name.as_str()].flow.as_ref().unwrap();
        let spec = flow.flow().unwrap().flow_spec.as_ref().unwrap().id.clone();
        assert_eq!(
            spec.as_deref(),
            e.platform.info().dataset_flow_spec_id,
            "{}",
            e.name
        );
    }
    let again = plan_now(&emu, &d, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}
