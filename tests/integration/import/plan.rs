//! The planner's side of adoption (hand-built states, the stand-in service of
//! `support::plan`): only adopts for faithful manifests, manifest edits folded into the adopt
//! patch, and the refusals.

use crate::support::plan::{FakeService, opts, sftp, state};
use destctl::plan::{Action, PlanError, build_plan};
use destctl::wire::{EntityId, Resource};
use serde_json::{Value, json};

/// A service holding `sftp()`'s five objects with their markers removed: objects made outside
/// destctl, as `import` finds them. Returns it and the flow id.
fn unmanaged_sftp() -> (FakeService, String) {
    let desired = state(vec![sftp()]);
    let mut svc = FakeService::default();
    svc.apply(&build_plan(&desired, &svc.live(), &opts(false)).unwrap());
    let mut flow = None;
    for (id, (r, obj)) in svc.objects.iter_mut() {
        let d = obj["description"].as_str().unwrap_or_default();
        let text = d[..d.rfind("[destctl:").unwrap()].trim_end().to_owned();
        obj["description"] = json!(text);
        if *r == Resource::Flow {
            flow = Some(id.clone());
        }
    }
    (svc, flow.unwrap())
}

#[test]
fn a_faithful_manifest_plans_only_adopts_and_then_nothing() {
    let (mut svc, flow) = unmanaged_sftp();
    let mut desired = state(vec![sftp()]);
    // Without spec.adopt the plan would create a second set of objects.
    assert_eq!(
        build_plan(&desired, &svc.live(), &opts(false))
            .unwrap()
            .summary
            .create,
        5
    );
    desired
        .adoptions
        .insert(desired.destinations[0].name.clone(), EntityId(flow.clone()));
    let plan = build_plan(&desired, &svc.live(), &opts(false)).unwrap();
    assert_eq!(plan.changes.len(), 5, "{:#?}", plan.changes);
    assert!(plan.changes.iter().all(|c| c.action() == Action::Adopt));
    assert_eq!(plan.summary.adopt, 5);
    assert_eq!((plan.summary.create, plan.summary.update), (0, 0));
    for c in &plan.changes {
        let ops = c.patch().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].path, "/description");
        let text = ops[0].value.as_ref().and_then(Value::as_str).unwrap();
        assert!(text.contains("[destctl:partner-sftp"), "{text}");
    }
    // The plan file reads back (strict reader) identically.
    let json = destctl::render::json(&plan);
    assert!(json.contains("\"action\": \"adopt\""));
    assert!(json.contains("\"adopt\": 5"));
    let again: destctl::plan::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(again, plan);

    svc.apply(&plan);
    let after = build_plan(&desired, &svc.live(), &opts(false)).unwrap();
    assert!(!after.has_changes(), "{:#?}", after.changes);
    assert_eq!(after.summary.unchanged, 1);
    let (_, account) = svc.find(Resource::Connection, "partner-sftp", false);
    assert!(
        // The adopted marker records the credentials version and the account's fingerprint.
        account["description"].as_str().unwrap().contains(&format!(
            "credentials={} fp=c",
            desired.destinations[0].connection.credentials_version
        )),
        "{account}"
    );
}

#[test]
fn manifest_edits_go_into_the_adopt_patch_and_actions_stay_apart() {
    let (mut svc, flow) = unmanaged_sftp();
    let mut desired = state(vec![sftp()]);
    let name = desired.destinations[0].name.clone();
    desired.destinations[0].display_name = "Renamed on adoption".into();
    desired.destinations[0].enabled = false;
    desired.adoptions.insert(name, EntityId(flow.clone()));
    let plan = build_plan(&desired, &svc.live(), &opts(false)).unwrap();
    let flow_changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.resource() == Resource::Flow)
        .collect();
    let actions: Vec<Action> = flow_changes.iter().map(|c| c.action()).collect();
    assert!(actions.contains(&Action::Disable) && actions.contains(&Action::Adopt));
    assert!(!actions.contains(&Action::Update), "{actions:?}");
    let adopt = flow_changes
        .iter()
        .find(|c| c.action() == Action::Adopt)
        .unwrap();
    let paths: Vec<&str> = adopt
        .patch()
        .unwrap()
        .iter()
        .map(|o| o.path.as_str())
        .collect();
    assert!(
        paths.contains(&"/description") && paths.contains(&"/name"),
        "{paths:?}"
    );
    svc.apply(&plan);
    assert!(
        !build_plan(&desired, &svc.live(), &opts(false))
            .unwrap()
            .has_changes()
    );
    let (_, f) = svc.find(Resource::Flow, "partner-sftp", false);
    assert_eq!(f["name"], "Renamed on adoption");
    assert_eq!(f["state"], "disabled");
}

