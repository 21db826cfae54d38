//! A dataflow as the Flow Service lists it, typed: identity, who/when, the connections it
//! joins, and the legacy transformation destctl patches (audience selectors, profile
//! selectors, mandatory and primary fields).
//!
//! Each flow is read straight from the page bytes. Top-level fields destctl does not read —
//! above all `lastOperation` (which echoes every audience of the flow), `lastRunDetails` and
//! `runs` — are skipped by the parser, never built. Inside an audience selector, the keys
//! destctl does not manage (the server's `createTime` and `updateTime`, anything newer) are kept
//! as raw JSON in their order, so that a `replace` of the selector carries them over unchanged.
//! `id` and `etag` are required: a flow without them is an error naming the flow.

use super::json::{Json, Key, RawFields, Shape, Shaped, Word, loose, loose_strings, present};
use super::{EntityId, Etag};
use chrono::NaiveDate;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;

/// `transformations[0].params.segmentSelectors.selectors` as a JSON Pointer (patch paths).
pub const SEGMENT_SELECTORS: &str = "/transformations/0/params/segmentSelectors/selectors";
/// `transformations[0].params.profileSelectors.selectors` as a JSON Pointer (patch paths).
pub const PROFILE_SELECTORS: &str = "/transformations/0/params/profileSelectors/selectors";
/// `transformations[0].params.profileSelectors.mandatoryFields` as a JSON Pointer.
pub const MANDATORY_FIELDS: &str = "/transformations/0/params/profileSelectors/mandatoryFields";
/// `transformations[0].params.profileSelectors.primaryFields` as a JSON Pointer.
pub const PRIMARY_FIELDS: &str = "/transformations/0/params/profileSelectors/primaryFields";

/// A flow's `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowState {
    /// Runs on schedule.
    Enabled,
    /// Paused.
    Disabled,
}

impl FlowState {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Enabled => "enabled",
            FlowState::Disabled => "disabled",
        }
    }
}

impl Shaped for FlowState {
    fn from_wire_str(s: &str) -> Option<Self> {
        match s {
            "enabled" => Some(FlowState::Enabled),
            "disabled" => Some(FlowState::Disabled),
            _ => None,
        }
    }
}

/// A `{id, version}` reference to a connection or flow spec.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SpecRef {
    /// The spec id.
    #[serde(default, deserialize_with = "loose")]
    pub id: Option<String>,
    /// The spec version.
    #[serde(default, deserialize_with = "loose")]
    pub version: Option<String>,
}

impl Shaped for SpecRef {
    const SHAPE: Shape = Shape::Object;
}

