//! The example repository on the current cards, end to end against the emulator: it applies,
//! every current card's objects have the current shape (spec ids of the reference,
//! `Server-to-server` file options, the V2 flow), the legacy example keeps the legacy shape,
//! a re-plan finds nothing, and edits of file options and identity keys plan exactly one op.

use crate::support::apply::{all_paths, apply_live, emulator, get, live, load, plan_now};
use destctl::catalog::{Card, Platform};
use destctl::emulator::FaultConfig;
use destctl::plan::Action;
use destctl::wire::Resource;
use serde_json::json;

#[tokio::test]
async fn the_example_repository_applies_on_the_current_cards_and_converges() {
    let emu = emulator(FaultConfig::default()).await;
    let desired = load(&all_paths());
    let applied = apply_live(&emu, &desired, false).await.unwrap();
    assert!(
        applied.plan.changes.len() >= 95,
        "{}",
        applied.plan.changes.len()
    );
    let again = plan_now(&emu, &desired, false).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    let state = live(&emu).await;
    let managed = state.managed();
    let mut current_seen = std::collections::BTreeSet::new();
    for d in &desired.destinations {
        let info = d.platform.info();
        let m = &managed[d.name.as_str()];
        let flow = get(&emu, Resource::Flow, &m.flow.as_ref().unwrap().id.0).await;
        let target = get(
            &emu,
            Resource::TargetConnection,
            &m.target_connection.as_ref().unwrap().id.0,
        )
        .await;
        let params = &flow["transformations"][0]["params"];
        assert_eq!(
            target["connectionSpec"]["id"], info.connection_spec_id,
            "{}",
            d.name
        );
        match info.card {
            Card::Current => {
                current_seen.insert(d.platform);
                let destctl::catalog::FlowSpecRef::Id(spec) = info.flow_spec else {
                    unreachable!()
                };
                assert_eq!(flow["flowSpec"]["id"], spec, "{}", d.name);
                assert_eq!(target["params"]["mode"], "Server-to-server", "{}", d.name);
                assert!(target["params"]["fileType"].is_string(), "{}", d.name);
                assert!(target["params"]["compression"].is_string(), "{}", d.name);
                assert!(target["params"].get("format").is_none(), "{}", d.name);
                assert!(params["profileSelectors"].get("mandatoryFields").is_none());
                if !d.mandatory_attributes.is_empty() {
                    assert_eq!(
                        params["mandatoryFields"],
                        json!(["personalEmail.address"]),
                        "{}",
                        d.name
                    );
                }
            }
            Card::Legacy => {
                assert!(params.get("mandatoryFields").is_none(), "{}", d.name);
                assert_eq!(target["params"]["format"], "CSV", "{}", d.name);
            }
        }
    }
    let expected: std::collections::BTreeSet<_> = Platform::all()
        .filter(|p| p.info().card == Card::Current)
        .collect();
    assert_eq!(
        current_seen, expected,
        "every current card is in the examples"
    );

    // Specific shapes: S3's encryption and CSV options, the identity key of the assumed-role
    // example, the legacy example on the legacy spec.
    let s3 = &managed["amazon-s3"];
    let account = get(
        &emu,
        Resource::Connection,
        &s3.connection.as_ref().unwrap().id.0,
    )
    .await;
    assert_eq!(account["encryption"]["params"]["encryptionAlgo"], "PGPGPG");
    assert!(
        account["encryption"]["params"]["publicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    let target = get(
        &emu,
        Resource::TargetConnection,
        &s3.target_connection.as_ref().unwrap().id.0,
    )
    .await;
    assert_eq!(target["params"]["csvOptions"]["delimiter"], ";");
    let role = &managed["amazon-s3-role"];
    let flow = get(&emu, Resource::Flow, &role.flow.as_ref().unwrap().id.0).await;
    assert_eq!(
        flow["transformations"][0]["params"]["primaryFields"],
        json!([{"fieldType": "IDENTITY", "identityNamespace": "ECID"}])
    );
    let role_account = get(
        &emu,
        Resource::Connection,
        &role.connection.as_ref().unwrap().id.0,
    )
    .await;
    assert_eq!(role_account["auth"]["specName"], "Assumed Role");
    let dlz = &managed["data-landing-zone"];
    let dlz_account = get(
        &emu,
        Resource::Connection,
        &dlz.connection.as_ref().unwrap().id.0,
    )
    .await;
    assert!(dlz_account.get("auth").is_none());
    let legacy = &managed["amazon-s3-legacy"];
    let flow = get(&emu, Resource::Flow, &legacy.flow.as_ref().unwrap().id.0).await;
    assert_eq!(
        flow["flowSpec"]["id"],
        destctl::catalog::CLOUD_STORAGE_FLOW_SPEC_ID
    );
    assert_eq!(
        flow["transformations"][0]["params"]["profileSelectors"]["mandatoryFields"],
        json!(["personalEmail.address"])
    );
}

#[tokio::test]
async fn file_option_and_identity_key_edits_plan_one_op_each_and_converge() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    apply_live(&emu, &desired, false).await.unwrap();

    let d = desired
        .destinations
        .iter_mut()
        .find(|d| d.name.as_str() == "azure-blob")
        .unwrap();
    d.location.files.as_mut().unwrap().file_type = destctl::catalog::FileType::Parquet;
    d.identity_deduplication_keys.push("ECID".into());
    let plan = plan_now(&emu, &desired, false).await;
    let ops: Vec<(Action, Resource, Vec<String>)> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.action(),
                c.resource(),
                c.patch()
                    .map(|p| p.iter().map(|o| format!("{:?} {}", o.op, o.path)).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            // Each patch also records the new fingerprint in the marker (docs/drift.md).
            (
                Action::Update,
                Resource::TargetConnection,
                vec![
                    "Replace /params".to_owned(),
                    "Replace /description".to_owned()
                ]
            ),
            (
                Action::Update,
                Resource::Flow,
                vec![
                    "Replace /transformations/0/params/primaryFields".to_owned(),
                    "Replace /description".to_owned()
                ]
            ),
        ]
    );
    let replaced = &plan.changes[0].patch().unwrap()[0];
    assert_eq!(replaced.value.as_ref().unwrap()["fileType"], "PARQUET");
    apply_live(&emu, &desired, false).await.unwrap();
    assert!(plan_now(&emu, &desired, false).await.changes.is_empty());
}

