//! The fingerprint destctl writes into each marker (docs/drift.md): per field group of an
//! object, the digest of the group's canonical JSON, computed from the desired model when
//! applying and from the listed object when looking for drift. Both sides go through the same
//! managed views (`diff::live_flow_view` / `diff::desired_flow_view`), which keep managed keys
//! only: server-populated fields (`createTime`, `updatedAt`, `etag`, `lastOperation`, …) never
//! enter a group. Secrets never do either: the account group holds the auth method and the
//! literal (non-secret) params only.

use super::diff::{self, canonical};
use super::mapping;
use crate::live::LiveMappingSet;
use crate::marker::{Digester, Fingerprint, FpField, Marker};
use crate::model::{DesiredAudience, DesiredDestination, ParamValue};
use crate::wire::connection::Connection;
use crate::wire::flow::Flow;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Target connection `params` keys destctl manages; others found live are carried over.
pub(crate) const MANAGED_TARGET_KEYS: [&str; 10] = [
    "mode",
    "bucketName",
    "path",
    "container",
    "remotePath",
    "format",
    "fileType",
    "compression",
    "csvOptions",
    "includeFileManifest",
];

/// The field groups of a flow, each as its canonical value.
pub type FieldValues = BTreeMap<FpField, Value>;

fn trimmed(s: Option<&str>) -> Value {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, Value::from)
}

fn flow_fields(view: &Value, description: Value) -> FieldValues {
    let get = |k: &str| view.get(k).cloned().unwrap_or(Value::Null);
    let audiences = view
        .get("audiences")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<Value> = audiences.keys().map(|k| Value::from(k.as_str())).collect();
    BTreeMap::from([
        (FpField::Name, get("name")),
        (FpField::Description, description),
        (FpField::State, get("state")),
        (FpField::Audiences, Value::Array(ids)),
        (FpField::AudienceSettings, Value::Object(audiences)),
        (FpField::Attributes, get("attributes")),
        (FpField::Mandatory, get("mandatoryFields")),
        (FpField::Dedup, get("primaryFields")),
    ])
}

/// The flow's field groups as `d` asks for them.
/// With exported columns (today's cards) the attributes group holds the columns in order, as
/// `column ← source`, instead of the (then empty) profile selectors.
pub fn desired_flow_fields(d: &DesiredDestination) -> FieldValues {
    let mut fields = flow_fields(
        &diff::desired_flow_view_without_description(d),
        trimmed(d.description.as_deref()),
    );
    if !d.columns.is_empty() {
        fields.insert(FpField::Attributes, column_words(&mapping::wanted(d)));
    }
    fields
}

fn column_words(pairs: &[(String, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(source, column)| Value::String(format!("{column} ← {source}")))
            .collect(),
    )
}

/// [`live_flow_fields`] with the mapping set the flow points at, whose columns stand for the
/// attributes group when the flow exports through one.
pub fn live_flow_fields_with(flow: &Flow, mapping: Option<&LiveMappingSet>) -> FieldValues {
    let mut fields = live_flow_fields(flow);
    if let Some(m) = mapping.filter(|_| flow.has_profile_mapping()) {
        fields.insert(FpField::Attributes, column_words(&m.mappings));
    }
    fields
}

/// The user's text of a live description: what precedes the marker (all of it without one).
pub fn user_text(description: Option<&str>) -> Option<&str> {
    let d = description?;
    match Marker::parse(d) {
        Some((_, user)) => user,
        None => Some(d),
    }
}

/// The field groups of a live flow.
pub fn live_flow_fields(flow: &Flow) -> FieldValues {
    flow_fields(
        &diff::live_flow_view(flow),
        trimmed(user_text(flow.description.as_deref())),
    )
}

/// The fingerprint of some field groups.
pub fn fingerprint_of(fields: &FieldValues) -> Fingerprint {
    let mut fp = Fingerprint::new();
    for (f, v) in fields {
        fp.record(*f, &canonical(v));
    }
    fp
}

