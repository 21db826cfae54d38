//! Export health (`destctl status`): from the managed flows and their recent runs, one
//! [`FlowHealth`] per Destination, and the report in text, JSON (versioned) and Markdown.
//!
//! The rules: a disabled flow is reported, not flagged (it is off on purpose; `drift` tells
//! whether the manifests agree); an enabled flow is *failing* when its last finished run
//! failed, *stale* when it had no successful run in the window although it existed before the
//! window began, *waiting* when it is younger than the window and has not run yet, else
//! *healthy*. A Destination of the manifests without a live flow is *missing*. Failing, stale
//! and missing are unhealthy. Pure: reading the runs is the command's job.

use crate::diagnostics::escape_controls;
use crate::wire::run::{Run, RunError, RunStatus};
use serde::Serialize;
use std::fmt::Write as _;

/// The format version of the JSON report.
pub const STATUS_FORMAT_VERSION: u32 = 1;

/// The health of one Destination's flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Its last run succeeded and it had a success in the window.
    Healthy,
    /// Enabled, younger than the window, no run yet.
    Waiting,
    /// Disabled: reported, not flagged.
    Disabled,
    /// Its last finished run failed.
    Failing,
    /// No successful run in the window.
    Stale,
    /// In the manifests, but no managed flow is live.
    Missing,
}

impl Health {
    /// Whether it makes `status` exit 2.
    pub fn is_unhealthy(self) -> bool {
        matches!(self, Health::Failing | Health::Stale | Health::Missing)
    }

    /// The word shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Waiting => "waiting",
            Health::Disabled => "disabled",
            Health::Failing => "failing",
            Health::Stale => "stale",
            Health::Missing => "missing",
        }
    }
}

/// The live flow of a Destination, as `status` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFacts {
    /// Its id.
    pub id: String,
    /// Its name in AEP.
    pub name: Option<String>,
    /// `state` is `enabled`.
    pub enabled: bool,
    /// `createdAt`, epoch ms.
    pub created_at: Option<i64>,
    /// The flow's `lastRunDetails`, for a last run older than the window.
    pub last_run: Option<Run>,
}

/// One run, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run id.
    pub id: String,
    /// Its status.
    pub status: String,
    /// When it started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Records exported (absent when the run does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// Files exported (absent when the run does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Its errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorReport>,
}

/// One run error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Its code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The health of one Destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowHealth {
    /// The Destination's `metadata.name`.
    pub name: String,
    /// The flow id (absent when missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// The flow's name in AEP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_name: Option<String>,
    /// `enabled`, `disabled`, or absent when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// The verdict.
    pub health: Health,
    /// Why, in words.
    pub reason: String,
    /// The last run (in the window, else the flow's `lastRunDetails`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunReport>,
    /// The last successful run's start (RFC 3339), if in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
    /// Runs started in the window.
    pub runs_in_window: usize,
    /// Of which failed.
    pub failed_in_window: usize,
}

/// Counts of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusSummary {
    /// Destinations reported.
    pub total: usize,
    /// Not flagged (healthy, waiting, disabled).
    pub healthy: usize,
    /// Flagged (failing, stale, missing).
    pub unhealthy: usize,
}

/// The whole report (the JSON document of `status --format json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Always [`STATUS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The service's time the report was made at (RFC 3339).
    pub as_of: String,
    /// The window, in seconds.
    pub window_seconds: u64,
    /// Counts.
    pub summary: StatusSummary,
    /// One entry per Destination, by name.
    pub destinations: Vec<FlowHealth>,
}

impl StatusReport {
    /// Whether any Destination is unhealthy.
    pub fn has_unhealthy(&self) -> bool {
        self.summary.unhealthy > 0
    }
}

