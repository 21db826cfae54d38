//! `build_plan` on hand-built desired and live states: every case of issue 4 point 5.

use crate::support::plan::*;
use destctl::catalog::{
    EMULATOR_CAMPAIGN_FLOW_SPEC_ID, ExportMode, PROFILE_STORE_SPEC_ID, Platform,
};
use destctl::live::LiveState;
use destctl::model::{ParamValue, SecretRef};
use destctl::plan::{Action, Duplicate, DuplicateDisposition, PlanError, build_plan};
use destctl::wire::{PatchOpKind, Resource};
use serde_json::{Value, json};

const SEG: &str = "/transformations/0/params/segmentSelectors/selectors";
const PROF: &str = "/transformations/0/params/profileSelectors/selectors";

fn applied(dests: Vec<destctl::model::DesiredDestination>) -> FakeService {
    let mut svc = FakeService::default();
    let plan = build_plan(&state(dests), &svc.live(), &opts(false)).unwrap();
    svc.apply(&plan);
    svc
}

fn ops(c: &destctl::plan::Change) -> Vec<(PatchOpKind, String)> {
    c.patch()
        .as_ref()
        .unwrap()
        .iter()
        .map(|o| (o.op, o.path.clone()))
        .collect()
}

#[test]
fn empty_sandbox_creates_the_whole_chain_in_order() {
    let plan = build_plan(
        &state(vec![campaign()]),
        &FakeService::default().live(),
        &opts(false),
    )
    .unwrap();
    let keys: Vec<_> = plan
        .changes
        .iter()
        .map(|c| c.key().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "campaign-s3/profileConnection",
            "campaign-s3/sourceConnection",
            "campaign-s3/connection",
            "campaign-s3/targetConnection",
            "campaign-s3/flow"
        ]
    );
    assert!(plan.changes.iter().all(|c| c.action() == Action::Create));
    assert_eq!(
        (
            plan.summary.create,
            plan.summary.update,
            plan.summary.delete
        ),
        (5, 0, 0)
    );
    let profile = plan.changes[0].body().unwrap();
    assert_eq!(profile["connectionSpec"]["id"], PROFILE_STORE_SPEC_ID);
    assert_eq!(
        profile["description"],
        "Managed by destctl [destctl:campaign-s3]"
    );
    let source = plan.changes[1].body().unwrap();
    assert_eq!(
        source["baseConnectionId"],
        "${ref:campaign-s3/profileConnection}"
    );
    assert_eq!(source["data"], json!({"format": "CSV", "schema": null}));
    let account = plan.changes[2].body().unwrap();
    assert_eq!(
        account["auth"],
        json!({"specName": "S3", "params": {"accessId": "${env:CAMPAIGN_ACCESS_ID}", "secretKey": "${file:secrets/campaign.key}"}})
    );
    assert!(
        account["description"]
            .as_str()
            .unwrap()
            .contains("[destctl:campaign-s3 credentials=1 fp=c")
    );
    let target = plan.changes[3].body().unwrap();
    assert_eq!(target["baseConnectionId"], "${ref:campaign-s3/connection}");
    assert_eq!(
        target["params"],
        json!({"mode": "S3", "bucketName": "acme-exports", "path": "/campaign", "format": "CSV", "includeFileManifest": true})
    );
    let flow = &plan.changes[4];
    let body = flow.body().unwrap();
    assert_eq!(body["flowSpec"]["id"], EMULATOR_CAMPAIGN_FLOW_SPEC_ID);
    assert_eq!(body["name"], "Adobe Campaign exports");
    // The marker records the fingerprint of the flow as the create and its activation patch
    // leave it.
    let description = body["description"].as_str().unwrap();
    assert!(
        description.starts_with("Daily audiences for Campaign [destctl:campaign-s3 fp=n"),
        "{description}"
    );
    let (marker, _) = destctl::marker::Marker::parse(description).unwrap();
    assert_eq!(
        marker.fingerprint,
        Some(destctl::plan::fingerprint::desired_flow_fingerprint(
            &campaign()
        ))
    );
    assert_eq!(
        body["sourceConnectionIds"],
        json!(["${ref:campaign-s3/sourceConnection}"])
    );
    assert_eq!(
        body["targetConnectionIds"],
        json!(["${ref:campaign-s3/targetConnection}"])
    );
    assert_eq!(
        body["transformations"],
        json!([{"name": "GeneralTransform", "params": {"profileSelectors": {"selectors": []}, "segmentSelectors": {"selectors": []}}}])
    );
    let patch = flow.patch().unwrap();
    assert_eq!(patch.len(), 3 + 2 + 2);
    assert_eq!(patch[0].path, format!("{PROF}/-"));
    assert_eq!(
        patch[0].value,
        Some(json!({"type": "JSON_PATH", "value": {"path": "person.name.firstName"}}))
    );
    assert_eq!(
        patch[3].path,
        "/transformations/0/params/profileSelectors/mandatoryFields"
    );
    assert_eq!(patch[3].value, Some(json!(["person.name.firstName"])));
    assert_eq!(
        patch[4].path,
        "/transformations/0/params/profileSelectors/primaryFields"
    );
    assert_eq!(
        patch[4].value,
        Some(json!([{"fieldType": "ATTRIBUTE", "attributePath": "personalEmail.address"}]))
    );
    assert_eq!(
        patch[6].value,
        Some(json!({"type": "PLATFORM_SEGMENT", "value": {
            "id": "9f7d37fd-7039-4454-94ef-2b0cd6c3206a", "name": "Interested in Mountain Biking",
            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
            "exportMode": "DAILY_FULL_EXPORT",
            "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED", "startDate": "2026-01-05", "startTime": "17:00"}}}))
    );
}