#[test]
fn adoption_refusals_name_the_flow_and_the_destinations() {
    let (svc, flow) = unmanaged_sftp();
    let mut desired = state(vec![sftp()]);
    let name = desired.destinations[0].name.clone();
    desired
        .adoptions
        .insert(name.clone(), EntityId("no-such-flow".into()));
    let err = build_plan(&desired, &svc.live(), &opts(false)).unwrap_err();
    assert!(matches!(err, PlanError::AdoptFlowNotFound { .. }));
    assert!(err.to_string().contains("no-such-flow"), "{err}");

    // A flow another Destination manages.
    let managed = {
        let d = state(vec![sftp()]);
        let mut s = FakeService::default();
        s.apply(&build_plan(&d, &s.live(), &opts(false)).unwrap());
        s
    };
    let (managed_flow, _) = managed.find(Resource::Flow, "partner-sftp", false);
    let mut other = sftp();
    other.name = destctl::model::ResourceName::parse("other").unwrap();
    let mut d2 = state(vec![other]);
    d2.adoptions.insert(
        destctl::model::ResourceName::parse("other").unwrap(),
        EntityId(managed_flow),
    );
    let err = build_plan(&d2, &managed.live(), &opts(false)).unwrap_err();
    assert!(
        err.to_string()
            .contains("already managed by Destination `partner-sftp`"),
        "{err}"
    );

    // Two Destinations adopting one flow.
    let mut second = sftp();
    second.name = destctl::model::ResourceName::parse("sftp-2").unwrap();
    let mut d3 = state(vec![sftp(), second]);
    d3.adoptions.insert(name, EntityId(flow.clone()));
    d3.adoptions.insert(
        destctl::model::ResourceName::parse("sftp-2").unwrap(),
        EntityId(flow),
    );
    let err = build_plan(&d3, &svc.live(), &opts(false)).unwrap_err();
    assert!(err.to_string().contains("both adopt flow"), "{err}");
}

#[test]
fn the_plan_reader_refuses_an_adopt_of_a_reference() {
    let plan = |change: &str| {
        format!(
            r#"{{"format_version": 1, "target": {{"endpoint": "e", "sandbox": "prod"}},
            "summary": {{"create": 0, "update": 0, "delete": 0, "unchanged": 0, "adopt": 1}},
            "changes": [{change}]}}"#
        )
    };
    let by_ref = plan(
        r#"{"action": "adopt", "resource": "flow", "name": "a", "id": "${ref:a/flow}", "etag": "\"1\"", "patch": []}"#,
    );
    let err = serde_json::from_str::<destctl::plan::Plan>(&by_ref).unwrap_err();
    assert!(err.to_string().contains("adopt flow of `a`"), "{err}");
    assert!(err.to_string().contains("a live id"), "{err}");
    let no_etag =
        plan(r#"{"action": "adopt", "resource": "flow", "name": "a", "id": "f1", "patch": []}"#);
    let err = serde_json::from_str::<destctl::plan::Plan>(&no_etag).unwrap_err();
    assert!(err.to_string().contains("etag"), "{err}");
    let with_key = plan(
        r#"{"action": "adopt", "resource": "flow", "name": "a", "id": "f1", "etag": "\"1\"", "patch": [], "key": "k"}"#,
    );
    let err = serde_json::from_str::<destctl::plan::Plan>(&with_key).unwrap_err();
    assert!(err.to_string().contains("key"), "{err}");
    let good = plan(
        r#"{"action": "adopt", "resource": "flow", "name": "a", "id": "f1", "etag": "\"1\"", "patch": []}"#,
    );
    let read: destctl::plan::Plan = serde_json::from_str(&good).unwrap();
    assert_eq!(read.summary.adopt, 1);
    assert_eq!(read.changes[0].action(), Action::Adopt);
}
