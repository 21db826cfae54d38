//! The drift report ([`crate::drift::DriftReport`]) in text (a terminal or a job log), JSON
//! (the versioned document), Markdown (an issue body) and OpenMetrics (gauges per Destination
//! and totals, for a Prometheus textfile collector or a pushgateway). Every string from a
//! manifest or a server goes through [`escape_controls`].

use super::{escape_controls, words};
use crate::drift::{
    ChangedBy, DestinationDrift, Difference, DriftField, DriftReport, DriftState, Origin,
};
use crate::wire::Resource;
use serde_json::Value;
use std::fmt::Write;

/// The drift document: pretty, deterministic, newline-terminated.
pub fn json(report: &DriftReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a drift report serializes");
    s.push('\n');
    s
}

fn resource_words(r: Resource) -> &'static str {
    match r {
        Resource::Flow => "flow",
        Resource::TargetConnection => "target connection (location)",
        Resource::Connection => "account (base connection)",
        Resource::SourceConnection => "source connection",
        Resource::MappingSet => "mapping set (exported columns)",
    }
}

/// A value in words, for its field.
fn value_words(field: DriftField, v: &Value) -> String {
    match (field, v) {
        (_, Value::Null) => "(none)".into(),
        (DriftField::Schedule, v) => words::schedule_words(None, v),
        (DriftField::Location, v) => crate::plan::location_words(v),
        (DriftField::State, Value::String(s)) => s.clone(),
        (DriftField::Account, v) => {
            let mut parts = vec![
                v.get("auth")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
            ];
            if let Some(p) = v.get("params").and_then(Value::as_object) {
                for (k, x) in p.iter().filter(|(_, x)| !x.is_null()) {
                    let x = x.as_str().map_or_else(|| x.to_string(), str::to_owned);
                    parts.push(format!("{k}={x}"));
                }
            }
            parts.join(" ")
        }
        (DriftField::AudienceLabel, Value::Object(m)) => {
            let mut parts = Vec::new();
            for (k, x) in m {
                parts.push(format!("{k} {x}"));
            }
            if parts.is_empty() {
                "(none)".into()
            } else {
                parts.join(", ")
            }
        }
        (_, Value::Array(items)) if items.is_empty() => "(none)".into(),
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(s)) => format!("{s:?}"),
        (_, other) => other.to_string(),
    }
}