#[test]
fn after_apply_nothing_to_do() {
    let svc = applied(vec![campaign(), sftp()]);
    let plan = build_plan(&state(vec![campaign(), sftp()]), &svc.live(), &opts(true)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.summary.unchanged, 2);
    assert!(plan.left_in_place.is_empty());
}

#[test]
fn reordering_changes_nothing() {
    let svc = applied(vec![campaign()]);
    let mut d = campaign();
    d.audiences.reverse();
    d.attributes.reverse();
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn new_audience_and_attribute_are_added_in_one_patch_with_the_live_etag() {
    let svc = applied(vec![campaign()]);
    let (flow_id, flow) = svc.find(Resource::Flow, "campaign-s3", false);
    let mut d = campaign();
    d.audiences.push(audience(
        "zz-new",
        Some("New"),
        ExportMode::DailyFullExport,
        daily_at(3),
    ));
    d.attributes.push(attr("mobilePhone.number"));
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(
        c.id().map(|i| i.to_string()).as_deref(),
        Some(flow_id.as_str())
    );
    assert_eq!(c.etag().unwrap().0, flow["etag"].as_str().unwrap());
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Add, format!("{SEG}/-")),
            (PatchOpKind::Add, format!("{PROF}/-")),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    assert_eq!(
        c.patch().unwrap()[0].value.as_ref().unwrap()["value"]["id"],
        "zz-new"
    );
    assert_eq!((plan.summary.update, plan.summary.unchanged), (1, 0));
}