/// A listed dataflow.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "FlowFields")]
pub struct Flow {
    /// Its id.
    pub id: EntityId,
    /// Its etag.
    pub etag: Etag,
    /// `name` (when a string).
    pub name: Option<String>,
    /// `description` (when a string), which ends with the ownership marker.
    pub description: Option<String>,
    /// `state`: `Typed` when `enabled` or `disabled`.
    pub state: Option<Json<FlowState>>,
    /// `flowSpec`.
    pub flow_spec: Option<SpecRef>,
    /// `sourceConnectionIds` (the strings among them).
    pub source_connection_ids: Vec<String>,
    /// `targetConnectionIds` (the strings among them).
    pub target_connection_ids: Vec<String>,
    /// `createdAt`, epoch milliseconds.
    pub created_at: Option<i64>,
    /// `updatedAt`, epoch milliseconds.
    pub updated_at: Option<i64>,
    /// `updatedBy`: who last changed it.
    pub updated_by: Option<String>,
    /// `updatedClient`: the API client that last changed it.
    pub updated_client: Option<String>,
    /// `transformations`; `None` when the list left it out (then read with a GET).
    pub transformations: Option<Json<Vec<Json<Transformation>>>>,
    /// `scheduleParams` of a dataset flow, when an object.
    pub schedule_params: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What a flow object holds before its required fields are checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowFields {
    #[serde(default, deserialize_with = "loose")]
    id: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    etag: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    name: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    state: Option<Json<FlowState>>,
    #[serde(default, deserialize_with = "loose")]
    flow_spec: Option<SpecRef>,
    #[serde(default, deserialize_with = "loose_strings")]
    source_connection_ids: Vec<String>,
    #[serde(default, deserialize_with = "loose_strings")]
    target_connection_ids: Vec<String>,
    #[serde(default, deserialize_with = "loose")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "loose")]
    updated_at: Option<i64>,
    #[serde(default, deserialize_with = "loose")]
    updated_by: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    updated_client: Option<String>,
    #[serde(default, deserialize_with = "present")]
    transformations: Option<Json<Vec<Json<Transformation>>>>,
    #[serde(default, deserialize_with = "loose")]
    schedule_params: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A listed object without a required field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MissingField {
    /// No string `id`.
    #[error("a listed {kind} has no string `id`")]
    Id {
        /// `flow` or `connection`.
        kind: &'static str,
    },
    /// No string `etag`.
    #[error("{kind} {id} has no string `etag`")]
    Etag {
        /// `flow` or `connection`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
}

/// Checks the required `id` and `etag` of a listed object.
pub fn required(
    kind: &'static str,
    id: Option<String>,
    etag: Option<String>,
) -> Result<(EntityId, Etag), MissingField> {
    let id = id.ok_or(MissingField::Id { kind })?;
    let etag = etag.ok_or_else(|| MissingField::Etag {
        kind,
        id: id.clone(),
    })?;
    Ok((EntityId(id), Etag(etag)))
}

impl TryFrom<FlowFields> for Flow {
    type Error = MissingField;
    fn try_from(f: FlowFields) -> Result<Flow, MissingField> {
        let (id, etag) = required("flow", f.id, f.etag)?;
        Ok(Flow {
            id,
            etag,
            name: f.name,
            description: f.description,
            state: f.state,
            flow_spec: f.flow_spec,
            source_connection_ids: f.source_connection_ids,
            target_connection_ids: f.target_connection_ids,
            created_at: f.created_at,
            updated_at: f.updated_at,
            updated_by: f.updated_by,
            updated_client: f.updated_client,
            transformations: f.transformations,
            schedule_params: f.schedule_params,
        })
    }
}

impl Flow {
    /// Parses one flow from its JSON text.
    pub fn from_json(text: &str) -> Result<Flow, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parses one flow from a JSON value (re-read as text: for single GETs and tests).
    pub fn from_value(v: &serde_json::Value) -> Result<Flow, serde_json::Error> {
        Flow::from_json(&v.to_string())
    }

    /// `state` is `enabled`.
    pub fn is_enabled(&self) -> bool {
        matches!(self.state, Some(Json::Typed(FlowState::Enabled)))
    }

    /// The `params` of the first transformation, when they are an object.
    pub fn params(&self) -> Option<&TransformationParams> {
        let first = self.transformations.as_ref()?.typed()?.first()?.typed()?;
        first.params.as_ref()?.typed()
    }

    /// `transformations[0].params.segmentSelectors.selectors`, when an array.
    pub fn segment_selectors(&self) -> Option<&[Json<SegmentSelector>]> {
        let s = self.params()?.segment_selectors.as_ref()?.typed()?;
        s.selectors.as_ref()?.typed().map(Vec::as_slice)
    }

    /// `transformations[0].params.profileSelectors`, when an object.
    pub fn profile_selectors(&self) -> Option<&ProfileSelectors> {
        self.params()?.profile_selectors.as_ref()?.typed()
    }

    /// The live `mandatoryFields`: inside `profileSelectors` (legacy), or directly under the
    /// params when `v2`.
    pub fn mandatory_fields(&self, v2: bool) -> Option<&Json<Vec<Json<String>>>> {
        if v2 {
            self.params()?.mandatory_fields.as_ref()
        } else {
            self.profile_selectors()?.mandatory_fields.as_ref()
        }
    }

    /// The live `primaryFields`, placed as for [`Flow::mandatory_fields`].
    pub fn primary_fields(&self, v2: bool) -> Option<&Json<Vec<Json<PrimaryField>>>> {
        if v2 {
            self.params()?.primary_fields.as_ref()
        } else {
            self.profile_selectors()?.primary_fields.as_ref()
        }
    }

    /// `transformations[0].params.profileSelectors.selectors`, when an array.
    pub fn profile_selector_list(&self) -> Option<&[Json<ProfileSelector>]> {
        self.profile_selectors()?
            .selectors
            .as_ref()?
            .typed()
            .map(Vec::as_slice)
    }
}

/// One transformation of a flow.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Transformation {
    /// Its `name` (`GeneralTransform` for the legacy batch destinations).
    #[serde(default, deserialize_with = "loose")]
    pub name: Option<String>,
    /// Its `params`.
    #[serde(default, deserialize_with = "present")]
    pub params: Option<Json<TransformationParams>>,
}

impl Shaped for Transformation {
    const SHAPE: Shape = Shape::Object;
}

/// The `params` of the transformation: the legacy fields, and the V2 (current cards')
/// `mandatoryFields`/`primaryFields` directly under the params.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformationParams {
    /// `segmentSelectors`.
    #[serde(default, deserialize_with = "present")]
    pub segment_selectors: Option<Json<SegmentSelectors>>,
    /// `profileSelectors`.
    #[serde(default, deserialize_with = "present")]
    pub profile_selectors: Option<Json<ProfileSelectors>>,
    /// `mandatoryFields` directly under the params (V2 flows of the current cards).
    #[serde(default, deserialize_with = "present")]
    pub mandatory_fields: Option<Json<Vec<Json<String>>>>,
    /// `primaryFields` directly under the params (V2 flows of the current cards).
    #[serde(default, deserialize_with = "present")]
    pub primary_fields: Option<Json<Vec<Json<PrimaryField>>>>,
}

impl Shaped for TransformationParams {
    const SHAPE: Shape = Shape::Object;
}

/// `segmentSelectors`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SegmentSelectors {
    /// `selectors`.
    #[serde(default, deserialize_with = "present")]
    pub selectors: Option<Json<Vec<Json<SegmentSelector>>>>,
}

