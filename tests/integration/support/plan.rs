//! Hand-built desired and live states for the plan tests, and a small stand-in for the server:
//! it stores a plan's creates the way the Flow Service lists them (ids, etags, state, masked
//! secrets) and applies flow patches with the emulator's own patch engine
//! ([`destctl::emulator::apply_flow_patch`]: RFC 6902, the flow rules, `createTime`/
//! `updateTime`, the `operator`/`mapping` expansion of profile selectors).
#![allow(dead_code)]

use chrono::NaiveDate;
use destctl::catalog::{
    AuthMethod, ExportMode, Frequency, LocationMode, Platform, Schedule, StartTime, TriggerType,
};
use destctl::live::{LiveEntity, LiveState};
use destctl::model::{
    AttributePath, DesiredAudience, DesiredConnection, DesiredDestination, DesiredLocation,
    DesiredState, ParamValue, ResourceName, SecretRef, SegmentId, SourceLocation,
};
use destctl::plan::{Action, Change, Plan, PlanOptions, PlanTarget};
use destctl::wire::Resource;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const NOW: i64 = 1_764_000_000;

pub fn opts(prune: bool) -> PlanOptions {
    PlanOptions {
        target: PlanTarget {
            endpoint: "http://127.0.0.1:4010".into(),
            sandbox: "prod".into(),
        },
        prune,
    }
}

pub fn attr(p: &str) -> AttributePath {
    AttributePath::parse(p).unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn daily_at(hour: u8) -> Schedule {
    Schedule {
        frequency: Frequency::Daily,
        trigger_type: Some(TriggerType::Scheduled),
        start_date: date("2026-01-05"),
        end_date: None,
        start_time: StartTime::from_hour(hour),
    }
}

pub fn every_6h_until(end: &str) -> Schedule {
    Schedule {
        frequency: Frequency::Every6Hours,
        trigger_type: None,
        start_date: date("2026-01-05"),
        end_date: Some(date(end)),
        start_time: None,
    }
}

pub fn audience(
    id: &str,
    name: Option<&str>,
    mode: ExportMode,
    schedule: Schedule,
) -> DesiredAudience {
    DesiredAudience {
        manifest: ResourceName::parse(&format!("aud-{}", id.to_lowercase())).unwrap(),
        segment_id: SegmentId::parse(id).unwrap(),
        display_name: name.map(str::to_owned),
        description: None,
        filename_template: "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%".into(),
        export_mode: mode,
        schedule,
        schedule_name: None,
    }
}

/// An Adobe Campaign destination over S3 with two audiences and three attributes.
pub fn campaign() -> DesiredDestination {
    let mut params = BTreeMap::new();
    params.insert(
        "accessId".into(),
        ParamValue::Secret(SecretRef::Env("CAMPAIGN_ACCESS_ID".into())),
    );
    params.insert(
        "secretKey".into(),
        ParamValue::Secret(SecretRef::File("secrets/campaign.key".into())),
    );
    let mut loc = BTreeMap::new();
    loc.insert("bucketName".into(), "acme-exports".into());
    loc.insert("path".into(), "/campaign".into());
    let mut audiences = vec![
        audience(
            "9f7d37fd-7039-4454-94ef-2b0cd6c3206a",
            Some("Interested in Mountain Biking"),
            ExportMode::DailyFullExport,
            daily_at(17),
        ),
        audience(
            "1b2c3d4e-0000-4000-8000-000000000001",
            Some("Lapsed buyers"),
            ExportMode::FirstFullThenIncremental,
            every_6h_until("2026-03-01"),
        ),
    ];
    audiences.sort_by(|a, b| a.segment_id.cmp(&b.segment_id));
    DesiredDestination {
        name: ResourceName::parse("campaign-s3").unwrap(),
        source: SourceLocation::default(),
        former_names: Vec::new(),
        display_name: "Adobe Campaign exports".into(),
        description: Some("Daily audiences for Campaign".into()),
        platform: Platform::AdobeCampaign,
        connection: DesiredConnection {
            auth: Some(AuthMethod::S3),
            params,
            credentials_version: 1,
            locations: BTreeMap::new(),
            encryption_key: None,
        },
        location: DesiredLocation {
            mode: LocationMode::S3,
            params: loc,
            include_file_manifest: Some(true),
            files: None,
        },
        attributes: vec![
            attr("person.name.firstName"),
            attr("person.name.lastName"),
            attr("personalEmail.address"),
        ],
        mandatory_attributes: vec![attr("person.name.firstName")],
        deduplication_keys: vec![attr("personalEmail.address")],
        identity_deduplication_keys: vec![],
        columns: vec![],
        enabled: true,
        audiences,
    }
}

/// An SFTP destination with one audience.
pub fn sftp() -> DesiredDestination {
    let mut params = BTreeMap::new();
    params.insert("host".into(), ParamValue::Literal("sftp.acme.test".into()));
    params.insert("username".into(), ParamValue::Literal("exports".into()));
    params.insert(
        "password".into(),
        ParamValue::Secret(SecretRef::Env("SFTP_PASSWORD".into())),
    );
    let mut loc = BTreeMap::new();
    loc.insert("remotePath".into(), "/upload".into());
    DesiredDestination {
        name: ResourceName::parse("partner-sftp").unwrap(),
        source: SourceLocation::default(),
        former_names: Vec::new(),
        display_name: "Partner SFTP".into(),
        description: None,
        platform: Platform::SftpLegacy,
        connection: DesiredConnection {
            auth: Some(AuthMethod::SftpBasic),
            params,
            credentials_version: 2,
            locations: BTreeMap::new(),
            encryption_key: None,
        },
        location: DesiredLocation {
            mode: LocationMode::Ftp,
            params: loc,
            include_file_manifest: None,
            files: None,
        },
        attributes: vec![attr("personalEmail.address")],
        mandatory_attributes: vec![],
        deduplication_keys: vec![],
        identity_deduplication_keys: vec![],
        columns: vec![],
        enabled: true,
        audiences: vec![audience(
            "aaaaaaaa-0000-4000-8000-000000000002",
            None,
            ExportMode::DailyFullExport,
            Schedule {
                frequency: Frequency::Once,
                trigger_type: Some(TriggerType::AfterSegmentEval),
                start_date: date("2026-02-01"),
                end_date: None,
                start_time: None,
            },
        )],
    }
}

pub fn state(dests: Vec<DesiredDestination>) -> DesiredState {
    let mut destinations = dests;
    destinations.sort_by(|a, b| a.name.cmp(&b.name));
    DesiredState {
        destinations,
        ..DesiredState::default()
    }
}

/// Applies a flow patch exactly as the server does: the emulator's patch engine, rules and
/// server-field expansion.
pub fn server_patch(flow: &Value, ops: &[destctl::wire::PatchOp], now: i64) -> Value {
    let ops = serde_json::to_value(ops).unwrap();
    destctl::emulator::apply_flow_patch(flow, &ops, now)
        .unwrap_or_else(|e| panic!("the server refuses the plan's patch: {e}\n{ops:#}\n{flow:#}"))
}

/// A stand-in Flow Service holding one sandbox's objects.
#[derive(Default)]
pub struct FakeService {
    pub objects: BTreeMap<String, (Resource, Value)>,
    pub counter: u64,
}

fn collection(r: Resource) -> &'static str {
    r.collection()
}

