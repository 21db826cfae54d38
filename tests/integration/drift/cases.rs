//! The drift states, the unmanaged flows, coverage and the ignore list, and the plan's
//! "changed outside destctl" part.

use super::*;
use crate::support::snapshot::Redact;

#[tokio::test]
async fn in_sync_after_apply_exits_0() {
    let s = applied().await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["format_version"], 1);
    let n = report["destinations"].as_array().unwrap().len();
    assert!(n >= 14, "every example Destination: {n}");
    assert_eq!(report["summary"]["destinations"]["in_sync"], n);
    assert_eq!(report["coverage"]["percent"], 100.0);
    // Read-only, list calls only: the same lists as plan (five Flow Service lists, the Campaign
    // flow spec, and the Data Prep mapping sets list since current cards are managed).
    let before = s.emu.request_counts();
    s.run(&["drift"]).await;
    let after = s.emu.request_counts();
    let new: Vec<&String> = after
        .iter()
        .filter(|(k, n)| before.get(*k) != Some(n))
        .map(|(k, _)| k)
        .collect();
    assert!(
        new.iter()
            .all(|k| k.starts_with("GET ") || k.contains("/ims/")),
        "{new:?}"
    );
    let flow_service: u64 = after
        .iter()
        .filter(|(k, _)| !k.contains("/ims/"))
        .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
        .sum();
    assert_eq!(flow_service, 7, "{after:?}");
}

#[tokio::test]
async fn an_out_of_band_edit_is_drift_naming_destination_field_who_and_when() {
    let s = applied().await;
    let id = s.flow_id("campaign-s3").await;
    s.edit(&id, "jane@acme.com", json!({"disable": true})).await;
    s.edit(&id, "jane@acme.com", json!({"removeAudience": LOYALTY}))
        .await;
    let out = s.run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "campaign-s3 (Adobe Campaign exports (S3)): changed outside destctl",
        "[high  ] state: enabled → disabled",
        "audience Loyalty Segment (25768be6-ebd5-45cc-8913-12fb3f348613) removed outside destctl",
        "last changed by jane@acme.com (exc_app) at 2026-11-30T08:00:00Z",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "campaign-s3");
    assert_eq!(d["state"], "changed_outside");
    assert_eq!(
        fields(d),
        [
            ("state".to_owned(), "outside".to_owned()),
            ("audience".to_owned(), "outside".to_owned())
        ]
    );
    let x = &d["differences"][1];
    assert_eq!(x["audience"], LOYALTY);
    assert_eq!(x["severity"], "high");
    assert_eq!(x["changed_by"]["by"], "jane@acme.com");
    assert_eq!(x["changed_by"]["at"], EDIT_AT);
    let n = report["destinations"].as_array().unwrap().len();
    assert_eq!(report["summary"]["destinations"]["in_sync"], n - 1);
    // A live apply shows them with its plan, and reverts them as the manifests say.
    let out = s.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Changed outside destctl since the last apply")
            && err.contains("jane@acme.com"),
        "{err}"
    );
    let (code, _) = drift_json(&s).await;
    assert_eq!(code, 0);
}

#[tokio::test]
async fn a_manifest_edit_is_pending_not_drift() {
    let s = applied().await;
    // A card that exports by profile selectors: drift does not yet compare the exported
    // columns of a current card's mapping set (see docs/drift.md).
    s.edit_manifest(
        "amazon-s3-legacy.yaml",
        "    - person.name.lastName\n",
        "    - person.name.lastName\n    - mobilePhone.number\n",
    );
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "pending is not drift: {report:#}");
    let d = destination(&report, "amazon-s3-legacy");
    assert_eq!(d["state"], "pending");
    assert_eq!(fields(d), [("attribute".to_owned(), "pending".to_owned())]);
    assert!(d["differences"][0].get("changed_by").is_none());
    let text = stdout(&s.run(&["drift"]).await);
    assert!(
        text.contains("attribute mobilePhone.number to add"),
        "{text}"
    );
    // apply records the new fingerprint in the same PATCH that adds the attribute: one write.
    let flow_patches = "PATCH /data/foundation/flowservice/flows/{id}";
    let writes = crate::support::apply::writes(&s.emu);
    let patches = crate::support::apply::count(&s.emu, flow_patches);
    let out = s.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        crate::support::apply::count(&s.emu, flow_patches) - patches,
        1
    );
    let lock_writes = 2; // the apply lock's lease: create and delete
    assert_eq!(
        crate::support::apply::writes(&s.emu) - writes,
        1 + lock_writes
    );
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0);
    assert_eq!(destination(&report, "amazon-s3-legacy")["state"], "in_sync");
}