/// RFC 3339 of epoch ms, to the second.
pub fn instant_words(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn run_report(r: &Run) -> RunReport {
    RunReport {
        id: r.id.clone(),
        status: r
            .status
            .as_ref()
            .map_or("unknown", RunStatus::as_str)
            .to_owned(),
        started_at: r.when().map(instant_words),
        completed_at: r.completed_at.map(instant_words),
        records: r.records_exported,
        files: r.files_exported,
        errors: r
            .errors
            .iter()
            .map(|RunError { code, message }| ErrorReport {
                code: code.clone(),
                message: message.clone(),
            })
            .collect(),
    }
}

/// The health of Destination `name`: `flow` is its live flow (`None`: missing), `runs` its
/// runs started in the window (any order), `now_ms` the service's time.
pub fn evaluate(
    name: &str,
    flow: Option<&FlowFacts>,
    runs: &[Run],
    now_ms: i64,
    window_ms: i64,
) -> FlowHealth {
    let Some(flow) = flow else {
        return FlowHealth {
            name: name.to_owned(),
            flow_id: None,
            flow_name: None,
            state: None,
            health: Health::Missing,
            reason: "no managed flow is live (not applied yet, or deleted outside destctl)".into(),
            last_run: None,
            last_success_at: None,
            runs_in_window: 0,
            failed_in_window: 0,
        };
    };
    let since = now_ms - window_ms;
    let mut runs: Vec<&Run> = runs.iter().collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.when().unwrap_or(i64::MIN)));
    let finished = |r: &&&Run| matches!(r.status, Some(RunStatus::Success | RunStatus::Failed));
    let last_finished = runs.iter().find(finished).copied();
    let last_success = runs
        .iter()
        .find(|r| r.status == Some(RunStatus::Success))
        .copied();
    let failed = runs
        .iter()
        .filter(|r| r.status == Some(RunStatus::Failed))
        .count();
    let last = runs.first().copied().or(flow.last_run.as_ref());
    let window_words = duration_words(window_ms);
    let (health, reason) = if !flow.enabled {
        (Health::Disabled, "the flow is disabled: no runs".to_owned())
    } else if let Some(r) = last_finished.filter(|r| r.status == Some(RunStatus::Failed)) {
        let code = r
            .errors
            .iter()
            .find_map(|e| e.code.as_deref())
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        (Health::Failing, format!("the last run failed{code}"))
    } else if let Some(s) = last_success {
        (
            Health::Healthy,
            format!(
                "last successful run {}",
                s.when().map(instant_words).unwrap_or_default()
            ),
        )
    } else if flow.created_at.is_some_and(|c| c > since) && runs.is_empty() {
        (
            Health::Waiting,
            format!("created less than {window_words} ago; no run yet"),
        )
    } else if flow
        .last_run
        .as_ref()
        .is_some_and(|r| r.status == Some(RunStatus::Failed))
    {
        (
            Health::Failing,
            format!("no run in the last {window_words}, and the last one failed"),
        )
    } else {
        (
            Health::Stale,
            format!("no successful run in the last {window_words}"),
        )
    };
    FlowHealth {
        name: name.to_owned(),
        flow_id: Some(flow.id.clone()),
        flow_name: flow.name.clone(),
        state: Some(if flow.enabled { "enabled" } else { "disabled" }),
        health,
        reason,
        last_run: last.map(run_report),
        last_success_at: last_success.and_then(Run::when).map(instant_words),
        runs_in_window: runs.len(),
        failed_in_window: failed,
    }
}

/// The report of `entries` (sorted by name here).
pub fn report(mut entries: Vec<FlowHealth>, now_ms: i64, window_ms: i64) -> StatusReport {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let unhealthy = entries.iter().filter(|e| e.health.is_unhealthy()).count();
    StatusReport {
        format_version: STATUS_FORMAT_VERSION,
        as_of: instant_words(now_ms),
        window_seconds: u64::try_from(window_ms / 1000).unwrap_or(0),
        summary: StatusSummary {
            total: entries.len(),
            healthy: entries.len() - unhealthy,
            unhealthy,
        },
        destinations: entries,
    }
}

