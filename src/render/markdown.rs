//! The plan as a pull-request comment: summary first, a section per Destination, raw patches
//! in `<details>`, a warning above any delete, under [`MAX_CHARS`] characters.

use super::{Section, escape_controls, escape_lines, flow_diff, layout, sections, words};
use crate::plan::{Action, DestinationStatus, Plan, PlanDetails};
use std::fmt::Write;

/// Longest comment produced (GitHub refuses comments over 65,536 characters).
pub const MAX_CHARS: usize = 65_000;

const TRUNCATED_ROOM: usize = 600;

fn fence(lang: &str, body: &str) -> String {
    let ticks = if body.contains("```") { "````" } else { "```" };
    let mut s = format!("{ticks}{lang}\n{body}");
    if !body.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(ticks);
    s.push('\n');
    s
}

fn section(s: &Section<'_>, full: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### `{}` — {}\n", s.title, s.status.as_str());
    // Deleting a source connection alone does not stop exports (a dataset export's swap).
    if s.changes.iter().any(|c| {
        c.action() == Action::Delete && c.resource() != crate::wire::Resource::SourceConnection
    }) {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan **deletes** the objects of `{}` (flow and connections). Exports to this destination stop.\n",
            s.name
        );
    }
    let lines = layout(s);
    for (change, items) in &lines {
        let indent = match change {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "- `{}` {}",
                    words::sign_char(&words::action_sign(c.action())),
                    words::change_words(c)
                );
                "  "
            }
            None if !s.changes.is_empty() => "",
            None => "  ",
        };
        for (sign, text) in items {
            let _ = writeln!(out, "{indent}- `{}` {text}", words::sign_char(sign));
        }
    }
    for d in &s.duplicates {
        let _ = writeln!(out, "- `!` {}", words::duplicate_words(d));
    }
    if !lines.is_empty() || !s.duplicates.is_empty() {
        out.push('\n');
    }
    if !full {
        out.push_str("_Diff and patches omitted to keep this comment short._\n\n");
        return out;
    }
    if let Some(diff) = flow_diff(s) {
        out.push_str("<details><summary>Flow before → after</summary>\n\n");
        out.push_str(&fence("diff", &diff));
        out.push_str("\n</details>\n\n");
    }
    for c in &s.changes {
        let payload = match (c.body(), c.patch()) {
            (Some(body), Some(patch)) => serde_json::json!({"body": body, "patch": patch}),
            (Some(body), None) => body.clone(),
            (None, Some(patch)) => serde_json::to_value(patch).expect("json"),
            (None, None) => continue,
        };
        let _ = write!(
            out,
            "<details><summary>{}</summary>\n\n{}\n</details>\n\n",
            words::change_words(c),
            fence(
                "json",
                &serde_json::to_string_pretty(&payload).expect("json")
            )
        );
    }
    out
}

/// The Markdown plan.
pub(crate) fn render(plan: &Plan, details: Option<&PlanDetails>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## destctl plan\n");
    let _ = writeln!(out, "**{}**", words::summary_line(plan));
    let _ = writeln!(
        out,
        "\nTarget: `{}`, sandbox `{}`; {} Destination(s) unchanged.\n",
        escape_controls(&plan.target.endpoint),
        escape_controls(&plan.target.sandbox),
        plan.summary.unchanged
    );
    if plan.summary.delete > 0 {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan deletes {} object(s). Review the sections marked delete.\n",
            plan.summary.delete
        );
    }
    if let Some(w) = words::duplicates_warning(plan) {
        let _ = writeln!(out, "> [!WARNING]\n> {w}\n");
    }
    let outside = super::drift::out_of_band_lines(plan);
    if !outside.is_empty() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{}:**",
            super::drift::OUT_OF_BAND_HEADING
        );
        for (name, lines) in &outside {
            for l in lines {
                let _ = writeln!(out, "> - `{name}` {}", l.replace('\n', " "));
            }
        }
        out.push('\n');
    }
    if !plan.has_changes() {
        out.push_str("No changes. Live state matches the manifests.\n\n");
    }
    let all = sections(plan, details);
    let shown: Vec<&Section<'_>> = all
        .iter()
        .filter(|s| s.status != DestinationStatus::Unchanged || !s.duplicates.is_empty())
        .collect();
    let mut omitted = 0;
    for s in &shown {
        if omitted > 0 {
            omitted += 1;
            continue;
        }
        // Every string of a section comes from a manifest or the server: escaped.
        let full = escape_lines(&section(s, true));
        if out.len() + full.len() + TRUNCATED_ROOM <= MAX_CHARS {
            out.push_str(&full);
            continue;
        }
        let short = escape_lines(&section(s, false));
        if out.len() + short.len() + TRUNCATED_ROOM <= MAX_CHARS {
            out.push_str(&short);
        } else {
            omitted = 1;
        }
    }
    if omitted > 0 {
        let _ = writeln!(
            out,
            "_… {omitted} more Destination section(s) truncated to stay under {MAX_CHARS} characters; run `destctl plan` for the full plan._"
        );
    }
    out
}
