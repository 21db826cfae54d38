//! The minimal JSON Patch that takes a live flow to its desired state, and the managed views
//! of flows that the diff compares and `plan` shows.
//!
//! Audiences are matched by segment id and attributes by path, never by position. Op order is
//! chosen so the patch means the same whether the service applies ops one after the other
//! (RFC 6902) or each against the original document: `replace`s of a selector by index come
//! first, then `remove`s in descending index order, then `add`s at the end of the lists (`/-`),
//! then `mandatoryFields` / `primaryFields`.
//!
//! The live flow is the typed [`Flow`]: an unchanged selector is compared field by field with
//! its desired audience (strings, dates and hours in place), without allocating.

use super::PlanError;
use super::desired::{self, PLATFORM_SEGMENT, PROFILE_SELECTORS, SEGMENT_SELECTORS};
use crate::catalog::{Card, Schedule, StartTime};
use crate::marker::Marker;
use crate::model::{DesiredAudience, DesiredDestination};
use crate::wire::PatchOp;
use crate::wire::flow::{Flow, LiveSchedule, PrimaryField, SegmentSelector, SegmentValue, Shared};
use crate::wire::json::{Json, Word};
use chrono::NaiveDate;
use serde_json::{Map, Value, json};
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
    /// Whether the description's text or marker name differs (a `/description` op is in `ops`).
    pub description_changed: bool,
}

fn shape_error(flow: &Flow, pointer: &str) -> PlanError {
    PlanError::UnexpectedFlowShape {
        id: flow.id.0.clone(),
        missing: pointer.to_owned(),
    }
}

fn non_empty_str(v: Option<&Json<String>>) -> Option<&str> {
    v.and_then(|j| j.as_str()).filter(|s| !s.is_empty())
}

/// The managed keys of a live audience selector's `value`, in canonical order, with empty
/// `name`/`description` dropped and `schedule` reduced to its managed keys (an empty object
/// when the value is not an object).
pub fn project_audience_value(value: &Json<SegmentValue>) -> Value {
    let mut out = Map::new();
    let Json::Typed(v) = value else {
        return Value::Object(out);
    };
    let mut put = |key: &str, field: &Option<Json<String>>| {
        if let Some(f) = field {
            out.insert(key.into(), f.to_value());
        }
    };
    put("id", &v.id);
    if let Some(n) = non_empty_str(v.name.as_ref()) {
        out.insert("name".into(), Value::from(n));
    }
    if let Some(n) = non_empty_str(v.description.as_ref()) {
        out.insert("description".into(), Value::from(n));
    }
    if let Some(t) = &v.filename_template {
        out.insert("filenameTemplate".into(), t.to_value());
    }
    if let Some(m) = &v.export_mode {
        out.insert("exportMode".into(), m.to_value());
    }
    match v.schedule.as_deref() {
        Some(Json::Typed(s)) => {
            out.insert("schedule".into(), s.to_value());
        }
        Some(Json::Other(_)) => {
            out.insert("schedule".into(), Value::Object(Map::new()));
        }
        None => {}
    }
    Value::Object(out)
}