#[tokio::test]
async fn both_at_once_are_told_apart() {
    let s = applied().await;
    // campaign-s3: a new attribute in Git, and a schedule changed in the UI.
    s.edit_manifest(
        "campaign-s3.yaml",
        "    - segmentMembership.status\n",
        "    - segmentMembership.status\n    - mobilePhone.number\n",
    );
    let id = s.flow_id("campaign-s3").await;
    let schedule = json!({"frequency": "DAILY", "startDate": "2026-01-01", "startTime": "09:00"});
    s.edit(
        &id,
        "bob@acme.com",
        json!({"schedule": {"audience": BIKERS, "schedule": schedule}}),
    )
    .await;
    // azure-blob: only its location changed in the UI (the target connection records it).
    let blob = s.flow_id("azure-blob").await;
    s.edit(
        &blob,
        "ops@acme.com",
        json!({"location": {"path": "/moved"}}),
    )
    .await;
    // sftp-password: only its manifest changed.
    s.edit_manifest(
        "sftp-password.yaml",
        "  displayName: SFTP exports (password)\n",
        "  displayName: SFTP exports (password, v2)\n",
    );
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "campaign-s3");
    assert_eq!(d["state"], "both");
    assert_eq!(
        fields(d),
        [
            ("schedule".to_owned(), "outside".to_owned()),
            ("attribute".to_owned(), "pending".to_owned())
        ]
    );
    assert_eq!(d["differences"][0]["audience"], BIKERS);
    assert_eq!(d["differences"][0]["changed_by"]["by"], "bob@acme.com");
    let b = destination(&report, "azure-blob");
    assert_eq!(b["state"], "changed_outside");
    assert_eq!(fields(b), [("location".to_owned(), "outside".to_owned())]);
    assert_eq!(b["differences"][0]["resource"], "targetConnection");
    assert_eq!(b["differences"][0]["changed_by"]["by"], "ops@acme.com");
    assert_eq!(destination(&report, "sftp-password")["state"], "pending");

    // plan lists the out-of-band part apart from its changes, and apply reverts it.
    let out = s.run(&["plan", "--format", "json"]).await;
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outside: Vec<(&str, &str)> = plan["changed_outside"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| {
            o["differences"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |x| (o["name"].as_str().unwrap(), x["field"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        outside,
        [("azure-blob", "location"), ("campaign-s3", "schedule")]
    );
    let text = stdout(&s.run(&["plan"]).await);
    assert!(
        text.contains("Changed outside destctl since the last apply"),
        "{text}"
    );
    assert!(
        text.contains("path=/moved")
            && text.contains("— last changed by ops@acme.com (exc_app) at 2026-11-30T08:00:00Z"),
        "{text}"
    );
    let md = stdout(&s.run(&["plan", "--format", "markdown"]).await);
    assert!(md.contains("> [!CAUTION]"), "{md}");
    // A saved plan carries them too, and still reads as format_version 1.
    let out = s.run(&["plan", "--out", "plan.json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(saved["changed_outside"].as_array().unwrap().len(), 2);
    let out = s
        .run(&["apply", "--plan", "plan.json", "--auto-approve"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "{report:#}");
    let n = report["destinations"].as_array().unwrap().len();
    assert_eq!(report["summary"]["destinations"]["in_sync"], n);
}

/// An audience added in Git while the UI changes another audience's schedule: each difference
/// gets its own origin although both touch the audiences.
#[tokio::test]
async fn an_added_audience_and_an_out_of_band_schedule_are_told_apart() {
    let s = applied().await;
    let path = s.dir.join("manifests/campaign-s3.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "---\napiVersion: destctl/v1\nkind: Audience\nmetadata:\n  name: vip\nspec:\n  segmentId: c0ffee00-0000-4000-8000-000000000003\n  displayName: VIP\n  activations:\n    - destination: campaign-s3\n      schedule: daily-6am\n",
    );
    std::fs::write(&path, text).unwrap();
    let id = s.flow_id("campaign-s3").await;
    let schedule = json!({"frequency": "DAILY", "startDate": "2026-01-01", "startTime": "09:00"});
    s.edit(
        &id,
        "bob@acme.com",
        json!({"schedule": {"audience": BIKERS, "schedule": schedule}}),
    )
    .await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "campaign-s3");
    assert_eq!(d["state"], "both");
    assert_eq!(
        fields(d),
        [
            ("audience".to_owned(), "pending".to_owned()),
            ("schedule".to_owned(), "outside".to_owned())
        ]
    );
}

#[tokio::test]
async fn an_account_changed_outside_destctl_is_reported_without_secrets() {
    let s = applied().await;
    let id = s.flow_id("sftp-password").await;
    s.edit(
        &id,
        "ops@acme.com",
        json!({"account": {"domain": "sftp.elsewhere.example.com", "password": "leaked"}}),
    )
    .await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "sftp-password");
    assert_eq!(d["state"], "changed_outside");
    assert_eq!(fields(d), [("account".to_owned(), "outside".to_owned())]);
    let x = &d["differences"][0];
    assert_eq!(x["resource"], "connection");
    assert_eq!(x["severity"], "high");
    assert_eq!(x["live"]["params"]["domain"], "sftp.elsewhere.example.com");
    assert_eq!(x["changed_by"]["by"], "ops@acme.com");
    // Secret params are never compared nor shown.
    let text = stdout(&s.run(&["drift"]).await);
    assert!(
        !text.contains("leaked") && !report.to_string().contains("leaked"),
        "{text}"
    );
    for want in [
        "account: SFTP with Password domain=sftp.acme.example.com",
        "→ SFTP with Password domain=sftp.elsewhere.example.com",
        "last changed by ops@acme.com",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
}

#[tokio::test]
async fn a_deleted_managed_flow_is_missing() {
    let s = applied().await;
    let id = s.flow_id("sfmc-sftp-password").await;
    s.edit(&id, "jane@acme.com", json!({"delete": true})).await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "sfmc-sftp-password");
    assert_eq!(d["state"], "missing");
    assert_eq!(d["differences"][0]["field"], "object");
    assert_eq!(d["differences"][0]["resource"], "flow");
    assert_eq!(d["differences"][0]["severity"], "high");
    let text = stdout(&s.run(&["drift"]).await);
    assert!(
        text.contains("sfmc-sftp-password (Salesforce Marketing Cloud exports (SFTP, password)): missing (deleted outside destctl)"),
        "{text}"
    );
    assert!(text.contains("flow deleted outside destctl"), "{text}");
}

#[tokio::test]
async fn a_marker_without_fingerprint_reports_origin_unknown() {
    let s = applied().await;
    let id = s.flow_id("campaign-s3").await;
    // As written by destctl before fingerprints existed.
    s.edit(
        &id,
        "jane@acme.com",
        json!({"description": "Profiles for Adobe Campaign email campaigns [destctl:campaign-s3]"}),
    )
    .await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "an old marker alone is no difference: {report:#}");
    s.edit(&id, "jane@acme.com", json!({"disable": true})).await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    let d = destination(&report, "campaign-s3");
    assert_eq!(d["state"], "origin_unknown");
    assert_eq!(fields(d), [("state".to_owned(), "unknown".to_owned())]);
}

/// A flow made outside destctl with Flow Service requests (as the UI or curl would: no
/// marker anywhere): an Amazon S3 account, location, Profile store source and flow named
/// `name`, exporting `audience` when given. Returns the flow id.
async fn ui_flow(s: &Workspace, name: &str, audience: Option<&str>) -> String {
    use destctl::catalog::{FlowSpecRef, PROFILE_STORE_SPEC_ID, Platform};
    // The legacy S3 card: the location a UI user of the older card would have made.
    use destctl::wire::Resource;
    let c = crate::support::apply::client(&s.emu);
    let info = Platform::AmazonS3Legacy.info();
    let spec = json!({"id": info.connection_spec_id, "version": "1.0"});
    let profile = json!({"id": PROFILE_STORE_SPEC_ID, "version": "1.0"});
    let FlowSpecRef::Id(flow_spec) = info.flow_spec else {
        panic!("Amazon S3 has a fixed flow spec")
    };
    let base = c
        .create(
            Resource::Connection,
            &json!({"name": format!("{name} profile"), "connectionSpec": profile}),
        )
        .await
        .unwrap();
    let source = c
        .create(
            Resource::SourceConnection,
            &json!({"name": format!("{name} source"), "connectionSpec": profile,
                    "baseConnectionId": base.id.0, "data": {"format": "CSV", "schema": null}, "params": {}}),
        )
        .await
        .unwrap();
    let account = c
        .create(
            Resource::Connection,
            &json!({"name": format!("{name} account"), "connectionSpec": spec,
                    "auth": {"specName": "Access Key", "params": {"s3AccessKey": "AKIADESTCTLFAKE23456", "s3SecretKey": "fake/Secret+Key/For/Destctl/Examples0000"}}}),
        )
        .await
        .unwrap();
    let target = c
        .create(
            Resource::TargetConnection,
            &json!({"name": format!("{name} location"), "connectionSpec": spec,
                    "baseConnectionId": account.id.0, "data": {"format": "CSV", "schema": null},
                    "params": {"mode": "S3", "bucketName": "partner-exports", "path": "/ui", "format": "CSV"}}),
        )
        .await
        .unwrap();
    let flow = c
        .create(
            Resource::Flow,
            &json!({"name": name, "description": "made in the UI",
                    "flowSpec": {"id": flow_spec, "version": "1.0"},
                    "sourceConnectionIds": [source.id.0], "targetConnectionIds": [target.id.0],
                    "transformations": [{"name": "GeneralTransform", "params": {
                        "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
        )
        .await
        .unwrap();
    if let Some(id) = audience {
        let selector = json!({"type": "PLATFORM_SEGMENT", "value": {"id": id,
            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
            "exportMode": "DAILY_FULL_EXPORT",
            "schedule": {"frequency": "DAILY", "startDate": "2026-01-01", "startTime": "09:00"}}});
        s.edit(
            &flow.id.0,
            "jane@acme.com",
            json!({"patch": [{"op": "add",
                "path": "/transformations/0/params/segmentSelectors/selectors/-", "value": selector}]}),
        )
        .await;
    } else {
        s.edit(
            &flow.id.0,
            "jane@acme.com",
            json!({"description": "made in the UI"}),
        )
        .await;
    }
    flow.id.0
}

/// Two flows made in the UI; the first exports an audience the manifests activate.
async fn unmanaged_flows(s: &Workspace) -> Vec<String> {
    vec![
        ui_flow(s, "ui-made-0", Some(LOYALTY)).await,
        ui_flow(s, "ui-made-1", None).await,
    ]
}

#[tokio::test]
async fn unmanaged_flows_coverage_and_the_ignore_list() {
    let s = applied().await;
    let ids = unmanaged_flows(&s).await;
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2, "unmanaged flows are drift: {report:#}");
    // Managed flows: one per Destination, and the DatasetExports' flows.
    let n = report["coverage"]["managed"].as_u64().unwrap();
    assert!(n >= report["destinations"].as_array().unwrap().len() as u64);
    assert_eq!(report["coverage"]["total"], n + 2);
    let percent = (n as f64 * 1000.0 / (n + 2) as f64).round() / 10.0;
    assert_eq!(report["coverage"]["percent"], percent);
    let unmanaged = report["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 2);
    assert_eq!(unmanaged[0]["id"], ids[0].as_str());
    assert_eq!(
        unmanaged[0]["shared_audiences"],
        json!([{"segment_id": LOYALTY, "destinations": ["campaign-s3"]}])
    );
    assert!(unmanaged[1].get("shared_audiences").is_none());
    let text = stdout(&s.run(&["drift"]).await);
    assert!(
        text.contains(&format!(
            "warning: it exports audience {LOYALTY}, which the manifests activate to campaign-s3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Coverage: {n} of {} destination flows managed ({percent:.1}%)",
            n + 2
        )),
        "{text}"
    );

    // The default ignore file, by name glob: one flow left out of the report and coverage.
    std::fs::write(
        s.dir.join(".destctlignore"),
        "# made by the campaign team\nui-made-1\n",
    )
    .unwrap();
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 2);
    assert_eq!(report["coverage"]["total"], n + 1);
    assert_eq!(report["unmanaged"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["ignored"],
        json!([{"id": ids[1], "name": "ui-made-1", "pattern": "ui-made-1"}])
    );
    // Another file, by id and glob: nothing left, in sync.
    let file = s.dir.join("ignore.txt");
    std::fs::write(&file, format!("{}\nui-made-*\n", ids[0])).unwrap();
    let out = s
        .run(&["drift", "--ignore-file", file.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("Ignored: 2 unmanaged flows"));
    // A bad line: exit 1 naming the file and line, no request sent.
    std::fs::write(&file, "ok\n*\n").unwrap();
    let before = crate::support::apply::flow_service_requests(&s.emu);
    let out = s
        .run(&["drift", "--ignore-file", file.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("ignore.txt: line 2:"), "{err}");
    assert_eq!(crate::support::apply::flow_service_requests(&s.emu), before);
}

/// The text and markdown reports of a sandbox with every state.
#[tokio::test]
async fn text_and_markdown_reports() {
    let s = applied().await;
    let campaign = s.flow_id("campaign-s3").await;
    s.edit(&campaign, "jane@acme.com", json!({"disable": true}))
        .await;
    s.edit(
        &campaign,
        "jane@acme.com",
        json!({"removeAudience": LOYALTY}),
    )
    .await;
    s.edit(
        &campaign,
        "jane@acme.com",
        json!({"rename": "Campaign (UI)"}),
    )
    .await;
    s.edit(
        &campaign,
        "jane@acme.com",
        json!({"filenameTemplate": {"audience": BIKERS, "template": "%DESTINATION_NAME%_%SEGMENT_ID%"}}),
    )
    .await;
    let blob = s.flow_id("azure-blob").await;
    s.edit(
        &blob,
        "ops@acme.com",
        json!({"location": {"path": "/moved"}}),
    )
    .await;
    // A card that exports by profile selectors: drift does not yet compare the exported
    // columns of a current card's mapping set (see docs/drift.md).
    s.edit_manifest(
        "amazon-s3-legacy.yaml",
        "    - person.name.lastName\n",
        "    - person.name.lastName\n    - mobilePhone.number\n",
    );
    let gone = s.flow_id("sfmc-sftp-password").await;
    s.edit(&gone, "jane@acme.com", json!({"delete": true}))
        .await;
    unmanaged_flows(&s).await;
    let redact = Redact::new().text(s.emu.base_url(), "emulator");
    let text = s.run(&["drift"]).await;
    assert_eq!(text.status.code(), Some(2));
    insta::assert_snapshot!("drift_text", redact.apply(&stdout(&text)));
    let md = s.run(&["drift", "--format", "markdown"]).await;
    assert_eq!(md.status.code(), Some(2));
    insta::assert_snapshot!("drift_markdown", redact.apply(&stdout(&md)));
}

#[tokio::test]
async fn invalid_manifests_exit_1_without_a_request() {
    let s = applied().await;
    s.edit_manifest(
        "amazon-s3.yaml",
        "  platform: amazon-s3\n",
        "  platform: nowhere\n",
    );
    let before = crate::support::apply::flow_service_requests(&s.emu);
    let out = s.run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("amazon-s3.yaml:"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(crate::support::apply::flow_service_requests(&s.emu), before);
}

#[tokio::test]
async fn a_column_edit_on_a_current_card_is_pending_then_in_sync_after_apply() {
    let s = applied().await;
    s.edit_manifest(
        "amazon-s3.yaml",
        "    - person.name.lastName\n",
        "    - person.name.lastName\n    - mobilePhone.number\n",
    );
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "pending is not drift: {report:#}");
    let d = destination(&report, "amazon-s3");
    assert_eq!(d["state"], "pending", "{d:#}");
    let out = s.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(destination(&report, "amazon-s3")["state"], "in_sync");
}
