//! Plan output for people and machines: `text` (the default, for a terminal), `json` (the plan
//! document of docs/plan-format.md, also what `--out` writes) and `markdown` (a pull-request
//! comment). The drift report's renderers, OpenMetrics included, are in [`drift`].

pub mod drift;
pub(crate) mod markdown;

pub use markdown::MAX_CHARS as MARKDOWN_MAX_CHARS;
pub(crate) mod text;
pub(crate) mod words;

/// The one escaping function for strings from a manifest or a server shown on a terminal
/// (defined with the diagnostics, the lowest layer that shows text, and used by every
/// renderer, the diagnostics and the apply report).
pub use crate::diagnostics::{escape_controls, escape_lines};

use crate::plan::diff::Sign;
use crate::plan::{Action, Change, DestinationStatus, Duplicate, Plan, PlanDetails};
use crate::wire::Resource;
use serde_json::Value;

/// An output format of `plan`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Human-readable, optionally coloured.
    #[default]
    Text,
    /// The plan JSON document.
    Json,
    /// A Markdown pull-request comment (`drift`: an issue body).
    Markdown,
    /// OpenMetrics text (`drift` only: gauges for a Prometheus textfile collector).
    OpenMetrics,
}

/// Renders `plan` in `format`; `details` (from [`crate::plan::build`]) adds the audience names,
/// schedules in words and the before → after diff; `color` adds ANSI colours to `text`.
pub fn render(format: Format, plan: &Plan, details: Option<&PlanDetails>, color: bool) -> String {
    match format {
        Format::Text => text::render(plan, details, color),
        Format::Json => json(plan),
        Format::Markdown => markdown::render(plan, details),
        // Plans have no metrics form (the command line never offers it): the JSON document.
        Format::OpenMetrics => json(plan),
    }
}

/// The Markdown plan in at most `max_chars` characters: what one environment's section of a
/// multi-environment comment gets (the comment as a whole stays under
/// [`MARKDOWN_MAX_CHARS`]).
pub fn markdown_within(plan: &Plan, details: Option<&PlanDetails>, max_chars: usize) -> String {
    markdown::render_within(plan, details, max_chars)
}

/// The plan JSON: pretty, deterministic, newline-terminated.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan serializes");
    s.push('\n');
    s
}

/// What a renderer shows of one Destination.
pub(crate) struct Section<'a> {
    pub name: String,
    pub status: DestinationStatus,
    pub title: String,
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub account: Option<String>,
    pub location: Option<String>,
    /// Audiences: sign, name and id, schedule in words.
    pub audiences: Vec<(Sign, String, String)>,
    pub changes: Vec<&'a Change>,
    pub items: Vec<(Sign, String)>,
    pub entity_items: Vec<(Resource, Sign, String)>,
    pub duplicates: Vec<&'a Duplicate>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("json");
    s.push('\n');
    s
}

fn status_from_changes(changes: &[&Change]) -> DestinationStatus {
    if changes
        .iter()
        .any(|c| c.action() == Action::Create && c.resource() == Resource::Flow)
    {
        DestinationStatus::Create
    } else if changes.iter().any(|c| c.action() == Action::Delete) {
        DestinationStatus::Delete
    } else if changes.is_empty() {
        DestinationStatus::Unchanged
    } else if changes.iter().any(|c| c.action() == Action::Adopt) {
        DestinationStatus::Adopt
    } else {
        DestinationStatus::Update
    }
}