/// The fingerprint of the flow `d` asks for: [`fingerprint_of`] [`desired_flow_fields`], with
/// each group's canonical JSON written straight into its digest from the typed model (no view,
/// no canonical string), so every flow of a plan can afford it.
pub fn desired_flow_fingerprint(d: &DesiredDestination) -> Fingerprint {
    let mut audiences: Vec<&DesiredAudience> = d.audiences.iter().collect();
    audiences.sort_by(|a, b| a.segment_id.as_str().cmp(b.segment_id.as_str()));
    if audiences
        .windows(2)
        .any(|w| w[0].segment_id == w[1].segment_id)
    {
        // Repeated ids are keyed `id (2)`, … in the view, ordered by their whole value: rare
        // enough to take the view's own path.
        return fingerprint_of(&desired_flow_fields(d));
    }
    let mut fp = Fingerprint::new();
    let mut group = |field: FpField, write: &mut dyn FnMut(&mut Canonical)| {
        let mut c = Canonical(Digester::new());
        write(&mut c);
        fp.set(field, c.0.finish());
    };
    group(FpField::Name, &mut |c| c.string(&d.display_name));
    group(FpField::Description, &mut |c| match d
        .description
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => c.string(s),
        None => c.raw("null"),
    });
    group(FpField::State, &mut |c| {
        c.string(if d.enabled { "enabled" } else { "disabled" })
    });
    group(FpField::Audiences, &mut |c| {
        c.strings(audiences.iter().map(|a| a.segment_id.as_str()))
    });
    group(FpField::AudienceSettings, &mut |c| {
        c.raw("{");
        for (i, a) in audiences.iter().enumerate() {
            if i > 0 {
                c.raw(",");
            }
            c.string(a.segment_id.as_str());
            c.raw(":");
            c.audience_settings(a);
        }
        c.raw("}");
    });
    group(FpField::Attributes, &mut |c| {
        if d.columns.is_empty() {
            let paths: BTreeSet<&str> = d.attributes.iter().map(|p| p.as_str()).collect();
            c.strings(paths.into_iter());
        } else {
            let pairs = mapping::wanted(d);
            c.raw("[");
            for (i, (source, column)) in pairs.iter().enumerate() {
                if i > 0 {
                    c.raw(",");
                }
                c.string(&format!("{column} ← {source}"));
            }
            c.raw("]");
        }
    });
    group(FpField::Mandatory, &mut |c| {
        let paths: BTreeSet<&str> = d.mandatory_attributes.iter().map(|p| p.as_str()).collect();
        c.strings(paths.into_iter());
    });
    group(FpField::Dedup, &mut |c| {
        let labels: BTreeSet<String> = super::desired::primary_fields(d)
            .as_array()
            .map(|a| a.iter().map(diff::primary_label).collect())
            .unwrap_or_default();
        c.strings(labels.iter().map(String::as_str));
    });
    fp
}

/// A field group's canonical JSON (compact, object keys sorted), written into its digest.
struct Canonical(Digester);

impl Canonical {
    fn raw(&mut self, s: &str) {
        self.0.update(s.as_bytes());
    }

    /// A JSON string, escaped as `serde_json` writes it.
    fn string(&mut self, s: &str) {
        serde_json::to_writer(&mut self.0, s).expect("a digest takes any bytes");
    }

    fn strings<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        self.raw("[");
        for (i, s) in items.enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.string(s);
        }
        self.raw("]");
    }

    fn serialized(&mut self, v: &impl serde::Serialize) {
        serde_json::to_writer(&mut self.0, v).expect("a digest takes any bytes");
    }

    /// `desired::audience_value(a)` without its `id`, keys sorted.
    fn audience_settings<'a>(&mut self, a: &'a DesiredAudience) {
        let non_empty = |s: &'a Option<String>| s.as_deref().filter(|s| !s.is_empty());
        self.raw("{");
        if let Some(t) = non_empty(&a.description) {
            self.raw("\"description\":");
            self.string(t);
            self.raw(",");
        }
        self.raw("\"exportMode\":");
        self.string(a.export_mode.as_str());
        self.raw(",\"filenameTemplate\":");
        self.string(&a.filename_template);
        if let Some(n) = non_empty(&a.display_name) {
            self.raw(",\"name\":");
            self.string(n);
        }
        let s = &a.schedule;
        self.raw(",\"schedule\":{");
        if let Some(end) = &s.end_date {
            self.raw("\"endDate\":");
            self.serialized(end);
            self.raw(",");
        }
        self.raw("\"frequency\":");
        self.serialized(&s.frequency);
        self.raw(",\"startDate\":");
        self.serialized(&s.start_date);
        if let Some(t) = &s.start_time {
            self.raw(",\"startTime\":");
            self.serialized(t);
        }
        if let Some(t) = &s.trigger_type {
            self.raw(",\"triggerType\":");
            self.serialized(t);
        }
        self.raw("}}");
    }
}