/// The PGP key is read like a credential: a missing key file stops `apply` before its first
/// request, naming where the manifest refers to it.
#[test]
fn a_missing_pgp_key_stops_apply_before_any_request() {
    use crate::support::cli::Cli;
    let dir = crate::support::tempdir();
    for sub in ["manifests", "secrets/example"] {
        crate::support::copy_dir(&crate::support::root().join(sub), &dir.join(sub));
    }
    std::fs::remove_file(dir.join("secrets/example/pgp-public-key.asc")).unwrap();
    let out = Cli::in_dir(&dir).args(["apply", "--auto-approve"]).output();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pgp-public-key.asc"), "{err}");
    assert!(err.contains("manifests/amazon-s3.yaml:"), "{err}");
    assert!(err.contains("publicKey"), "{err}");
    // Nothing was created: the next plan still creates everything.
    std::fs::write(
        dir.join("secrets/example/pgp-public-key.asc"),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nfake\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    .unwrap();
    let out = Cli::in_dir(&dir).args(["plan"]).output();
    let plan = String::from_utf8(out.stdout).unwrap();
    assert!(
        plan.contains("Plan: 106 to create, 0 to update, 0 to delete."),
        "{plan}"
    );
}

/// Moving a Destination from a retired card to its current card is a connection spec change,
/// which the Flow Service refuses: the plan says so and names both platforms.
#[tokio::test]
async fn moving_a_retired_card_to_the_current_card_is_refused_with_a_clear_error() {
    let emu = emulator(FaultConfig::default()).await;
    let mut desired = load(&all_paths());
    desired
        .destinations
        .retain(|d| d.name.as_str() == "amazon-s3-legacy");
    desired.dataset_exports.clear();
    apply_live(&emu, &desired, false).await.unwrap();
    let current = load(&all_paths())
        .destinations
        .into_iter()
        .find(|d| d.name.as_str() == "amazon-s3")
        .unwrap();
    let d = &mut desired.destinations[0];
    d.platform = Platform::AmazonS3;
    d.location = current.location;
    d.connection = current.connection;
    let err = destctl::plan::build_plan(
        &desired,
        &live(&emu).await,
        &destctl::plan::PlanOptions {
            target: destctl::plan::PlanTarget {
                endpoint: emu.base_url(),
                sandbox: "prod".into(),
            },
            prune: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("uses the connection spec of amazon-s3-legacy"),
        "{err}"
    );
    assert!(
        err.contains("the manifest says platform amazon-s3"),
        "{err}"
    );
}
