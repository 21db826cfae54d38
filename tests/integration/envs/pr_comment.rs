//! The pull-request comment of the example repository's first plan (19 new Destinations):
//! under 65,000 characters, with every Destination's platform, account, location and
//! audiences with schedules visible outside `<details>`; raw bodies and patches only inside
//! `<details>`, and those are what is dropped to fit.

use super::findings::{example_repo, run, text};
use destctl::model::ParamValue;

/// The comment without its `<details>` blocks: what a reviewer sees without a click.
fn visible(md: &str) -> String {
    let mut out = String::new();
    let mut rest = md;
    while let Some(i) = rest.find("<details>") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find("</details>")
            .map_or(rest.len(), |e| i + e + "</details>".len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_first_plan_of_manifests_fits_and_shows_every_destination() {
    let dir = example_repo();
    let out = run(&dir, &["plan", "--format", "markdown"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    let shown = visible(&md);
    assert!(!shown.contains("```"), "raw bodies outside <details>");
    assert!(
        md.contains("<details>"),
        "the budget leaves room for some raw bodies"
    );

    let desired = destctl::manifest::load(&[dir.join("manifests")])
        .unwrap()
        .desired;
    assert_eq!(desired.destinations.len(), 19);
    let mut audiences = 0;
    for d in &desired.destinations {
        let name = d.name.as_str();
        let row = shown
            .lines()
            .find(|l| l.starts_with("| `+` | `") && l.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("no overview row for {name}"));
        assert!(row.contains(d.platform.info().display_name), "{row}");
        match d.connection.auth {
            Some(auth) => assert!(row.contains(auth.spec_name()), "{row}"),
            None => assert!(row.contains("no account"), "{row}"),
        }
        for (k, v) in &d.connection.params {
            if let ParamValue::Literal(v) = v {
                assert!(row.contains(v.as_str()), "{name}: account {k} not in {row}");
            }
        }
        for v in d.location.params.values() {
            assert!(
                row.contains(v.as_str()),
                "{name}: location {v} not in {row}"
            );
        }
        let section = shown
            .split("\n### ")
            .find(|s| s.starts_with(&format!("`{name} (")))
            .unwrap_or_else(|| panic!("no section for {name}"));
        for a in &d.audiences {
            audiences += 1;
            let label = format!(
                "{} ({})",
                a.display_name.as_deref().unwrap_or_default(),
                a.segment_id.as_str()
            );
            let line = section
                .lines()
                .find(|l| l.contains(&label))
                .unwrap_or_else(|| panic!("{name}: no audience row for {label}"));
            let schedule = line
                .trim_end_matches('|')
                .rsplit('|')
                .next()
                .unwrap()
                .trim();
            assert!(!schedule.is_empty(), "{name}: no schedule in {line}");
            if let Some(end) = a.schedule.end_date.as_ref() {
                assert!(line.contains(&end.to_string()), "{line}");
            }
        }
    }
    assert_eq!(audiences, 23, "every activation is shown");
}

#[test]
fn one_comment_for_every_environment_stays_under_the_limit() {
    let dir = example_repo();
    crate::support::write(
        &dir,
        "destctl.yaml",
        "apiVersion: destctl/v1\nkind: Config\nenvironments:\n  dev: {sandbox: dev}\n  prod: {sandbox: prod}\n",
    );
    let out = run(&dir, &["plan", "--all-envs", "--format", "markdown"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    assert!(md.contains("# Environment `dev`") && md.contains("# Environment `prod`"));
    // Both environments still show every Destination's overview row.
    assert_eq!(md.matches("| `+` | `sftp-ssh-key` ").count(), 2);
}
