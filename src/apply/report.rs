//! The apply report: what was created, updated, enabled, disabled and deleted (with ids and
//! timings), what failed per Destination and what was not attempted. Text for people, JSON for
//! machines; never a secret value.

use crate::plan::{Action, resource_word};
use crate::wire::Resource;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// One request that succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoneItem {
    /// The Destination name.
    pub name: String,
    /// What was done.
    pub action: Action,
    /// On which collection.
    pub resource: Resource,
    /// The entity's id.
    pub id: String,
    /// The plan key, for creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Extra detail (`activation, 3 ops`, `after 1 re-plan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A new flow's activation patch: part of its `create` change, not a change of its own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub of_create: bool,
    /// Time the request(s) took.
    pub elapsed_ms: u64,
}

/// Why a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// 412: the entity changed after the plan was made (or kept changing while re-planning).
    PreconditionFailed,
    /// Any other API or transport error.
    Api,
    /// A `${ref:}` could not be resolved, or a re-plan failed.
    Internal,
}

/// The step that failed a Destination; its later steps were not attempted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureItem {
    /// The Destination name.
    pub name: String,
    /// The failing change.
    pub action: Action,
    /// Its collection.
    pub resource: Resource,
    /// The entity id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The kind of failure.
    pub kind: FailureKind,
    /// The error, without secret values.
    pub error: String,
}

/// Why a change was not attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRunReason {
    /// An earlier step of the same Destination failed.
    EarlierFailure,
    /// Ctrl-C arrived before it started.
    Interrupted,
}

/// A change of the plan that was not sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotRunItem {
    /// The Destination name.
    pub name: String,
    /// The change's action.
    pub action: Action,
    /// Its collection.
    pub resource: Resource,
    /// The entity id, for changes on existing entities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why.
    pub reason: NotRunReason,
}

/// Counts of what was done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// Entities created.
    pub created: usize,
    /// `update`, `enable` and `disable` changes done, as the plan counts them (a new flow's
    /// activation patch belongs to its create).
    pub updated: usize,
    /// Flows enabled (counted in `updated` too).
    pub enabled: usize,
    /// Flows disabled (counted in `updated` too).
    pub disabled: usize,
    /// Entities deleted.
    pub deleted: usize,
    /// Unmanaged entities adopted (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub adopted: usize,
    /// Failed steps (one per failed Destination).
    pub failed: usize,
    /// Changes not attempted.
    pub not_run: usize,
}

/// The result of an apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Counts.
    pub summary: ReportSummary,
    /// Successful requests, grouped by Destination in plan order.
    pub done: Vec<DoneItem>,
    /// One per failed Destination.
    pub failures: Vec<FailureItem>,
    /// Changes not attempted.
    pub not_run: Vec<NotRunItem>,
    /// Whether Ctrl-C stopped the apply.
    pub interrupted: bool,
    /// Wall time of the execution.
    pub elapsed_ms: u64,
}

impl ApplyReport {
    /// Recomputes `summary` from the lists and records the elapsed time.
    pub fn finish(&mut self, elapsed: Duration) {
        let count = |a: Action| {
            self.done
                .iter()
                .filter(|d| d.action == a && !d.of_create)
                .count()
        };
        self.summary = ReportSummary {
            created: count(Action::Create),
            updated: count(Action::Update) + count(Action::Enable) + count(Action::Disable),
            enabled: count(Action::Enable),
            disabled: count(Action::Disable),
            deleted: count(Action::Delete),
            adopted: count(Action::Adopt),
            failed: self.failures.len(),
            not_run: self.not_run.len(),
        };
        self.elapsed_ms = elapsed.as_millis() as u64;
    }