#[test]
fn removed_audiences_go_by_index_in_descending_order() {
    let mut d = campaign();
    for id in ["a-1", "a-2", "a-3"] {
        d.audiences
            .push(audience(id, None, ExportMode::DailyFullExport, daily_at(5)));
    }
    d.audiences.sort_by(|a, b| a.segment_id.cmp(&b.segment_id));
    let svc = applied(vec![d.clone()]);
    let live = svc.live();
    let (_, flow) = svc.find(Resource::Flow, "campaign-s3", false);
    let ids: Vec<&str> = flow
        .pointer(SEG)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"]["id"].as_str().unwrap())
        .collect();
    d.audiences
        .retain(|a| a.segment_id.as_str() != "a-1" && a.segment_id.as_str() != "a-3");
    d.attributes
        .retain(|a| a.as_str() != "person.name.lastName");
    let plan = build_plan(&state(vec![d.clone()]), &live, &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    let i1 = ids.iter().position(|i| *i == "a-1").unwrap();
    let i3 = ids.iter().position(|i| *i == "a-3").unwrap();
    let (hi, lo) = (i1.max(i3), i1.min(i3));
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Remove, format!("{SEG}/{hi}")),
            (PatchOpKind::Remove, format!("{SEG}/{lo}")),
            (PatchOpKind::Remove, format!("{PROF}/1")),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    let mut svc = svc;
    svc.apply(&plan);
    let again = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

#[test]
fn changed_audience_is_one_replace_carrying_server_fields() {
    let svc = applied(vec![campaign()]);
    let live = svc.live();
    let (_, flow) = svc.find(Resource::Flow, "campaign-s3", false);
    let sels = flow.pointer(SEG).unwrap().as_array().unwrap();
    let index = sels
        .iter()
        .position(|s| s["value"]["id"] == "9f7d37fd-7039-4454-94ef-2b0cd6c3206a")
        .unwrap();
    let live_sel = &sels[index];
    let mut d = campaign();
    let a = d
        .audiences
        .iter_mut()
        .find(|a| a.segment_id.as_str().starts_with("9f7d"))
        .unwrap();
    a.schedule = daily_at(20);
    a.filename_template.push_str("_v2");
    let plan = build_plan(&state(vec![d]), &live, &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, format!("{SEG}/{index}")),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    let v = &c.patch().unwrap()[0].value.as_ref().unwrap()["value"];
    assert_eq!(v["schedule"]["startTime"], "20:00");
    assert!(v["filenameTemplate"].as_str().unwrap().ends_with("_v2"));
    assert_eq!(v["createTime"], live_sel["value"]["createTime"]);
    assert_eq!(v["updateTime"], live_sel["value"]["updateTime"]);
}

#[test]
fn server_populated_fields_never_produce_a_change() {
    let mut svc = applied(vec![campaign()]);
    let (id, _) = svc.find(Resource::Flow, "campaign-s3", false);
    let flow = &mut svc.objects.get_mut(&id).unwrap().1;
    flow["updatedAt"] = json!(99);
    flow["lastOperation"] = json!({"operation": "update"});
    flow["runs"] = json!("/runs?property=flowId==x");
    for s in flow.pointer_mut(SEG).unwrap().as_array_mut().unwrap() {
        s["value"]["updateTime"] = json!("123");
        s["value"]["description"] = json!("");
    }
    for s in flow.pointer_mut(PROF).unwrap().as_array_mut().unwrap() {
        s["value"]["mapping"]["functionVersion"] = json!(3);
    }
    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn unknown_fields_of_a_live_flow_ride_through_a_replace_unchanged() {
    let mut svc = applied(vec![campaign()]);
    let (id, _) = svc.find(Resource::Flow, "campaign-s3", false);
    let flow = &mut svc.objects.get_mut(&id).unwrap().1;
    flow["futureTopLevel"] = json!({"deep": [1, {"x": null}]});
    let sels = flow.pointer_mut(SEG).unwrap().as_array_mut().unwrap();
    let index = sels
        .iter()
        .position(|s| s["value"]["id"] == "9f7d37fd-7039-4454-94ef-2b0cd6c3206a")
        .unwrap();
    let extra_value = json!({"nested": ["a", 1.5, {"k": true}], "empty": {}});
    sels[index]["value"]["futureField"] = extra_value.clone();
    sels[index]["value"]["schedule"]["futureScheduleKey"] = json!("dropped by a replace");
    sels[index]["priority"] = json!(3);
    let live_sel = sels[index].clone();
    let mut d = campaign();
    let a = d
        .audiences
        .iter_mut()
        .find(|a| a.segment_id.as_str().starts_with("9f7d"))
        .unwrap();
    a.filename_template.push_str("_v2");
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, format!("{SEG}/{index}")),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    let sel = c.patch().unwrap()[0].value.as_ref().unwrap();
    // The selector's own unknown key, after `type` and `value`.
    let keys: Vec<&str> = sel
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["type", "value", "priority"]);
    assert_eq!(sel["priority"], 3);
    // The value: the managed keys first (desired), then every server key in its live order.
    let v = sel["value"].as_object().unwrap();
    assert_eq!(v["futureField"], extra_value);
    assert_eq!(v["createTime"], live_sel["value"]["createTime"]);
    assert_eq!(v["updateTime"], live_sel["value"]["updateTime"]);
    let live_server_keys: Vec<&str> = live_sel["value"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| {
            ![
                "id",
                "name",
                "description",
                "filenameTemplate",
                "exportMode",
                "schedule",
            ]
            .contains(k)
        })
        .collect();
    let server_keys: Vec<&str> = v
        .keys()
        .map(String::as_str)
        .skip(v.len() - live_server_keys.len())
        .collect();
    assert_eq!(server_keys, live_server_keys);
    assert!(v["schedule"].get("futureScheduleKey").is_none());
    // Serialized as they came, byte for byte.
    assert_eq!(
        serde_json::to_string(&v["futureField"]).unwrap(),
        serde_json::to_string(&extra_value).unwrap()
    );
}

