//! Dataflow runs on the simulated clock ([`super::clock`]).
//!
//! Runs are produced when the clock is moved (`POST /_emulator/clock`): every enabled flow gets
//! one run per instant its audience schedules fall on between the previous move and the new
//! time (never before the flow's `createdAt`), covering the audiences due then; a dataset flow
//! runs on its `scheduleParams` (`startTime`, every `interval` `timeUnit`s, until `endTime`). A run is
//! complete when it appears (status `success`, or `failed` while a failure is injected for its
//! flow with `POST /_emulator/flows/{id}/fail`), with the shape of the Flow Service's runs:
//! `metrics.durationSummary`, `sizeSummary`, `recordSummary` (per audience
//! `segment:<id>` entity summaries), `fileSummary` and `statusSummary`. Record counts are a
//! hash of audience and instant, so the same schedule gives the same numbers. The flow's
//! `lastRunDetails` follows its newest run (its etag does not change: a run is not an edit).
//! Runs, injected failures and the clock live in memory only, not in the state file.

use super::store::Entity;
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Most runs kept per flow (the oldest are dropped).
pub(crate) const MAX_RUNS_PER_FLOW: usize = 500;
/// Most schedule instants turned into runs per flow by one clock move (the latest are kept).
const MAX_INSTANTS_PER_MOVE: usize = 200;
/// Files split at this many rows.
const ROWS_PER_FILE: u64 = 5_000_000;
/// The user the service runs exports as.
const SERVICE_USER: &str = "acp_foundation_connectors@AdobeID";
/// The client the service runs exports as.
const SERVICE_CLIENT: &str = "acp_foundation_connectors";

/// A failure injected for the next runs of one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// How many of its next runs fail.
    pub remaining: u32,
    /// The error code the runs report.
    pub code: String,
    /// The error message the runs report.
    pub message: String,
}

/// The default error of an injected failure.
pub(crate) const DEFAULT_FAILURE_CODE: &str = "EXPORT-2001-500";
/// The default message of an injected failure.
pub(crate) const DEFAULT_FAILURE_MESSAGE: &str =
    "Could not write the export files to the destination location: access denied";

#[derive(Debug, Default)]
struct Inner {
    /// Runs are produced up to this instant (epoch ms); `None` until the first move.
    generated_until: Option<i64>,
    seq: u64,
    /// Runs by `(org, sandbox)`.
    runs: HashMap<(String, String), Vec<Entity>>,
    failing: HashMap<String, Failure>,
}

/// Every run of every sandbox, and the injected failures.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    inner: Mutex<Inner>,
}

/// The run of one flow at one instant, before it is stored.
struct Due<'a> {
    flow: &'a Value,
    at_ms: i64,
    audiences: &'a [String],
}

