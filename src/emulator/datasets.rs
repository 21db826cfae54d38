//! Dataset exports: Data Lake source connections (`params.datasets`), dataset flows (a current
//! card's dataset flow spec, a Data Lake source, `transformations: []`, `scheduleParams`), and
//! the two PATCHes a dataset flow takes (`replace /sourceConnectionIds`,
//! `replace /scheduleParams`).
//!
//! Decisions (recorded in `docs/emulator.md`, "Dataset exports"), after the reference's
//! flow-service-api.md §5.5 and data-prep-and-file-exports.md §6:
//! - A Data Lake source connection takes no base connection; `params.datasets` is a non-empty
//!   array of `{dataSetId, name?}` and cannot be changed after creation (SPEC-D): a PATCH of
//!   its `params` is refused with 400 `1455`.
//! - `scheduleParams` (SPEC-D `DatasetScheduleParams_V2`): `startTime` (epoch seconds) and
//!   `timeUnit` (`hour`|`day`) are required; `interval` is 1 with `day`, 3, 6, 9 or 12 with
//!   `hour`, and 0 only for a one-off `DAILY_FULL_EXPORT` by `day` (EXDS); `endTime`, when
//!   given, is after `startTime`; when omitted it is set to six months (183 days) after the
//!   request, as EXDS documents; `folderNameTemplate` and `foldernameTemplate` are both
//!   accepted and echoed as sent.
//! - A dataset flow is one whose source connection is a Data Lake one; its `transformations`
//!   stay `[]`. `sourceConnectionIds` of a dataset flow may be replaced by PATCH with exactly one
//!   existing Data Lake source connection; audience flows keep theirs read-only.

use super::store::Sandbox;
use crate::catalog;
use crate::wire::Resource;
use serde_json::{Map, Value, json};

/// Seconds in the default export window of a dataset flow without `endTime` (six months).
const DEFAULT_END_SECS: i64 = 183 * 24 * 3600;

/// Whether a stored source connection reads from the Data Lake.
pub(crate) fn is_data_lake(source: &Value) -> bool {
    source.pointer("/connectionSpec/id").and_then(Value::as_str) == Some(catalog::DATA_LAKE_SPEC_ID)
}

/// Whether a stored flow is a dataset flow (its source connection is a Data Lake one).
pub(crate) fn is_dataset_flow(flow: &Value) -> bool {
    flow.pointer("/inheritedAttributes/sourceConnections/0/connectionSpec/id")
        .and_then(Value::as_str)
        == Some(catalog::DATA_LAKE_SPEC_ID)
}

/// Checks a Data Lake source connection's `params` (create): `datasets` is a non-empty array
/// of `{dataSetId, name?}` with distinct ids, and nothing else.
pub(crate) fn check_source_params(params: Option<&Value>) -> Vec<String> {
    let Some(params) = params.and_then(Value::as_object) else {
        return vec!["a Data Lake source connection needs `params.datasets`".into()];
    };
    let mut errors = Vec::new();
    for k in params.keys().filter(|k| *k != "datasets") {
        errors.push(format!("params.{k} is not a Data Lake source param"));
    }
    match params.get("datasets").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => {
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.get("dataSetId").and_then(Value::as_str) {
                    Some(id) if !id.is_empty() => {
                        if seen.contains(&id) {
                            errors.push(format!("params.datasets[{i}]: dataset {id} twice"));
                        }
                        seen.push(id);
                    }
                    _ => errors.push(format!(
                        "params.datasets[{i}].dataSetId must be a non-empty string"
                    )),
                }
                if item.get("name").is_some_and(|n| !n.is_string()) {
                    errors.push(format!("params.datasets[{i}].name must be a string"));
                }
            }
        }
        _ => errors.push("params.datasets must be a non-empty array".into()),
    }
    errors
}