#[test]
fn a_flow_missing_its_etag_is_an_error_naming_it() {
    let flow = json!({"id": "flow-without-etag", "name": "x", "transformations": []});
    let err = destctl::wire::flow::Flow::from_value(&flow).unwrap_err();
    assert!(
        err.to_string()
            .contains("flow flow-without-etag has no string `etag`"),
        "{err}"
    );
    assert!(destctl::live::LiveEntity::from_raw(Resource::Flow, flow).is_none());
}

#[test]
fn name_and_description_are_replaced() {
    let svc = applied(vec![campaign()]);
    let mut d = campaign();
    d.display_name = "Campaign (renamed)".into();
    d.description = None;
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, "/name".into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
    let description = c.patch().unwrap()[1].value.clone().unwrap();
    assert!(
        description
            .as_str()
            .unwrap()
            .starts_with("[destctl:campaign-s3 fp=n"),
        "{description}"
    );
}

#[test]
fn mandatory_fields_and_dedup_keys_follow_their_paths() {
    const MAND: &str = "/transformations/0/params/profileSelectors/mandatoryFields";
    const PRIM: &str = "/transformations/0/params/profileSelectors/primaryFields";
    let svc = applied(vec![sftp()]);
    // absent live → add
    let mut d = sftp();
    d.mandatory_attributes = vec![attr("personalEmail.address")];
    d.deduplication_keys = vec![attr("personalEmail.address")];
    let plan = build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false)).unwrap();
    assert_eq!(
        ops(only(&plan, Action::Update, Resource::Flow)),
        [
            (PatchOpKind::Add, MAND.into()),
            (PatchOpKind::Add, PRIM.into()),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    let mut svc = svc;
    svc.apply(&plan);
    // different → replace; no longer wanted → remove
    d.attributes.push(attr("person.name.lastName"));
    d.mandatory_attributes.push(attr("person.name.lastName"));
    d.deduplication_keys.clear();
    let plan = build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false)).unwrap();
    assert_eq!(
        ops(only(&plan, Action::Update, Resource::Flow)),
        [
            (PatchOpKind::Add, format!("{PROF}/-")),
            (PatchOpKind::Replace, MAND.into()),
            (PatchOpKind::Remove, PRIM.into()),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    svc.apply(&plan);
    // reordered mandatory fields → nothing
    d.mandatory_attributes.reverse();
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn changed_location_patches_the_target_connection() {
    let svc = applied(vec![campaign()]);
    let (tid, target) = svc.find(Resource::TargetConnection, "campaign-s3", false);
    let mut d = campaign();
    d.location
        .params
        .insert("path".into(), "/campaign/v2".into());
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    assert_eq!(plan.changes.len(), 1);
    let c = only(&plan, Action::Update, Resource::TargetConnection);
    assert_eq!(c.id().map(|i| i.to_string()).as_deref(), Some(tid.as_str()));
    assert_eq!(c.etag().unwrap().0, target["etag"].as_str().unwrap());
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, "/params".into()),
            (PatchOpKind::Replace, "/description".into()),
        ]
    );
    assert_eq!(
        c.patch().unwrap()[0].value.as_ref().unwrap()["path"],
        "/campaign/v2"
    );
}

#[test]
fn raised_credentials_version_pushes_auth_params_and_marker() {
    let svc = applied(vec![campaign()]);
    let (cid, _) = svc.find(Resource::Connection, "campaign-s3", false);
    let mut d = campaign();
    d.connection.credentials_version = 2;
    let plan = build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false)).unwrap();
    assert_eq!(plan.changes.len(), 1);
    let c = only(&plan, Action::Update, Resource::Connection);
    assert_eq!(c.id().map(|i| i.to_string()).as_deref(), Some(cid.as_str()));
    assert_eq!(
        ops(c),
        [
            (PatchOpKind::Replace, "/auth/params".into()),
            (PatchOpKind::Replace, "/description".into())
        ]
    );
    let p = c.patch().unwrap();
    assert_eq!(
        p[0].value,
        Some(
            json!({"accessId": "${env:CAMPAIGN_ACCESS_ID}", "secretKey": "${file:secrets/campaign.key}"})
        )
    );
    let description = p[1].value.clone().unwrap();
    assert!(
        description
            .as_str()
            .unwrap()
            .starts_with("Managed by destctl [destctl:campaign-s3 credentials=2 fp=c"),
        "{description}"
    );
    let mut svc = svc;
    svc.apply(&plan);
    assert!(
        build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false))
            .unwrap()
            .changes
            .is_empty()
    );
    // a lower version never pulls anything back
    d.connection.credentials_version = 1;
    assert!(
        build_plan(&state(vec![d]), &svc.live(), &opts(false))
            .unwrap()
            .changes
            .is_empty()
    );
}

