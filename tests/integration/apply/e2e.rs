//! End-to-end tests of `apply` against the in-process emulator: convergence, saved plans and
//! their pre-flight, 412 races, secrets.

use crate::support::apply::*;
use destctl::apply::execute::{BoxFuture, Cancel, Mode, NoProgress, ReplanError, Replanner};
use destctl::apply::preflight::{self, PreflightError, StaleReason};
use destctl::apply::report::FailureKind;
use destctl::apply::secrets::{Resolver, SecretLocations};
use destctl::apply::{ApplyError, ExecuteOptions, Input, LiveReplanner, Prepared, apply};
use destctl::emulator::{EMBEDDED_ORG_ID, FaultConfig, OutOfBandEdit};
use destctl::plan::{Action, Change};
use destctl::wire::{EntityId, Resource};
use std::sync::Arc;

fn exec_options(mode: Mode) -> ExecuteOptions {
    ExecuteOptions {
        parallelism: 4,
        mode,
        cancel: Cancel::new(),
        progress: Arc::new(NoProgress),
        resolver: Resolver::new(|_| None, root()),
        locations: SecretLocations::default(),
    }
}

async fn rename_out_of_band(emu: &destctl::emulator::RunningEmulator, flow: &str, name: &str) {
    emu.out_of_band_edit(
        EMBEDDED_ORG_ID,
        "prod",
        flow,
        OutOfBandEdit::Rename(name.into()),
    )
    .await
    .unwrap();
}

fn flow_id(plan: &destctl::plan::Plan, name: &str) -> String {
    plan.changes
        .iter()
        .find(|c| {
            c.name() == name && c.resource() == Resource::Flow && c.action() == Action::Update
        })
        .and_then(|c| c.id().map(|i| i.to_string()))
        .unwrap_or_else(|| panic!("no flow update for {name}"))
}

#[tokio::test]
async fn examples_apply_then_plan_is_empty_and_a_second_apply_changes_nothing() {
    let emu = emulator(FaultConfig::default()).await;
    let desired = load(&all_paths());
    let first = apply_live(&emu, &desired, false).await.unwrap();
    assert!(first.report.is_success(), "{}", first.report.to_text());
    let n = desired.destinations.len();
    // Five objects per Destination, three per DatasetExport (it uses its Destination's account),
    // one mapping set per Destination of a current card with exported columns.
    let mapping_sets = desired
        .destinations
        .iter()
        .filter(|d| !d.columns.is_empty())
        .count();
    let creates = 5 * n + 3 * desired.dataset_exports.len() + mapping_sets;
    assert_eq!(first.report.summary.created, creates);
    // Issue 10: a new flow's activation patch is part of its create, as the plan counts it.
    assert_eq!(first.report.summary.updated, 0);
    assert_eq!(
        first.report.done.iter().filter(|d| d.of_create).count(),
        n,
        "one activation patch per audience flow"
    );
    assert_eq!(first.plan.summary.create, creates);

    let after = plan_now(&emu, &desired, false).await;
    assert!(!after.has_changes(), "{:#?}", after.changes);
    assert_exactly_one_of_each(&emu, &desired).await;

    let writes_before = writes(&emu);
    let second = apply_live(&emu, &desired, false).await.unwrap();
    assert!(second.report.is_success());
    assert!(second.report.done.is_empty());
    assert!(!second.plan.has_changes());
    assert_eq!(writes(&emu), writes_before, "a second apply sends no write");
}