/// Checks `scheduleParams` and fills a missing `endTime`; returns one message per broken rule.
pub(crate) fn check_schedule_params(sp: &mut Value, now_secs: i64) -> Vec<String> {
    let Some(o) = sp.as_object_mut() else {
        return vec!["`scheduleParams` must be an object".into()];
    };
    let mut errors = Vec::new();
    let known = [
        "exportMode",
        "startTime",
        "endTime",
        "interval",
        "timeUnit",
        "folderNameTemplate",
        "foldernameTemplate",
    ];
    for k in o.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(format!("scheduleParams.{k} is not a schedule param"));
    }
    let start = o.get("startTime").and_then(Value::as_i64);
    if start.is_none_or(|s| s < 0) {
        errors.push("scheduleParams.startTime must be epoch seconds".into());
    }
    let mode = o.get("exportMode").map(|m| m.as_str());
    if let Some(m) = mode
        && !matches!(
            m,
            Some("DAILY_FULL_EXPORT") | Some("FIRST_FULL_THEN_INCREMENTAL")
        )
    {
        errors.push(
            "scheduleParams.exportMode must be DAILY_FULL_EXPORT or FIRST_FULL_THEN_INCREMENTAL"
                .into(),
        );
    }
    let full = mode == Some(Some("DAILY_FULL_EXPORT"));
    let unit = o.get("timeUnit").and_then(Value::as_str);
    let interval = o.get("interval").and_then(Value::as_u64);
    match (unit, interval) {
        (Some("day"), Some(1)) if !full => {}
        (Some("day"), Some(0)) if full => {}
        (Some("hour"), Some(3 | 6 | 9 | 12)) if !full => {}
        (Some("day" | "hour"), _) => errors.push(format!(
            "scheduleParams.interval {} is not accepted with timeUnit {} and exportMode {}: use 1 by day, 3, 6, 9 or 12 by hour, 0 by day for a one-off DAILY_FULL_EXPORT",
            o.get("interval").unwrap_or(&Value::Null),
            unit.unwrap_or_default(),
            if full { "DAILY_FULL_EXPORT" } else { "FIRST_FULL_THEN_INCREMENTAL" }
        )),
        _ => errors.push("scheduleParams.timeUnit must be \"hour\" or \"day\"".into()),
    }
    match o.get("endTime") {
        None => {
            o.insert("endTime".into(), json!(now_secs + DEFAULT_END_SECS));
        }
        Some(e) => match (e.as_i64(), start) {
            (Some(e), Some(s)) if e > s => {}
            _ => errors.push("scheduleParams.endTime must be epoch seconds after startTime".into()),
        },
    }
    for k in ["folderNameTemplate", "foldernameTemplate"] {
        if o.get(k).is_some_and(|v| !v.is_string()) {
            errors.push(format!("scheduleParams.{k} must be a string"));
        }
    }
    errors
}

/// Checks the dataset-specific fields of a flow create body or of a patched dataset flow:
/// `transformations` is `[]` and `scheduleParams` is valid (a missing `endTime` is filled).
pub(crate) fn check_dataset_flow(flow: &mut Map<String, Value>, now_secs: i64) -> Vec<String> {
    let mut errors = Vec::new();
    if !flow
        .get("transformations")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        errors.push("a dataset flow takes `transformations: []`".into());
    }
    match flow.get_mut("scheduleParams") {
        Some(sp) => errors.extend(check_schedule_params(sp, now_secs)),
        None => errors.push("a dataset flow needs `scheduleParams`".into()),
    }
    errors
}

/// After a PATCH of a dataset flow: the new `sourceConnectionIds` must name exactly one
/// existing Data Lake source connection; `inheritedAttributes.sourceConnections` follows it.
pub(crate) fn relink_sources(sb: &Sandbox, flow: &mut Value) -> Result<(), Vec<String>> {
    let ids = flow.get("sourceConnectionIds").and_then(Value::as_array);
    let Some([Value::String(id)]) = ids.map(Vec::as_slice) else {
        return Err(vec![
            "`sourceConnectionIds` must be an array holding exactly one id".into(),
        ]);
    };
    let id = id.clone();
    let Some(source) = sb.get(Resource::SourceConnection, &id) else {
        return Err(vec![format!("source connection {id} does not exist")]);
    };
    if !is_data_lake(&source.value) {
        return Err(vec![format!(
            "source connection {id} is not a Data Lake source connection"
        )]);
    }
    let spec = json!({"id": source.value.pointer("/connectionSpec/id"),
                      "version": source.value.pointer("/connectionSpec/version")});
    flow["inheritedAttributes"]["sourceConnections"] = json!([{"id": id, "connectionSpec": spec}]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> i64 {
        1000
    }

    #[test]
    fn schedule_params_rules() {
        let mut ok = json!({"startTime": 10, "interval": 1, "timeUnit": "day"});
        assert!(check_schedule_params(&mut ok, actor()).is_empty());
        assert_eq!(ok["endTime"], json!(1000 + DEFAULT_END_SECS));
        let mut hourly = json!({"startTime": 10, "interval": 6, "timeUnit": "hour", "endTime": 20});
        assert!(check_schedule_params(&mut hourly, actor()).is_empty());
        let mut once = json!({"exportMode": "DAILY_FULL_EXPORT", "startTime": 1, "interval": 0, "timeUnit": "day"});
        assert!(check_schedule_params(&mut once, actor()).is_empty());
        for bad in [
            json!({"startTime": 10, "interval": 2, "timeUnit": "hour"}),
            json!({"startTime": 10, "interval": 1, "timeUnit": "week"}),
            json!({"interval": 1, "timeUnit": "day"}),
            json!({"startTime": 10, "interval": 1, "timeUnit": "day", "endTime": 5}),
            json!({"startTime": 10, "interval": 1, "timeUnit": "day", "x": 1}),
        ] {
            let mut b = bad.clone();
            assert!(!check_schedule_params(&mut b, actor()).is_empty(), "{bad}");
        }
    }

    #[test]
    fn source_params_rules() {
        assert!(
            check_source_params(Some(
                &json!({"datasets": [{"dataSetId": "a", "name": "A"}]})
            ))
            .is_empty()
        );
        assert!(!check_source_params(Some(&json!({"datasets": []}))).is_empty());
        assert!(!check_source_params(None).is_empty());
        assert!(
            !check_source_params(Some(
                &json!({"datasets": [{"dataSetId": "a"}, {"dataSetId": "a"}]})
            ))
            .is_empty()
        );
    }
}