impl Shaped for SegmentSelectors {
    const SHAPE: Shape = Shape::Object;
}

/// `profileSelectors`: the attributes, the mandatory attributes and the deduplication keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSelectors {
    /// `selectors`.
    #[serde(default, deserialize_with = "present")]
    pub selectors: Option<Json<Vec<Json<ProfileSelector>>>>,
    /// `mandatoryFields`: attribute paths.
    #[serde(default, deserialize_with = "present")]
    pub mandatory_fields: Option<Json<Vec<Json<String>>>>,
    /// `primaryFields`: deduplication keys.
    #[serde(default, deserialize_with = "present")]
    pub primary_fields: Option<Json<Vec<Json<PrimaryField>>>>,
}

impl Shaped for ProfileSelectors {
    const SHAPE: Shape = Shape::Object;
}

/// A profile attribute selector (`{"type": "JSON_PATH", "value": {"path": …}}`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ProfileSelector {
    /// `type`.
    #[serde(default, rename = "type", deserialize_with = "loose")]
    pub kind: Option<String>,
    /// `value`.
    #[serde(default, deserialize_with = "loose")]
    pub value: Option<ProfileValue>,
}

impl Shaped for ProfileSelector {
    const SHAPE: Shape = Shape::Object;
}

impl ProfileSelector {
    /// `value.path`, when a string.
    pub fn path(&self) -> Option<&str> {
        self.value.as_ref()?.path.as_deref()
    }
}

/// A profile attribute selector's `value`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ProfileValue {
    /// `path`.
    #[serde(default, deserialize_with = "loose")]
    pub path: Option<String>,
}

impl Shaped for ProfileValue {
    const SHAPE: Shape = Shape::Object;
}

/// One `primaryFields` item (`{"fieldType": "ATTRIBUTE", "attributePath": …}`), other keys kept
/// raw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrimaryField {
    /// `fieldType`.
    pub field_type: Option<Json<String>>,
    /// `attributePath`.
    pub attribute_path: Option<Json<String>>,
    /// Every other key.
    pub other: RawFields,
}

impl Shaped for PrimaryField {
    const SHAPE: Shape = Shape::Object;
}

impl PrimaryField {
    /// The item as JSON.
    pub fn to_value(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(v) = &self.field_type {
            m.insert("fieldType".into(), v.to_value());
        }
        if let Some(v) = &self.attribute_path {
            m.insert("attributePath".into(), v.to_value());
        }
        m.extend(self.other.values());
        serde_json::Value::Object(m)
    }
}