#[tokio::test]
async fn updates_enable_disable_and_prune() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();

    // Change two destinations; drop a third.
    desired.destinations[0].display_name = "Renamed by apply".into();
    desired.destinations[0].audiences.pop();
    desired.destinations[1].enabled = false;
    let dropped = desired.destinations.remove(2);
    let patches_before = count(&emu, "PATCH /data/foundation/flowservice/flows/{id}");
    let applied = apply_live(&emu, &desired, true).await.unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    let s = applied.report.summary;
    // `updated` counts the disable too (one vocabulary with the plan: issue 10).
    // The disabled flow's marker records its new state in a patch of its own (the action
    // carries no body; docs/drift.md).
    assert_eq!((s.updated, s.disabled, s.deleted), (3, 1, 5), "{s:?}");
    assert_eq!(
        count(&emu, "PATCH /data/foundation/flowservice/flows/{id}") - patches_before,
        2,
        "one PATCH for the changed flow, one for the disabled flow's fingerprint"
    );
    assert!(!plan_now(&emu, &desired, true).await.has_changes());
    assert!(
        !live(&emu)
            .await
            .managed()
            .contains_key(dropped.name.as_str())
    );
    assert_exactly_one_of_each(&emu, &desired).await;

    // The deletes ran flow first (the emulator refuses a connection still used by a flow), so
    // every delete succeeded; and enabling again works.
    desired.destinations[1].enabled = true;
    let applied = apply_live(&emu, &desired, true).await.unwrap();
    assert_eq!(applied.report.summary.enabled, 1);
    assert!(!plan_now(&emu, &desired, true).await.has_changes());
}

#[tokio::test]
async fn stale_saved_plan_is_refused_with_zero_writes() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();

    desired.destinations[0].display_name = "New name".into();
    desired.destinations[1].display_name = "Other new name".into();
    let plan = plan_now(&emu, &desired, false).await;
    assert_eq!(plan.summary.update, 2);
    // Someone edits the first flow in the UI after the plan was made.
    let edited = flow_id(&plan, desired.destinations[0].name.as_str());
    rename_out_of_band(&emu, &edited, "Changed in the UI").await;

    let before = writes(&emu);
    let err = apply(Input::Saved(plan.clone()), &client(&emu), &ctx(&emu))
        .await
        .unwrap_err();
    assert_eq!(writes(&emu), before, "zero writes");
    let ApplyError::Preflight(PreflightError::Stale(items)) = &err else {
        panic!("{err}");
    };
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id.as_deref(), Some(edited.as_str()));
    assert!(matches!(items[0].reason, StaleReason::EtagChanged { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&edited) && msg.contains("Re-run `destctl plan`"),
        "{msg}"
    );
    assert!(msg.contains(desired.destinations[0].name.as_str()), "{msg}");
}

#[tokio::test]
async fn a_saved_plan_edited_out_of_shape_is_refused_naming_the_change_and_field() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();
    desired.destinations[0].display_name = "New name".into();
    let plan = plan_now(&emu, &desired, false).await;
    let name = desired.destinations[0].name.as_str();
    let index = 1 + plan
        .changes
        .iter()
        .position(|c| c.name() == name && c.action() == Action::Update)
        .unwrap();
    let saved: serde_json::Value = serde_json::from_str(&destctl::render::json(&plan)).unwrap();
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();

    let mut no_etag = saved.clone();
    no_etag["changes"][index - 1]
        .as_object_mut()
        .unwrap()
        .remove("etag");
    let mut forced = saved.clone();
    forced["changes"][index - 1]["force"] = true.into();
    let mut v2 = saved;
    v2["format_version"] = 2.into();
    for (file, message) in [
        (
            no_etag,
            format!("plan change #{index} (update flow of `{name}`): missing field `etag`"),
        ),
        (
            forced,
            format!("plan change #{index} (update flow of `{name}`): unknown field `force`"),
        ),
        (
            v2,
            "has plan format_version 2; this destctl applies version 1".to_owned(),
        ),
    ] {
        let path = write(&dir, "plan.json", &file.to_string());
        let err = destctl::apply::read_plan_file(&path).unwrap_err();
        // The message and its causes, as the CLI prints them.
        let mut msg = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            msg.push_str(&format!(": {c}"));
            cause = c.source();
        }
        assert!(msg.contains(&message), "{msg}\nwant: {message}");
    }
    // The unedited plan still applies.
    let path = write(&dir, "plan.json", &destctl::render::json(&plan));
    let plan = destctl::apply::read_plan_file(&path).unwrap();
    let applied = apply(Input::Saved(plan), &client(&emu), &ctx(&emu))
        .await
        .unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
}

