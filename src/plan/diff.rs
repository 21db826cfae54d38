//! The minimal JSON Patch that takes a live flow to its desired state, and the managed views
//! of flows that the diff compares and `plan` shows.
//!
//! Audiences are matched by segment id and attributes by path, never by position. Op order is
//! chosen so the patch means the same whether the service applies ops one after the other
//! (RFC 6902) or each against the original document: `replace`s of a selector by index come
//! first, then `remove`s in descending index order, then `add`s at the end of the lists (`/-`),
//! then `mandatoryFields` / `primaryFields`.

use super::PlanError;
use super::desired::{
    self, MANAGED_AUDIENCE_KEYS, MANAGED_SCHEDULE_KEYS, MANDATORY_FIELDS, PLATFORM_SEGMENT,
    PRIMARY_FIELDS, PROFILE_SELECTORS, SEGMENT_SELECTORS,
};
use crate::model::{DesiredAudience, DesiredDestination};
use crate::wire::PatchOp;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// What happened to one audience or attribute in a flow patch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sign {
    /// Added.
    Add,
    /// Changed in place.
    Change,
    /// Removed.
    Remove,
}

/// One audience touched by a flow patch, for display.
#[derive(Clone, Debug, PartialEq)]
pub struct AudienceChange {
    /// Added, changed or removed.
    pub sign: Sign,
    /// Segment id.
    pub id: String,
    /// The selector value before (live, managed keys only), for changes and removals.
    pub before: Option<Value>,
    /// The selector value after (desired), for additions and changes.
    pub after: Option<Value>,
}

/// The patch of one flow and what it touches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowDiff {
    /// The ops, in the order they are sent.
    pub ops: Vec<PatchOp>,
    /// Audiences added, changed or removed.
    pub audiences: Vec<AudienceChange>,
    /// Attribute paths added (`Sign::Add`) or removed (`Sign::Remove`).
    pub attributes: Vec<(Sign, String)>,
}