/// The selector that replaces a changed audience: the desired value first, then every field the
/// server added (`createTime`, `updateTime`, …) carried over from live.
pub fn merged_selector(live: &SegmentSelector, desired_audience: &DesiredAudience) -> Value {
    let mut value = desired::audience_value(desired_audience);
    if let Some(live_value) = live.value() {
        value.extend(live_value.server.values());
    }
    let mut sel = Map::new();
    sel.insert("type".into(), Value::String(PLATFORM_SEGMENT.into()));
    sel.insert("value".into(), Value::Object(value));
    sel.extend(live.other.values());
    Value::Object(sel)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Whether a live word, with `null` read as absent, is `want` (or absent when `want` is
/// `None`).
fn word_matches(live: Option<&Json<Word>>, want: Option<&str>) -> bool {
    match (live.filter(|v| !v.is_null()), want) {
        (None, None) => true,
        (Some(Json::Typed(s)), Some(w)) => s.as_str() == w,
        _ => false,
    }
}

/// [`word_matches`] for a date (a live date is typed only in its canonical `YYYY-MM-DD` form).
fn date_matches(live: Option<&Json<NaiveDate>>, want: Option<NaiveDate>) -> bool {
    match (live.filter(|v| !v.is_null()), want) {
        (None, None) => true,
        (Some(Json::Typed(d)), Some(w)) => *d == w,
        _ => false,
    }
}

/// [`word_matches`] for an hour, written `HH:00`.
fn hour_matches(live: Option<&Json<Word>>, want: Option<StartTime>) -> bool {
    match (live.filter(|v| !v.is_null()), want) {
        (None, None) => true,
        (Some(Json::Typed(s)), Some(w)) => {
            let h = w.hour();
            s.as_str().as_bytes() == [b'0' + h / 10, b'0' + h % 10, b':', b'0', b'0']
        }
        _ => false,
    }
}

/// Whether a live selector's `schedule` holds exactly the desired schedule on its managed
/// keys (what `serde_json::to_value(schedule)` would give), comparing typed values in place.
fn schedule_matches(live: &Json<LiveSchedule>, want: &Schedule) -> bool {
    let Json::Typed(s) = live else {
        return false;
    };
    word_matches(s.frequency.as_ref(), Some(want.frequency.as_str()))
        && word_matches(
            s.trigger_type.as_ref(),
            want.trigger_type.map(|t| t.as_str()),
        )
        && date_matches(s.start_date.as_ref(), Some(want.start_date))
        && date_matches(s.end_date.as_ref(), want.end_date)
        && hour_matches(s.start_time.as_ref(), want.start_time)
}

/// The last live schedule compared (one `Shared` value stands for all the equal schedules of a
/// flow's selectors), the desired schedule it was compared with, and whether they matched.
#[derive(Default)]
struct ScheduleMemo<'a>(Option<(&'a Shared<Json<LiveSchedule>>, &'a Schedule, bool)>);

impl<'a> ScheduleMemo<'a> {
    fn matches(&mut self, live: &'a Shared<Json<LiveSchedule>>, want: &'a Schedule) -> bool {
        if let Some((l, w, matched)) = self.0
            && Shared::ptr_eq(l, live)
            && w == want
        {
            return matched;
        }
        let matched = schedule_matches(live, want);
        self.0 = Some((live, want, matched));
        matched
    }
}

/// Whether `project_audience_value(live.value)` equals the desired `audience_value`, without
/// building either: `&str`, date and hour compares only, no allocation. The caller found `sel`
/// by its segment id, which is `a`'s.
fn audience_matches<'a>(
    sel: &'a SegmentSelector,
    a: &'a DesiredAudience,
    schedules: &mut ScheduleMemo<'a>,
) -> bool {
    if sel.kind.as_ref().map(Word::as_str) != Some(PLATFORM_SEGMENT) {
        return false;
    }
    let Some(v) = sel.value() else {
        return false;
    };
    debug_assert_eq!(
        v.id.as_ref().and_then(|j| j.as_str()),
        Some(a.segment_id.as_str())
    );
    if non_empty_str(v.name.as_ref()) != non_empty(&a.display_name)
        || non_empty_str(v.description.as_ref()) != non_empty(&a.description)
        || v.filename_template.as_ref().and_then(|j| j.as_str())
            != Some(a.filename_template.as_str())
        || v.export_mode.as_ref().and_then(|m| m.as_str()) != Some(a.export_mode.as_str())
    {
        return false;
    }
    v.schedule
        .as_ref()
        .is_some_and(|s| schedules.matches(s, &a.schedule))
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

/// The items of a desired field list: strings as they are, other items canonical.
fn string_set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => canonical(other),
            })
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// The live `mandatoryFields` as [`string_set`] reads them.
fn mandatory_set(live: Option<&Json<Vec<Json<String>>>>) -> BTreeSet<String> {
    match live {
        Some(Json::Typed(items)) => items
            .iter()
            .map(|i| match i {
                Json::Typed(s) => s.clone(),
                Json::Other(v) => canonical(v),
            })
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn primary_value(item: &Json<PrimaryField>) -> Value {
    match item {
        Json::Typed(p) => p.to_value(),
        Json::Other(v) => (**v).clone(),
    }
}

/// The live `primaryFields` as [`string_set`] reads them.
fn primary_set(live: Option<&Json<Vec<Json<PrimaryField>>>>) -> BTreeSet<String> {
    match live {
        Some(Json::Typed(items)) => items.iter().map(|i| canonical(&primary_value(i))).collect(),
        _ => BTreeSet::new(),
    }
}

/// A deduplication key in words: its path, `identity NAMESPACE` for an identity key made of
/// exactly those two fields, or the canonical item otherwise.
pub(crate) fn primary_label(item: &Value) -> String {
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    let keys = item.as_object().map_or(0, serde_json::Map::len);
    match (
        field("fieldType"),
        field("attributePath"),
        field("identityNamespace"),
    ) {
        (Some("ATTRIBUTE"), Some(path), _) => path.to_owned(),
        (Some("IDENTITY"), _, Some(ns)) if keys == 2 => format!("identity {ns}"),
        _ => canonical(item),
    }
}

fn live_primary_label(item: &Json<PrimaryField>) -> String {
    if let Json::Typed(p) = item
        && p.field_type.as_ref().and_then(|j| j.as_str()) == Some("ATTRIBUTE")
        && let Some(path) = p.attribute_path.as_ref().and_then(|j| j.as_str())
    {
        return path.to_owned();
    }
    primary_label(&primary_value(item))
}

/// The op for `mandatoryFields` or `primaryFields` (`pointer`), if one is due: `live_set` is
/// `None` when the live field is absent.
fn field_op(
    ops: &mut Vec<PatchOp>,
    live_set: Option<BTreeSet<String>>,
    pointer: &str,
    desired_value: Value,
    wanted: bool,
) {
    match (live_set, wanted) {
        (None, true) => ops.push(desired::add(pointer.into(), desired_value)),
        (Some(live), true) if live != string_set(&desired_value) => {
            ops.push(desired::replace(pointer.into(), desired_value))
        }
        (Some(live), false) if !live.is_empty() => ops.push(desired::remove(pointer.into())),
        _ => {}
    }
}

/// The minimal patch that takes the live `flow` to `d`: nothing when they agree on every
/// managed field.
pub fn flow_diff(d: &DesiredDestination, flow: &Flow) -> Result<FlowDiff, PlanError> {
    let mut out = FlowDiff::default();
    let live_segments = flow
        .segment_selectors()
        .ok_or_else(|| shape_error(flow, SEGMENT_SELECTORS))?;
    let v2 = d.platform.info().card == Card::Current;
    // A V2 flow (current card) may have no `profileSelectors` at all (created with
    // `transformations: []`): no attribute yet, the container is added with the first one.
    let no_profile_container = v2 && flow.params().is_some_and(|p| p.profile_selectors.is_none());
    let live_profiles = match flow.profile_selector_list() {
        Some(list) => list,
        None if no_profile_container => &[],
        None => return Err(shape_error(flow, PROFILE_SELECTORS)),
    };

    if flow.name.as_deref() != Some(d.display_name.as_str()) {
        out.ops.push(desired::replace(
            "/name".into(),
            Value::String(d.display_name.clone()),
        ));
    }
    // The description: rewritten when its text or marker name differs, or, with any other op,
    // to record the new fingerprint (never on its own for a stale or missing fingerprint).
    let description_at = out.ops.len();
    let live_marker = flow.description.as_deref().and_then(Marker::parse);
    out.description_changed = match &live_marker {
        Some((m, user)) => {
            m.name != d.name.as_str()
                || m.credentials_version.is_some()
                || user.map(str::trim)
                    != d.description
                        .as_deref()
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
        }
        None => true,
    };

    // Audiences, by segment id: the desired ones sorted by id once, binary-searched per
    // selector; where ids repeat the last one wins, as in a map built in order.
    let mut wanted: Vec<(&str, usize)> = d
        .audiences
        .iter()
        .enumerate()
        .map(|(i, a)| (a.segment_id.as_str(), i))
        .collect();
    // Manifests usually list a Destination's audiences in id order already: one pass tells,
    // and strictly increasing ids are unique too.
    let in_order = wanted.windows(2).all(|w| w[0].0 < w[1].0);
    if !in_order {
        wanted.sort_by(|x, y| x.0.cmp(y.0).then(x.1.cmp(&y.1)));
    }
    // The position in `wanted` of the entry for `id` (the last of equal ids).
    let find = |id: &str| -> Option<usize> {
        let end = wanted.partition_point(|(w, _)| *w <= id);
        (end > 0 && wanted[end - 1].0 == id).then(|| end - 1)
    };
    // Live selectors usually follow the desired order: the audience after the last one found
    // is tried first, the binary search only when it is not the one (with unique desired ids
    // both find the same audience).
    let unique = in_order || wanted.windows(2).all(|w| w[0].0 != w[1].0);
    let mut position_of = vec![0; wanted.len()];
    for (pos, (_, i)) in wanted.iter().enumerate() {
        position_of[*i] = pos;
    }
    let mut next = 0;
    let mut locate = |id: &str| -> Option<usize> {
        let pos = match d.audiences.get(next) {
            Some(a) if unique && a.segment_id.as_str() == id => Some(position_of[next]),
            _ => find(id),
        }?;
        next = wanted[pos].1 + 1;
        Some(pos)
    };
    let mut matched = vec![false; wanted.len()];
    let mut schedules = ScheduleMemo::default();
    let mut segment_removes = Vec::new();
    for (index, sel) in live_segments.iter().enumerate() {
        let sel = sel.typed();
        let id = sel.and_then(SegmentSelector::segment_id);
        match (sel, id.and_then(&mut locate)) {
            (Some(sel), Some(pos)) if !matched[pos] => {
                matched[pos] = true;
                let a = &d.audiences[wanted[pos].1];
                if !audience_matches(sel, a, &mut schedules) {
                    out.ops.push(desired::replace(
                        format!("{SEGMENT_SELECTORS}/{index}"),
                        merged_selector(sel, a),
                    ));
                    out.audiences.push(AudienceChange {
                        sign: Sign::Change,
                        id: wanted[pos].0.to_owned(),
                        before: sel.value.as_ref().map(project_audience_value),
                        after: Some(Value::Object(desired::audience_value(a))),
                    });
                }
            }
            _ => {
                segment_removes.push(index);
                out.audiences.push(AudienceChange {
                    sign: Sign::Remove,
                    id: id.unwrap_or("").to_owned(),
                    before: sel
                        .and_then(|s| s.value.as_ref())
                        .map(project_audience_value),
                    after: None,
                });
            }
        }
    }

    // Attributes, by path. With exported columns (current cards) the attributes go through
    // the mapping set (`mapping.rs`), so no profile selector is wanted.
    let selected: &[crate::model::AttributePath] = if d.columns.is_empty() {
        &d.attributes
    } else {
        &[]
    };
    let wanted_paths: BTreeSet<&str> = selected.iter().map(|p| p.as_str()).collect();
    let mut seen_paths: BTreeSet<&str> = BTreeSet::new();
    let mut profile_removes = Vec::new();
    for (index, sel) in live_profiles.iter().enumerate() {
        let path = sel.typed().and_then(|s| s.path());
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
    for p in selected {
        if !seen_paths.contains(p.as_str()) && added.insert(p.as_str()) {
            if no_profile_container && added.len() == 1 {
                out.ops.push(desired::add(
                    PROFILE_SELECTORS
                        .strip_suffix("/selectors")
                        .unwrap_or(PROFILE_SELECTORS)
                        .into(),
                    json!({"selectors": []}),
                ));
            }
            out.ops.push(desired::add(
                format!("{PROFILE_SELECTORS}/-"),
                desired::attribute_selector(p),
            ));
            out.attributes.push((Sign::Add, p.as_str().to_owned()));
        }
    }

    field_op(
        &mut out.ops,
        flow.mandatory_fields(v2).map(|f| mandatory_set(Some(f))),
        desired::mandatory_fields_pointer(d.platform),
        desired::mandatory_fields(d),
        !d.mandatory_attributes.is_empty(),
    );
    field_op(
        &mut out.ops,
        flow.primary_fields(v2).map(|f| primary_set(Some(f))),
        desired::primary_fields_pointer(d.platform),
        desired::primary_fields(d),
        desired::has_primary_fields(d),
    );
    // The desired fingerprint is computed only when a patch is sent: an unchanged flow's stale
    // fingerprint is refreshed (`fingerprint_refresh`) only with an enable or disable.
    if (out.description_changed || !out.ops.is_empty())
        && let Some(op) = fingerprint_refresh(d, flow)
    {
        if out.description_changed {
            out.ops.insert(description_at, op);
        } else {
            // Only the fingerprint changes: last, so the other ops keep their places.
            out.ops.push(op);
        }
    }
    Ok(out)
}

/// The `/description` op that records the flow's current description and fingerprint, when the
/// live description is not already that text.
pub fn fingerprint_refresh(d: &DesiredDestination, flow: &Flow) -> Option<PatchOp> {
    let description = desired::flow_description(d);
    (flow.description.as_deref() != Some(description.as_str()))
        .then(|| desired::replace("/description".into(), Value::String(description)))
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
pub fn live_flow_view(flow: &Flow) -> Value {
    let attributes = flow
        .profile_selector_list()
        .map(|s| {
            s.iter()
                .map(|sel| sel.typed().and_then(|s| s.path()).unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let audiences = flow
        .segment_selectors()
        .map(|s| {
            s.iter()
                .map(|sel| {
                    sel.typed()
                        .and_then(|s| s.value.as_ref())
                        .map(project_audience_value)
                        .unwrap_or(Value::Null)
                })
                .collect()
        })
        .unwrap_or_default();
    // A flow with top-level fields is a V2 flow: read them there.
    let v2 = flow
        .params()
        .is_some_and(|p| p.mandatory_fields.is_some() || p.primary_fields.is_some());
    let primary = match flow.primary_fields(v2) {
        Some(Json::Typed(items)) => items.iter().map(live_primary_label).collect(),
        _ => BTreeSet::new(),
    };
    let state = flow.state.as_ref().and_then(|s| match s {
        Json::Typed(s) => Some(s.as_str()),
        Json::Other(v) => v.as_str(),
    });
    view(
        flow.name.as_deref(),
        flow.description
            .as_deref()
            .map(without_fingerprint)
            .as_deref(),
        state,
        attributes,
        mandatory_set(flow.mandatory_fields(v2)),
        primary,
        audiences,
    )
}

/// The managed part of the flow `d` asks for, in the shape of [`live_flow_view`].
pub fn desired_flow_view(d: &DesiredDestination) -> Value {
    desired_view(
        d,
        Some(&Marker::new(d.name.as_str()).describe(d.description.as_deref())),
    )
}

/// A description with its marker's fingerprint left out (views show the text and the owner).
fn without_fingerprint(description: &str) -> String {
    match Marker::parse(description) {
        Some((mut m, user)) => {
            m.fingerprint = None;
            m.describe(user)
        }
        None => description.to_owned(),
    }
}

/// [`desired_flow_view`] with a null description (the description's marker holds the
/// fingerprint computed from this view).
pub(crate) fn desired_flow_view_without_description(d: &DesiredDestination) -> Value {
    desired_view(d, None)
}

fn desired_view(d: &DesiredDestination, description: Option<&str>) -> Value {
    // With exported columns (current cards) the attributes are the mapping set's, and the flow
    // selects none by profile selector (as in the diff above).
    let selected: &[crate::model::AttributePath] = if d.columns.is_empty() {
        &d.attributes
    } else {
        &[]
    };
    let mut attributes: Vec<String> = selected.iter().map(|p| p.to_string()).collect();
    attributes.dedup();
    let attributes = attributes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    view(
        Some(&d.display_name),
        description,
        Some(if d.enabled { "enabled" } else { "disabled" }),
        attributes,
        d.mandatory_attributes
            .iter()
            .map(|p| p.to_string())
            .collect(),
        desired::primary_fields(d)
            .as_array()
            .map(|a| a.iter().map(primary_label).collect())
            .unwrap_or_default(),
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

    fn dest(audiences: &[&str], attributes: &[&str]) -> DesiredDestination {
        DesiredDestination {
            name: ResourceName::parse("d").unwrap(),
            source: SourceLocation::default(),
            former_names: Vec::new(),
            display_name: "D".into(),
            description: None,
            platform: Platform::AmazonS3Legacy,
            connection: DesiredConnection {
                auth: Some(AuthMethod::AccessKey),
                params: Default::default(),
                credentials_version: 1,
                locations: Default::default(),
                encryption_key: None,
            },
            location: DesiredLocation {
                mode: LocationMode::S3,
                params: Default::default(),
                include_file_manifest: None,
                files: None,
            },
            attributes: attributes
                .iter()
                .map(|p| AttributePath::parse(p).unwrap())
                .collect(),
            mandatory_attributes: vec![],
            deduplication_keys: vec![],
            identity_deduplication_keys: vec![],
            columns: vec![],
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
            "id": "f", "etag": "\"1\"", "name": "D", "description": "[destctl:d]", "state": "enabled",
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

    fn typed(f: &Value) -> Flow {
        Flow::from_value(f).unwrap()
    }

    fn paths(ops: &[PatchOp]) -> Vec<String> {
        ops.iter()
            .map(|o| format!("{:?} {}", o.op, o.path))
            .collect()
    }

    /// A V2 flow created with `transformations: []` has no `profileSelectors`: the first
    /// attribute adds the container, then every attribute; the V2 fields go directly under
    /// the params, identity keys included.
    #[test]
    fn a_v2_flow_without_profile_selectors_gets_the_container_first() {
        let mut d = dest(&[], &["a.b", "c.d"]);
        d.platform = Platform::AmazonS3;
        d.mandatory_attributes = vec![AttributePath::parse("a.b").unwrap()];
        d.identity_deduplication_keys = vec!["ECID".into()];
        let live = json!({"id": "f", "etag": "\"1\"", "name": "D", "description": "[destctl:d]",
            "state": "enabled", "flowSpec": {"id": "1a0514a6-33d4-4c7f-aff8-594799c47549"},
            "transformations": [{"name": "GeneralTransform",
                "params": {"segmentSelectors": {"selectors": []}}}]});
        let fd = flow_diff(&d, &typed(&live)).unwrap();
        assert_eq!(
            paths(&fd.ops),
            [
                "Add /transformations/0/params/profileSelectors",
                "Add /transformations/0/params/profileSelectors/selectors/-",
                "Add /transformations/0/params/profileSelectors/selectors/-",
                "Add /transformations/0/params/mandatoryFields",
                "Add /transformations/0/params/primaryFields",
                // The marker's fingerprint, recorded with the change.
                "Replace /description",
            ]
        );
        // The flow as the service holds it after that patch.
        let after = json!({"id": "f", "etag": "\"2\"", "name": "D", "description": "[destctl:d]",
            "state": "enabled", "flowSpec": {"id": "1a0514a6-33d4-4c7f-aff8-594799c47549"},
            "transformations": [{"name": "GeneralTransform", "params": {
                "segmentSelectors": {"selectors": []},
                "profileSelectors": {"selectors": [
                    {"type": "JSON_PATH", "value": {"path": "a.b", "operator": "EXISTS"}},
                    {"type": "JSON_PATH", "value": {"path": "c.d", "operator": "EXISTS"}}]},
                "mandatoryFields": ["a.b"],
                "primaryFields": [{"fieldType": "IDENTITY", "identityNamespace": "ECID"}]}}]});
        let after = typed(&after);
        assert!(flow_diff(&d, &after).unwrap().ops.is_empty());
        assert_eq!(
            live_flow_view(&after)["primaryFields"],
            json!(["identity ECID"])
        );
        // A legacy flow without them is still an error.
        d.platform = Platform::AmazonS3Legacy;
        assert!(flow_diff(&d, &typed(&live)).is_err());
    }

    #[test]
    fn equal_flows_need_no_op() {
        let d = dest(&["b", "a"], &["x.y", "x.z"]);
        let f = flow(vec![seg("a"), seg("b")], &["x.z", "x.y"]);
        let diff = flow_diff(&d, &typed(&f)).unwrap();
        assert!(diff.ops.is_empty());
        // The marker has no fingerprint (written before there were any): refreshed only with
        // another write.
        assert!(fingerprint_refresh(&d, &typed(&f)).is_some());
        assert_eq!(live_flow_view(&typed(&f)), desired_flow_view(&d));
        let mut current = f.clone();
        current["description"] = json!(desired::flow_description(&d));
        let diff = flow_diff(&d, &typed(&current)).unwrap();
        assert!(diff.ops.is_empty() && fingerprint_refresh(&d, &typed(&current)).is_none());
    }

    #[test]
    fn duplicates_and_strangers_are_removed_highest_index_first() {
        let d = dest(&["a"], &["x.y"]);
        let f = flow(vec![seg("a"), seg("zz"), seg("a")], &["x.y", "x.y", "q.r"]);
        assert_eq!(
            paths(&flow_diff(&d, &typed(&f)).unwrap().ops),
            [
                format!("Remove {SEGMENT_SELECTORS}/2"),
                format!("Remove {SEGMENT_SELECTORS}/1"),
                format!("Remove {PROFILE_SELECTORS}/2"),
                format!("Remove {PROFILE_SELECTORS}/1"),
                "Replace /description".to_owned(),
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
        let ops = flow_diff(&d, &typed(&f)).unwrap().ops;
        assert_eq!(
            paths(&ops),
            [
                format!("Replace {SEGMENT_SELECTORS}/1"),
                format!("Remove {SEGMENT_SELECTORS}/0"),
                "Replace /description".to_owned(),
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
        let f = json!({"id": "f", "etag": "e", "transformations": []});
        let err = flow_diff(&d, &typed(&f)).unwrap_err();
        assert!(matches!(err, PlanError::UnexpectedFlowShape { .. }));
    }

    #[test]
    fn key_order_of_primary_fields_does_not_matter() {
        let mut d = dest(&[], &["x.y"]);
        d.deduplication_keys = vec![AttributePath::parse("x.y").unwrap()];
        let mut f = flow(vec![], &["x.y"]);
        f["transformations"][0]["params"]["profileSelectors"]["primaryFields"] =
            json!([{"attributePath": "x.y", "fieldType": "ATTRIBUTE"}]);
        assert!(flow_diff(&d, &typed(&f)).unwrap().ops.is_empty());
    }

    /// The keys of a selector's `schedule` that destctl manages.
    const SCHEDULE_KEYS: [&str; 5] = [
        "frequency",
        "triggerType",
        "startDate",
        "endDate",
        "startTime",
    ];

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
                let oracle = SCHEDULE_KEYS.iter().all(|k| {
                    live.get(*k).filter(|x| !x.is_null()) == w.get(*k).filter(|x| !x.is_null())
                });
                let typed: Json<LiveSchedule> = serde_json::from_value(live.clone()).unwrap();
                assert_eq!(schedule_matches(&typed, want), oracle, "{want:?} vs {live}");
            }
        }
    }
}
