//! Plan contents in words: schedules, audiences, change signs.

use crate::plan::diff::Sign;
use crate::plan::{Action, Change, resource_word};
use serde_json::Value;

fn time_words(schedule: &Value) -> Option<String> {
    match schedule.get("triggerType").and_then(Value::as_str) {
        Some("AFTER_SEGMENT_EVAL") => Some("after segment evaluation".into()),
        _ => schedule
            .get("startTime")
            .and_then(Value::as_str)
            .map(|t| format!("at {t} UTC")),
    }
}

/// A selector's schedule in words: `daily at 17:00 UTC, full export`,
/// `every 6 hours, incremental, until 2026-03-01`.
pub(crate) fn schedule_words(export_mode: Option<&str>, schedule: &Value) -> String {
    let freq = schedule
        .get("frequency")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let start = schedule.get("startDate").and_then(Value::as_str);
    let mut out = match freq {
        "ONCE" => format!("once on {}", start.unwrap_or("?")),
        "DAILY" => "daily".into(),
        "WEEKLY" => "weekly".into(),
        "MONTHLY" => "monthly".into(),
        other => match other
            .strip_prefix("EVERY_")
            .and_then(|r| r.strip_suffix("_HOURS"))
        {
            Some(n) => format!("every {n} hours"),
            None => other.to_lowercase(),
        },
    };
    if let Some(t) = time_words(schedule) {
        out.push(' ');
        out.push_str(&t);
    }
    match export_mode {
        Some("DAILY_FULL_EXPORT") => out.push_str(", full export"),
        Some("FIRST_FULL_THEN_INCREMENTAL") => out.push_str(", incremental"),
        Some(other) => {
            out.push_str(", ");
            out.push_str(other);
        }
        None => {}
    }
    if let Some(end) = schedule.get("endDate").and_then(Value::as_str) {
        out.push_str(&format!(", until {end}"));
    }
    out
}

/// An audience selector value's name beside its id: `Mountain bikers (9f7d…)`.
pub(crate) fn audience_label(value: &Value) -> String {
    let id = value.get("id").and_then(Value::as_str).unwrap_or("?");
    match value
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

/// An audience selector value's schedule in words.
pub(crate) fn audience_schedule(value: &Value) -> String {
    schedule_words(
        value.get("exportMode").and_then(Value::as_str),
        value.get("schedule").unwrap_or(&Value::Null),
    )
}

/// The sign shown for an item change.
pub(crate) fn sign_char(sign: &Sign) -> char {
    match sign {
        Sign::Add => '+',
        Sign::Change => '~',
        Sign::Remove => '-',
    }
}

/// The sign shown for a change.
pub(crate) fn action_sign(action: Action) -> Sign {
    match action {
        Action::Create => Sign::Add,
        Action::Update | Action::Enable | Action::Disable | Action::Adopt => Sign::Change,
        Action::Delete => Sign::Remove,
    }
}

/// One change in words, without its sign: `flow 1234 (3 ops)`.
pub(crate) fn change_words(c: &Change) -> String {
    let what = match c {
        Change::Create(create) => create.key.clone(),
        Change::Update(u) | Change::Adopt(u) => u.id.to_string(),
        Change::Delete(d) => match &d.key {
            Some(key) => format!("{key} {}", d.id),
            None => format!("of {} {}", d.name, d.id),
        },
        Change::Enable(t) | Change::Disable(t) => t.id.to_string(),
    };
    let mut out = format!(
        "{} {} {what}",
        c.action().as_str(),
        resource_word(c.resource())
    );
    if let Some(p) = c.patch() {
        let n = p.len();
        let label = if c.action() == Action::Create {
            "activation patch"
        } else {
            "patch"
        };
        out.push_str(&format!(
            " ({label}: {n} op{})",
            if n == 1 { "" } else { "s" }
        ));
    }
    out
}

/// A duplicate in words: `duplicate flow f2 (same marker as f1): left in place; --prune
/// deletes it`.
pub(crate) fn duplicate_words(d: &crate::plan::Duplicate) -> String {
    use crate::plan::DuplicateDisposition;
    let resource = serde_json::to_value(d.resource)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let same = match &d.kept {
        Some(k) => format!("same marker as {k}"),
        None => "same marker".to_owned(),
    };
    let what = match d.disposition {
        DuplicateDisposition::Delete => "deleted by this plan (--prune)",
        DuplicateDisposition::LeftInPlace => "left in place; --prune deletes it",
        DuplicateDisposition::InUse => "left in place: an object that stays uses it",
    };
    format!("duplicate {resource} {} ({same}): {what}", d.id)
}

/// The warning about duplicates, if there are any.
pub(crate) fn duplicates_warning(plan: &crate::plan::Plan) -> Option<String> {
    let n = plan.duplicates.len();
    (n > 0).then(|| {
        format!(
            "Warning: {n} duplicate managed object(s): objects carrying the ownership marker of a Destination in a role it already has. destctl manages the oldest; see the `!` lines."
        )
    })
}

/// The summary line: `Plan: N to create, M to update, K to delete.` (and `, A to adopt` when
/// the plan adopts).
pub(crate) fn summary_line(plan: &crate::plan::Plan) -> String {
    let adopt = match plan.summary.adopt {
        0 => String::new(),
        n => format!(", {n} to adopt"),
    };
    format!(
        "Plan: {} to create, {} to update, {} to delete{adopt}.",
        plan.summary.create, plan.summary.update, plan.summary.delete
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedules_in_words() {
        assert_eq!(
            schedule_words(
                Some("DAILY_FULL_EXPORT"),
                &json!({"frequency":"DAILY","triggerType":"SCHEDULED","startDate":"2021-12-20","startTime":"17:00"})
            ),
            "daily at 17:00 UTC, full export"
        );
        assert_eq!(
            schedule_words(
                Some("FIRST_FULL_THEN_INCREMENTAL"),
                &json!({"frequency":"EVERY_6_HOURS","startDate":"2026-01-01","endDate":"2026-03-01"})
            ),
            "every 6 hours, incremental, until 2026-03-01"
        );
        assert_eq!(
            schedule_words(
                Some("DAILY_FULL_EXPORT"),
                &json!({"frequency":"ONCE","triggerType":"AFTER_SEGMENT_EVAL","startDate":"2022-07-22"})
            ),
            "once on 2022-07-22 after segment evaluation, full export"
        );
    }
}