#[test]
fn changed_non_secret_auth_param_pushes_auth_params() {
    let svc = applied(vec![sftp()]);
    let mut d = sftp();
    d.connection
        .params
        .insert("host".into(), ParamValue::Literal("sftp2.acme.test".into()));
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Connection);
    assert_eq!(
        c.patch().unwrap()[0].value.as_ref().unwrap()["host"],
        "sftp2.acme.test"
    );
    // a changed secret reference alone is not visible live (write-only): raise the version
    let mut d = sftp();
    d.connection.params.insert(
        "password".into(),
        ParamValue::Secret(SecretRef::Env("OTHER".into())),
    );
    assert!(
        build_plan(&state(vec![d]), &svc.live(), &opts(false))
            .unwrap()
            .changes
            .is_empty()
    );
}

#[test]
fn disabling_comes_before_the_patch_and_enabling_after() {
    let mut svc = applied(vec![campaign()]);
    let mut d = campaign();
    d.enabled = false;
    d.display_name = "Paused".into();
    let plan = build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false)).unwrap();
    let actions: Vec<_> = plan.changes.iter().map(|c| c.action()).collect();
    assert_eq!(actions, [Action::Disable, Action::Update]);
    assert_eq!(plan.summary.update, 2);
    svc.apply(&plan);
    assert!(
        build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false))
            .unwrap()
            .changes
            .is_empty()
    );
    d.enabled = true;
    d.display_name = "Running".into();
    let plan = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap();
    let actions: Vec<_> = plan.changes.iter().map(|c| c.action()).collect();
    assert_eq!(actions, [Action::Update, Action::Enable]);
}

#[test]
fn a_new_disabled_destination_is_disabled_after_creation() {
    let mut d = campaign();
    d.enabled = false;
    let plan = build_plan(
        &state(vec![d]),
        &LiveState::default().with_campaign(),
        &opts(false),
    )
    .unwrap();
    let last = plan.changes.last().unwrap();
    assert_eq!(last.action(), Action::Disable);
    assert_eq!(
        last.id().map(|i| i.to_string()).as_deref(),
        Some("${ref:campaign-s3/flow}")
    );
}

trait WithCampaign {
    fn with_campaign(self) -> Self;
}
impl WithCampaign for LiveState {
    fn with_campaign(mut self) -> Self {
        self.campaign_flow_spec_id = Some(EMULATOR_CAMPAIGN_FLOW_SPEC_ID.into());
        self
    }
}

#[test]
fn removed_destination_is_left_in_place_or_pruned() {
    let svc = applied(vec![campaign(), sftp()]);
    let plan = build_plan(&state(vec![sftp()]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty());
    let (flow_id, _) = svc.find(Resource::Flow, "campaign-s3", false);
    assert_eq!(plan.left_in_place.len(), 1);
    assert_eq!(plan.left_in_place[0].name, "campaign-s3");
    assert_eq!(plan.left_in_place[0].id, flow_id);
    assert_eq!(plan.summary.unchanged, 1);

    let plan = build_plan(&state(vec![sftp()]), &svc.live(), &opts(true)).unwrap();
    let deleted: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        deleted,
        [
            (Action::Delete, Resource::Flow),
            (Action::Delete, Resource::TargetConnection),
            (Action::Delete, Resource::SourceConnection),
            (Action::Delete, Resource::Connection),
            (Action::Delete, Resource::Connection),
        ]
    );
    assert_eq!(
        plan.changes[0].id().map(|i| i.to_string()).as_deref(),
        Some(flow_id.as_str())
    );
    assert_eq!(
        plan.changes[4].id().map(|i| i.to_string()).as_deref(),
        Some(
            svc.find(Resource::Connection, "campaign-s3", true)
                .0
                .as_str()
        )
    );
    assert_eq!(plan.summary.delete, 5);
    let mut svc = svc;
    svc.apply(&plan);
    assert_eq!(svc.objects.len(), 5);
}