impl<'de> Deserialize<'de> for PrimaryField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PrimaryField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a primary field object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<PrimaryField, A::Error> {
                let mut out = PrimaryField::default();
                while let Some(Key(k)) = m.next_key()? {
                    match &*k {
                        "fieldType" => out.field_type = Some(m.next_value()?),
                        "attributePath" => out.attribute_path = Some(m.next_value()?),
                        _ => out.other.read(k, &mut m)?,
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// An audience selector (`{"type": "PLATFORM_SEGMENT", "value": {…}}`); keys besides `type`
/// and `value` are kept raw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SegmentSelector {
    /// `type`, when a string.
    pub kind: Option<Word>,
    /// `value`.
    pub value: Option<Json<SegmentValue>>,
    /// Every other key, in order.
    pub other: RawFields,
}

impl Shaped for SegmentSelector {
    const SHAPE: Shape = Shape::Object;
}

impl SegmentSelector {
    /// `value` when it is an object.
    pub fn value(&self) -> Option<&SegmentValue> {
        self.value.as_ref()?.typed()
    }

    /// `value.id`, when a string.
    pub fn segment_id(&self) -> Option<&str> {
        self.value()?.id.as_ref()?.as_str()
    }
}

impl<'de> Deserialize<'de> for SegmentSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SegmentSelector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an audience selector object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<SegmentSelector, A::Error> {
                let mut out = SegmentSelector::default();
                while let Some(Key(k)) = m.next_key()? {
                    match &*k {
                        "type" => out.kind = m.next_value::<Json<Word>>()?.typed().cloned(),
                        "value" => out.value = Some(m.next_value()?),
                        _ => out.other.read(k, &mut m)?,
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// An audience selector's `value`: the keys destctl manages typed, every other key (the
/// server's `createTime` and `updateTime`, …) kept raw in its order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SegmentValue {
    /// `id`: the segment id.
    pub id: Option<Json<String>>,
    /// `name`.
    pub name: Option<Json<String>>,
    /// `description`.
    pub description: Option<Json<String>>,
    /// `filenameTemplate`.
    pub filename_template: Option<Shared<Json<String>>>,
    /// `exportMode`.
    pub export_mode: Option<Json<Word>>,
    /// `schedule`.
    pub schedule: Option<Shared<Json<LiveSchedule>>>,
    /// Every other key, in order: the server's fields.
    pub server: RawFields,
}

impl Shaped for SegmentValue {
    const SHAPE: Shape = Shape::Object;
}

impl SegmentValue {
    /// The server's `createTime`.
    pub fn create_time(&self) -> Option<serde_json::Value> {
        self.server.get("createTime")
    }

    /// The server's `updateTime`.
    pub fn update_time(&self) -> Option<serde_json::Value> {
        self.server.get("updateTime")
    }
}

impl<'de> Deserialize<'de> for SegmentValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SegmentValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an audience selector value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<SegmentValue, A::Error> {
                let mut out = SegmentValue::default();
                while let Some(Key(k)) = m.next_key()? {
                    match &*k {
                        "id" => out.id = Some(m.next_value()?),
                        "name" => out.name = Some(m.next_value()?),
                        "description" => out.description = Some(m.next_value()?),
                        "filenameTemplate" => {
                            let t = m.next_value()?;
                            out.filename_template = Some(LAST_TEMPLATE.with(|l| share(l, t)));
                        }
                        "exportMode" => out.export_mode = Some(m.next_value()?),
                        "schedule" => {
                            let s = m.next_value()?;
                            out.schedule = Some(LAST_SCHEDULE.with(|l| share(l, s)));
                        }
                        _ => out.server.read(k, &mut m)?,
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A value shared between the selectors that hold an equal one.
pub type Shared<T> = std::sync::Arc<T>;

thread_local! {
    /// The filename template read last on this thread.
    static LAST_TEMPLATE: RefCell<Option<Shared<Json<String>>>> = const { RefCell::new(None) };
    /// The schedule read last on this thread.
    static LAST_SCHEDULE: RefCell<Option<Shared<Json<LiveSchedule>>>> = const { RefCell::new(None) };
}

/// `value`, shared with the one read just before it when they are equal: the selectors of a
/// flow mostly repeat the same filename template and schedule, so a flow of 250 audiences
/// holds one of each instead of 250.
fn share<T: PartialEq>(last: &RefCell<Option<Shared<T>>>, value: T) -> Shared<T> {
    let mut last = last.borrow_mut();
    if let Some(l) = last.as_ref()
        && **l == value
    {
        return Shared::clone(l);
    }
    let shared = Shared::new(value);
    *last = Some(Shared::clone(&shared));
    shared
}

/// A selector's `schedule`: the keys destctl manages (others are dropped by a `replace`, so
/// they are not kept).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSchedule {
    /// `frequency`.
    #[serde(default, deserialize_with = "present")]
    pub frequency: Option<Json<Word>>,
    /// `triggerType`.
    #[serde(default, deserialize_with = "present")]
    pub trigger_type: Option<Json<Word>>,
    /// `startDate`.
    #[serde(default, deserialize_with = "present")]
    pub start_date: Option<Json<NaiveDate>>,
    /// `endDate`.
    #[serde(default, deserialize_with = "present")]
    pub end_date: Option<Json<NaiveDate>>,
    /// `startTime`.
    #[serde(default, deserialize_with = "present")]
    pub start_time: Option<Json<Word>>,
}

impl Shaped for LiveSchedule {
    const SHAPE: Shape = Shape::Object;
}

impl LiveSchedule {
    /// The managed keys that are present and not `null`, as JSON, in canonical order.
    pub fn to_value(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                m.insert(k.into(), v);
            }
        };
        put("frequency", self.frequency.as_ref().map(|j| j.to_value()));
        put(
            "triggerType",
            self.trigger_type.as_ref().map(|j| j.to_value()),
        );
        put("startDate", self.start_date.as_ref().map(|j| j.to_value()));
        put("endDate", self.end_date.as_ref().map(|j| j.to_value()));
        put("startTime", self.start_time.as_ref().map(|j| j.to_value()));
        serde_json::Value::Object(m)
    }
}