pub(crate) fn sections<'a>(plan: &'a Plan, details: Option<&PlanDetails>) -> Vec<Section<'a>> {
    let changes_of = |name: &str| -> Vec<&'a Change> {
        plan.changes.iter().filter(|c| c.name() == name).collect()
    };
    let duplicates_of = |name: &str| -> Vec<&'a Duplicate> {
        plan.duplicates.iter().filter(|d| d.name == name).collect()
    };
    match details {
        Some(details) => details
            .destinations
            .iter()
            .map(|d| {
                let mut items = d.notes.clone();
                let mut audiences = Vec::new();
                for a in &d.audiences {
                    let v = a.after.as_ref().or(a.before.as_ref());
                    let label = v.map(words::audience_label).unwrap_or_else(|| a.id.clone());
                    let schedule = match (&a.before, &a.after) {
                        (Some(b), Some(after)) => {
                            let (wb, wa) =
                                (words::audience_schedule(b), words::audience_schedule(after));
                            if wb == wa {
                                wa
                            } else {
                                format!("{wb} → {wa}")
                            }
                        }
                        (_, Some(v)) | (Some(v), None) => words::audience_schedule(v),
                        (None, None) => String::new(),
                    };
                    audiences.push((a.sign.clone(), label, schedule));
                }
                for a in &d.audiences {
                    let v = a.after.as_ref().or(a.before.as_ref());
                    let label = v.map(words::audience_label).unwrap_or_else(|| a.id.clone());
                    let text = match (&a.before, &a.after) {
                        (Some(b), Some(after)) => {
                            let (wb, wa) =
                                (words::audience_schedule(b), words::audience_schedule(after));
                            if wb == wa {
                                format!("audience {label}: {wa} (other fields changed)")
                            } else {
                                format!("audience {label}: {wb} → {wa}")
                            }
                        }
                        (_, Some(v)) | (Some(v), None) => {
                            format!("audience {label}: {}", words::audience_schedule(v))
                        }
                        (None, None) => format!("audience {label}"),
                    };
                    items.push((a.sign.clone(), text));
                }
                for (sign, path) in &d.attributes {
                    items.push((sign.clone(), format!("attribute {path}")));
                }
                let mut title = d.name.clone();
                match (&d.display_name, d.platform) {
                    (Some(n), Some(p)) => {
                        title.push_str(&format!(" ({n}, {})", p.info().display_name))
                    }
                    (Some(n), None) => title.push_str(&format!(" ({n})")),
                    (None, Some(p)) => title.push_str(&format!(" ({})", p.info().display_name)),
                    (None, None) => {}
                }
                let (before, after) = match d.status {
                    DestinationStatus::Unchanged | DestinationStatus::LeftInPlace => (None, None),
                    DestinationStatus::Delete => (d.before.clone(), None),
                    _ => (d.before.clone(), d.after.clone()),
                };
                Section {
                    name: d.name.clone(),
                    status: d.status,
                    title,
                    display_name: d.display_name.clone(),
                    platform: d.platform.map(|p| p.info().display_name.to_owned()),
                    account: d.account.clone(),
                    location: d.location.clone(),
                    audiences,
                    changes: changes_of(&d.name),
                    items,
                    entity_items: d.entity_notes.clone(),
                    duplicates: duplicates_of(&d.name),
                    before,
                    after,
                }
            })
            .collect(),
        None => {
            let mut names: Vec<&str> = plan.changes.iter().map(|c| c.name()).collect();
            names.extend(plan.left_in_place.iter().map(|l| l.name.as_str()));
            names.extend(plan.duplicates.iter().map(|d| d.name.as_str()));
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|name| {
                    let changes = changes_of(name);
                    let status = if plan.left_in_place.iter().any(|l| l.name == name) {
                        DestinationStatus::LeftInPlace
                    } else {
                        status_from_changes(&changes)
                    };
                    Section {
                        name: name.to_owned(),
                        status,
                        title: name.to_owned(),
                        display_name: None,
                        platform: None,
                        account: None,
                        location: None,
                        audiences: Vec::new(),
                        changes,
                        items: Vec::new(),
                        entity_items: Vec::new(),
                        duplicates: duplicates_of(name),
                        before: None,
                        after: None,
                    }
                })
                .collect()
        }
    }
}

/// A change line of a section (`None`: no change) and the items shown under it.
pub(crate) type Line<'s> = (Option<&'s Change>, Vec<(Sign, String)>);