fn flow_id(flow: &Value) -> String {
    flow.get("id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

fn selectors<'a>(flow: &'a Value, pointer: &str) -> Result<&'a [Value], PlanError> {
    match flow.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(PlanError::UnexpectedFlowShape {
            id: flow_id(flow),
            missing: pointer.to_owned(),
        }),
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The managed keys of a live audience selector's `value`, in canonical order, with empty
/// `name`/`description` dropped and `schedule` reduced to its managed keys.
pub fn project_audience_value(value: &Value) -> Value {
    let mut out = Map::new();
    for key in MANAGED_AUDIENCE_KEYS {
        let Some(v) = value.get(key) else { continue };
        match key {
            "name" | "description" if non_empty_str(Some(v)).is_none() => {}
            "schedule" => {
                let mut s = Map::new();
                for sk in MANAGED_SCHEDULE_KEYS {
                    if let Some(x) = v.get(sk).filter(|x| !x.is_null()) {
                        s.insert(sk.into(), x.clone());
                    }
                }
                out.insert(key.into(), Value::Object(s));
            }
            _ => {
                out.insert(key.into(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The selector that replaces a changed audience: the desired value first, then every field the
/// server added (`createTime`, `updateTime`, …) carried over from live.
pub fn merged_selector(live: &Value, desired_audience: &DesiredAudience) -> Value {
    let mut value = desired::audience_value(desired_audience);
    if let Some(Value::Object(live_value)) = live.get("value") {
        for (k, v) in live_value {
            if !MANAGED_AUDIENCE_KEYS.contains(&k.as_str()) {
                value.insert(k.clone(), v.clone());
            }
        }
    }
    let mut sel = Map::new();
    sel.insert("type".into(), Value::String(PLATFORM_SEGMENT.into()));
    sel.insert("value".into(), Value::Object(value));
    if let Value::Object(live_sel) = live {
        for (k, v) in live_sel {
            if k != "type" && k != "value" {
                sel.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(sel)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Whether a live value, with `null` read as absent, is the string `want` (or absent when
/// `want` is `None`).
fn str_matches(live: Option<&Value>, want: Option<&str>) -> bool {
    match (live.filter(|v| !v.is_null()), want) {
        (None, None) => true,
        (Some(Value::String(s)), Some(w)) => s == w,
        _ => false,
    }
}

/// A small stack buffer for the `Display` of dates and hours, so comparing them with live
/// strings allocates nothing.
struct StackStr {
    buf: [u8; 32],
    len: usize,
}

impl StackStr {
    fn of(v: &dyn std::fmt::Display) -> Option<StackStr> {
        use std::fmt::Write;
        let mut s = StackStr {
            buf: [0; 32],
            len: 0,
        };
        write!(s, "{v}").ok()?;
        Some(s)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("written from str")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether a live value (`null` = absent) is the `Display` of `want` (absent when `None`).
fn display_matches(live: Option<&Value>, want: Option<&dyn std::fmt::Display>) -> bool {
    match want {
        None => str_matches(live, None),
        Some(w) => match StackStr::of(w) {
            Some(buf) => str_matches(live, Some(buf.as_str())),
            None => str_matches(live, Some(&w.to_string())),
        },
    }
}

/// Whether a live selector's `schedule` holds exactly the desired schedule on its managed
/// keys (the strings `serde_json::to_value(schedule)` would give), comparing in place: one pass
/// over the live object's entries, no hashing, no allocation.
fn schedule_matches(live: &Value, want: &crate::catalog::Schedule) -> bool {
    let Value::Object(m) = live else {
        return false;
    };
    let [
        mut frequency,
        mut trigger,
        mut start_date,
        mut end_date,
        mut start_time,
    ] = [None; 5];
    for (k, v) in m {
        match k.as_str() {
            "frequency" => frequency = Some(v),
            "triggerType" => trigger = Some(v),
            "startDate" => start_date = Some(v),
            "endDate" => end_date = Some(v),
            "startTime" => start_time = Some(v),
            _ => {}
        }
    }
    str_matches(frequency, Some(want.frequency.as_str()))
        && str_matches(trigger, want.trigger_type.map(|t| t.as_str()))
        && display_matches(start_date, Some(&want.start_date))
        && display_matches(
            end_date,
            want.end_date.as_ref().map(|d| d as &dyn std::fmt::Display),
        )
        && display_matches(
            start_time,
            want.start_time
                .as_ref()
                .map(|t| t as &dyn std::fmt::Display),
        )
}

/// A live audience selector's `type` and `value`, and the value's `id`, in one pass over
/// each object (the diff reads hundreds of thousands of selectors: no hashing).
fn selector_parts(sel: &Value) -> (Option<&str>, Option<&Value>, Option<&str>) {
    let Value::Object(m) = sel else {
        return (None, None, None);
    };
    let (mut kind, mut value) = (None, None);
    for (k, v) in m {
        match k.as_str() {
            "type" => kind = v.as_str(),
            "value" => value = Some(v),
            _ => {}
        }
    }
    let id = match value {
        Some(Value::Object(vm)) => vm
            .iter()
            .find(|(k, _)| k.as_str() == "id")
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    };
    (kind, value, id)
}

/// Whether `project_audience_value(live.value)` equals the desired `audience_value`, without
/// building either (the diff runs once per selector: hundreds of thousands in a big sandbox):
/// one pass over the value's entries, `&str` compares only, no allocation. `kind` and `value`
/// are the selector's `type` and `value` ([`selector_parts`]).
fn audience_matches(
    kind: Option<&str>,
    value: Option<&Value>,
    desired_audience: &DesiredAudience,
) -> bool {
    if kind != Some(PLATFORM_SEGMENT) {
        return false;
    }
    let Some(Value::Object(m)) = value else {
        return false;
    };
    let [
        mut id,
        mut name,
        mut description,
        mut template,
        mut mode,
        mut schedule,
    ] = [None; 6];
    for (k, v) in m {
        match k.as_str() {
            "id" => id = Some(v),
            "name" => name = Some(v),
            "description" => description = Some(v),
            "filenameTemplate" => template = Some(v),
            "exportMode" => mode = Some(v),
            "schedule" => schedule = Some(v),
            _ => {}
        }
    }
    let a = desired_audience;
    if id.and_then(Value::as_str) != Some(a.segment_id.as_str())
        || non_empty_str(name) != non_empty(&a.display_name)
        || non_empty_str(description) != non_empty(&a.description)
        || template.and_then(Value::as_str) != Some(a.filename_template.as_str())
        || mode.and_then(Value::as_str) != Some(a.export_mode.as_str())
    {
        return false;
    }
    schedule.is_some_and(|s| schedule_matches(s, &a.schedule))
}

/// A JSON value as a string with object keys sorted, so key order never makes a difference.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => canonical(other),
            })
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn primary_label(item: &Value) -> String {
    match (
        item.get("fieldType").and_then(Value::as_str),
        item.get("attributePath").and_then(Value::as_str),
    ) {
        (Some("ATTRIBUTE"), Some(path)) => path.to_owned(),
        _ => canonical(item),
    }
}

fn field_op(
    ops: &mut Vec<PatchOp>,
    flow: &Value,
    pointer: &str,
    desired_value: Value,
    wanted: bool,
) {
    let live = flow.pointer(pointer);
    let live_set = string_set(live);
    let desired_set = string_set(Some(&desired_value));
    match (live, wanted) {
        (None, true) => ops.push(desired::add(pointer.into(), desired_value)),
        (Some(_), true) if live_set != desired_set => {
            ops.push(desired::replace(pointer.into(), desired_value))
        }
        (Some(_), false) if !live_set.is_empty() => ops.push(desired::remove(pointer.into())),
        _ => {}
    }
}

/// The minimal patch that takes the live `flow` to `d`: nothing when they agree on every
/// managed field.
pub fn flow_diff(d: &DesiredDestination, flow: &Value) -> Result<FlowDiff, PlanError> {
    let mut out = FlowDiff::default();
    let live_segments = selectors(flow, SEGMENT_SELECTORS)?;
    let live_profiles = selectors(flow, PROFILE_SELECTORS)?;

    if flow.get("name").and_then(Value::as_str) != Some(d.display_name.as_str()) {
        out.ops.push(desired::replace(
            "/name".into(),
            Value::String(d.display_name.clone()),
        ));
    }
    let description = desired::flow_description(d);
    if flow.get("description").and_then(Value::as_str) != Some(description.as_str()) {
        out.ops.push(desired::replace(
            "/description".into(),
            Value::String(description),
        ));
    }

    // Audiences, by segment id: the desired ones sorted by id once, binary-searched per
    // selector; where ids repeat the last one wins, as in a map built in order.
    let mut wanted: Vec<(&str, usize)> = d
        .audiences
        .iter()
        .enumerate()
        .map(|(i, a)| (a.segment_id.as_str(), i))
        .collect();
    wanted.sort_by(|x, y| x.0.cmp(y.0).then(x.1.cmp(&y.1)));
    // The position in `wanted` of the entry for `id` (the last of equal ids).
    let find = |id: &str| -> Option<usize> {
        let end = wanted.partition_point(|(w, _)| *w <= id);
        (end > 0 && wanted[end - 1].0 == id).then(|| end - 1)
    };
    let mut matched = vec![false; wanted.len()];
    let mut segment_removes = Vec::new();
    for (index, sel) in live_segments.iter().enumerate() {
        let (kind, value, id) = selector_parts(sel);
        match id.and_then(find) {
            Some(pos) if !matched[pos] => {
                matched[pos] = true;
                let a = &d.audiences[wanted[pos].1];
                if !audience_matches(kind, value, a) {
                    out.ops.push(desired::replace(
                        format!("{SEGMENT_SELECTORS}/{index}"),
                        merged_selector(sel, a),
                    ));
                    out.audiences.push(AudienceChange {
                        sign: Sign::Change,
                        id: wanted[pos].0.to_owned(),
                        before: sel.get("value").map(project_audience_value),
                        after: Some(Value::Object(desired::audience_value(a))),
                    });
                }
            }
            _ => {
                segment_removes.push(index);
                out.audiences.push(AudienceChange {
                    sign: Sign::Remove,
                    id: id.unwrap_or("").to_owned(),
                    before: sel.get("value").map(project_audience_value),
                    after: None,
                });
            }
        }
    }

    // Attributes, by path.
    let wanted_paths: BTreeSet<&str> = d.attributes.iter().map(|p| p.as_str()).collect();
    let mut seen_paths: BTreeSet<&str> = BTreeSet::new();
    let mut profile_removes = Vec::new();
    for (index, sel) in live_profiles.iter().enumerate() {
        let path = sel.pointer("/value/path").and_then(Value::as_str);
        match path.and_then(|p| wanted_paths.get(p)) {
            Some(p) if seen_paths.insert(p) => {}
            _ => {
                profile_removes.push(index);
                out.attributes
                    .push((Sign::Remove, path.unwrap_or("").to_owned()));
            }
        }
    }

    for index in segment_removes.into_iter().rev() {
        out.ops
            .push(desired::remove(format!("{SEGMENT_SELECTORS}/{index}")));
    }
    for index in profile_removes.into_iter().rev() {
        out.ops
            .push(desired::remove(format!("{PROFILE_SELECTORS}/{index}")));
    }
    for a in &d.audiences {
        if !find(a.segment_id.as_str()).is_some_and(|pos| matched[pos]) {
            out.ops.push(desired::add(
                format!("{SEGMENT_SELECTORS}/-"),
                desired::audience_selector(a),
            ));
            out.audiences.push(AudienceChange {
                sign: Sign::Add,
                id: a.segment_id.as_str().to_owned(),
                before: None,
                after: Some(Value::Object(desired::audience_value(a))),
            });
        }
    }
    let mut added: BTreeSet<&str> = BTreeSet::new();
    for p in &d.attributes {
        if !seen_paths.contains(p.as_str()) && added.insert(p.as_str()) {
            out.ops.push(desired::add(
                format!("{PROFILE_SELECTORS}/-"),
                desired::attribute_selector(p),
            ));
            out.attributes.push((Sign::Add, p.as_str().to_owned()));
        }
    }

    field_op(
        &mut out.ops,
        flow,
        MANDATORY_FIELDS,
        desired::mandatory_fields(d),
        !d.mandatory_attributes.is_empty(),
    );
    field_op(
        &mut out.ops,
        flow,
        PRIMARY_FIELDS,
        desired::primary_fields(d),
        !d.deduplication_keys.is_empty(),
    );
    Ok(out)
}

fn sorted_strings(set: BTreeSet<String>) -> Value {
    Value::Array(set.into_iter().map(Value::String).collect())
}

fn view(
    name: Option<&str>,
    description: Option<&str>,
    state: Option<&str>,
    attributes: Vec<String>,
    mandatory: BTreeSet<String>,
    primary: BTreeSet<String>,
    mut audiences: Vec<Value>,
) -> Value {
    let mut attributes = attributes;
    attributes.sort();
    audiences.sort_by(|a, b| {
        let ka = a.get("id").and_then(Value::as_str).unwrap_or("");
        let kb = b.get("id").and_then(Value::as_str).unwrap_or("");
        ka.cmp(kb).then_with(|| a.to_string().cmp(&b.to_string()))
    });
    let mut m = Map::new();
    m.insert("name".into(), name.map_or(Value::Null, Value::from));
    m.insert(
        "description".into(),
        description.map_or(Value::Null, Value::from),
    );
    m.insert("state".into(), state.map_or(Value::Null, Value::from));
    m.insert(
        "attributes".into(),
        Value::Array(attributes.into_iter().map(Value::String).collect()),
    );
    m.insert("mandatoryFields".into(), sorted_strings(mandatory));
    m.insert("primaryFields".into(), sorted_strings(primary));
    let mut by_id = Map::new();
    for a in audiences {
        let id = a.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let mut key = id.clone();
        let mut n = 1;
        while by_id.contains_key(&key) {
            n += 1;
            key = format!("{id} ({n})");
        }
        let mut a = a;
        if let Value::Object(m) = &mut a {
            m.shift_remove("id");
        }
        by_id.insert(key, a);
    }
    m.insert("audiences".into(), Value::Object(by_id));
    Value::Object(m)
}

/// The managed part of a live flow: name, description, state, attribute paths, mandatory
/// fields, deduplication keys (sorted) and audiences (managed keys only, keyed and sorted by
/// id, so a line diff of two views lines up audience by audience). Two
/// flows with equal views need no patch.
pub fn live_flow_view(flow: &Value) -> Value {
    let attributes = flow
        .pointer(PROFILE_SELECTORS)
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .map(|sel| {
                    sel.pointer("/value/path")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    let audiences = flow
        .pointer(SEGMENT_SELECTORS)
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .map(|sel| {
                    sel.get("value")
                        .map(project_audience_value)
                        .unwrap_or(Value::Null)
                })
                .collect()
        })
        .unwrap_or_default();
    let primary = match flow.pointer(PRIMARY_FIELDS) {
        Some(Value::Array(items)) => items.iter().map(primary_label).collect(),
        _ => BTreeSet::new(),
    };
    view(
        flow.get("name").and_then(Value::as_str),
        flow.get("description").and_then(Value::as_str),
        flow.get("state").and_then(Value::as_str),
        attributes,
        string_set(flow.pointer(MANDATORY_FIELDS)),
        primary,
        audiences,
    )
}

/// The managed part of the flow `d` asks for, in the shape of [`live_flow_view`].
pub fn desired_flow_view(d: &DesiredDestination) -> Value {
    let mut attributes: Vec<String> = d.attributes.iter().map(|p| p.to_string()).collect();
    attributes.dedup();
    let attributes = attributes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    view(
        Some(&d.display_name),
        Some(&desired::flow_description(d)),
        Some(if d.enabled { "enabled" } else { "disabled" }),
        attributes,
        d.mandatory_attributes
            .iter()
            .map(|p| p.to_string())
            .collect(),
        d.deduplication_keys
            .iter()
            .map(|p| primary_label(&desired::primary_field(p)))
            .collect(),
        d.audiences
            .iter()
            .map(|a| Value::Object(desired::audience_value(a)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{AuthMethod, Frequency, LocationMode, Platform, Schedule};
    use crate::model::{
        AttributePath, DesiredConnection, DesiredLocation, ResourceName, SegmentId, SourceLocation,
    };
    use serde_json::json;

    fn dest(audiences: &[&str], attributes: &[&str]) -> DesiredDestination {
        DesiredDestination {
            name: ResourceName::parse("d").unwrap(),
            source: SourceLocation::default(),
            display_name: "D".into(),
            description: None,
            platform: Platform::AmazonS3,
            connection: DesiredConnection {
                auth: AuthMethod::AccessKey,
                params: Default::default(),
                credentials_version: 1,
                locations: Default::default(),
            },
            location: DesiredLocation {
                mode: LocationMode::S3,
                params: Default::default(),
                include_file_manifest: None,
            },
            attributes: attributes
                .iter()
                .map(|p| AttributePath::parse(p).unwrap())
                .collect(),
            mandatory_attributes: vec![],
            deduplication_keys: vec![],
            enabled: true,
            audiences: audiences
                .iter()
                .map(|id| DesiredAudience {
                    manifest: ResourceName::parse("a").unwrap(),
                    segment_id: SegmentId::parse(id).unwrap(),
                    display_name: None,
                    description: None,
                    filename_template: "%DESTINATION_NAME%_%SEGMENT_ID%".into(),
                    export_mode: crate::catalog::ExportMode::DailyFullExport,
                    schedule: Schedule {
                        frequency: Frequency::Once,
                        trigger_type: None,
                        start_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                        end_date: None,
                        start_time: None,
                    },
                    schedule_name: None,
                })
                .collect(),
        }
    }

    fn flow(segments: Vec<Value>, profiles: &[&str]) -> Value {
        json!({
            "id": "f", "name": "D", "description": "[destctl:d]", "state": "enabled",
            "transformations": [{"name": "GeneralTransform", "params": {
                "profileSelectors": {"selectors": profiles.iter().map(|p| json!({"type": "JSON_PATH",
                    "value": {"path": p, "operator": "EXISTS"}})).collect::<Vec<_>>()},
                "segmentSelectors": {"selectors": segments}}}]
        })
    }

    fn seg(id: &str) -> Value {
        json!({"type": "PLATFORM_SEGMENT", "value": {"id": id, "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%",
            "exportMode": "DAILY_FULL_EXPORT", "schedule": {"frequency": "ONCE", "startDate": "2026-01-01"},
            "createTime": "1", "updateTime": "2"}})
    }

    fn paths(ops: &[PatchOp]) -> Vec<String> {
        ops.iter()
            .map(|o| format!("{:?} {}", o.op, o.path))
            .collect()
    }

    #[test]
    fn equal_flows_need_no_op() {
        let d = dest(&["b", "a"], &["x.y", "x.z"]);
        let f = flow(vec![seg("a"), seg("b")], &["x.z", "x.y"]);
        assert!(flow_diff(&d, &f).unwrap().ops.is_empty());
        assert_eq!(live_flow_view(&f), desired_flow_view(&d));
    }

    #[test]
    fn duplicates_and_strangers_are_removed_highest_index_first() {
        let d = dest(&["a"], &["x.y"]);
        let f = flow(vec![seg("a"), seg("zz"), seg("a")], &["x.y", "x.y", "q.r"]);
        assert_eq!(
            paths(&flow_diff(&d, &f).unwrap().ops),
            [
                format!("Remove {SEGMENT_SELECTORS}/2"),
                format!("Remove {SEGMENT_SELECTORS}/1"),
                format!("Remove {PROFILE_SELECTORS}/2"),
                format!("Remove {PROFILE_SELECTORS}/1"),
            ]
        );
    }

    #[test]
    fn replace_precedes_removes_and_keeps_server_fields() {
        let d = dest(&["b"], &[]);
        let mut changed = seg("b");
        changed["value"]["filenameTemplate"] = json!("old");
        changed["value"]["extra"] = json!({"k": 1});
        let f = flow(vec![seg("a"), changed], &[]);
        let ops = flow_diff(&d, &f).unwrap().ops;
        assert_eq!(
            paths(&ops),
            [
                format!("Replace {SEGMENT_SELECTORS}/1"),
                format!("Remove {SEGMENT_SELECTORS}/0"),
            ]
        );
        let v = &ops[0].value.as_ref().unwrap()["value"];
        assert_eq!(v["filenameTemplate"], "%DESTINATION_NAME%_%SEGMENT_ID%");
        assert_eq!(
            (&v["createTime"], &v["extra"]),
            (&json!("1"), &json!({"k": 1}))
        );
    }

    #[test]
    fn a_flow_without_the_legacy_transformation_is_an_error() {
        let d = dest(&[], &[]);
        let err = flow_diff(&d, &json!({"id": "f", "transformations": []})).unwrap_err();
        assert!(matches!(err, PlanError::UnexpectedFlowShape { .. }));
    }

    #[test]
    fn key_order_of_primary_fields_does_not_matter() {
        let mut d = dest(&[], &["x.y"]);
        d.deduplication_keys = vec![AttributePath::parse("x.y").unwrap()];
        let mut f = flow(vec![], &["x.y"]);
        f["transformations"][0]["params"]["profileSelectors"]["primaryFields"] =
            json!([{"attributePath": "x.y", "fieldType": "ATTRIBUTE"}]);
        assert!(flow_diff(&d, &f).unwrap().ops.is_empty());
    }

    #[test]
    fn schedule_compare_agrees_with_the_serialized_schedule() {
        use crate::catalog::{StartTime, TriggerType};
        let date = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let schedules = [
            Schedule {
                frequency: Frequency::Daily,
                trigger_type: Some(TriggerType::Scheduled),
                start_date: date(2),
                end_date: Some(date(9)),
                start_time: Some(StartTime::parse("17:00").unwrap()),
            },
            Schedule {
                frequency: Frequency::Once,
                trigger_type: None,
                start_date: date(1),
                end_date: None,
                start_time: None,
            },
        ];
        let lives = [
            json!({"frequency": "DAILY", "triggerType": "SCHEDULED", "startDate": "2026-01-02",
                   "endDate": "2026-01-09", "startTime": "17:00"}),
            json!({"frequency": "DAILY", "triggerType": "SCHEDULED", "startDate": "2026-01-02",
                   "endDate": "2026-01-09", "startTime": "09:00"}),
            json!({"frequency": "ONCE", "startDate": "2026-01-01", "endDate": null}),
            json!({"frequency": "ONCE", "startDate": "2026-01-01", "startTime": "17:00"}),
            json!({"frequency": "ONCE", "startDate": 20260101}),
            json!({"frequency": "ONCE", "startDate": "2026-01-01", "other": 1}),
        ];
        for want in &schedules {
            let Value::Object(w) = serde_json::to_value(want).unwrap() else {
                panic!()
            };
            for live in &lives {
                let oracle = MANAGED_SCHEDULE_KEYS.iter().all(|k| {
                    live.get(*k).filter(|x| !x.is_null()) == w.get(*k).filter(|x| !x.is_null())
                });
                assert_eq!(schedule_matches(live, want), oracle, "{want:?} vs {live}");
            }
        }
    }
}