impl Runs {
    /// The runs of a sandbox (any order).
    pub(crate) fn of_sandbox(&self, org: &str, sandbox: &str) -> Vec<Entity> {
        let inner = self.inner.lock().expect("lock");
        inner
            .runs
            .get(&(org.to_owned(), sandbox.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The run sequence number given out last (the list cutoff).
    pub(crate) fn current_seq(&self) -> u64 {
        self.inner.lock().expect("lock").seq
    }

    /// One run by id.
    pub(crate) fn get(&self, org: &str, sandbox: &str, id: &str) -> Option<Entity> {
        let inner = self.inner.lock().expect("lock");
        inner
            .runs
            .get(&(org.to_owned(), sandbox.to_owned()))?
            .iter()
            .find(|e| e.value["id"] == id)
            .cloned()
    }

    /// Makes the next `failure.remaining` runs of `flow_id` fail (0 clears).
    pub(crate) fn fail(&self, flow_id: &str, failure: Failure) {
        let mut inner = self.inner.lock().expect("lock");
        if failure.remaining == 0 {
            inner.failing.remove(flow_id);
        } else {
            inner.failing.insert(flow_id.to_owned(), failure);
        }
    }

    /// Drops every run and injected failure (the generation point stays).
    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock().expect("lock");
        inner.runs.clear();
        inner.failing.clear();
    }

    /// Makes `now_ms` the start of run generation (the clock was started elsewhere).
    pub(crate) fn restart_at(&self, now_ms: i64) {
        self.inner.lock().expect("lock").generated_until = Some(now_ms);
    }

    /// Marks `now_ms` as the start of run generation when nothing was generated yet.
    pub(crate) fn start_at(&self, now_ms: i64) {
        let mut inner = self.inner.lock().expect("lock");
        inner.generated_until.get_or_insert(now_ms);
    }

    /// Produces the runs due in `(previous move, to_ms]` for the flows of one sandbox
    /// (`flows`: every flow value of `(org, sandbox)`); returns the new `lastRunDetails` per
    /// flow id. `from_ms` is the previous generation point (see [`Runs::advance_window`]).
    pub(crate) fn produce(
        &self,
        org: &str,
        sandbox: &str,
        flows: &[Value],
        from_ms: i64,
        to_ms: i64,
    ) -> BTreeMap<String, Value> {
        let mut inner = self.inner.lock().expect("lock");
        let mut last = BTreeMap::new();
        let mut made: Vec<Entity> = Vec::new();
        for flow in flows {
            if flow["state"] != "enabled" {
                continue;
            }
            let created = flow["createdAt"].as_i64().unwrap_or(i64::MIN);
            let due = due_instants(flow, from_ms.max(created), to_ms);
            let skip = due.len().saturating_sub(MAX_INSTANTS_PER_MOVE);
            let flow_id = flow["id"].as_str().unwrap_or_default().to_owned();
            for (at_ms, audiences) in due.iter().skip(skip) {
                let failure = match inner.failing.get_mut(&flow_id) {
                    Some(f) => {
                        f.remaining -= 1;
                        let out = f.clone();
                        if f.remaining == 0 {
                            inner.failing.remove(&flow_id);
                        }
                        Some(out)
                    }
                    None => None,
                };
                inner.seq += 1;
                let run = run_value(
                    &Due {
                        flow,
                        at_ms: *at_ms,
                        audiences,
                    },
                    failure.as_ref(),
                );
                last.insert(flow_id.clone(), last_run_details(&run));
                made.push(Entity::new(inner.seq, run));
            }
        }
        if !made.is_empty() {
            let list = inner
                .runs
                .entry((org.to_owned(), sandbox.to_owned()))
                .or_default();
            list.extend(made);
            trim(list);
        }
        last
    }

    /// The window of the next generation, `(from, to]`, and records `to` as generated.
    pub(crate) fn advance_window(&self, to_ms: i64) -> i64 {
        let mut inner = self.inner.lock().expect("lock");
        let from = inner.generated_until.unwrap_or(to_ms);
        inner.generated_until = Some(to_ms.max(from));
        from
    }
}

/// Keeps the newest [`MAX_RUNS_PER_FLOW`] runs of each flow.
fn trim(list: &mut Vec<Entity>) {
    let mut per_flow: HashMap<String, usize> = HashMap::new();
    for e in list.iter() {
        *per_flow
            .entry(e.value["flowId"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    if per_flow.values().all(|n| *n <= MAX_RUNS_PER_FLOW) {
        return;
    }
    // Oldest first: drop from the front while a flow has too many.
    list.sort_by_key(|e| e.created);
    list.retain(|e| {
        let n = per_flow
            .get_mut(e.value["flowId"].as_str().unwrap_or_default())
            .expect("counted");
        if *n > MAX_RUNS_PER_FLOW {
            *n -= 1;
            false
        } else {
            true
        }
    });
}

/// The flow's `lastRunDetails` for `run`.
fn last_run_details(run: &Value) -> Value {
    json!({
        "id": run["id"],
        "state": run["metrics"]["statusSummary"]["status"],
        "startedAtUTC": run["metrics"]["durationSummary"]["startedAtUTC"],
        "completedAtUTC": run["metrics"]["durationSummary"]["completedAtUTC"],
    })
}

/// Every instant in `(from_ms, to_ms]` some audience of `flow` is scheduled at, with the
/// audiences due then.
pub(crate) fn due_instants(flow: &Value, from_ms: i64, to_ms: i64) -> BTreeMap<i64, Vec<String>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if let Some(params) = flow.get("scheduleParams").filter(|p| p.is_object()) {
        // A dataset flow: one entity, its datasets' source connection.
        let source = flow
            .pointer("/sourceConnectionIds/0")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for at in dataset_instants(params, from_ms, to_ms) {
            out.entry(at).or_default().push(format!("dataset:{source}"));
        }
        return out;
    }
    let selectors = flow
        .pointer("/transformations/0/params/segmentSelectors/selectors")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for s in selectors {
        let Some(id) = s.pointer("/value/id").and_then(Value::as_str) else {
            continue;
        };
        let schedule = s.pointer("/value/schedule").unwrap_or(&Value::Null);
        for at in schedule_instants(schedule, from_ms, to_ms) {
            out.entry(at).or_default().push(id.to_owned());
        }
    }
    out
}

/// The instants of one audience `schedule` in `(from_ms, to_ms]`. The first is `startDate` at
/// `startTime` (00:00 for `AFTER_SEGMENT_EVAL`, which the emulator runs at midnight UTC); the
/// schedule ends after `endDate`.
fn schedule_instants(schedule: &Value, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let date = |k: &str| {
        schedule[k]
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    let Some(start_date) = date("startDate") else {
        return Vec::new();
    };
    let time = schedule["startTime"]
        .as_str()
        .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .unwrap_or_default();
    let first = Utc
        .from_utc_datetime(&start_date.and_time(time))
        .timestamp_millis();
    let end = date("endDate")
        .and_then(|d| d.succ_opt())
        .map(|d| {
            Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
                .timestamp_millis()
        })
        .unwrap_or(i64::MAX);
    let upper = to_ms.min(end.saturating_sub(1));
    let hour = 3_600_000i64;
    let step = match schedule["frequency"].as_str().unwrap_or_default() {
        "ONCE" => {
            return if first > from_ms && first <= upper {
                vec![first]
            } else {
                Vec::new()
            };
        }
        "DAILY" => 24 * hour,
        "WEEKLY" => 7 * 24 * hour,
        "EVERY_3_HOURS" => 3 * hour,
        "EVERY_6_HOURS" => 6 * hour,
        "EVERY_8_HOURS" => 8 * hour,
        "EVERY_12_HOURS" => 12 * hour,
        "MONTHLY" => return monthly(start_date, time, from_ms, upper),
        _ => return Vec::new(),
    };
    let mut t = first;
    if from_ms >= first {
        t = first + ((from_ms - first) / step + 1) * step;
    }
    let mut out = Vec::new();
    while t <= upper {
        out.push(t);
        t += step;
    }
    out
}

/// The instants of a dataset flow's `scheduleParams` in `(from_ms, to_ms]`: `startTime`
/// (epoch seconds), then every `interval` `timeUnit`s (`hour` or `day`; 0: once), not after
/// `endTime`.
fn dataset_instants(params: &Value, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let Some(start) = params["startTime"].as_i64().map(|s| s * 1000) else {
        return Vec::new();
    };
    let unit = match params["timeUnit"].as_str() {
        Some("hour") => 3_600_000,
        Some("day") => 86_400_000,
        _ => return Vec::new(),
    };
    let upper = params["endTime"]
        .as_i64()
        .map_or(to_ms, |e| to_ms.min(e * 1000));
    let step = params["interval"].as_i64().unwrap_or(1) * unit;
    if step <= 0 {
        return if start > from_ms && start <= upper {
            vec![start]
        } else {
            Vec::new()
        };
    }
    let mut t = start;
    if from_ms >= start {
        t = start + ((from_ms - start) / step + 1) * step;
    }
    let mut out = Vec::new();
    while t <= upper {
        out.push(t);
        t += step;
    }
    out
}

fn monthly(start: NaiveDate, time: NaiveTime, from_ms: i64, upper: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for months in 0u32..1200 {
        let Some(d) = start.checked_add_months(chrono::Months::new(months)) else {
            break;
        };
        let t = Utc.from_utc_datetime(&d.and_time(time)).timestamp_millis();
        if t > upper {
            break;
        }
        if t > from_ms {
            out.push(t);
        }
    }
    out
}

/// FNV-1a of the parts: the deterministic "random" of a run's numbers.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn run_value(due: &Due<'_>, failure: Option<&Failure>) -> Value {
    let flow = due.flow;
    let flow_id = flow["id"].as_str().unwrap_or_default();
    let at = due.at_ms.to_string();
    let duration_ms =
        60_000 + (hash(&[&due.audiences.join(","), &at, "duration"]) % 540_000) as i64;
    let completed = due.at_ms + duration_ms;
    let failed = failure.is_some();
    let mut total_in = 0u64;
    let mut total_out = 0u64;
    let mut files = 0u64;
    let mut entities_in = Vec::new();
    let mut entities_out = Vec::new();
    for a in due.audiences {
        let records = 1_000 + hash(&[a, &at]) % 99_000;
        let out = if failed { 0 } else { records };
        total_in += records;
        total_out += out;
        if !failed {
            files += records.div_ceil(ROWS_PER_FILE);
        }
        let entity = if a.starts_with("dataset:") {
            a.clone()
        } else {
            format!("segment:{a}")
        };
        entities_in.push(json!({"id": entity, "inputRecordCount": records}));
        entities_out.push(json!({"id": entity, "outputRecordCount": out}));
    }
    let source = flow
        .pointer("/sourceConnectionIds/0")
        .cloned()
        .unwrap_or(Value::Null);
    let target = flow
        .pointer("/targetConnectionIds/0")
        .cloned()
        .unwrap_or(Value::Null);
    let (status, errors, failed_info) = match failure {
        Some(f) => (
            "failed",
            json!([{"code": f.code, "message": f.message}]),
            json!([{"code": f.code, "message": f.message, "count": total_in}]),
        ),
        None => ("success", json!([]), json!([])),
    };
    let id = uuid::Uuid::new_v4().to_string();
    json!({
        "id": id,
        "createdAt": due.at_ms,
        "updatedAt": completed,
        "createdBy": SERVICE_USER,
        "updatedBy": SERVICE_USER,
        "createdClient": SERVICE_CLIENT,
        "updatedClient": SERVICE_CLIENT,
        "sandboxId": flow["sandboxId"],
        "sandboxName": flow["sandboxName"],
        "imsOrgId": flow["imsOrgId"],
        "flowId": flow_id,
        "flowSpec": flow["flowSpec"],
        "providerRefId": uuid::Uuid::new_v4().to_string(),
        "etag": super::resources::new_etag(completed),
        "metrics": {
            "durationSummary": {"startedAtUTC": due.at_ms, "completedAtUTC": completed},
            "sizeSummary": {"inputBytes": total_in * 120, "outputBytes": total_out * 100},
            "recordSummary": {
                "inputRecordCount": total_in,
                "createdRecordCount": total_out,
                "outputRecordCount": total_out,
                "skippedRecordCount": 0,
                "sourceSummaries": [{"id": source, "inputRecordCount": total_in,
                                     "entitySummaries": entities_in}],
                "targetSummaries": [{"id": target, "outputRecordCount": total_out,
                                     "entitySummaries": entities_out}],
                "skippedInfo": [],
                "failedInfo": failed_info,
            },
            "fileSummary": {"inputFileCount": 0, "outputFileCount": files},
            "statusSummary": {"status": status, "errors": errors, "activityRefs": []},
        },
        "activities": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(schedules: Value) -> Value {
        let selectors: Vec<Value> = schedules
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"type": "PLATFORM_SEGMENT", "value": {"id": format!("a{i}"), "schedule": s}}))
            .collect();
        json!({"id": "f1", "state": "enabled", "createdAt": 0,
               "transformations": [{"params": {"segmentSelectors": {"selectors": selectors}}}]})
    }

    const DAY: i64 = 86_400_000;
    // 2026-12-01T00:00:00Z
    const DEC1: i64 = 1_796_083_200_000;

    #[test]
    fn daily_schedules_fall_on_their_hour_and_merge_per_instant() {
        let f = flow(json!([
            {"frequency": "DAILY", "startDate": "2026-12-01", "startTime": "17:00"},
            {"frequency": "DAILY", "startDate": "2026-12-02", "startTime": "17:00"},
            {"frequency": "ONCE", "startDate": "2026-12-01", "startTime": "05:00"},
        ]));
        let due = due_instants(&f, DEC1, DEC1 + 3 * DAY);
        let list: Vec<(i64, usize)> = due
            .iter()
            .map(|(t, a)| ((t - DEC1) / 3_600_000, a.len()))
            .collect();
        assert_eq!(list, vec![(5, 1), (17, 1), (41, 2), (65, 2)]);
        // The window is open at its start.
        let later = due_instants(&f, DEC1 + 17 * 3_600_000, DEC1 + DAY);
        assert!(later.is_empty());
    }

    #[test]
    fn end_dates_incremental_and_monthly() {
        let f = flow(json!([
            {"frequency": "EVERY_6_HOURS", "startDate": "2026-12-01", "endDate": "2026-12-01"},
            {"frequency": "MONTHLY", "startDate": "2026-11-15", "startTime": "01:00"},
        ]));
        let due = due_instants(&f, DEC1 - DAY, DEC1 + 60 * DAY);
        let hours: Vec<i64> = due.keys().map(|t| (t - DEC1) / 3_600_000).collect();
        assert_eq!(hours, vec![0, 6, 12, 18, 14 * 24 + 1, 45 * 24 + 1]);
    }

    #[test]
    fn dataset_flows_run_on_their_schedule_params() {
        let f = json!({"id": "d1", "state": "enabled", "sourceConnectionIds": ["s9"],
            "scheduleParams": {"startTime": DEC1 / 1000 + 6 * 3600, "interval": 12,
                               "timeUnit": "hour", "endTime": DEC1 / 1000 + 2 * 86_400}});
        let due = due_instants(&f, DEC1, DEC1 + 3 * DAY);
        let hours: Vec<i64> = due.keys().map(|t| (t - DEC1) / 3_600_000).collect();
        assert_eq!(hours, vec![6, 18, 30, 42]);
        assert_eq!(due[&(DEC1 + 6 * 3_600_000)], vec!["dataset:s9".to_owned()]);
        let once = json!({"scheduleParams": {"startTime": DEC1 / 1000 + 3600, "interval": 0,
                                             "timeUnit": "day"}});
        assert_eq!(due_instants(&once, DEC1, DEC1 + 3 * DAY).len(), 1);
    }

    #[test]
    fn failures_are_counted_down_and_numbers_are_stable() {
        let runs = Runs::default();
        let f =
            flow(json!([{"frequency": "DAILY", "startDate": "2026-12-01", "startTime": "17:00"}]));
        runs.fail(
            "f1",
            Failure {
                remaining: 1,
                code: "X".into(),
                message: "boom".into(),
            },
        );
        let last = runs.produce("o", "prod", std::slice::from_ref(&f), DEC1, DEC1 + 2 * DAY);
        assert_eq!(last["f1"]["state"], "success");
        let mut all = runs.of_sandbox("o", "prod");
        all.sort_by_key(|e| e.created);
        let states: Vec<&Value> = all
            .iter()
            .map(|e| &e.value["metrics"]["statusSummary"]["status"])
            .collect();
        assert_eq!(states, vec!["failed", "success"]);
        assert_eq!(
            all[0].value["metrics"]["statusSummary"]["errors"][0]["code"],
            "X"
        );
        assert_eq!(all[0].value["metrics"]["fileSummary"]["outputFileCount"], 0);
        assert_eq!(all[1].value["metrics"]["fileSummary"]["outputFileCount"], 1);
        let n = all[1].value["metrics"]["recordSummary"]["outputRecordCount"]
            .as_u64()
            .unwrap();
        assert!((1_000..100_000).contains(&n));
        let disabled =
            json!({"id": "f2", "state": "disabled", "transformations": f["transformations"]});
        assert!(
            runs.produce("o", "prod", &[disabled], DEC1, DEC1 + 2 * DAY)
                .is_empty()
        );
    }
}
