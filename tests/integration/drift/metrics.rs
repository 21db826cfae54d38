//! `drift --format openmetrics`, read back with a small OpenMetrics text parser: every family
//! declared (`# TYPE … gauge`) before its samples, label values unescaped, `# EOF` last.

use super::*;
use std::collections::BTreeMap;

/// One sample: metric name, labels, value.
pub(super) type Sample = (String, BTreeMap<String, String>, f64);

/// Parses OpenMetrics text (the subset of gauges destctl writes); panics on anything else.
pub(super) fn parse(text: &str) -> Vec<Sample> {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    assert!(text.ends_with("# EOF\n"));
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge");
            assert!(
                types.insert(name.to_owned(), kind).is_none(),
                "{name} twice"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(types.contains_key(name) && !help.is_empty(), "{line}");
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i..]),
            None => line.split_at(line.find(' ').unwrap()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{name}"
        );
        assert!(types.contains_key(name), "{name} sampled before its # TYPE");
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut key = String::new();
            let end;
            loop {
                let (i, c) = chars.next().expect("labels end");
                match c {
                    '}' => {
                        end = i;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|x| x.1), Some('"'));
                        let mut value = String::new();
                        loop {
                            let (_, c) = chars.next().expect("value ends");
                            match c {
                                '"' => break,
                                '\\' => match chars.next().expect("escape").1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            rest = &body[end + 1..];
        }
        let value: f64 = rest.trim().parse().unwrap_or_else(|_| panic!("{line}"));
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}");
    found[0]
}

#[tokio::test]
async fn openmetrics_output_parses_back() {
    let s = applied().await;
    let id = s.flow_id("campaign-s3").await;
    s.edit(&id, "jane@acme.com", json!({"disable": true})).await;
    // A card that exports by profile selectors: drift does not yet compare the exported
    // columns of a current card's mapping set (see docs/drift.md).
    s.edit_manifest(
        "amazon-s3-legacy.yaml",
        "    - person.name.lastName\n",
        "    - person.name.lastName\n    - mobilePhone.number\n",
    );
    let out = s.run(&["drift", "--format", "openmetrics"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let samples = parse(&stdout(&out));
    let state = |d: &str, st: &str| {
        value(
            &samples,
            "destctl_drift_destination_state",
            &[("sandbox", "prod"), ("destination", d), ("state", st)],
        )
    };
    assert_eq!(state("campaign-s3", "changed_outside"), 1.0);
    assert_eq!(state("campaign-s3", "in_sync"), 0.0);
    assert_eq!(state("amazon-s3-legacy", "pending"), 1.0);
    assert_eq!(state("azure-blob", "in_sync"), 1.0);
    // One state per Destination.
    for d in ["campaign-s3", "amazon-s3-legacy", "sftp-ssh-key"] {
        let total: f64 = samples
            .iter()
            .filter(|(n, l, _)| {
                n == "destctl_drift_destination_state"
                    && l.get("destination").map(String::as_str) == Some(d)
            })
            .map(|s| s.2)
            .sum();
        assert_eq!(total, 1.0, "{d}");
    }
    assert_eq!(
        value(
            &samples,
            "destctl_drift_destination_differences",
            &[("destination", "campaign-s3"), ("origin", "outside")]
        ),
        1.0
    );
    let totals = |st: &str| value(&samples, "destctl_drift_destinations", &[("state", st)]);
    let n = samples
        .iter()
        .filter(|(name, l, _)| {
            name == "destctl_drift_destination_state"
                && l.get("state").map(String::as_str) == Some("in_sync")
        })
        .count() as f64;
    assert_eq!(
        (
            totals("in_sync"),
            totals("changed_outside"),
            totals("pending")
        ),
        (n - 2.0, 1.0, 1.0)
    );
    assert_eq!(value(&samples, "destctl_drift_coverage_ratio", &[]), 1.0);
    // One flow per Destination, and the DatasetExports' flows.
    assert!(value(&samples, "destctl_drift_managed_flows", &[]) >= n);
    assert_eq!(value(&samples, "destctl_drift_unmanaged_flows", &[]), 0.0);
    assert_eq!(value(&samples, "destctl_drift_drifted", &[]), 1.0);
}

#[test]
fn the_parser_reads_escaped_label_values() {
    let text = "# TYPE m gauge\n# HELP m h\nm{a=\"x\\\"y\\\\z\\n\",b=\"\"} 2.5\n# EOF\n";
    let samples = parse(text);
    assert_eq!(samples[0].1["a"], "x\"y\\z\n");
    assert_eq!(samples[0].2, 2.5);
}
