//! Test and benchmark support: seeding large states straight into the store, and tokens
//! without an IMS round trip. Always compiled (a feature turned on by a dev-dependency of the
//! crate on itself would make its unit tests wait for the library to compile first) and
//! hidden from the docs; the `destctl` binary never calls it, so the linker leaves it out
//! (`nm target/release/destctl | grep -c seed_flows` is 0).

use super::resources::{self, Actor};
use super::server::AppState;
use super::store::{self, Entity};
use super::{
    EMBEDDED_CLIENT_ID, EmulatorError, EmulatorState, RunningEmulator, apply_flow_patch, error,
    specs,
};
use crate::catalog::{self, AuthMethod, Card, Platform, PlatformInfo};
use crate::wire::Resource;
use serde_json::{Value, json};

/// What [`EmulatorState::seed_flows`] creates: per flow a destination base connection, a target
/// connection and a flow with audiences and attributes, sharing one Profile store source.
#[derive(Clone, Debug)]
pub struct SeedFlows {
    /// The destination platform.
    pub platform: Platform,
    /// Number of flows.
    pub flows: usize,
    /// Audiences per flow.
    pub audiences_per_flow: usize,
    /// Profile attributes per flow.
    pub attributes_per_flow: usize,
    /// Flow names are `<prefix>-<n>`.
    pub name_prefix: String,
}

impl Default for SeedFlows {
    fn default() -> Self {
        SeedFlows {
            platform: Platform::AmazonS3Legacy,
            flows: 1,
            audiences_per_flow: 1,
            attributes_per_flow: 1,
            name_prefix: "seed".into(),
        }
    }
}

impl EmulatorState {
    /// Issues a token for `client_id` without going through HTTP.
    #[doc(hidden)]
    pub fn issue_token(&self, client_id: &str) -> String {
        self.0.tokens.issue(client_id, self.0.token_lifetime)
    }

    /// Creates flows directly in the store (fast seeding for benchmarks); returns the flow ids.
    /// Audiences are `seg-<flow>-<n>` with valid schedules; attributes `attr<n>.value`.
    #[doc(hidden)]
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        let actor = Actor::api(EMBEDDED_CLIENT_ID, self.0.now_ms());
        self.0
            .mutate(org, sandbox, |sb| {
                let mut seeder = Seeder {
                    state: &self.0,
                    sb,
                    actor: &actor,
                };
                let src = seeder.profile_source()?;
                (0..seed.flows)
                    .map(|n| seeder.destination(seed, n, &src))
                    .collect()
            })
            .await
    }
}

/// Creates entities in one sandbox through the same builders as the API's create routes.
struct Seeder<'a> {
    state: &'a AppState,
    sb: &'a mut store::Sandbox,
    actor: &'a Actor,
}