#[tokio::test]
async fn saved_plan_whose_creates_already_exist_is_refused() {
    let emu = emulator(FaultConfig::default()).await;
    let desired = load(&seed_paths());
    let plan = plan_now(&emu, &desired, false).await;
    assert_eq!(plan.summary.create, 5);
    apply_live(&emu, &desired, false).await.unwrap();
    let before = writes(&emu);
    let err = apply(Input::Saved(plan), &client(&emu), &ctx(&emu))
        .await
        .unwrap_err();
    assert_eq!(writes(&emu), before);
    let ApplyError::Preflight(PreflightError::Stale(items)) = &err else {
        panic!("{err}");
    };
    assert_eq!(items.len(), 5, "{err}");
    assert!(
        items
            .iter()
            .all(|i| matches!(i.reason, StaleReason::AlreadyExists { .. }))
    );
}

#[tokio::test]
async fn saved_plan_applies_exactly_and_then_converges() {
    let emu = emulator(FaultConfig::default()).await;
    let desired = load(&all_paths());
    let plan = plan_now(&emu, &desired, false).await;
    // Through a file, as `plan --out` and `apply --plan` do.
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let file = write(&dir, "plan.json", &destctl::render::json(&plan));
    let plan = destctl::apply::read_plan_file(&file).unwrap();
    let applied = apply(Input::Saved(plan), &client(&emu), &ctx(&emu))
        .await
        .unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
    assert_exactly_one_of_each(&emu, &desired).await;
}

#[tokio::test]
async fn saved_plan_that_disables_and_patches_one_flow_sends_the_etag_the_action_returned() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();
    desired.destinations[0].enabled = false;
    desired.destinations[0].display_name = "Disabled and renamed".into();
    let plan = plan_now(&emu, &desired, false).await;
    let actions: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action(), c.resource()))
        .collect();
    assert_eq!(
        actions,
        [
            (Action::Disable, Resource::Flow),
            (Action::Update, Resource::Flow)
        ],
        "disable first, then the patch recorded with the pre-disable etag"
    );
    let applied = apply(Input::Saved(plan), &client(&emu), &ctx(&emu))
        .await
        .unwrap();
    assert!(applied.report.is_success(), "{}", applied.report.to_text());
    assert_eq!(
        (
            applied.report.summary.disabled,
            applied.report.summary.updated
        ),
        (1, 2)
    );
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
}

#[tokio::test]
async fn a_412_after_the_preflight_fails_only_that_flow() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();
    for d in desired.destinations.iter_mut().take(3) {
        d.display_name = format!("{} v2", d.display_name);
    }
    let plan = plan_now(&emu, &desired, false).await;
    assert_eq!(plan.summary.update, 3);

    // Same sequence as a saved-plan apply: prepare, pre-flight, then the race, then execute.
    let resolver = Resolver::new(|_| None, root());
    let prepared = Prepared::new(&plan, &resolver, &SecretLocations::default()).unwrap();
    preflight::check(&plan, &live(&emu).await, &plan.target).unwrap();
    let raced_name = desired.destinations[1].name.to_string();
    let raced = flow_id(&plan, &raced_name);
    rename_out_of_band(&emu, &raced, "Edited in the UI meanwhile").await;

    let before = writes(&emu);
    let report = prepared
        .execute(&client(&emu), &exec_options(Mode::Saved))
        .await;
    assert_eq!(writes(&emu) - before, 3, "one PATCH per flow, no retry");
    assert_eq!(report.failures.len(), 1, "{}", report.to_text());
    let f = &report.failures[0];
    assert_eq!(f.name, raced_name);
    assert_eq!(f.kind, FailureKind::PreconditionFailed);
    assert_eq!(f.id.as_deref(), Some(raced.as_str()));
    assert_eq!(report.summary.updated, 2);
    assert!(!report.is_success());
    assert!(report.to_text().contains("re-run `destctl plan`"));

    // The raced flow stayed as the UI left it; the others were patched.
    let after = live(&emu).await;
    let name_of = |id: &str| {
        after
            .flows
            .iter()
            .find(|f| f.id.0 == id)
            .and_then(|f| f.name().map(str::to_owned))
            .unwrap()
    };
    assert_eq!(name_of(&raced), "Edited in the UI meanwhile");
    for d in [&desired.destinations[0], &desired.destinations[2]] {
        assert_eq!(name_of(&flow_id(&plan, d.name.as_str())), d.display_name);
    }
}

