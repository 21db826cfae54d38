//! The default, human-readable plan.

use super::{Section, escape_controls, flow_diff, layout, sections, words};
use crate::plan::diff::Sign;
use crate::plan::{DestinationStatus, Plan, PlanDetails};
use std::fmt::Write;

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

struct Painter {
    color: bool,
}

impl Painter {
    /// `s` escaped (see [`escape_controls`]), in colour when asked.
    fn paint(&self, code: &str, s: &str) -> String {
        let s = escape_controls(s);
        if self.color {
            format!("{code}{s}{RESET}")
        } else {
            s.into_owned()
        }
    }

    fn sign(&self, sign: &Sign) -> String {
        let code = match sign {
            Sign::Add => GREEN,
            Sign::Change => YELLOW,
            Sign::Remove => RED,
        };
        self.paint(code, &words::sign_char(sign).to_string())
    }

    fn diff_line(&self, line: &str) -> String {
        let code = if line.starts_with("+++") || line.starts_with("---") {
            BOLD
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else if line.starts_with("@@") {
            CYAN
        } else {
            return escape_controls(line).into_owned();
        };
        self.paint(code, line)
    }
}

fn status_sign(status: DestinationStatus) -> Option<Sign> {
    match status {
        DestinationStatus::Create => Some(Sign::Add),
        DestinationStatus::Update | DestinationStatus::Adopt => Some(Sign::Change),
        DestinationStatus::Delete => Some(Sign::Remove),
        DestinationStatus::Unchanged | DestinationStatus::LeftInPlace => None,
    }
}

fn section(out: &mut String, s: &Section<'_>, p: &Painter) {
    let head = match status_sign(s.status) {
        Some(sign) => format!("{} ", p.sign(&sign)),
        None => "  ".into(),
    };
    let _ = writeln!(
        out,
        "{head}{}: {}",
        p.paint(BOLD, &s.title),
        s.status.as_str()
    );
    for (change, items) in layout(s) {
        if let Some(c) = change {
            let _ = writeln!(
                out,
                "    {} {}",
                p.sign(&words::action_sign(c.action())),
                escape_controls(&words::change_words(c))
            );
        }
        for (sign, text) in &items {
            let _ = writeln!(out, "      {} {}", p.sign(sign), escape_controls(text));
        }
    }
    for d in &s.duplicates {
        let _ = writeln!(
            out,
            "    {} {}",
            p.paint(RED, "!"),
            words::duplicate_words(d)
        );
    }
    if let Some(diff) = flow_diff(s) {
        for line in diff.lines() {
            let _ = writeln!(out, "      {}", p.diff_line(line));
        }
    }
}

/// The text plan: a section per Destination, then the summary line.
pub(crate) fn render(plan: &Plan, details: Option<&PlanDetails>, color: bool) -> String {
    let p = Painter { color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Target: {} (sandbox {})\n",
        escape_controls(&plan.target.endpoint),
        escape_controls(&plan.target.sandbox)
    );
    let all = sections(plan, details);
    for s in &all {
        section(&mut out, s, &p);
    }
    if !all.is_empty() {
        out.push('\n');
    }
    let outside = super::drift::out_of_band_lines(plan);
    if !outside.is_empty() {
        let _ = writeln!(out, "{}:", p.paint(BOLD, super::drift::OUT_OF_BAND_HEADING));
        for (name, lines) in &outside {
            let _ = writeln!(out, "  {name}");
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
        out.push('\n');
    }
    if let Some(w) = words::duplicates_warning(plan) {
        let _ = writeln!(out, "{}", p.paint(RED, &w));
    }
    if plan.summary.unchanged > 0 {
        let _ = writeln!(out, "{} Destination(s) unchanged.", plan.summary.unchanged);
    }
    if !plan.has_changes() {
        out.push_str("No changes. Live state matches the manifests.\n");
    }
    let _ = writeln!(out, "{}", p.paint(BOLD, &words::summary_line(plan)));
    out
}