impl FakeService {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:04}", self.counter)
    }

    fn etag(&mut self) -> String {
        format!("\"{}\"", self.next("etag"))
    }

    /// Stores a created object as the server would list it.
    pub fn insert(&mut self, resource: Resource, body: &Value) -> String {
        let id = self.next(collection(resource).trim_start_matches('/'));
        let mut obj = body.clone();
        let etag = self.etag();
        let m = obj.as_object_mut().unwrap();
        m.insert("id".into(), json!(id));
        m.insert("createdAt".into(), json!(self.counter));
        m.insert("etag".into(), json!(etag));
        m.insert("version".into(), json!(etag));
        m.insert("state".into(), json!("enabled"));
        if resource == Resource::Flow {
            m.insert(
                "inheritedAttributes".into(),
                json!({"properties": {"isDestinationFlow": true}}),
            );
        }
        if resource == Resource::Connection
            && let Some(auth) = m
                .get_mut("auth")
                .and_then(|a| a.get_mut("params"))
                .and_then(Value::as_object_mut)
        {
            auth.insert("authorizedDate".into(), json!("2026-01-05"));
        }
        self.objects.insert(id.clone(), (resource, obj));
        id
    }

    /// Runs a plan's changes (creates with their activation patch, updates, actions, deletes).
    pub fn apply(&mut self, plan: &Plan) {
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        // An action on the same entity earlier in the plan changes its etag; the etag it returned
        // is the one the following update sends (what apply does).
        let mut returned: BTreeMap<String, String> = BTreeMap::new();
        let resolve = |refs: &BTreeMap<String, String>, s: &str| -> String {
            match s.strip_prefix("${ref:").and_then(|r| r.strip_suffix('}')) {
                Some(k) => refs[k].clone(),
                None => s.to_owned(),
            }
        };
        for c in &plan.changes {
            match c.action() {
                Action::Create => {
                    let body = resolve_refs(c.body().unwrap(), &refs);
                    let id = self.insert(c.resource(), &body);
                    refs.insert(c.key().unwrap().to_owned(), id.clone());
                    if let Some(p) = &c.patch() {
                        self.patch(&id, None, p);
                    }
                }
                Action::Update | Action::Adopt => {
                    let id = resolve(&refs, c.id().map(|i| i.to_string()).as_deref().unwrap());
                    let etag = returned
                        .get(&id)
                        .cloned()
                        .or_else(|| c.etag().as_ref().map(|e| e.0.clone()));
                    self.patch(&id, etag.as_deref(), c.patch().unwrap());
                }
                Action::Enable | Action::Disable => {
                    let id = resolve(&refs, c.id().map(|i| i.to_string()).as_deref().unwrap());
                    let etag = self.etag();
                    let obj = &mut self.objects.get_mut(&id).unwrap().1;
                    obj["state"] = json!(if c.action() == Action::Enable {
                        "enabled"
                    } else {
                        "disabled"
                    });
                    obj["etag"] = json!(etag);
                    returned.insert(id, etag);
                }
                Action::Delete => {
                    self.objects
                        .remove(c.id().map(|i| i.to_string()).as_deref().unwrap())
                        .expect("deleted object exists");
                }
            }
        }
    }

    /// Applies a patch with the optimistic lock.
    pub fn patch(&mut self, id: &str, etag: Option<&str>, ops: &[destctl::wire::PatchOp]) {
        let new_etag = self.etag();
        let (resource, obj) = self.objects.get_mut(id).unwrap();
        if let Some(e) = etag {
            assert_eq!(obj["etag"].as_str(), Some(e), "412");
        }
        let mut after = if *resource == Resource::Flow {
            server_patch(obj, ops, NOW)
        } else {
            let patch: json_patch::Patch =
                serde_json::from_value(serde_json::to_value(ops).unwrap()).unwrap();
            let mut a = obj.clone();
            json_patch::patch(&mut a, &patch).unwrap();
            a
        };
        after["etag"] = json!(new_etag);
        if *resource == Resource::Connection {
            mask_secrets(&mut after);
        }
        *obj = after;
    }

    /// What the list calls return.
    pub fn live(&self) -> LiveState {
        let mut live = LiveState {
            campaign_flow_spec_id: Some(destctl::catalog::EMULATOR_CAMPAIGN_FLOW_SPEC_ID.into()),
            ..LiveState::default()
        };
        for (resource, obj) in self.objects.values() {
            let e = std::sync::Arc::new(LiveEntity::from_raw(*resource, obj.clone()).unwrap());
            match resource {
                Resource::Flow => live.flows.push(e),
                Resource::Connection => live.connections.push(e),
                Resource::SourceConnection => live.source_connections.push(e),
                Resource::MappingSet => {}
                Resource::TargetConnection => live.target_connections.push(e),
            }
        }
        live
    }

    /// The object of `resource` whose marker names `name`.
    pub fn find(&self, resource: Resource, name: &str, profile: bool) -> (String, Value) {
        self.objects
            .iter()
            .find(|(_, (r, o))| {
                *r == resource
                    && o["description"]
                        .as_str()
                        .is_some_and(|d| d.contains(&format!("[destctl:{name}")))
                    && (resource != Resource::Connection
                        || (o["connectionSpec"]["id"] == destctl::catalog::PROFILE_STORE_SPEC_ID)
                            == profile)
            })
            .map(|(id, (_, o))| (id.clone(), o.clone()))
            .unwrap()
    }
}

/// What the emulator does to a stored account: secrets write-only (shown as `***`), plus
/// `authorizedDate`.
fn mask_secrets(obj: &mut Value) {
    let Some(method) = obj
        .pointer("/auth/specName")
        .and_then(Value::as_str)
        .and_then(destctl::catalog::AuthMethod::from_spec_name)
    else {
        return;
    };
    if let Some(params) = obj
        .pointer_mut("/auth/params")
        .and_then(Value::as_object_mut)
    {
        for (k, v) in params.iter_mut() {
            if method.param(k).is_some_and(|p| p.secret) {
                *v = json!(destctl::emulator::SECRET_MASK);
            }
        }
        params.insert("authorizedDate".into(), json!("2026-01-05"));
    }
}

fn resolve_refs(v: &Value, refs: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix("${ref:").and_then(|r| r.strip_suffix('}')) {
            Some(k) => json!(refs[k]),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve_refs(x, refs)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), resolve_refs(x, refs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The only change of a plan for `resource` and `action`.
pub fn only(plan: &Plan, action: Action, resource: Resource) -> &Change {
    let found: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action() == action && c.resource() == resource)
        .collect();
    assert_eq!(found.len(), 1, "{:#?}", plan.changes);
    found[0]
}