#[tokio::test]
async fn a_live_412_is_replanned_and_retried() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&seed_paths());
    apply_live(&emu, &desired, false).await.unwrap();
    desired.destinations[0].display_name = "Wanted name".into();
    desired.destinations[0].audiences.pop();
    let before_live = live(&emu).await;
    let plan = plan_now(&emu, &desired, false).await;
    let flow = flow_id(&plan, "campaign-s3");
    let resolver = Resolver::new(|_| None, root());
    let prepared = Prepared::new(&plan, &resolver, &SecretLocations::default()).unwrap();
    rename_out_of_band(&emu, &flow, "UI name").await;

    let c = client(&emu);
    let replanner = LiveReplanner::new(c.clone(), desired.clone(), &before_live);
    let patches = count(&emu, "PATCH /data/foundation/flowservice/flows/{id}");
    let report = prepared
        .execute(&c, &exec_options(Mode::Live(Arc::new(replanner))))
        .await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(
        report.done[0]
            .note
            .as_deref()
            .unwrap()
            .contains("after 1 re-plan")
    );
    assert_eq!(
        count(&emu, "PATCH /data/foundation/flowservice/flows/{id}") - patches,
        2
    );
    assert_eq!(
        count(&emu, "GET /data/foundation/flowservice/flows/{id}"),
        1
    );
    assert!(!plan_now(&emu, &desired, false).await.has_changes());
}

/// Edits the flow in the UI every time before re-planning: the flow keeps racing.
struct AlwaysRacing {
    inner: LiveReplanner,
    emu_state: destctl::emulator::EmulatorState,
}

impl Replanner for AlwaysRacing {
    fn replan<'a>(
        &'a self,
        name: &'a str,
        resource: Resource,
        id: &'a EntityId,
    ) -> BoxFuture<'a, Result<Option<Change>, ReplanError>> {
        Box::pin(async move {
            let fresh = self.inner.replan(name, resource, id).await?;
            self.emu_state
                .out_of_band_edit(
                    EMBEDDED_ORG_ID,
                    "prod",
                    &id.0,
                    OutOfBandEdit::SetDescription(format!("edit {}", uuid::Uuid::new_v4())),
                )
                .await?;
            Ok(fresh)
        })
    }
}

#[tokio::test]
async fn a_live_412_gives_up_after_three_replans() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&seed_paths());
    apply_live(&emu, &desired, false).await.unwrap();
    desired.destinations[0].display_name = "Wanted name".into();
    let before_live = live(&emu).await;
    let plan = plan_now(&emu, &desired, false).await;
    let flow = flow_id(&plan, "campaign-s3");
    let resolver = Resolver::new(|_| None, root());
    let prepared = Prepared::new(&plan, &resolver, &SecretLocations::default()).unwrap();
    rename_out_of_band(&emu, &flow, "UI name").await;
    let c = client(&emu);
    let racing = AlwaysRacing {
        inner: LiveReplanner::new(c.clone(), desired.clone(), &before_live),
        emu_state: emu.state().clone(),
    };
    let patches = count(&emu, "PATCH /data/foundation/flowservice/flows/{id}");
    let report = prepared
        .execute(&c, &exec_options(Mode::Live(Arc::new(racing))))
        .await;
    assert_eq!(
        count(&emu, "PATCH /data/foundation/flowservice/flows/{id}") - patches,
        4,
        "the first attempt and three retries"
    );
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].kind, FailureKind::PreconditionFailed);
    assert!(
        report.failures[0].error.contains("3 re-plans"),
        "{}",
        report.failures[0].error
    );
}

