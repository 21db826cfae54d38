//! Plan + patch over random live/desired flows: an arbitrary desired Destination (audiences,
//! attributes, schedules) and an arbitrary live flow (made from another desired Destination the
//! way the emulator stores it, then disturbed as other writers and the server do) →
//! `flow_diff` → the emulator's patch engine → the patched flow equals the desired one and a
//! second diff finds nothing. Both flow shapes are fuzzed: a legacy card's (SFTP legacy:
//! `mandatoryFields`/`primaryFields` inside `profileSelectors`) and a current card's (SFTP, V2:
//! those fields directly under the transformation's params, identity deduplication keys).
//! This file makes the Destinations and the disturbances; the checks are
//! `destctl::fuzzing::{stored_flow, plan_patch}`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use chrono::NaiveDate;
use destctl::catalog::{
    AuthMethod, ExportMode, Frequency, LocationMode, Platform, Schedule, StartTime, TriggerType,
    check_filename_template, check_schedule,
};
use destctl::model::{
    AttributePath, DesiredAudience, DesiredConnection, DesiredDestination, DesiredLocation,
    ResourceName, SegmentId, SourceLocation,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SEGMENTS: [&str; 6] = ["s-0", "s-1", "s-2", "S-3", "s.4", "s_5"];
const PATHS: [&str; 7] = [
    "person.name.firstName",
    "person.name.lastName",
    "personalEmail.address",
    "mobilePhone.number",
    "homeAddress.city",
    "_acme.loyalty.tier",
    "a",
];
const TEMPLATE: &str = "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%";

/// A segment id: mostly from a small pool (so live and desired overlap), sometimes any text.
#[derive(Debug, Arbitrary)]
enum Seg {
    Pool(u8),
    Any(String),
}

impl Seg {
    fn id(&self) -> Option<SegmentId> {
        match self {
            Seg::Pool(i) => SegmentId::parse(SEGMENTS[*i as usize % SEGMENTS.len()]).ok(),
            Seg::Any(s) => SegmentId::parse(s).ok(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Sched {
    full: bool,
    frequency: u8,
    trigger: Option<bool>,
    start_day: u16,
    end_days: Option<u16>,
    hour: Option<u8>,
}

impl Sched {
    fn build(&self) -> (ExportMode, Schedule) {
        let mode = if self.full {
            ExportMode::DailyFullExport
        } else {
            ExportMode::FirstFullThenIncremental
        };
        let all = [
            Frequency::Once,
            Frequency::Daily,
            Frequency::Weekly,
            Frequency::Monthly,
            Frequency::Every3Hours,
            Frequency::Every6Hours,
            Frequency::Every8Hours,
            Frequency::Every12Hours,
        ];
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
            + chrono::Days::new(u64::from(self.start_day % 1000));
        (
            mode,
            Schedule {
                frequency: all[self.frequency as usize % all.len()],
                trigger_type: self.trigger.map(|s| {
                    if s {
                        TriggerType::Scheduled
                    } else {
                        TriggerType::AfterSegmentEval
                    }
                }),
                start_date: start,
                end_date: self
                    .end_days
                    .map(|d| start + chrono::Days::new(u64::from(d % 400))),
                start_time: self.hour.and_then(StartTime::from_hour),
            },
        )
    }
}

#[derive(Debug, Arbitrary)]
struct Aud {
    seg: Seg,
    name: Option<String>,
    description: Option<String>,
    custom: Option<String>,
    sched: Sched,
}

#[derive(Debug, Arbitrary)]
struct Dest {
    display_name: String,
    description: Option<String>,
    attributes: Vec<(u8, bool, bool)>,
    /// Identity deduplication keys (from [`NAMESPACES`]); current cards only.
    identities: Vec<u8>,
    audiences: Vec<Aud>,
    enabled: bool,
}

const NAMESPACES: [&str; 4] = ["ECID", "Email", "Phone", "crm_id-2"];

impl Dest {
    /// A Destination as the manifest checks would let it through (on the current SFTP card
    /// or the legacy one), or `None`.
    fn build(&self, current: bool) -> Option<DesiredDestination> {
        if self.display_name.trim().is_empty() {
            return None;
        }
        let mut attributes = Vec::new();
        let mut mandatory = Vec::new();
        let mut dedup = Vec::new();
        for (i, m, k) in &self.attributes {
            let p = AttributePath::parse(PATHS[*i as usize % PATHS.len()]).ok()?;
            if attributes.contains(&p) {
                continue;
            }
            if *m {
                mandatory.push(p.clone());
            }
            if *k {
                dedup.push(p.clone());
            }
            attributes.push(p);
        }
        let mut audiences: Vec<DesiredAudience> = Vec::new();
        for a in &self.audiences {
            let id = a.seg.id()?;
            if audiences.iter().any(|x| x.segment_id == id) {
                continue;
            }
            let (export_mode, schedule) = a.sched.build();
            if !check_schedule(export_mode, &schedule).is_empty() {
                return None;
            }
            let mut filename_template = TEMPLATE.to_owned();
            if let Some(c) = &a.custom {
                filename_template.push_str(&format!("_%{c}%"));
                if !check_filename_template(&filename_template).is_empty() {
                    return None;
                }
            }
            audiences.push(DesiredAudience {
                manifest: ResourceName::parse(&format!("aud-{}", audiences.len())).ok()?,
                segment_id: id,
                display_name: a.name.clone(),
                description: a.description.clone(),
                filename_template,
                export_mode,
                schedule,
                schedule_name: None,
            });
        }
        audiences.sort_by(|a, b| a.segment_id.cmp(&b.segment_id));
        let mut identities: Vec<String> = Vec::new();
        if current {
            for i in &self.identities {
                let n = NAMESPACES[*i as usize % NAMESPACES.len()].to_owned();
                if !identities.contains(&n) {
                    identities.push(n);
                }
            }
        }
        let (platform, auth, mode) = if current {
            (
                Platform::Sftp,
                AuthMethod::SftpWithPassword,
                LocationMode::ServerToServer,
            )
        } else {
            (
                Platform::SftpLegacy,
                AuthMethod::SftpBasic,
                LocationMode::Ftp,
            )
        };
        let mut loc = BTreeMap::new();
        loc.insert("remotePath".to_owned(), "/upload".to_owned());
        Some(DesiredDestination {
            name: ResourceName::parse("partner-sftp").ok()?,
            source: SourceLocation::default(),
            former_names: Vec::new(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            platform,
            connection: DesiredConnection {
                auth: Some(auth),
                params: BTreeMap::new(),
                credentials_version: 1,
                locations: BTreeMap::new(),
                encryption_key: None,
            },
            location: DesiredLocation {
                mode,
                params: loc,
                include_file_manifest: None,
                files: None,
            },
            attributes,
            mandatory_attributes: mandatory,
            deduplication_keys: dedup,
            identity_deduplication_keys: identities,
            columns: vec![],
            enabled: self.enabled,
            audiences,
        })
    }
}

/// What another writer or the server did to the stored flow.
#[derive(Debug, Arbitrary)]
enum Disturb {
    Name(String),
    /// Another description. (A flow without one is not generated: its marker lives there, so
    /// the planner never diffs it.)
    Description(String),
    /// Sets a key of one segment selector's `value` (by index modulo the length).
    SegmentField(u8, u8, Scalar),
    /// Drops a key of one segment selector's `value`.
    SegmentDrop(u8, u8),
    DuplicateSegment(u8),
    RemoveSegment(u8),
    ForeignSegment(Seg, Sched),
    ReverseSegments,
    ReverseProfiles,
    RemoveProfile(u8),
    AddProfile(u8),
    /// Sets `mandatoryFields` where the flow's card keeps it.
    Mandatory(Vec<u8>),
    /// Sets `primaryFields` (attributes, then identities) where the flow's card keeps it.
    Primary(Vec<u8>, Vec<u8>),
    /// Drops the `profileSelectors` container (a flow created with no attribute by another
    /// writer).
    DropProfileSelectors,
}

#[derive(Debug, Arbitrary)]
enum Scalar {
    Str(String),
    Num(i64),
    Bool(bool),
    Null,
    Pool(u8),
}

impl Scalar {
    fn value(&self) -> Value {
        match self {
            Scalar::Str(s) => json!(s),
            Scalar::Num(n) => json!(n),
            Scalar::Bool(b) => json!(b),
            Scalar::Null => Value::Null,
            Scalar::Pool(i) => json!(SEGMENTS[*i as usize % SEGMENTS.len()]),
        }
    }
}

const VALUE_KEYS: [&str; 8] = [
    "id",
    "name",
    "description",
    "filenameTemplate",
    "exportMode",
    "updateTime",
    "createTime",
    "schedule",
];

fn list<'a>(flow: &'a mut Value, pointer: &str) -> Option<&'a mut Vec<Value>> {
    flow.pointer_mut(pointer).and_then(Value::as_array_mut)
}

const SEGS: &str = "/transformations/0/params/segmentSelectors/selectors";
const PROFS: &str = "/transformations/0/params/profileSelectors/selectors";
const PROF_OBJ: &str = "/transformations/0/params/profileSelectors";
/// Where a current card's flow keeps `mandatoryFields` and `primaryFields`.
const V2_PARAMS: &str = "/transformations/0/params";

fn disturb(flow: &mut Value, d: &Disturb, current: bool) -> Option<()> {
    let fields = if current { V2_PARAMS } else { PROF_OBJ };
    match d {
        Disturb::Name(n) => flow["name"] = json!(n),
        Disturb::Description(s) => flow["description"] = json!(s),
        Disturb::SegmentField(i, k, v) => {
            let segs = list(flow, SEGS)?;
            let n = segs.len();
            let s = segs.get_mut(*i as usize % n.max(1))?;
            let key = VALUE_KEYS[*k as usize % VALUE_KEYS.len()];
            s.get_mut("value")?
                .as_object_mut()?
                .insert(key.into(), v.value());
        }
        Disturb::SegmentDrop(i, k) => {
            let segs = list(flow, SEGS)?;
            let n = segs.len();
            let s = segs.get_mut(*i as usize % n.max(1))?;
            let key = VALUE_KEYS[*k as usize % VALUE_KEYS.len()];
            s.get_mut("value")?.as_object_mut()?.remove(key);
        }
        Disturb::DuplicateSegment(i) => {
            let segs = list(flow, SEGS)?;
            let n = segs.len();
            let dup = segs.get(*i as usize % n.max(1))?.clone();
            segs.push(dup);
        }
        Disturb::RemoveSegment(i) => {
            let segs = list(flow, SEGS)?;
            let n = segs.len();
            if n > 0 {
                segs.remove(*i as usize % n);
            }
        }
        Disturb::ForeignSegment(seg, sched) => {
            let id = seg.id()?;
            let (mode, schedule) = sched.build();
            let segs = list(flow, SEGS)?;
            segs.insert(
                0,
                json!({"type": "PLATFORM_SEGMENT", "value": {"id": id.as_str(),
                    "exportMode": mode.as_str(), "schedule": schedule,
                    "filenameTemplate": TEMPLATE, "createTime": "5"}}),
            );
        }
        Disturb::ReverseSegments => list(flow, SEGS)?.reverse(),
        Disturb::ReverseProfiles => list(flow, PROFS)?.reverse(),
        Disturb::RemoveProfile(i) => {
            let p = list(flow, PROFS)?;
            let n = p.len();
            if n > 0 {
                p.remove(*i as usize % n);
            }
        }
        Disturb::AddProfile(i) => {
            let path = PATHS[*i as usize % PATHS.len()];
            list(flow, PROFS)?.push(json!({"type": "JSON_PATH", "value": {"path": path}}));
        }
        Disturb::Mandatory(v) => {
            let m: Vec<&str> = v.iter().map(|i| PATHS[*i as usize % PATHS.len()]).collect();
            flow.pointer_mut(fields)?
                .as_object_mut()?
                .insert("mandatoryFields".into(), json!(m));
        }
        Disturb::Primary(v, ids) => {
            let m: Vec<Value> = v
                .iter()
                .map(|i| json!({"fieldType": "ATTRIBUTE", "attributePath": PATHS[*i as usize % PATHS.len()]}))
                .chain(ids.iter().map(|i| json!({"fieldType": "IDENTITY", "identityNamespace": NAMESPACES[*i as usize % NAMESPACES.len()]})))
                .collect();
            flow.pointer_mut(fields)?
                .as_object_mut()?
                .insert("primaryFields".into(), json!(m));
        }
        Disturb::DropProfileSelectors => {
            flow.pointer_mut(V2_PARAMS)?
                .as_object_mut()?
                .remove("profileSelectors");
        }
    }
    Some(())
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// The current SFTP card (V2 flow shape) or the legacy one, for both Destinations (they
    /// are the same Destination before and after).
    current: bool,
    before: Dest,
    after: Dest,
    disturbances: Vec<Disturb>,
}

fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (Some(before), Some(after)) = (
        input.before.build(input.current),
        input.after.build(input.current),
    ) else {
        return;
    };
    let Some(mut live) = destctl::fuzzing::stored_flow(&before) else {
        return;
    };
    for d in &input.disturbances {
        disturb(&mut live, d, input.current);
    }
    destctl::fuzzing::plan_patch(&live, &after);
}

fuzz_target!(|data: &[u8]| run(data));