fn audience_words(x: &Difference) -> String {
    let v = if x.live.is_null() {
        &x.manifests
    } else {
        &x.live
    };
    let id = x.audience.as_deref().unwrap_or("?");
    match v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

fn field_words(x: &Difference) -> String {
    let audience = || {
        x.audience
            .as_deref()
            .map(|a| format!("audience {a} "))
            .unwrap_or_default()
    };
    match x.field {
        DriftField::Name => "name".into(),
        DriftField::Description => "description".into(),
        DriftField::State => "state".into(),
        DriftField::Schedule => format!("{}schedule", audience()),
        DriftField::FilenameTemplate => format!("{}filename template", audience()),
        DriftField::ExportMode => format!("{}export mode", audience()),
        DriftField::AudienceLabel => format!("{}name/description", audience()),
        DriftField::MandatoryAttributes => "mandatory attributes".into(),
        DriftField::DeduplicationKeys => "deduplication keys".into(),
        DriftField::Location => "location".into(),
        DriftField::Account => "account".into(),
        DriftField::Credentials => "credentials version".into(),
        DriftField::Marker => "marker (Destination name)".into(),
        DriftField::Object | DriftField::Audience | DriftField::Attribute => String::new(),
    }
}

/// One difference in words, as its origin tells it: what changed outside destctl (from the
/// manifests' value to live), or what `apply` will do (from live to the manifests).
pub(crate) fn difference_words(x: &Difference) -> String {
    let present_live = !x.live.is_null();
    let (subject, live_only, manifests_only) = match x.field {
        DriftField::Object => (
            resource_words(x.resource).to_owned(),
            [
                "exists but no manifest defines it (apply --prune deletes it)",
                "no longer in the manifests (apply --prune deletes it)",
            ],
            [
                "deleted outside destctl",
                "not created yet (apply creates it)",
            ],
        ),
        DriftField::Audience => (
            format!("audience {}", audience_words(x)),
            ["added outside destctl", "to remove (no longer activated)"],
            ["removed outside destctl", "to add"],
        ),
        DriftField::Attribute => (
            format!(
                "attribute {}",
                x.live.as_str().or(x.manifests.as_str()).unwrap_or_default()
            ),
            ["added outside destctl", "to remove"],
            ["removed outside destctl", "to add"],
        ),
        _ => {
            let (from, to) = match x.origin {
                Origin::Pending => (&x.live, &x.manifests),
                _ => (&x.manifests, &x.live),
            };
            let field = field_words(x);
            return match x.origin {
                Origin::Pending | Origin::Outside => format!(
                    "{field}: {} → {}",
                    value_words(x.field, from),
                    value_words(x.field, to)
                ),
                Origin::Both | Origin::Unknown => format!(
                    "{field}: live {}, manifests {}",
                    value_words(x.field, &x.live),
                    value_words(x.field, &x.manifests)
                ),
            };
        }
    };
    let pick = |pair: [&str; 2]| -> String {
        match x.origin {
            Origin::Outside => pair[0].to_owned(),
            Origin::Pending => pair[1].to_owned(),
            Origin::Both | Origin::Unknown => {
                if present_live {
                    "live only (not in the manifests)".into()
                } else {
                    "in the manifests, not live".into()
                }
            }
        }
    };
    let what = if present_live {
        pick(live_only)
    } else {
        pick(manifests_only)
    };
    format!("{subject} {what}")
}

/// `2026-11-30T08:00:00Z` from epoch milliseconds.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `jane@acme.com (exc_app) at 2026-11-30T08:00:00Z`.
pub(crate) fn who_words(c: &ChangedBy) -> String {
    let mut out = c.by.clone().unwrap_or_else(|| "someone".into());
    if let Some(client) = &c.client {
        let _ = write!(out, " ({client})");
    }
    if let Some(at) = c.at {
        let _ = write!(out, " at {}", when(at));
    }
    out
}

fn origin_words(o: Origin) -> &'static str {
    match o {
        Origin::Outside => "changed outside destctl",
        Origin::Pending => "pending",
        Origin::Both => "changed outside destctl and in the manifests",
        Origin::Unknown => "origin unknown",
    }
}

fn title(d: &DestinationDrift) -> String {
    match &d.display_name {
        Some(n) if n != &d.name => format!("{} ({})", d.name, n),
        _ => d.name.clone(),
    }
}

fn headline(r: &DriftReport) -> String {
    let mut parts = Vec::new();
    for s in DriftState::ALL {
        let n = r.summary.destinations.get(s.as_str()).copied().unwrap_or(0);
        if n > 0 {
            parts.push(format!("{n} {}", short_state(s)));
        }
    }
    if parts.is_empty() {
        parts.push("no Destination".into());
    }
    let mut line = parts.join(", ");
    if r.summary.unmanaged > 0 {
        let _ = write!(
            line,
            "; {} unmanaged flow{}",
            r.summary.unmanaged,
            if r.summary.unmanaged == 1 { "" } else { "s" }
        );
    }
    line
}

fn short_state(s: DriftState) -> &'static str {
    match s {
        DriftState::InSync => "in sync",
        DriftState::ChangedOutside => "changed outside destctl",
        DriftState::Pending => "pending",
        DriftState::Both => "changed on both sides",
        DriftState::Missing => "missing",
        DriftState::OriginUnknown => "differing (origin unknown)",
    }
}

fn coverage_words(r: &DriftReport) -> String {
    format!(
        "{} of {} destination flows managed ({:.1}%)",
        r.coverage.managed, r.coverage.total, r.coverage.percent
    )
}