/// The target params keys compared for `d`: the managed keys and the manifest's own.
fn location_keys(want: &Map<String, Value>) -> BTreeSet<String> {
    MANAGED_TARGET_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .chain(want.keys().cloned())
        .collect()
}

/// The location (target connection params, managed keys) that `d` asks for.
pub fn desired_location(d: &DesiredDestination) -> Value {
    super::desired::target_params(d)
}

/// The managed keys of a live target connection's params, compared with what `d` asks for.
pub fn live_location(d: &DesiredDestination, c: &Connection) -> Value {
    let want = desired_location(d);
    let want = want.as_object().cloned().unwrap_or_default();
    let keys = location_keys(&want);
    let mut out = Map::new();
    if let Some(params) = &c.params {
        for (k, v) in params {
            if keys.contains(k) && !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The names of the account params destctl compares: the auth method's non-secret params and
/// any param the manifest gives as a literal.
fn literal_param_names(d: &DesiredDestination) -> BTreeSet<&str> {
    let specs = match d.connection.auth {
        Some(auth) => d.platform.info().auth_params(auth),
        None => &[],
    };
    let mut names: BTreeSet<&str> = specs.iter().filter(|p| !p.secret).map(|p| p.name).collect();
    for (k, v) in &d.connection.params {
        if matches!(v, ParamValue::Literal(_)) {
            names.insert(k);
        }
    }
    // A secret param is never part of the account group, even written as a literal.
    for p in specs.iter().filter(|p| p.secret) {
        names.remove(p.name);
    }
    names
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn account_value(spec_name: Option<&str>, params: BTreeMap<&str, Option<String>>) -> Value {
    let mut p = Map::new();
    for (k, v) in params {
        p.insert(k.to_owned(), v.map_or(Value::Null, Value::String));
    }
    let mut m = Map::new();
    m.insert("auth".into(), spec_name.map_or(Value::Null, Value::from));
    m.insert("params".into(), Value::Object(p));
    Value::Object(m)
}

/// The account (auth method, non-secret params) that `d` asks for.
pub fn desired_account(d: &DesiredDestination) -> Value {
    let params = literal_param_names(d)
        .into_iter()
        .map(|k| {
            let v = match d.connection.params.get(k) {
                Some(ParamValue::Literal(s)) => Some(s.clone()),
                _ => None,
            };
            (k, v)
        })
        .collect();
    account_value(d.connection.auth.map(|a| a.spec_name()), params)
}

/// The same view of a live base connection.
pub fn live_account(d: &DesiredDestination, c: &Connection) -> Value {
    let auth = c.auth.as_ref();
    let live = auth.and_then(|a| a.params.as_ref());
    let params = literal_param_names(d)
        .into_iter()
        .map(|k| (k, live.and_then(|p| p.get(k)).and_then(scalar_string)))
        .collect();
    account_value(auth.and_then(|a| a.spec_name.as_deref()), params)
}

/// A one-field fingerprint.
pub fn single(field: FpField, v: &Value) -> Fingerprint {
    let mut fp = Fingerprint::new();
    fp.record(field, &canonical(v));
    fp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_flow_equal_to_the_desired_one_has_its_fingerprint() {
        let view = json!({"name": "N", "state": "enabled", "attributes": ["a.b"],
            "mandatoryFields": [], "primaryFields": [], "audiences": {"s1": {"filenameTemplate": "x"}}});
        let a = fingerprint_of(&flow_fields(&view, Value::Null));
        let mut other = view.clone();
        other["audiences"]["s1"]["filenameTemplate"] = json!("y");
        let b = fingerprint_of(&flow_fields(&other, Value::Null));
        let differing: Vec<FpField> = a
            .fields()
            .zip(b.fields())
            .filter(|(x, y)| x != y)
            .map(|(x, _)| x.0)
            .collect();
        assert_eq!(differing, [FpField::AudienceSettings]);
    }

    mod streaming {
        use super::super::*;
        use crate::catalog::{
            AuthMethod, ExportMode, Frequency, LocationMode, Platform, Schedule, StartTime,
            TriggerType,
        };
        use crate::model::{
            AttributePath, ColumnSource, DesiredConnection, DesiredLocation, ExportedColumn,
            ResourceName, SegmentId, SourceLocation,
        };
        use chrono::NaiveDate;
        use proptest::prelude::*;

        /// The view-based digest every marker was written with before the streaming one.
        fn oracle(d: &DesiredDestination) -> Fingerprint {
            fingerprint_of(&desired_flow_fields(d))
        }

        fn audience(id: &str, name: Option<&str>, schedule: Schedule) -> DesiredAudience {
            DesiredAudience {
                manifest: ResourceName::parse("a").unwrap(),
                segment_id: SegmentId::parse(id).unwrap(),
                display_name: name.map(str::to_owned),
                description: None,
                filename_template: "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
                    .into(),
                export_mode: ExportMode::DailyFullExport,
                schedule,
                schedule_name: None,
            }
        }

        fn destination(audiences: Vec<DesiredAudience>) -> DesiredDestination {
            DesiredDestination {
                name: ResourceName::parse("campaign-s3").unwrap(),
                source: SourceLocation::default(),
                former_names: Vec::new(),
                display_name: "Campaign \"S3\" — exports".into(),
                description: Some("  Profiles for email\tcampaigns ".into()),
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
                attributes: ["person.name.firstName", "personalEmail.address"]
                    .iter()
                    .map(|p| AttributePath::parse(p).unwrap())
                    .collect(),
                columns: vec![],
                mandatory_attributes: vec![AttributePath::parse("personalEmail.address").unwrap()],
                deduplication_keys: vec![AttributePath::parse("personalEmail.address").unwrap()],
                identity_deduplication_keys: vec![],
                enabled: true,
                audiences,
            }
        }

        fn daily(hour: Option<u8>) -> Schedule {
            Schedule {
                frequency: Frequency::Daily,
                trigger_type: hour.map(|_| TriggerType::Scheduled),
                start_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                end_date: None,
                start_time: hour.and_then(StartTime::from_hour),
            }
        }

        /// Fingerprints of markers written before the streaming digest (by the view-based path,
        /// `oracle`): both paths must keep giving them, or applied flows would read as changed.
        #[test]
        fn pinned_fingerprints_are_unchanged() {
            let mut d = destination(vec![
                audience("seg-b", Some("Lapsed"), daily(Some(17))),
                audience("seg-a", None, daily(None)),
            ]);
            let pinned = [
                (
                    d.clone(),
                    "n07d035.d62c8c0.s688644.af9018a.ta5ceb9.xa88357.mfbea0d.kfbea0d",
                ),
                (
                    DesiredDestination {
                        enabled: false,
                        description: None,
                        audiences: vec![],
                        ..d.clone()
                    },
                    "n07d035.d45e92d.s409f88.ac7bb71.tdb1564.xa88357.mfbea0d.kfbea0d",
                ),
            ];
            for (d, want) in &pinned {
                assert_eq!(oracle(d).to_string(), *want);
                assert_eq!(desired_flow_fingerprint(d).to_string(), *want);
            }
            d.columns = vec![
                ExportedColumn {
                    source: ColumnSource::Attribute(
                        AttributePath::parse("person.name.firstName").unwrap(),
                    ),
                    column: "first".into(),
                },
                ExportedColumn {
                    source: ColumnSource::Identity("Email".into()),
                    column: "email".into(),
                },
            ];
            d.identity_deduplication_keys = vec!["Email".into()];
            assert_eq!(
                oracle(&d).to_string(),
                "n07d035.d62c8c0.s688644.af9018a.ta5ceb9.xf965e5.mfbea0d.k36cdff"
            );
            assert_eq!(
                desired_flow_fingerprint(&d).to_string(),
                "n07d035.d62c8c0.s688644.af9018a.ta5ceb9.xf965e5.mfbea0d.k36cdff"
            );
        }

        fn text() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    any::<char>(),
                    Just('"'),
                    Just('\\'),
                    Just('\u{1}'),
                    Just('\n'),
                    Just(' '),
                    Just('é'),
                ],
                0..6,
            )
            .prop_map(String::from_iter)
        }

        fn path() -> impl Strategy<Value = AttributePath> {
            prop::sample::select(vec!["a", "b.c", "B", "_x.y1", "a.b"])
                .prop_map(|p| AttributePath::parse(p).unwrap())
        }

        fn schedule() -> impl Strategy<Value = Schedule> {
            (
                prop::sample::select(Frequency::ALL.to_vec()),
                prop::option::of(prop::sample::select(TriggerType::ALL.to_vec())),
                0i64..4000,
                prop::option::of(0i64..4000),
                prop::option::of(0u8..24),
            )
                .prop_map(|(frequency, trigger_type, start, end, hour)| {
                    let day = |n: i64| {
                        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(n as u64)
                    };
                    Schedule {
                        frequency,
                        trigger_type,
                        start_date: day(start),
                        end_date: end.map(day),
                        start_time: hour.and_then(StartTime::from_hour),
                    }
                })
        }

        fn any_audience() -> impl Strategy<Value = DesiredAudience> {
            (
                prop::sample::select(vec!["a", "b", "A", "a-b", "a.b", "_1", "seg-00017"]),
                prop::option::of(text()),
                prop::option::of(text()),
                text(),
                prop::sample::select(ExportMode::ALL.to_vec()),
                schedule(),
            )
                .prop_map(|(id, name, description, template, mode, schedule)| {
                    DesiredAudience {
                        description,
                        filename_template: template,
                        export_mode: mode,
                        ..audience(id, name.as_deref(), schedule)
                    }
                })
        }

        fn any_destination() -> impl Strategy<Value = DesiredDestination> {
            (
                (text(), prop::option::of(text()), any::<bool>()),
                prop::collection::vec(any_audience(), 0..8),
                prop::collection::vec(path(), 0..4),
                prop::collection::vec(path(), 0..3),
                prop::collection::vec(path(), 0..3),
                prop::collection::vec(text(), 0..3),
                prop::collection::vec(
                    (
                        prop_oneof![
                            path().prop_map(ColumnSource::Attribute),
                            text().prop_map(ColumnSource::Identity)
                        ],
                        text(),
                    ),
                    0..3,
                ),
            )
                .prop_map(
                    |(
                        (display_name, description, enabled),
                        audiences,
                        attributes,
                        mandatory,
                        dedup,
                        identities,
                        columns,
                    )| {
                        DesiredDestination {
                            display_name,
                            description,
                            enabled,
                            attributes,
                            mandatory_attributes: mandatory,
                            deduplication_keys: dedup,
                            identity_deduplication_keys: identities,
                            columns: columns
                                .into_iter()
                                .map(|(source, column)| ExportedColumn { source, column })
                                .collect(),
                            ..destination(audiences)
                        }
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// The streaming digest writes exactly the canonical text the views give, for any
            /// desired flow (escapes, empty labels, repeated ids and paths, columns).
            #[test]
            fn streaming_equals_the_view_based_digest(d in any_destination()) {
                prop_assert_eq!(desired_flow_fingerprint(&d), oracle(&d));
            }
        }
    }

    #[test]
    fn user_text_ignores_the_marker() {
        assert_eq!(user_text(Some("hi [destctl:a fp=n000001]")), Some("hi"));
        assert_eq!(user_text(Some("[destctl:a]")), None);
        assert_eq!(user_text(Some("made by hand")), Some("made by hand"));
    }
}