#[tokio::test]
async fn a_missing_secret_names_reference_and_location_and_sends_nothing() {
    let emu = emulator(FaultConfig::default()).await;
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let text = std::fs::read_to_string(root().join("manifests/campaign-s3.yaml"))
        .unwrap()
        .replace(
            "${file:../secrets/example/campaign-s3-access-id}",
            "${env:DESTCTL_TEST_UNSET_ACCESS_ID}",
        )
        .replace(
            "${file:../secrets/example/campaign-s3-secret-key}",
            "${file:no/such/file}",
        );
    let manifest = write(&dir, "campaign-s3.yaml", &text);
    let desired = load(&[manifest, root().join("manifests/schedules.yaml")]);
    let err = apply(
        Input::Live {
            desired: desired.clone(),
            prune: false,
        },
        &client(&emu),
        &ctx_with(&emu, Resolver::new(|_| None, &dir)),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    let redact = crate::support::snapshot::Redact::new().dir(&dir, "tmp");
    insta::assert_snapshot!("unreadable_secrets_live", redact.apply(&msg));
    assert!(
        emu.request_counts().is_empty(),
        "{:?}",
        emu.request_counts()
    );

    // A saved plan with a secret that cannot be read: named by change, nothing sent. (The
    // plan of the same manifests: relative `${file:}` references are taken from the
    // manifest's directory, so the seed manifests' would be found from anywhere.)
    let plan = plan_now(&emu, &desired, false).await;
    let before = emu.request_counts();
    let err = apply(
        Input::Saved(plan),
        &client(&emu),
        &ctx_with(&emu, Resolver::new(|_| None, &dir)),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    insta::assert_snapshot!("unreadable_secrets_saved", redact.apply(&msg));
    assert_eq!(emu.request_counts(), before);
}

#[tokio::test]
async fn no_secret_value_in_plans_reports_or_errors() {
    let emu = emulator(FaultConfig::default()).await;
    let secrets: Vec<String> = std::fs::read_dir(root().join("secrets/example"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "README.md")
        .map(|p| std::fs::read_to_string(p).unwrap().trim_end().to_owned())
        .filter(|s| s.len() >= 8)
        .collect();
    assert!(!secrets.is_empty());
    let desired = load(&all_paths());
    let applied = apply_live(&emu, &desired, false).await.unwrap();
    let mut outputs = vec![
        applied.report.to_text(),
        applied.report.to_json(),
        destctl::render::json(&applied.plan),
        format!("{:?}", applied),
    ];
    // A failing apply's error text (a 412 on a credentials push) and the live state.
    let mut changed = desired.clone();
    changed.destinations[0].connection.credentials_version += 1;
    let plan = plan_now(&emu, &changed, false).await;
    let prepared = Prepared::new(
        &plan,
        &Resolver::new(|_| None, root()),
        &SecretLocations::default(),
    )
    .unwrap();
    outputs.push(format!("{:?}", prepared.graph()));
    let report = prepared
        .execute(&client(&emu), &exec_options(Mode::Saved))
        .await;
    outputs.push(report.to_text());
    outputs.push(format!("{:?}", live(&emu).await));
    for out in &outputs {
        for s in &secrets {
            assert!(
                !out.contains(s.as_str()),
                "a secret value leaked into:\n{out}"
            );
        }
    }
}

#[tokio::test]
async fn saved_plan_for_another_target_is_refused() {
    let emu = emulator(FaultConfig::default()).await;
    let desired = load(&seed_paths());
    let mut plan = plan_now(&emu, &desired, false).await;
    plan.target.endpoint = "https://platform.adobe.io".into();
    let err = apply(Input::Saved(plan), &client(&emu), &ctx(&emu))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApplyError::Preflight(PreflightError::WrongTarget { .. })
        ),
        "{err}"
    );
    assert_eq!(writes(&emu), 0);
}