/// A copy of a stored object under a new id (newer than everything stored).
fn copy(svc: &mut FakeService, resource: Resource, name: &str, profile: bool) -> String {
    let mut obj = svc.find(resource, name, profile).1;
    for k in ["id", "createdAt", "etag", "version"] {
        obj.as_object_mut().unwrap().remove(k);
    }
    svc.insert(resource, &obj)
}

#[test]
fn a_duplicate_flow_is_reported_and_pruned() {
    let mut svc = applied(vec![campaign()]);
    let (kept, _) = svc.find(Resource::Flow, "campaign-s3", false);
    let extra = copy(&mut svc, Resource::Flow, "campaign-s3", false);

    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.duplicates,
        [Duplicate {
            name: "campaign-s3".into(),
            resource: Resource::Flow,
            id: extra.clone(),
            kept: Some(kept.clone()),
            disposition: DuplicateDisposition::LeftInPlace,
        }]
    );
    let json: Value = serde_json::from_str(&destctl::render::json(&plan)).unwrap();
    assert_eq!(json["duplicates"][0]["disposition"], "left_in_place");
    assert_eq!(json["duplicates"][0]["id"], json!(extra));
    let line = format!(
        "duplicate flow {extra} (same marker as {kept}): left in place; --prune deletes it"
    );
    let (_, details) =
        destctl::plan::build(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    use destctl::render::{Format, render};
    let text = render(Format::Text, &plan, Some(&details), false);
    assert!(text.contains(&format!("    ! {line}\n")), "{text}");
    insta::assert_snapshot!("duplicate_text", text);
    let saved = render(Format::Text, &plan, None, false);
    assert!(saved.contains(&line), "{saved}");
    insta::assert_snapshot!("duplicate_text_saved", saved);
    let md = render(Format::Markdown, &plan, Some(&details), false);
    assert!(md.contains(&format!("- `!` {line}\n")), "{md}");
    insta::assert_snapshot!("duplicate_markdown", md);

    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(true)).unwrap();
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = only(&plan, Action::Delete, Resource::Flow);
    assert_eq!(
        c.id().map(|i| i.to_string()).as_deref(),
        Some(extra.as_str())
    );
    assert_eq!(plan.duplicates[0].disposition, DuplicateDisposition::Delete);
    assert_eq!(plan.summary.delete, 1);
    assert_eq!(plan.summary.unchanged, 0);
    svc.apply(&plan);
    let again = build_plan(&state(vec![campaign()]), &svc.live(), &opts(true)).unwrap();
    assert!(again.changes.is_empty() && again.duplicates.is_empty());
    assert_eq!(svc.objects.len(), 5);
    assert!(svc.objects.contains_key(&kept));
}

#[test]
fn pruning_duplicates_never_deletes_what_the_kept_chain_uses() {
    let mut svc = applied(vec![campaign()]);
    let (kept_flow, _) = svc.find(Resource::Flow, "campaign-s3", false);
    let (kept_target, _) = svc.find(Resource::TargetConnection, "campaign-s3", false);
    let (kept_source, _) = svc.find(Resource::SourceConnection, "campaign-s3", false);
    // a second account, which the kept target connection was repointed to: in use
    let extra_account = copy(&mut svc, Resource::Connection, "campaign-s3", false);
    svc.objects.get_mut(&kept_target).unwrap().1["baseConnectionId"] = json!(extra_account);
    // a second target connection and a second flow using it and the kept source connection
    let extra_target = copy(&mut svc, Resource::TargetConnection, "campaign-s3", false);
    let mut flow = svc.find(Resource::Flow, "campaign-s3", false).1;
    for k in ["id", "createdAt", "etag", "version"] {
        flow.as_object_mut().unwrap().remove(k);
    }
    flow["targetConnectionIds"] = json!([extra_target]);
    let extra_flow = svc.insert(Resource::Flow, &flow);
    // a second Profile store connection nobody uses
    let extra_profile = copy(&mut svc, Resource::Connection, "campaign-s3", true);

    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(true)).unwrap();
    let deleted: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource(), c.id().unwrap().to_string()))
        .collect();
    assert_eq!(
        deleted,
        [
            (Action::Delete, Resource::Flow, extra_flow.clone()),
            (
                Action::Delete,
                Resource::TargetConnection,
                extra_target.clone()
            ),
            (Action::Delete, Resource::Connection, extra_profile.clone()),
        ]
    );
    let in_use: Vec<_> = plan
        .duplicates
        .iter()
        .filter(|d| d.disposition == DuplicateDisposition::InUse)
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(in_use, [extra_account]);
    for kept in [&kept_flow, &kept_target, &kept_source] {
        assert!(
            plan.changes
                .iter()
                .all(|c| c.id().map(|i| i.to_string()).as_ref() != Some(kept))
        );
    }
}