/// `36h`, `2d`, `90m`, `45s`.
pub fn duration_words(ms: i64) -> String {
    let s = ms / 1000;
    if s % 86_400 == 0 && s >= 2 * 86_400 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 && s >= 3600 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 && s >= 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn last_run_words(r: &RunReport) -> String {
    let mut s = format!(
        "{} {}",
        r.status,
        r.started_at.as_deref().unwrap_or("(time unknown)")
    );
    if let Some(n) = r.records {
        let _ = write!(s, ", {n} records");
    }
    if let Some(n) = r.files {
        let _ = write!(s, ", {n} file{}", if n == 1 { "" } else { "s" });
    }
    s
}

/// The report for people.
pub fn render_text(report: &StatusReport) -> String {
    let mut out = format!(
        "Export health as of {} (window {}):\n\n",
        report.as_of,
        duration_words(report.window_seconds as i64 * 1000)
    );
    for d in &report.destinations {
        let _ = write!(out, "{:<9} {}", d.health.as_str(), escape_controls(&d.name));
        match (&d.flow_name, d.state) {
            (Some(n), Some(state)) => {
                let _ = writeln!(out, "  (flow {:?}, {state})", escape_controls(n).as_ref());
            }
            (None, Some(state)) => {
                let _ = writeln!(out, "  ({state})");
            }
            _ => out.push('\n'),
        }
        let _ = writeln!(out, "          {}", escape_controls(&d.reason));
        if let Some(r) = &d.last_run {
            let _ = writeln!(out, "          last run: {}", last_run_words(r));
            for e in &r.errors {
                let _ = writeln!(
                    out,
                    "          error {}: {}",
                    escape_controls(e.code.as_deref().unwrap_or("?")),
                    escape_controls(e.message.as_deref().unwrap_or(""))
                );
            }
        }
        if d.flow_id.is_some() && d.state == Some("enabled") {
            let _ = writeln!(
                out,
                "          runs in the window: {} ({} failed)",
                d.runs_in_window, d.failed_in_window
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} Destination{}: {} healthy, {} unhealthy.",
        report.summary.total,
        if report.summary.total == 1 { "" } else { "s" },
        report.summary.healthy,
        report.summary.unhealthy
    );
    out
}

/// The JSON report: pretty, newline-terminated.
pub fn render_json(report: &StatusReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a report serializes");
    s.push('\n');
    s
}

fn md_cell(s: &str) -> String {
    escape_controls(s).replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown (an issue or chat message).
pub fn render_markdown(report: &StatusReport) -> String {
    let mut out = format!(
        "### destctl status: {} healthy, {} unhealthy\n\nAs of {}, window {}.\n\n",
        report.summary.healthy,
        report.summary.unhealthy,
        report.as_of,
        duration_words(report.window_seconds as i64 * 1000)
    );
    out.push_str("| Destination | State | Health | Last run | Records | Files | Why |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for d in &report.destinations {
        let mark = if d.health.is_unhealthy() { "**" } else { "" };
        let (run, records, files) = match &d.last_run {
            Some(r) => (
                format!(
                    "{} {}",
                    r.status,
                    r.started_at.as_deref().unwrap_or_default()
                ),
                r.records.map(|n| n.to_string()).unwrap_or_default(),
                r.files.map(|n| n.to_string()).unwrap_or_default(),
            ),
            None => ("—".into(), String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {mark}{}{mark} | {} | {} | {} | {} |",
            md_cell(&d.name),
            d.state.unwrap_or("—"),
            d.health.as_str(),
            md_cell(&run),
            records,
            files,
            md_cell(&d.reason)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const NOW: i64 = 1_796_144_400_000;

    fn run(at: i64, status: RunStatus) -> Run {
        Run {
            id: format!("r{at}"),
            flow_id: Some("f".into()),
            created_at: Some(at),
            started_at: Some(at),
            completed_at: Some(at + 60_000),
            status: Some(status),
            records_exported: Some(10),
            files_exported: Some(1),
            errors: Vec::new(),
        }
    }

    fn flow(enabled: bool, created_at: i64) -> FlowFacts {
        FlowFacts {
            id: "f".into(),
            name: Some("F".into()),
            enabled,
            created_at: Some(created_at),
            last_run: None,
        }
    }

    #[test]
    fn verdicts() {
        let old = NOW - 100 * H;
        let ok = evaluate(
            "a",
            Some(&flow(true, old)),
            &[run(NOW - H, RunStatus::Success)],
            NOW,
            24 * H,
        );
        assert_eq!(ok.health, Health::Healthy);
        let failing = evaluate(
            "a",
            Some(&flow(true, old)),
            &[
                run(NOW - 2 * H, RunStatus::Success),
                run(NOW - H, RunStatus::Failed),
            ],
            NOW,
            24 * H,
        );
        assert_eq!(failing.health, Health::Failing);
        assert_eq!(failing.failed_in_window, 1);
        assert_eq!(
            evaluate("a", Some(&flow(true, old)), &[], NOW, 24 * H).health,
            Health::Stale
        );
        assert_eq!(
            evaluate("a", Some(&flow(true, NOW - H)), &[], NOW, 24 * H).health,
            Health::Waiting
        );
        assert_eq!(
            evaluate("a", Some(&flow(false, old)), &[], NOW, 24 * H).health,
            Health::Disabled
        );
        assert_eq!(
            evaluate("a", None, &[], NOW, 24 * H).health,
            Health::Missing
        );
        let processing = evaluate(
            "a",
            Some(&flow(true, old)),
            &[
                run(NOW - 2 * H, RunStatus::Success),
                run(NOW - H, RunStatus::Processing),
            ],
            NOW,
            24 * H,
        );
        assert_eq!(processing.health, Health::Healthy);
        assert_eq!(processing.last_run.unwrap().status, "processing");
        let r = report(vec![failing, ok], NOW, 24 * H);
        assert_eq!((r.summary.healthy, r.summary.unhealthy), (1, 1));
        assert!(render_json(&r).contains("\"format_version\": 1"));
        assert!(render_markdown(&r).contains("| `a` | enabled | **failing** |"));
    }
}
