//! The plan as a pull-request comment, under [`MAX_CHARS`] characters: summary first, an
//! overview table (every Destination's platform, account, location and audience count), a
//! compact section per Destination (audiences and schedules in a table, change lines, a
//! warning above any delete), and raw bodies and patches in `<details>`, which are what is
//! dropped first when the comment would be too long.

use super::{Section, escape_controls, escape_lines, flow_diff, layout, sections, words};
use crate::plan::diff::Sign;
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

/// A table cell: no line break, no unescaped `|`.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn sign_cell(s: &Sign) -> String {
    format!("`{}`", words::sign_char(s))
}

fn status_sign(status: DestinationStatus) -> &'static str {
    match status {
        DestinationStatus::Create => "`+`",
        DestinationStatus::Update | DestinationStatus::Adopt => "`~`",
        DestinationStatus::Delete => "`-`",
        DestinationStatus::Unchanged | DestinationStatus::LeftInPlace => "",
    }
}

/// The overview: one row per Destination shown, with its platform, account, location and
/// audience count.
fn overview(shown: &[&Section<'_>]) -> Vec<String> {
    shown
        .iter()
        .map(|s| {
            let name = match &s.display_name {
                Some(d) if d != &s.name => format!("`{}` {}", s.name, cell(d)),
                _ => format!("`{}`", s.name),
            };
            format!(
                "| {} | {name} | {} | {} | {} | {} |\n",
                status_sign(s.status),
                cell(s.platform.as_deref().unwrap_or("")),
                cell(s.account.as_deref().unwrap_or("")),
                cell(s.location.as_deref().unwrap_or("")),
                s.audiences.len()
            )
        })
        .collect()
}

const OVERVIEW_HEAD: &str =
    "| | Destination | Platform | Account | Location | Audiences |\n|---|---|---|---|---|---|\n";

/// The part of a section always shown: its heading, the delete warning, the audiences with
/// their schedules (a table), and the change lines.
fn compact(s: &Section<'_>) -> String {
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
    if !s.audiences.is_empty() {
        out.push_str("| | Audience | Schedule |\n|---|---|---|\n");
        for (sign, label, schedule) in &s.audiences {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                sign_cell(sign),
                cell(label),
                cell(schedule)
            );
        }
        out.push('\n');
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
        // Audiences are in the table; attributes on one line.
        let mut attributes = Vec::new();
        for (sign, text) in items {
            if text.starts_with("audience ") {
                continue;
            }
            if let Some(a) = text.strip_prefix("attribute ") {
                attributes.push(format!("`{}` {a}", words::sign_char(sign)));
                continue;
            }
            let _ = writeln!(out, "{indent}- `{}` {text}", words::sign_char(sign));
        }
        if !attributes.is_empty() {
            let _ = writeln!(out, "{indent}- attributes: {}", attributes.join(", "));
        }
    }
    for d in &s.duplicates {
        let _ = writeln!(out, "- `!` {}", words::duplicate_words(d));
    }
    out.push('\n');
    out
}

/// The raw part of a section, each piece in `<details>`: the flow diff, then every request
/// body and patch. Dropped first when the comment is over budget.
fn raw(s: &Section<'_>) -> String {
    let mut out = String::new();
    if let Some(diff) = flow_diff(s) {
        out.push_str("<details><summary>Flow before → after</summary>\n\n");
        out.push_str(&fence("diff", &diff));
        out.push_str("\n</details>\n\n");
    }
    for c in &s.changes {
        let payload = match (c.body(), c.patch()) {
            (Some(body), Some(patch)) => serde_json::json!({"body": body, "patch": patch}),
            (Some(body), None) => body.clone(),
            (None, Some(patch)) => serde_json::to_value(patch).unwrap_or_default(),
            (None, None) => continue,
        };
        let _ = write!(
            out,
            "<details><summary>{}</summary>\n\n{}\n</details>\n\n",
            words::change_words(c),
            fence(
                "json",
                &serde_json::to_string_pretty(&payload).unwrap_or_default()
            )
        );
    }
    out
}

/// The Markdown plan, under [`MAX_CHARS`]: the summary, an overview table of every
/// Destination shown (platform, account, location, audiences), then a compact section per
/// Destination (its audiences and schedules in a table, its change lines), and the raw bodies
/// and patches in `<details>` for as many sections as the budget leaves room for (they are
/// what is dropped first; only when even the compact sections do not fit are sections cut).
pub(crate) fn render(plan: &Plan, details: Option<&PlanDetails>) -> String {
    render_within(plan, details, MAX_CHARS)
}

/// [`render`] in at most `max_chars` characters (a share of [`MAX_CHARS`] when one comment
/// holds several environments' plans).
pub(crate) fn render_within(
    plan: &Plan,
    details: Option<&PlanDetails>,
    max_chars: usize,
) -> String {
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
    // Every string of a section comes from a manifest or the server: escaped.
    let rows: Vec<String> = overview(&shown).iter().map(|r| escape_lines(r)).collect();
    let compacts: Vec<String> = shown.iter().map(|s| escape_lines(&compact(s))).collect();
    let raws: Vec<String> = shown.iter().map(|s| escape_lines(&raw(s))).collect();
    let budget = max_chars.saturating_sub(TRUNCATED_ROOM);
    let len = |s: &str| s.chars().count();

    if !rows.is_empty() {
        let mut table = OVERVIEW_HEAD.to_owned();
        let mut cut = 0;
        for r in &rows {
            if cut == 0 && len(&out) + len(&table) + len(r) <= budget / 2 {
                table.push_str(r);
            } else {
                cut += 1;
            }
        }
        out.push_str(&table);
        if cut > 0 {
            let _ = writeln!(out, "\n_… {cut} more row(s) not shown._");
        }
        out.push('\n');
    }
    let mut used = len(&out);
    let mut fits = 0;
    for c in &compacts {
        if used + len(c) > budget {
            break;
        }
        used += len(c);
        fits += 1;
    }
    let mut with_raw = vec![false; fits];
    for (i, r) in raws.iter().enumerate().take(fits) {
        if !r.is_empty() && used + len(r) <= budget {
            used += len(r);
            with_raw[i] = true;
        }
    }
    for i in 0..fits {
        out.push_str(&compacts[i]);
        if with_raw[i] {
            out.push_str(&raws[i]);
        }
    }
    let dropped = (0..fits)
        .filter(|&i| !with_raw[i] && !raws[i].is_empty())
        .count();
    if dropped > 0 {
        let _ = writeln!(
            out,
            "_Raw bodies and patches of {dropped} Destination(s) left out to stay under {max_chars} characters; `destctl plan --format json` has them all._\n"
        );
    }
    let omitted = shown.len() - fits;
    if omitted > 0 {
        let _ = writeln!(
            out,
            "_… {omitted} more Destination section(s) truncated to stay under {max_chars} characters; run `destctl plan` for the full plan._"
        );
    }
    out
}
