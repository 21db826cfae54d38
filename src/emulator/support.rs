//! Test and benchmark support, compiled only with the `test-support` feature (the crate's
//! tests and benches enable it through a dev-dependency on itself; `cargo build` leaves it
//! out of the shipped binary): seeding large states straight into the store, and tokens
//! without an IMS round trip.

use super::resources::{self, Actor};
use super::store::{self, Entity};
use super::{
    EMBEDDED_CLIENT_ID, EmulatorError, EmulatorState, RunningEmulator, apply_flow_patch, error,
    server, specs,
};
use crate::catalog::{self, Platform};
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
            platform: Platform::AmazonS3,
            flows: 1,
            audiences_per_flow: 1,
            attributes_per_flow: 1,
            name_prefix: "seed".into(),
        }
    }
}

impl EmulatorState {
    /// Issues a token for `client_id` without going through HTTP.
    pub fn issue_token(&self, client_id: &str) -> String {
        self.0.tokens.issue(client_id, self.0.token_lifetime)
    }

    /// Creates flows directly in the store (fast seeding for benchmarks); returns the flow ids.
    /// Audiences are `seg-<flow>-<n>` with valid schedules; attributes `attr<n>.value`.
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        let actor = Actor::api(EMBEDDED_CLIENT_ID, server::now_ms());
        let rejected = |e: error::ApiError| EmulatorError::Rejected(e.body.to_string());
        let info = seed.platform.info();
        let mode = info.location_modes[0];
        self.0.mutate(org, sandbox, |sb| {
            let mut ids = Vec::with_capacity(seed.flows);
            let insert = |sb: &mut store::Sandbox, r: Resource, v: Value| -> String {
                let id = v["id"].as_str().unwrap_or_default().to_owned();
                let seq = self.0.store.next_seq();
                sb.col_mut(r).insert(id.clone(), Entity::new(seq, v));
                id
            };
            let new_id = || uuid::Uuid::new_v4().to_string();
            let base = resources::create_connection(
                &json!({"name": "Profile store", "connectionSpec": {"id": catalog::PROFILE_STORE_SPEC_ID, "version": "1.0"}}),
                &new_id(), &actor, sb).map_err(rejected)?;
            let base = insert(sb, Resource::Connection, base);
            let src = resources::create_source_connection(
                &json!({"name": "Profile store source", "baseConnectionId": base,
                        "connectionSpec": {"id": catalog::PROFILE_STORE_SPEC_ID, "version": "1.0"},
                        "data": {"format": "CSV", "schema": null}, "params": {}}),
                &new_id(),
                &actor,
                sb,
            )
            .map_err(rejected)?;
            let src = insert(sb, Resource::SourceConnection, src);
            let flow_spec_id = specs::flow_spec_infos()
                .into_iter()
                .find(|f| f.targets.contains(&info.connection_spec_id))
                .map(|f| f.id)
                .unwrap_or_default();
            for n in 0..seed.flows {
                let auth = info.auth_methods[0];
                let params: serde_json::Map<String, Value> = auth
                    .params()
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
                    .collect();
                let name = format!("{}-{n}", seed.name_prefix);
                let conn = resources::create_connection(
                    &json!({"name": name, "description": format!("[destctl:{name} credentials=1]"),
                            "connectionSpec": {"id": info.connection_spec_id, "version": "1.0"},
                            "auth": {"specName": auth.spec_name(), "params": params}}),
                    &new_id(),
                    &actor,
                    sb,
                )
                .map_err(rejected)?;
                let conn = insert(sb, Resource::Connection, conn);
                let mut tparams = serde_json::Map::new();
                tparams.insert("mode".into(), json!(mode.as_str()));
                for p in mode.params() {
                    tparams.insert(
                        p.name.into(),
                        json!(if p.name == "bucketName" || p.name == "container" {
                            format!("bucket-{n}")
                        } else {
                            format!("/exports/{n}")
                        }),
                    );
                }
                tparams.insert("format".into(), json!("CSV"));
                let tgt = resources::create_target_connection(
                    &json!({"name": name, "description": format!("[destctl:{name}]"), "baseConnectionId": conn,
                            "connectionSpec": {"id": info.connection_spec_id, "version": "1.0"},
                            "params": tparams}),
                    &new_id(), &actor, sb).map_err(rejected)?;
                let tgt = insert(sb, Resource::TargetConnection, tgt);
                let flow = resources::create_flow(
                    &json!({"name": name, "description": format!("[destctl:{name}]"),
                            "flowSpec": {"id": flow_spec_id, "version": "1.0"},
                            "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
                            "transformations": [{"name": "GeneralTransform", "params": {
                                "segmentSelectors": {"selectors": []}, "profileSelectors": {"selectors": []}}}]}),
                    &new_id(), &actor, sb).map_err(rejected)?;
                let mut ops = Vec::new();
                for a in 0..seed.attributes_per_flow {
                    ops.push(json!({"op": "add", "path": "/transformations/0/params/profileSelectors/selectors/-",
                        "value": {"type": "JSON_PATH", "value": {"path": format!("attr{a}.value")}}}));
                }
                for s in 0..seed.audiences_per_flow {
                    ops.push(json!({"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-",
                        "value": {"type": "PLATFORM_SEGMENT", "value": {
                            "id": format!("seg-{n}-{s}"), "name": format!("Audience {s}"),
                            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
                            "exportMode": "DAILY_FULL_EXPORT",
                            "schedule": {"frequency": "DAILY", "triggerType": "SCHEDULED",
                                         "startDate": "2024-01-01", "startTime": "17:00"}}}}));
                }
                let mut flow = if ops.is_empty() {
                    flow
                } else {
                    apply_flow_patch(&flow, &Value::Array(ops.clone()), actor.now_secs())
                        .map_err(|e| EmulatorError::Rejected(e.to_string()))?
                };
                if !ops.is_empty() {
                    resources::touch(&mut flow, &actor);
                    flow["lastOperation"] =
                        resources::last_operation(&actor, "update", Value::Array(ops));
                }
                ids.push(insert(sb, Resource::Flow, flow));
            }
            Ok(ids)
        })
        .await
    }
}

impl RunningEmulator {
    /// See [`EmulatorState::seed_flows`].
    pub async fn seed_flows(
        &self,
        org: &str,
        sandbox: &str,
        seed: &SeedFlows,
    ) -> Result<Vec<String>, EmulatorError> {
        self.state.seed_flows(org, sandbox, seed).await
    }
}