#[test]
fn duplicates_of_a_pruned_destination_go_with_it() {
    let mut svc = applied(vec![campaign(), sftp()]);
    let extra = copy(&mut svc, Resource::Flow, "campaign-s3", false);
    let plan = build_plan(&state(vec![sftp()]), &svc.live(), &opts(false)).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(plan.duplicates.len(), 1);
    assert_eq!(
        plan.duplicates[0].disposition,
        DuplicateDisposition::LeftInPlace
    );
    let plan = build_plan(&state(vec![sftp()]), &svc.live(), &opts(true)).unwrap();
    let order: Vec<_> = plan.changes.iter().map(|c| c.resource()).collect();
    assert_eq!(
        order,
        [
            Resource::Flow,
            Resource::Flow,
            Resource::TargetConnection,
            Resource::SourceConnection,
            Resource::Connection,
            Resource::Connection,
        ]
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.id().map(|i| i.to_string()).as_deref() == Some(&extra))
    );
    svc.apply(&plan);
    assert_eq!(svc.objects.len(), 5);
}

#[test]
fn unmanaged_objects_are_never_touched() {
    let mut svc = applied(vec![sftp()]);
    let mut foreign = svc.find(Resource::Flow, "partner-sftp", false).1;
    foreign["description"] = json!("made in the UI");
    foreign["name"] = json!("UI flow");
    let mut conn = svc.find(Resource::Connection, "partner-sftp", false).1;
    conn["description"] = json!("");
    svc.insert(Resource::Flow, &foreign);
    svc.insert(Resource::Connection, &conn);
    let plan = build_plan(&state(vec![sftp()]), &svc.live(), &opts(true)).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.left_in_place.is_empty());
}

#[test]
fn an_interrupted_apply_is_adopted_not_created_twice() {
    let mut svc = FakeService::default();
    let full = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    let mut partial = full.clone();
    partial.changes.truncate(3);
    svc.apply(&partial);
    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    let (source_id, _) = svc.find(Resource::SourceConnection, "campaign-s3", false);
    let (conn_id, _) = svc.find(Resource::Connection, "campaign-s3", false);
    let keys: Vec<_> = plan
        .changes
        .iter()
        .map(|c| c.key().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["campaign-s3/targetConnection", "campaign-s3/flow"]);
    assert_eq!(
        plan.changes[0].body().unwrap()["baseConnectionId"],
        json!(conn_id)
    );
    let flow = plan.changes[1].body().unwrap();
    assert_eq!(flow["sourceConnectionIds"], json!([source_id]));
    assert_eq!(
        flow["targetConnectionIds"],
        json!(["${ref:campaign-s3/targetConnection}"])
    );
    svc.apply(&plan);
    assert!(
        build_plan(&state(vec![campaign()]), &svc.live(), &opts(false))
            .unwrap()
            .changes
            .is_empty()
    );
    assert_eq!(svc.objects.len(), 5);
}