    /// Whether everything in the plan was done.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && self.not_run.is_empty() && !self.interrupted
    }

    /// The report as deterministic-shaped JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// The report as text for people (control characters escaped).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut names: Vec<&str> = Vec::new();
        for n in self
            .done
            .iter()
            .map(|d| d.name.as_str())
            .chain(self.failures.iter().map(|f| f.name.as_str()))
        {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for n in &names {
            let items: Vec<&DoneItem> = self.done.iter().filter(|d| d.name == *n).collect();
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{n}:");
            for d in items {
                let sign = match d.action {
                    _ if d.of_create => '+',
                    Action::Create => '+',
                    Action::Delete => '-',
                    _ => '~',
                };
                let _ = write!(
                    out,
                    "  {sign} {} {} {}",
                    if d.of_create {
                        "activated"
                    } else {
                        past(d.action)
                    },
                    resource_word(d.resource),
                    d.id
                );
                if let Some(note) = &d.note {
                    let _ = write!(out, " ({note})");
                }
                let _ = writeln!(out, " in {} ms", d.elapsed_ms);
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "Failed:");
            for f in &self.failures {
                let _ = write!(
                    out,
                    "  ! {}: {} {}",
                    f.name,
                    f.action.as_str(),
                    resource_word(f.resource)
                );
                if let Some(id) = &f.id {
                    let _ = write!(out, " {id}");
                }
                let _ = writeln!(out, ": {}", f.error);
                if f.kind == FailureKind::PreconditionFailed {
                    let _ = writeln!(
                        out,
                        "    it changed after the plan was made and was left as it is; re-run `destctl plan`"
                    );
                }
            }
        }
        if !self.not_run.is_empty() {
            let _ = writeln!(out, "Not attempted:");
            for n in &self.not_run {
                let _ = write!(
                    out,
                    "  . {}: {} {}",
                    n.name,
                    n.action.as_str(),
                    resource_word(n.resource)
                );
                if let Some(id) = &n.id {
                    let _ = write!(out, " {id}");
                }
                let why = match n.reason {
                    NotRunReason::EarlierFailure => "an earlier step failed",
                    NotRunReason::Interrupted => "interrupted",
                };
                let _ = writeln!(out, " ({why})");
            }
        }
        let s = &self.summary;
        let head = if self.interrupted {
            "Apply interrupted"
        } else if !self.failures.is_empty() {
            "Apply failed"
        } else {
            "Apply complete"
        };
        let _ = write!(
            out,
            "{head}: {} created, {} updated, {} deleted",
            s.created, s.updated, s.deleted
        );
        if s.adopted > 0 {
            let _ = write!(out, ", {} adopted", s.adopted);
        }
        if s.failed > 0 {
            let _ = write!(out, ", {} failed", s.failed);
        }
        if s.not_run > 0 {
            let _ = write!(out, ", {} not attempted", s.not_run);
        }
        let _ = writeln!(out, " in {:.2} s.", self.elapsed_ms as f64 / 1000.0);
        // Names, ids and error messages come from manifests and the server: no control
        // character reaches the terminal.
        crate::render::escape_lines(&out)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn past(a: Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Enable => "enabled",
        Action::Disable => "disabled",
        Action::Adopt => "adopted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ApplyReport {
        let mut r = ApplyReport {
            done: vec![
                DoneItem {
                    name: "a".into(),
                    action: Action::Create,
                    resource: Resource::Flow,
                    id: "f1".into(),
                    key: Some("a/flow".into()),
                    note: None,
                    of_create: false,
                    elapsed_ms: 12,
                },
                DoneItem {
                    name: "a".into(),
                    action: Action::Update,
                    resource: Resource::Flow,
                    id: "f1".into(),
                    key: None,
                    note: Some("activation, 2 ops".into()),
                    of_create: true,
                    elapsed_ms: 3,
                },
                DoneItem {
                    name: "b".into(),
                    action: Action::Enable,
                    resource: Resource::Flow,
                    id: "f2".into(),
                    key: None,
                    note: None,
                    of_create: false,
                    elapsed_ms: 4,
                },
            ],
            failures: vec![FailureItem {
                name: "c".into(),
                action: Action::Update,
                resource: Resource::Flow,
                id: Some("f3".into()),
                kind: FailureKind::PreconditionFailed,
                error: "412 Precondition Failed".into(),
            }],
            not_run: vec![NotRunItem {
                name: "c".into(),
                action: Action::Enable,
                resource: Resource::Flow,
                id: Some("f3".into()),
                reason: NotRunReason::EarlierFailure,
            }],
            interrupted: false,
            ..ApplyReport::default()
        };
        r.finish(Duration::from_millis(1234));
        r
    }

    #[test]
    fn summary_and_text() {
        let r = sample();
        assert_eq!(
            r.summary,
            ReportSummary {
                created: 1,
                updated: 1,
                enabled: 1,
                disabled: 0,
                deleted: 0,
                adopted: 0,
                failed: 1,
                not_run: 1
            }
        );
        assert!(!r.is_success());
        insta::assert_snapshot!(r.to_text());
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["summary"]["created"], 1);
        assert_eq!(v["done"][0]["action"], "create");
        assert_eq!(v["done"][0]["resource"], "flow");
        assert_eq!(v["failures"][0]["kind"], "precondition_failed");
        assert_eq!(v["not_run"][0]["reason"], "earlier_failure");
        assert_eq!(v["elapsed_ms"], 1234);
    }
}
