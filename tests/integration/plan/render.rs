//! The three plan formats on a hand-built example with every kind of change.

use crate::support::in_own_process;
use crate::support::plan::*;
use destctl::catalog::ExportMode;
use destctl::model::{DesiredDestination, ResourceName};
use destctl::plan::{Plan, PlanDetails, build};
use destctl::render::{self, Format, MARKDOWN_MAX_CHARS};

/// Live: campaign-s3 and old-sftp applied. Desired: campaign-s3 changed in every way, a new
/// partner-sftp, old-sftp gone (pruned).
fn example() -> (Plan, PlanDetails) {
    let mut old = sftp();
    old.name = ResourceName::parse("old-sftp").unwrap();
    old.display_name = "Old SFTP".into();
    let mut svc = FakeService::default();
    let first = build(&state(vec![campaign(), old]), &svc.live(), &opts(false))
        .unwrap()
        .0;
    svc.apply(&first);

    let mut c = campaign();
    c.display_name = "Adobe Campaign exports (v2)".into();
    c.audiences
        .retain(|a| !a.segment_id.as_str().starts_with("1b2c"));
    c.audiences[0].schedule = every_6h_until("2026-03-01");
    c.audiences[0].export_mode = ExportMode::FirstFullThenIncremental;
    c.audiences.push(audience(
        "c0ffee00-0000-4000-8000-000000000003",
        Some("VIP customers"),
        ExportMode::DailyFullExport,
        daily_at(6),
    ));
    c.attributes.push(attr("mobilePhone.number"));
    c.location
        .params
        .insert("path".into(), "/campaign/v2".into());
    c.connection.credentials_version = 2;
    c.enabled = false;
    build(&state(vec![c, sftp()]), &svc.live(), &opts(true)).unwrap()
}

#[test]
fn text() {
    let (plan, details) = example();
    let out = render::render(Format::Text, &plan, Some(&details), false);
    assert!(!out.contains('\x1b'));
    assert!(
        out.ends_with("Plan: 5 to create, 4 to update, 5 to delete.\n"),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{out}"))
    };
    assert_eq!(
        at("credentials pushed again"),
        at("~ update connection ") + 1,
        "{out}"
    );
    assert_eq!(
        at("location S3 bucketName=acme-exports"),
        at("~ update targetConnection ") + 1,
        "{out}"
    );
    assert!(at("~ update flow ") < at("rename "), "{out}");
    assert!(
        at("~ update targetConnection ") < at("~ update flow "),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn text_in_colour() {
    let (plan, details) = example();
    let out = render::render(Format::Text, &plan, Some(&details), true);
    assert!(out.contains("\x1b[32m+\x1b[0m"));
    assert!(out.contains("\x1b[33m~\x1b[0m"));
    assert!(out.contains("\x1b[31m-\x1b[0m"));
}

#[test]
fn text_without_details_from_a_saved_plan() {
    let (plan, _) = example();
    let saved: Plan = serde_json::from_str(&render::json(&plan)).unwrap();
    assert_eq!(saved, plan);
    insta::assert_snapshot!(render::render(Format::Text, &saved, None, false));
}

#[test]
fn json() {
    let (plan, details) = example();
    let out = render::render(Format::Json, &plan, Some(&details), true);
    assert_eq!(out, render::json(&plan));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "target",
            "digest",
            "summary",
            "changes",
            "left_in_place"
        ][..5]
    );
    insta::assert_snapshot!(out);
}

#[test]
fn markdown() {
    let (plan, details) = example();
    let out = render::render(Format::Markdown, &plan, Some(&details), true);
    let summary = out.find("Plan: 5 to create").unwrap();
    let first_section = out.find("### ").unwrap();
    assert!(summary < first_section);
    let warning = out.find("> [!WARNING]\n> This plan **deletes**").unwrap();
    let delete = out.find("`-` delete flow").unwrap();
    assert!(warning < delete);
    insta::assert_snapshot!(out);
}

#[test]
fn no_changes() {
    let mut svc = FakeService::default();
    let (plan, _) = build(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    svc.apply(&plan);
    let (plan, details) = build(&state(vec![campaign()]), &svc.live(), &opts(false)).unwrap();
    let text = render::render(Format::Text, &plan, Some(&details), false);
    insta::assert_snapshot!("no_changes_text", text);
    let md = render::render(Format::Markdown, &plan, Some(&details), false);
    insta::assert_snapshot!("no_changes_markdown", md);
}

#[test]
fn markdown_stays_under_the_comment_limit() {
    let mut dests: Vec<DesiredDestination> = Vec::new();
    for i in 0..60 {
        let mut d = campaign();
        d.name = ResourceName::parse(&format!("dest-{i:03}")).unwrap();
        for j in 0..40 {
            d.audiences.push(audience(
                &format!("seg-{i:03}-{j:03}"),
                Some("An audience with a reasonably long display name"),
                ExportMode::DailyFullExport,
                daily_at(1),
            ));
        }
        dests.push(d);
    }
    let live = destctl::live::LiveState {
        campaign_flow_spec_id: Some("spec".into()),
        ..Default::default()
    };
    let (plan, details) = build(&state(dests), &live, &opts(false)).unwrap();
    let full_text = render::render(Format::Text, &plan, Some(&details), false);
    assert!(full_text.len() > MARKDOWN_MAX_CHARS);
    let md = render::render(Format::Markdown, &plan, Some(&details), false);
    assert!(md.chars().count() <= MARKDOWN_MAX_CHARS, "{}", md.len());
    assert!(md.contains("truncated to stay under 65000 characters"));
    assert!(md.starts_with("## destctl plan\n\n**Plan: 300 to create"));
}

#[test]
fn secret_values_never_appear() {
    // The plan never reads secrets: even with the variables set, only references show.
    let values = [
        ("CAMPAIGN_ACCESS_ID", "AKIAVALUEOFTHEACCESS"),
        ("SFTP_PASSWORD", "hunter2-plaintext-password"),
    ];
    let envs: Vec<(&str, &std::ffi::OsStr)> = values
        .iter()
        .map(|(k, v)| (*k, std::ffi::OsStr::new(v)))
        .collect();
    if !in_own_process(
        concat!(module_path!(), "::secret_values_never_appear"),
        &envs,
    ) {
        return;
    }
    for (k, v) in values {
        assert_eq!(std::env::var(k).as_deref(), Ok(v));
    }
    let (plan, details) = example();
    for format in [Format::Text, Format::Json, Format::Markdown] {
        let out = render::render(format, &plan, Some(&details), false);
        for (k, v) in values {
            assert!(!out.contains(v), "{format:?} shows the value of {k}");
        }
        if format != Format::Text {
            assert!(out.contains("${env:CAMPAIGN_ACCESS_ID}"), "{format:?}");
        }
    }
}