#[test]
fn an_empty_flow_left_by_an_interrupted_apply_gets_its_activation() {
    let mut svc = FakeService::default();
    let mut plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    let destctl::plan::Change::Create(flow) = &mut plan.changes[4] else {
        panic!("the fifth change creates the flow");
    };
    flow.activation = None;
    svc.apply(&plan);
    let plan = build_plan(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    let c = only(&plan, Action::Update, Resource::Flow);
    assert_eq!(c.patch().unwrap().len(), 7);
}

#[test]
fn platform_change_is_refused_with_a_clear_error() {
    let svc = applied(vec![sftp()]);
    let mut d = sftp();
    d.platform = Platform::OracleEloqua;
    d.connection.auth = Some(destctl::catalog::AuthMethod::SftpWithPassword);
    let err = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap_err();
    assert!(matches!(err, PlanError::PlatformChanged { .. }));
    insta::assert_snapshot!("platform_changed", err.to_string());
}

#[test]
fn auth_method_change_is_refused_with_a_clear_error() {
    let svc = applied(vec![sftp()]);
    let (cid, _) = svc.find(Resource::Connection, "partner-sftp", false);
    let mut d = sftp();
    d.connection.auth = Some(destctl::catalog::AuthMethod::SftpWithSshKey);
    d.connection.params.remove("password");
    d.connection.params.insert(
        "sshKey".into(),
        ParamValue::Secret(SecretRef::Env("SFTP_KEY".into())),
    );
    let err = build_plan(&state(vec![d]), &svc.live(), &opts(false)).unwrap_err();
    assert!(
        matches!(err, PlanError::AuthMethodChanged { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&cid), "{msg}");
    insta::assert_snapshot!("auth_method_changed", msg);
}

#[test]
fn campaign_flow_spec_must_be_known_to_create_a_campaign_flow() {
    let err = build_plan(
        &state(vec![campaign()]),
        &LiveState::default(),
        &opts(false),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::FlowSpecNotFound { .. }));
    insta::assert_snapshot!("flow_spec_not_found", err.to_string());
    // other platforms need no lookup
    assert!(build_plan(&state(vec![sftp()]), &LiveState::default(), &opts(false)).is_ok());
}

#[test]
fn output_is_deterministic_and_sorted_by_destination() {
    let a = build_plan(
        &state(vec![sftp(), campaign()]),
        &LiveState::default().with_campaign(),
        &opts(false),
    )
    .unwrap();
    let b = build_plan(
        &state(vec![campaign(), sftp()]),
        &LiveState::default().with_campaign(),
        &opts(false),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let names: Vec<_> = a.changes.iter().map(|c| c.name()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn plans_hold_only_secret_references() {
    let plan = build_plan(
        &state(vec![campaign(), sftp()]),
        &LiveState::default().with_campaign(),
        &opts(false),
    )
    .unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    for reference in [
        "${env:CAMPAIGN_ACCESS_ID}",
        "${file:secrets/campaign.key}",
        "${env:SFTP_PASSWORD}",
    ] {
        assert!(text.contains(reference), "{reference}");
    }
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    for c in plan
        .changes
        .iter()
        .filter(|c| c.body().as_ref().is_some_and(|b| b.get("auth").is_some()))
    {
        let mut all = Vec::new();
        strings(&c.body().unwrap()["auth"]["params"], &mut all);
        for (name, value) in c.body().unwrap()["auth"]["params"].as_object().unwrap() {
            let secret = destctl::catalog::AuthMethod::from_spec_name(
                c.body().unwrap()["auth"]["specName"].as_str().unwrap(),
            )
            .unwrap()
            .param(name)
            .unwrap()
            .secret;
            if secret {
                let s = value.as_str().unwrap();
                assert!(
                    s.starts_with("${env:") || s.starts_with("${file:"),
                    "{name}={s}"
                );
            }
        }
    }
}

#[test]
fn update_for_gives_the_fresh_update_of_one_entity() {
    let mut svc = applied(vec![campaign()]);
    let mut d = campaign();
    d.display_name = "Renamed".into();
    d.location.params.insert("path".into(), "/x".into());
    let live = svc.live().managed().remove("campaign-s3").unwrap();
    let flow = destctl::plan::update_for(&d, &live, Resource::Flow, None)
        .unwrap()
        .unwrap();
    // The new name, and the fingerprint recording it.
    assert_eq!(flow.patch().unwrap().len(), 2);
    let target = destctl::plan::update_for(&d, &live, Resource::TargetConnection, None)
        .unwrap()
        .unwrap();
    assert_eq!(target.resource(), Resource::TargetConnection);
    assert!(
        destctl::plan::update_for(&d, &live, Resource::Connection, None)
            .unwrap()
            .is_none()
    );
    let plan = build_plan(&state(vec![d.clone()]), &svc.live(), &opts(false)).unwrap();
    svc.apply(&plan);
    let live = svc.live().managed().remove("campaign-s3").unwrap();
    assert!(
        destctl::plan::update_for(&d, &live, Resource::Flow, None)
            .unwrap()
            .is_none()
    );
}
