//! Schedule rules, for `Schedule` documents and inline activation schedules: real calendar
//! dates, full-hour start times, and the catalog's export mode / frequency / trigger rules,
//! each reported at the value that breaks it.

use super::checker::{Checker, DocRef, Pos};
use crate::catalog::{self, ExportMode, Schedule, StartTime, TriggerType};
use crate::manifest::raw::ScheduleSpec;
use chrono::NaiveDate;
use serde_saphyr::Spanned;
use std::fmt::Display;

/// A `startDate`/`endDate` that is not a date.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum DateError {
    /// Not shaped `YYYY-MM-DD`.
    #[error("`{0}` is not a date; write YYYY-MM-DD, e.g. 2021-12-20")]
    Shape(String),
    /// Shaped right, but no such day (`2021-02-30`).
    #[error("`{0}` is not a real calendar date; write an existing day as YYYY-MM-DD")]
    NoSuchDay(String),
}

/// Parses `YYYY-MM-DD` as a real calendar date.
pub(super) fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(DateError::Shape(s.to_owned()));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DateError::NoSuchDay(s.to_owned()))
}

/// Checks a schedule (named or inline) and returns it when valid. `prefix` is the field path
/// of the schedule (`spec`, `spec.activations[0].schedule`).
pub(super) fn check_schedule(
    ck: &mut Checker,
    doc: DocRef,
    s: &ScheduleSpec,
    prefix: &str,
) -> Option<(ExportMode, Schedule)> {
    let errors_before = ck.error_count();
    let start_date = parse_field(ck, doc, &s.start_date, prefix, "startDate", parse_date);
    let end_date = s
        .end_date
        .as_ref()
        .and_then(|e| parse_field(ck, doc, e, prefix, "endDate", parse_date));
    let start_time = s
        .start_time
        .as_ref()
        .and_then(|t| parse_field(ck, doc, t, prefix, "startTime", StartTime::parse));
    let trigger = s.trigger_type.as_ref().map(|t| t.value);
    let schedule = Schedule {
        frequency: s.frequency.value,
        trigger_type: trigger,
        start_date: start_date.unwrap_or_default(),
        end_date,
        start_time,
    };
    let mode = s.export_mode.value;
    let parsed = Parsed {
        start_date: start_date.is_some(),
        end_date: end_date.is_some(),
        start_time: start_time.is_some(),
    };
    for v in catalog::check_schedule(mode, &schedule) {
        if let Some(pos) = violation_pos(ck, doc, s, v.field, parsed) {
            ck.err(&pos, &format!("{prefix}.{}", v.field), v.message);
        }
    }
    if mode == ExportMode::DailyFullExport
        && trigger == Some(TriggerType::AfterSegmentEval)
        && let Some(t) = &s.start_time
    {
        let pos = ck.at(doc, t);
        ck.warn(
            &pos,
            &format!("{prefix}.startTime"),
            "startTime does not apply to a DAILY_FULL_EXPORT triggered AFTER_SEGMENT_EVAL; AEP ignores it",
        );
    }
    (ck.error_count() == errors_before).then_some((mode, schedule))
}

/// Parses one scalar of the schedule, reporting a failure at the value as `prefix.name`.
fn parse_field<T, E: Display>(
    ck: &mut Checker,
    doc: DocRef,
    value: &Spanned<String>,
    prefix: &str,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    match parse(&value.value) {
        Ok(v) => Some(v),
        Err(e) => {
            let pos = ck.at(doc, value);
            ck.err(&pos, &format!("{prefix}.{name}"), e.to_string());
            None
        }
    }
}

/// Which of the schedule's scalars parsed (the catalog saw a placeholder for the others).
#[derive(Clone, Copy)]
struct Parsed {
    start_date: bool,
    end_date: bool,
    start_time: bool,
}

/// Where to report a catalog rule broken on `field`; `None` when the value at fault was
/// already reported as unreadable.
fn violation_pos(
    ck: &Checker,
    doc: DocRef,
    s: &ScheduleSpec,
    field: &str,
    parsed: Parsed,
) -> Option<Pos> {
    Some(match field {
        "frequency" => ck.at(doc, &s.frequency),
        "startTime" => match (&s.start_time, &s.trigger_type) {
            (Some(t), _) => {
                if !parsed.start_time {
                    return None;
                }
                ck.at(doc, t)
            }
            (None, Some(t)) => ck.at(doc, t),
            (None, None) => ck.at(doc, &s.frequency),
        },
        "endDate" => {
            if !parsed.start_date || !parsed.end_date {
                return None;
            }
            ck.at(doc, s.end_date.as_ref()?)
        }
        _ => ck.at(doc, &s.export_mode),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real_calendar_days() {
        assert_eq!(
            parse_date("2021-12-20").unwrap(),
            NaiveDate::from_ymd_opt(2021, 12, 20).unwrap()
        );
        assert!(parse_date("2024-02-29").is_ok());
        assert!(
            parse_date("2021-02-29")
                .unwrap_err()
                .to_string()
                .contains("calendar")
        );
        assert!(parse_date("2021-02-30").is_err());
        assert!(
            parse_date("2021-2-3")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
        assert!(parse_date("20211220").is_err());
    }
}