impl Seeder<'_> {
    /// Builds an entity of `r` from a create body with `build` and stores it; returns its id.
    fn create(
        &mut self,
        r: Resource,
        body: &Value,
        build: impl FnOnce(&Value, &str, &Actor, &store::Sandbox) -> Result<Value, error::ApiError>,
    ) -> Result<String, EmulatorError> {
        let v = build(body, &uuid::Uuid::new_v4().to_string(), self.actor, self.sb)
            .map_err(|e| EmulatorError::Rejected(e.body.to_string()))?;
        Ok(self.insert(r, v))
    }

    /// Stores an entity as it is; returns its id.
    fn insert(&mut self, r: Resource, v: Value) -> String {
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        let seq = self.state.store.next_seq();
        self.sb.col_mut(r).insert(id.clone(), Entity::new(seq, v));
        id
    }

    /// A Profile store base connection and the source connection on it; returns the latter.
    fn profile_source(&mut self) -> Result<String, EmulatorError> {
        let spec = json!({"id": catalog::PROFILE_STORE_SPEC_ID, "version": "1.0"});
        let base = self.create(
            Resource::Connection,
            &json!({"name": "Profile store", "connectionSpec": spec}),
            resources::create_connection,
        )?;
        self.create(
            Resource::SourceConnection,
            &json!({"name": "Profile store source", "baseConnectionId": base,
                    "connectionSpec": spec,
                    "data": {"format": "CSV", "schema": null}, "params": {}}),
            resources::create_source_connection,
        )
    }

    /// Destination `n`: base connection, target connection and flow; returns the flow id.
    fn destination(
        &mut self,
        seed: &SeedFlows,
        n: usize,
        src: &str,
    ) -> Result<String, EmulatorError> {
        let info = seed.platform.info();
        let spec = json!({"id": info.connection_spec_id, "version": "1.0"});
        let name = format!("{}-{n}", seed.name_prefix);
        let mut body = json!({"name": name, "description": format!("[destctl:{name} credentials=1]"),
                              "connectionSpec": spec});
        if let Some(auth) = info.auth_methods.first() {
            body["auth"] =
                json!({"specName": auth.spec_name(), "params": auth_params(info, *auth, n)});
        }
        let conn = self.create(Resource::Connection, &body, resources::create_connection)?;
        let tgt = self.create(
            Resource::TargetConnection,
            &json!({"name": name, "description": format!("[destctl:{name}]"), "baseConnectionId": conn,
                    "connectionSpec": spec,
                    "params": target_params(info, n)}),
            resources::create_target_connection,
        )?;
        let flow_spec_id = specs::flow_spec_infos()
            .into_iter()
            .find(|f| f.targets.contains(&info.connection_spec_id))
            .map(|f| f.id)
            .unwrap_or_default();
        let mut flow = resources::create_flow(
            &json!({"name": name, "description": format!("[destctl:{name}]"),
                    "flowSpec": {"id": flow_spec_id, "version": "1.0"},
                    "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
                    "transformations": [{"name": "GeneralTransform", "params": {
                        "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
            &uuid::Uuid::new_v4().to_string(),
            self.actor,
            self.sb,
        )
        .map_err(|e| EmulatorError::Rejected(e.body.to_string()))?;
        let ops = selector_ops(seed, n);
        if !ops.is_empty() {
            flow = apply_flow_patch(&flow, &Value::Array(ops.clone()), self.actor.now_secs())
                .map_err(|e| EmulatorError::Rejected(e.to_string()))?;
            resources::touch(&mut flow, self.actor);
            flow["lastOperation"] =
                resources::last_operation(self.actor, "update", Value::Array(ops));
        }
        Ok(self.insert(Resource::Flow, flow))
    }
}

/// The required params of `auth`, with values its patterns accept.
fn auth_params(info: &PlatformInfo, auth: AuthMethod, n: usize) -> serde_json::Map<String, Value> {
    info.auth_params(auth)
        .iter()
        .filter(|p| p.required)
        .map(|p| {
            let v = match p.pattern {
                Some(catalog::Pattern::S3AccessKey) => "AKIAIOSFODNN7EXAMPLE".into(),
                Some(catalog::Pattern::S3SecretKey) => "a".repeat(40),
                _ => format!("{}-{n}", p.name),
            };
            (p.name.to_owned(), json!(v))
        })
        .collect()
}

/// Target connection params of the platform's first location mode for destination `n`.
fn target_params(info: &PlatformInfo, n: usize) -> serde_json::Map<String, Value> {
    let mode = info.location_modes[0];
    let mut params = serde_json::Map::new();
    params.insert("mode".into(), json!(mode.as_str()));
    for p in info.location_params(mode) {
        params.insert(
            p.name.into(),
            json!(if p.name == "bucketName" || p.name == "container" {
                format!("bucket-{n}")
            } else {
                format!("/exports/{n}")
            }),
        );
    }
    if info.card == Card::Current {
        params.insert("fileType".into(), json!("CSV"));
        params.insert("compression".into(), json!("NONE"));
    } else {
        params.insert("format".into(), json!("CSV"));
    }
    params
}

/// The PATCH ops adding destination `n`'s attributes and audiences.
fn selector_ops(seed: &SeedFlows, n: usize) -> Vec<Value> {
    let attributes = (0..seed.attributes_per_flow).map(|a| {
        json!({"op": "add", "path": "/transformations/0/params/profileSelectors/selectors/-",
            "value": {"type": "JSON_PATH", "value": {"path": format!("attr{a}.value")}}})
    });
    let audiences = (0..seed.audiences_per_flow).map(|s| {
        json!({"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": {"type": "PLATFORM_SEGMENT", "value": {
                "id": format!("seg-{n}-{s}"), "name": format!("Audience {s}"),
                "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
                "exportMode": "DAILY_FULL_EXPORT",
                "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED",
                             "startDate": "2024-01-01", "startTime": "17:00"}}}})
    });
    attributes.chain(audiences).collect()
}

impl RunningEmulator {
    /// See [`EmulatorState::seed_flows`].
    #[doc(hidden)]
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        self.state.seed_flows(org, sandbox, seed).await
    }
}
