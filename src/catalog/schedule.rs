//! Export schedules: export modes, frequencies, triggers and start times, the selector's
//! `schedule` object, and the rules that tie them together.

use super::RuleViolation;
use super::wire_enum::wire_enum;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

wire_enum! {
    /// An audience's export mode.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum ExportMode {
        /// A full file every time.
        DailyFullExport = "DAILY_FULL_EXPORT",
        /// A full file first, then only the changes.
        FirstFullThenIncremental = "FIRST_FULL_THEN_INCREMENTAL",
    }
}

impl ExportMode {
    /// The frequencies this export mode allows: full exports run once, daily, weekly or
    /// monthly; incremental exports daily or every 3, 6, 8 or 12 hours.
    pub fn frequencies(self) -> &'static [Frequency] {
        match self {
            ExportMode::DailyFullExport => &[
                Frequency::Once,
                Frequency::Daily,
                Frequency::Weekly,
                Frequency::Monthly,
            ],
            ExportMode::FirstFullThenIncremental => &[
                Frequency::Daily,
                Frequency::Every3Hours,
                Frequency::Every6Hours,
                Frequency::Every8Hours,
                Frequency::Every12Hours,
            ],
        }
    }
}

wire_enum! {
    /// How often an audience is exported.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Frequency {
        /// One export.
        Once = "ONCE",
        /// Every day.
        Daily = "DAILY",
        /// Every week (full exports only; newer docs).
        Weekly = "WEEKLY",
        /// Every month (full exports only; newer docs).
        Monthly = "MONTHLY",
        /// Every 3 hours (incremental only).
        Every3Hours = "EVERY_3_HOURS",
        /// Every 6 hours (incremental only).
        Every6Hours = "EVERY_6_HOURS",
        /// Every 8 hours (incremental only).
        Every8Hours = "EVERY_8_HOURS",
        /// Every 12 hours (incremental only).
        Every12Hours = "EVERY_12_HOURS",
    }
}

wire_enum! {
    /// What starts an export.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum TriggerType {
        /// Right after the daily batch segmentation job.
        AfterSegmentEval = "AFTER_SEGMENT_EVAL",
        /// At a fixed UTC time (`startTime` required).
        Scheduled = "SCHEDULED",
    }
}

/// A `startTime` that is not a full hour of the day.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartTimeError {
    /// Not shaped `HH:MM`.
    #[error("`{0}` is not a time of day; write HH:00, e.g. \"17:00\"")]
    Shape(String),
    /// An hour above 23, or minutes other than `00`.
    #[error("`{0}` is not a full hour; startTime is HH:00 with HH from 00 to 23")]
    NotFullHour(String),
}

/// A full hour of the day, written `HH:00` (the API allows no minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StartTime(u8);

impl StartTime {
    /// Parses `HH:MM`; the minutes must be `00`.
    pub fn parse(s: &str) -> Result<StartTime, StartTimeError> {
        let b = s.as_bytes();
        let shape_ok =
            b.len() == 5 && b[2] == b':' && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(StartTimeError::Shape(s.to_owned()));
        }
        let hour: u8 = s[..2].parse().expect("two digits");
        if hour > 23 || &s[3..] != "00" {
            return Err(StartTimeError::NotFullHour(s.to_owned()));
        }
        Ok(StartTime(hour))
    }

    /// The hour, 0–23.
    pub fn hour(self) -> u8 {
        self.0
    }

    /// A start time at this hour (0–23).
    pub fn from_hour(hour: u8) -> Option<StartTime> {
        (hour < 24).then_some(StartTime(hour))
    }
}

impl fmt::Display for StartTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:00", self.0)
    }
}

impl Serialize for StartTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StartTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StartTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for StartTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StartTime".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):00$",
            "description": "A full hour in UTC, HH:00"
        })
    }
}

/// An audience export schedule, as the API's selector `schedule` object holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// How often.
    pub frequency: Frequency,
    /// What starts each export; the API invents no default, so `None` stays absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<TriggerType>,
    /// First day of exports.
    pub start_date: NaiveDate,
    /// Last day of exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// Hour of the export, for `SCHEDULED` triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<StartTime>,
}

/// Checks one audience's schedule against its export mode: the frequency is one the mode
/// allows, a `SCHEDULED` trigger has a `startTime`, and an `endDate` applies (not to a one-off
/// full export) and is not before the `startDate`.
pub fn check_schedule(mode: ExportMode, schedule: &Schedule) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    if !mode.frequencies().contains(&schedule.frequency) {
        let allowed: Vec<_> = mode.frequencies().iter().map(|f| f.as_str()).collect();
        out.push(RuleViolation {
            field: "frequency",
            message: format!(
                "frequency {} is not allowed with exportMode {}; allowed: {}",
                schedule.frequency,
                mode,
                allowed.join(", ")
            ),
        });
    }
    if schedule.trigger_type == Some(TriggerType::Scheduled) && schedule.start_time.is_none() {
        out.push(RuleViolation {
            field: "startTime",
            message: "triggerType SCHEDULED needs a startTime (HH:00, UTC)".into(),
        });
    }
    if let Some(end) = schedule.end_date {
        if mode == ExportMode::DailyFullExport && schedule.frequency == Frequency::Once {
            out.push(RuleViolation {
                field: "endDate",
                message:
                    "endDate does not apply to a DAILY_FULL_EXPORT with frequency ONCE; remove it"
                        .into(),
            });
        } else if end < schedule.start_date {
            out.push(RuleViolation {
                field: "endDate",
                message: format!("endDate {end} is before startDate {}", schedule.start_date),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time() {
        assert_eq!(StartTime::parse("17:00").unwrap().hour(), 17);
        assert!(StartTime::parse("17:30").is_err());
        assert!(StartTime::parse("24:00").is_err());
        assert!(StartTime::parse("7:00").is_err());
    }

    #[test]
    fn schedule_rules() {
        let s = Schedule {
            frequency: Frequency::Every6Hours,
            trigger_type: Some(TriggerType::Scheduled),
            start_date: NaiveDate::from_ymd_opt(2022, 1, 2).unwrap(),
            end_date: Some(NaiveDate::from_ymd_opt(2022, 1, 1).unwrap()),
            start_time: None,
        };
        let fields: Vec<_> = check_schedule(ExportMode::DailyFullExport, &s)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["frequency", "startTime", "endDate"]);
        assert!(
            check_schedule(
                ExportMode::FirstFullThenIncremental,
                &Schedule {
                    end_date: None,
                    start_time: StartTime::from_hour(3),
                    ..s
                }
            )
            .is_empty()
        );
    }
}