/// A section's lines in display order: each change with the items that belong to it (the
/// account's and location's notes under their update, the flow's under its create or update),
/// then, under `None`, any item no change took.
pub(crate) fn layout<'s>(s: &'s Section<'_>) -> Vec<Line<'s>> {
    let flow_anchor = s
        .changes
        .iter()
        .position(|c| {
            c.resource() == Resource::Flow && matches!(c.action(), Action::Create | Action::Update)
        })
        .or_else(|| {
            s.changes
                .iter()
                .rposition(|c| c.resource() == Resource::Flow)
        });
    let mut placed = vec![false; s.entity_items.len()];
    let mut out = Vec::new();
    for (i, c) in s.changes.iter().enumerate() {
        let mut items = Vec::new();
        if c.resource() != Resource::Flow {
            // Updates take their entity's notes; creates and deletes (a dataset export's source
            // connections) only the notes of their own sign.
            let takes = |sign: &Sign| match c.action() {
                Action::Update | Action::Adopt => true,
                Action::Create => *sign == Sign::Add,
                Action::Delete => *sign == Sign::Remove,
                Action::Enable | Action::Disable => false,
            };
            for (j, (r, sign, text)) in s.entity_items.iter().enumerate() {
                if *r == c.resource() && !placed[j] && takes(sign) {
                    placed[j] = true;
                    items.push((sign.clone(), text.clone()));
                }
            }
        }
        if Some(i) == flow_anchor {
            items.extend(s.items.iter().cloned());
        }
        out.push((Some(*c), items));
    }
    let mut rest: Vec<(Sign, String)> = s
        .entity_items
        .iter()
        .zip(&placed)
        .filter(|(_, p)| !**p)
        .map(|((_, sign, text), _)| (sign.clone(), text.clone()))
        .collect();
    if flow_anchor.is_none() {
        rest.extend(s.items.iter().cloned());
    }
    if !rest.is_empty() {
        out.push((None, rest));
    }
    out
}

fn diff_lines(out: &mut String, before: &str, after: &str) {
    let diff = similar::TextDiff::from_lines(before, after);
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value());
        if change.missing_newline() {
            out.push('\n');
        }
    }
}

/// The unified diff of a section's managed flow, `None` when there is nothing to show: one
/// hunk for the flow's own fields, then one per audience added, changed or removed (so the
/// lines of different audiences are never paired up).
pub(crate) fn flow_diff(section: &Section<'_>) -> Option<String> {
    if section.before.is_none() && section.after.is_none() {
        return None;
    }
    let split = |v: Option<&Value>| -> (String, serde_json::Map<String, Value>) {
        match v {
            Some(Value::Object(m)) => {
                let mut head = m.clone();
                let audiences = match head.shift_remove("audiences") {
                    Some(Value::Object(a)) => a,
                    _ => serde_json::Map::new(),
                };
                (pretty(&Value::Object(head)), audiences)
            }
            _ => (String::new(), serde_json::Map::new()),
        }
    };
    let (head_before, aud_before) = split(section.before.as_ref());
    let (head_after, aud_after) = split(section.after.as_ref());
    let mut out = String::from("--- live flow\n+++ planned flow\n");
    let mut changed = false;
    if head_before != head_after {
        changed = true;
        let diff = similar::TextDiff::from_lines(&head_before, &head_after);
        let unified = diff.unified_diff().context_radius(3).to_string();
        out.push_str(&unified);
    }
    let mut ids: Vec<&String> = aud_before.keys().chain(aud_after.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let (b, a) = (aud_before.get(id), aud_after.get(id));
        if b == a {
            continue;
        }
        changed = true;
        let label = a
            .or(b)
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .map_or_else(|| id.clone(), |n| format!("{n} ({id})"));
        out.push_str(&format!("@@ audience {label} @@\n"));
        diff_lines(
            &mut out,
            &b.map(pretty).unwrap_or_default(),
            &a.map(pretty).unwrap_or_default(),
        );
    }
    changed.then_some(out)
}