/// The report for a terminal or a job log.
pub fn text(r: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Drift in sandbox {} ({}): {}",
        escape_controls(&r.target.sandbox),
        escape_controls(&r.target.endpoint),
        headline(r)
    );
    let _ = writeln!(out, "Coverage: {}", coverage_words(r));
    let in_sync: Vec<&str> = r
        .destinations
        .iter()
        .filter(|d| d.state == DriftState::InSync)
        .map(|d| d.name.as_str())
        .collect();
    for d in r
        .destinations
        .iter()
        .filter(|d| d.state != DriftState::InSync)
    {
        let _ = writeln!(out, "\n{}: {}", escape_controls(&title(d)), d.state.words());
        for x in &d.differences {
            let mut line = format!(
                "  [{:<6}] {}",
                x.severity.as_str(),
                escape_controls(&difference_words(x))
            );
            // The origin, where the heading does not already tell it.
            let told = match d.state {
                DriftState::ChangedOutside | DriftState::Missing => x.origin == Origin::Outside,
                DriftState::OriginUnknown => x.origin == Origin::Unknown,
                _ => x.origin == Origin::Pending,
            };
            if !told {
                let _ = write!(line, " ({})", origin_words(x.origin));
            }
            if let Some(c) = &x.changed_by {
                let _ = write!(
                    line,
                    " — last changed by {}",
                    escape_controls(&who_words(c))
                );
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !in_sync.is_empty() {
        let _ = writeln!(out, "\nIn sync: {}", in_sync.join(", "));
    }
    if !r.unmanaged.is_empty() {
        let _ = writeln!(out, "\nUnmanaged destination flows (no destctl marker):");
        for u in &r.unmanaged {
            let _ = writeln!(
                out,
                "  {} {:?} — last changed by {}",
                escape_controls(&u.id),
                escape_controls(u.name.as_deref().unwrap_or("")),
                escape_controls(&who_words(&u.changed_by))
            );
            for s in &u.shared_audiences {
                let _ = writeln!(
                    out,
                    "    warning: it exports audience {}, which the manifests activate to {}",
                    escape_controls(&s.segment_id),
                    s.destinations.join(", ")
                );
            }
        }
    }
    if !r.ignored.is_empty() {
        let _ = writeln!(
            out,
            "\nIgnored: {} unmanaged flow{} (ignore list)",
            r.ignored.len(),
            if r.ignored.len() == 1 { "" } else { "s" }
        );
    }
    out
}

/// A Markdown table cell: pipes escaped, one line.
fn cell(s: &str) -> String {
    escape_controls(s).replace('|', "\\|").replace('\n', " ")
}

/// The report as an issue body.
pub fn markdown(r: &DriftReport) -> String {
    let mut out = String::new();
    let drifted = r.destinations.iter().filter(|d| d.state.is_drift()).count();
    let _ = writeln!(
        out,
        "## destctl drift: {}\n",
        if r.has_drift() {
            format!(
                "{drifted} of {} Destinations drifted, {} unmanaged flow{}",
                r.destinations.len(),
                r.summary.unmanaged,
                if r.summary.unmanaged == 1 { "" } else { "s" }
            )
        } else {
            "in sync".to_owned()
        }
    );
    let _ = writeln!(
        out,
        "Sandbox `{}` at `{}` · {} · coverage {}\n",
        cell(&r.target.sandbox),
        cell(&r.target.endpoint),
        headline(r),
        coverage_words(r)
    );
    let _ = writeln!(out, "| Destination | State | Differences |\n|---|---|---|");
    for d in &r.destinations {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            cell(&title(d)),
            d.state.words(),
            d.differences.len()
        );
    }
    out.push('\n');
    let mut omitted = 0;
    for d in r
        .destinations
        .iter()
        .filter(|d| d.state != DriftState::InSync)
    {
        let section = destination_section(d);
        if out.len() + section.len() + MARKDOWN_ROOM > super::MARKDOWN_MAX_CHARS {
            omitted += 1;
        } else {
            out.push_str(&section);
        }
    }
    if omitted > 0 {
        let _ = writeln!(
            out,
            "_{omitted} Destination section(s) omitted to keep this under {} characters: `destctl drift --format json` has every difference._\n",
            super::MARKDOWN_MAX_CHARS
        );
    }
    markdown_tail(r, &mut out);
    out
}

/// Room kept for the unmanaged flows and the closing note when sections are added.
const MARKDOWN_ROOM: usize = 8_000;

/// One drifted Destination's table of differences.
fn destination_section(d: &DestinationDrift) -> String {
    let mut out = String::new();
    {
        let _ = writeln!(out, "### `{}` — {}\n", cell(&d.name), d.state.words());
        let _ = writeln!(
            out,
            "| Severity | Change | Origin | Changed by | When |\n|---|---|---|---|---|"
        );
        for x in &d.differences {
            let (by, at) = match &x.changed_by {
                Some(c) => (
                    format!(
                        "{}{}",
                        c.by.as_deref().unwrap_or(""),
                        c.client
                            .as_deref()
                            .map(|c| format!(" ({c})"))
                            .unwrap_or_default()
                    ),
                    c.at.map(when).unwrap_or_default(),
                ),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                x.severity.as_str(),
                cell(&difference_words(x)),
                origin_words(x.origin),
                cell(&by),
                cell(&at)
            );
        }
        out.push('\n');
    }
    out
}

/// The unmanaged flows, the ignored count and the closing note.
fn markdown_tail(r: &DriftReport, out: &mut String) {
    if !r.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "### Unmanaged destination flows\n\n| Flow | Name | Last changed by | Warning |\n|---|---|---|---|"
        );
        for u in &r.unmanaged {
            let warning = u
                .shared_audiences
                .iter()
                .map(|s| {
                    format!(
                        "⚠️ exports audience `{}`, activated by {}",
                        s.segment_id,
                        s.destinations.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                cell(&u.id),
                cell(u.name.as_deref().unwrap_or("")),
                cell(&who_words(&u.changed_by)),
                cell(&warning)
            );
        }
        out.push('\n');
    }
    if !r.ignored.is_empty() {
        let _ = writeln!(
            out,
            "_{} unmanaged flow(s) silenced by the ignore list._\n",
            r.ignored.len()
        );
    }
    out.push_str(
        "_Pending changes are manifest edits not applied yet (`destctl plan` shows them); every other difference was made outside destctl._\n",
    );
}

/// An OpenMetrics label value: `\`, `"` and newlines escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The report as OpenMetrics text: a state set per Destination, difference counts per
/// Destination and origin, and totals; ends with `# EOF`.
pub fn openmetrics(r: &DriftReport) -> String {
    openmetrics_many(&[(None, r)])
}

/// A totals gauge: its name, help text and value.
type Total = (&'static str, &'static str, fn(&DriftReport) -> String);

/// Several reports (environments) in one exposition: each family once, every sample labelled
/// with its `environment` (when given) and `sandbox`.
pub fn openmetrics_many(reports: &[(Option<&str>, &DriftReport)]) -> String {
    let mut out = String::new();
    let prefix = |env: Option<&str>, r: &DriftReport| -> String {
        let sb = label(&r.target.sandbox);
        match env {
            Some(e) => format!("environment=\"{}\",sandbox=\"{sb}\"", label(e)),
            None => format!("sandbox=\"{sb}\""),
        }
    };
    let family = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# TYPE {name} gauge\n# HELP {name} {help}");
    };
    family(
        &mut out,
        "destctl_drift_destination_state",
        "1 for the drift state of each managed Destination, 0 for the others.",
    );
    for (env, r) in reports {
        let p = prefix(*env, r);
        for d in &r.destinations {
            for s in DriftState::ALL {
                let _ = writeln!(
                    out,
                    "destctl_drift_destination_state{{{p},destination=\"{}\",state=\"{}\"}} {}",
                    label(&d.name),
                    s.as_str(),
                    u8::from(d.state == s)
                );
            }
        }
    }
    family(
        &mut out,
        "destctl_drift_destination_differences",
        "Field-level differences of each Destination, by origin.",
    );
    for (env, r) in reports {
        let p = prefix(*env, r);
        for d in &r.destinations {
            for o in [
                Origin::Outside,
                Origin::Pending,
                Origin::Both,
                Origin::Unknown,
            ] {
                let n = d.differences.iter().filter(|x| x.origin == o).count();
                let _ = writeln!(
                    out,
                    "destctl_drift_destination_differences{{{p},destination=\"{}\",origin=\"{}\"}} {n}",
                    label(&d.name),
                    o.as_str()
                );
            }
        }
    }
    family(
        &mut out,
        "destctl_drift_destinations",
        "Destinations in each drift state.",
    );
    for (env, r) in reports {
        let p = prefix(*env, r);
        for s in DriftState::ALL {
            let n = r.summary.destinations.get(s.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "destctl_drift_destinations{{{p},state=\"{}\"}} {n}",
                s.as_str()
            );
        }
    }
    let totals: [Total; 5] = [
        (
            "destctl_drift_unmanaged_flows",
            "Destination flows without a destctl marker (ignored ones excepted).",
            |r| r.summary.unmanaged.to_string(),
        ),
        (
            "destctl_drift_ignored_flows",
            "Unmanaged flows silenced by the ignore list.",
            |r| r.summary.ignored.to_string(),
        ),
        (
            "destctl_drift_managed_flows",
            "Destination flows with a destctl marker.",
            |r| r.coverage.managed.to_string(),
        ),
        (
            "destctl_drift_coverage_ratio",
            "Managed destination flows / all destination flows (ignored ones excepted).",
            |r| format!("{}", r.coverage.percent / 100.0),
        ),
        (
            "destctl_drift_drifted",
            "1 when drift was found (destctl drift exits 2), else 0.",
            |r| u8::from(r.has_drift()).to_string(),
        ),
    ];
    for (name, help, value) in totals {
        family(&mut out, name, help);
        for (env, r) in reports {
            let _ = writeln!(out, "{name}{{{}}} {}", prefix(*env, r), value(r));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// One line per out-of-band difference of a plan: `[high] audience … removed outside destctl —
/// last changed by …`, by Destination.
pub(crate) fn out_of_band_lines(plan: &crate::plan::Plan) -> Vec<(String, Vec<String>)> {
    plan.changed_outside
        .iter()
        .map(|o| {
            let lines = o
                .differences
                .iter()
                .map(|x| {
                    let mut line = format!(
                        "[{}] {}",
                        x.severity.as_str(),
                        escape_controls(&difference_words(x))
                    );
                    if x.origin != Origin::Outside {
                        let _ = write!(line, " ({})", origin_words(x.origin));
                    }
                    if let Some(c) = &x.changed_by {
                        let _ = write!(
                            line,
                            " — last changed by {}",
                            escape_controls(&who_words(c))
                        );
                    }
                    line
                })
                .collect();
            (escape_controls(&o.name).into_owned(), lines)
        })
        .collect()
}

/// The heading of the plan's out-of-band section.
pub(crate) const OUT_OF_BAND_HEADING: &str =
    "Changed outside destctl since the last apply (this plan brings them back to the manifests)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{ChangedBy, Coverage, DriftSummary, Severity};
    use crate::plan::PlanTarget;
    use serde_json::json;

    fn report(destinations: usize, differences: usize) -> DriftReport {
        let difference = Difference {
            resource: Resource::Flow,
            id: Some("f".into()),
            field: DriftField::Name,
            audience: None,
            live: json!("x".repeat(80)),
            manifests: json!("y".repeat(80)),
            origin: Origin::Outside,
            severity: Severity::Low,
            changed_by: Some(ChangedBy {
                by: Some("jane@acme.com".into()),
                client: Some("exc_app".into()),
                at: Some(0),
            }),
        };
        DriftReport {
            format_version: 1,
            target: PlanTarget {
                endpoint: "e".into(),
                sandbox: "prod".into(),
            },
            summary: DriftSummary::default(),
            coverage: Coverage {
                managed: destinations,
                total: destinations,
                percent: 100.0,
            },
            destinations: (0..destinations)
                .map(|i| DestinationDrift {
                    name: format!("d-{i}"),
                    display_name: None,
                    flow_id: None,
                    in_manifests: true,
                    state: DriftState::ChangedOutside,
                    differences: vec![difference.clone(); differences],
                })
                .collect(),
            unmanaged: vec![],
            ignored: vec![],
        }
    }

    #[test]
    fn markdown_stays_under_the_issue_body_limit() {
        let small = markdown(&report(2, 2));
        assert!(!small.contains("omitted"), "{small}");
        let big = markdown(&report(100, 40));
        assert!(
            big.len() <= super::super::MARKDOWN_MAX_CHARS,
            "{}",
            big.len()
        );
        assert!(big.contains("Destination section(s) omitted"), "{big}");
        assert!(
            big.contains("| `d-99` |"),
            "every Destination stays in the summary table"
        );
    }

    #[test]
    fn openmetrics_label_values_are_escaped() {
        let mut r = report(1, 0);
        r.destinations[0].name = "a\"b\\c".into();
        let text = openmetrics(&r);
        assert!(text.contains(r#"destination="a\"b\\c""#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
