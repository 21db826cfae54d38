//! Pre-flight of a saved plan: before any write, check against fresh list results that the
//! plan still describes the live state it was computed from. Any stale item refuses the whole
//! plan.

use crate::catalog::{DATA_LAKE_SPEC_ID, PROFILE_STORE_SPEC_ID};
use crate::live::{LiveEntity, LiveState};
use crate::plan::{Action, Change, Create, IdRef, Plan, PlanTarget, describe};
use crate::wire::{Etag, Resource};
use serde_json::Value;
use std::fmt;

/// Why one change of the plan no longer fits live state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// The entity changed since the plan was made.
    EtagChanged {
        /// What the plan recorded.
        recorded: Etag,
        /// What is live now.
        current: Etag,
    },
    /// The entity the change updates, toggles or deletes no longer exists.
    Gone,
    /// The entity the change would create already exists (same marker name and role).
    AlreadyExists {
        /// The existing entity.
        id: String,
    },
}

/// One stale change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleItem {
    /// 1-based position in the plan.
    pub index: usize,
    /// Its action.
    pub action: Action,
    /// Its resource.
    pub resource: Resource,
    /// The Destination name.
    pub name: String,
    /// The entity id, when the change names one.
    pub id: Option<String>,
    /// What is stale.
    pub reason: StaleReason,
}

impl fmt::Display for StaleItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {}",
            self.index,
            describe(self.action, self.resource, &self.name)
        )?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        match &self.reason {
            StaleReason::EtagChanged { recorded, current } => write!(
                f,
                ": changed since the plan was made (etag {} is now {})",
                recorded.0, current.0
            ),
            StaleReason::Gone => f.write_str(": no longer exists"),
            StaleReason::AlreadyExists { id } => write!(f, ": already exists as {id}"),
        }
    }
}

/// A saved plan refused by the pre-flight; nothing was written.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// Live state moved on.
    #[error("{}", stale_message(.0))]
    Stale(Vec<StaleItem>),
    /// The plan was made for another endpoint or sandbox.
    #[error(
        "the plan was made for {} (sandbox `{}`) but the target is {} (sandbox `{}`); nothing was sent. Re-run `destctl plan` against this target",
        planned.endpoint, planned.sandbox, target.endpoint, target.sandbox
    )]
    WrongTarget {
        /// In the plan.
        planned: PlanTarget,
        /// Now.
        target: PlanTarget,
    },
}

fn stale_message(items: &[StaleItem]) -> String {
    let mut s = format!(
        "the saved plan is stale: {} change{} no longer match{} live state; nothing was sent. Re-run `destctl plan` and review the new plan.",
        items.len(),
        if items.len() == 1 { "" } else { "s" },
        if items.len() == 1 { "es" } else { "" }
    );
    for i in items {
        s.push_str(&format!("\n  - {i}"));
    }
    s
}

/// The role a create fills: its resource, and for base connections whether it is the
/// Profile store one.
fn create_role_taken<'a>(
    change: &Create,
    live: &'a std::collections::BTreeMap<String, crate::live::LiveDestination>,
) -> Option<&'a LiveEntity> {
    let d = live.get(&change.name)?;
    match change.resource {
        // Checked by `mapping_set_taken`.
        Resource::MappingSet => None,
        Resource::Flow => d.flow.as_deref(),
        // A dataset export swaps source connections (datasets cannot change on one): its
        // create is stale only when a managed one with the same datasets exists already.
        Resource::SourceConnection
            if change
                .body
                .pointer("/connectionSpec/id")
                .and_then(Value::as_str)
                == Some(DATA_LAKE_SPEC_ID) =>
        {
            let want = change.body.pointer("/params/datasets");
            d.source_connection
                .iter()
                .chain(&d.extras)
                .find(|e| {
                    e.resource == Resource::SourceConnection
                        && e.connection()
                            .and_then(|c| c.params.as_ref())
                            .and_then(|p| p.get("datasets"))
                            == want
                })
                .map(|e| &**e)
        }
        Resource::SourceConnection => d.source_connection.as_deref(),
        Resource::TargetConnection => d.target_connection.as_deref(),
        Resource::Connection => {
            let spec = change
                .body
                .pointer("/connectionSpec/id")
                .and_then(Value::as_str);
            if spec == Some(PROFILE_STORE_SPEC_ID) {
                d.profile_connection.as_deref()
            } else {
                d.connection.as_deref()
            }
        }
    }
}

/// A managed mapping set with the mappings a mapping set create would make (an apply
/// interrupted after creating it): its id.
fn mapping_set_taken(
    change: &Create,
    live: &std::collections::BTreeMap<String, crate::live::LiveDestination>,
) -> Option<String> {
    let d = live.get(&change.name)?;
    let want: Vec<(String, String)> = change
        .body
        .get("mappings")?
        .as_array()?
        .iter()
        .filter_map(|m| {
            Some((
                m.get("source")?.as_str()?.to_owned(),
                m.get("destination")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    d.mapping_set_candidates
        .iter()
        .find(|m| m.mappings == want)
        .map(|m| m.id.clone())
}

fn entities(live: &LiveState, r: Resource) -> &[std::sync::Arc<LiveEntity>] {
    match r {
        Resource::Connection => &live.connections,
        Resource::SourceConnection => &live.source_connections,
        Resource::TargetConnection => &live.target_connections,
        Resource::Flow => &live.flows,
        Resource::MappingSet => &[],
    }
}

/// Checks `plan` against `live`, read with list calls just now from `target`.
pub fn check(plan: &Plan, live: &LiveState, target: &PlanTarget) -> Result<(), PreflightError> {
    if plan.target != *target {
        return Err(PreflightError::WrongTarget {
            planned: plan.target.clone(),
            target: target.clone(),
        });
    }
    let managed = live.managed();
    let mut stale = Vec::new();
    for (i, c) in plan.changes.iter().enumerate() {
        let item = |id: Option<String>, reason| StaleItem {
            index: i + 1,
            action: c.action(),
            resource: c.resource(),
            name: c.name().to_owned(),
            id,
            reason,
        };
        if let Change::Create(create) = c {
            if create.resource == Resource::MappingSet {
                if let Some(m) = mapping_set_taken(create, &managed) {
                    stale.push(item(None, StaleReason::AlreadyExists { id: m }));
                }
                continue;
            }
            if let Some(e) = create_role_taken(create, &managed) {
                stale.push(item(
                    None,
                    StaleReason::AlreadyExists { id: e.id.0.clone() },
                ));
            }
            continue;
        }
        // An entity created earlier in the plan cannot be stale.
        let Some(IdRef::Live(id)) = c.id() else {
            continue;
        };
        match entities(live, c.resource()).iter().find(|e| e.id == *id) {
            None => stale.push(item(Some(id.0.clone()), StaleReason::Gone)),
            Some(e) => {
                if let Some(recorded) = c.etag()
                    && *recorded != e.etag
                {
                    stale.push(item(
                        Some(id.0.clone()),
                        StaleReason::EtagChanged {
                            recorded: recorded.clone(),
                            current: e.etag.clone(),
                        },
                    ));
                }
            }
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(PreflightError::Stale(stale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Summary;
    use crate::wire::{PatchOp, PatchOpKind};
    use serde_json::json;

    fn entity(
        resource: Resource,
        id: &str,
        etag: &str,
        marker: &str,
        spec: &str,
    ) -> std::sync::Arc<LiveEntity> {
        LiveEntity::from_raw(
            resource,
            json!({"id": id, "etag": etag, "description": format!("[destctl:{marker}]"),
                   "connectionSpec": {"id": spec}}),
        )
        .map(std::sync::Arc::new)
        .unwrap()
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            target: PlanTarget {
                endpoint: "e".into(),
                sandbox: "prod".into(),
            },
            digest: None,
            summary: Summary::default(),
            changes,
            left_in_place: vec![],
            duplicates: vec![],
            changed_outside: vec![],
        }
    }

    fn update(id: &str, etag: &str) -> Change {
        Change::update(
            Resource::Flow,
            "a",
            IdRef::parse(id),
            Etag(etag.into()),
            vec![PatchOp {
                op: PatchOpKind::Replace,
                path: "/name".into(),
                value: Some(json!("x")),
            }],
        )
    }

    fn create(resource: Resource, name: &str, body: serde_json::Value) -> Change {
        Change::create(resource, name, format!("{name}/{resource:?}"), body)
    }

    fn live() -> LiveState {
        LiveState {
            flows: vec![entity(Resource::Flow, "f1", "\"e1\"", "a", "")],
            connections: vec![
                entity(Resource::Connection, "c1", "\"c\"", "a", "dest-spec"),
                entity(
                    Resource::Connection,
                    "p1",
                    "\"p\"",
                    "b",
                    PROFILE_STORE_SPEC_ID,
                ),
            ],
            ..LiveState::default()
        }
    }

    #[test]
    fn current_plan_passes() {
        let up = update("f1", "\"e1\"");
        let create_conn = create(
            Resource::Connection,
            "b",
            json!({"connectionSpec": {"id": "dest-spec"}}),
        );
        let enable = Change::enable("b", IdRef::parse("${ref:b/flow}"));
        let del = Change::delete(Resource::Connection, "a", IdRef::parse("c1"));
        let p = plan(vec![up, create_conn, enable, del]);
        assert_eq!(check(&p, &live(), &p.target), Ok(()));
        let dev = PlanTarget {
            sandbox: "dev".into(),
            ..p.target.clone()
        };
        assert!(matches!(
            check(&p, &live(), &dev),
            Err(PreflightError::WrongTarget { .. })
        ));
        let other = PlanTarget {
            endpoint: "https://platform.adobe.io".into(),
            ..p.target.clone()
        };
        let err = check(&p, &live(), &other).unwrap_err().to_string();
        assert!(
            err.contains("https://platform.adobe.io") && err.contains("Re-run"),
            "{err}"
        );
    }

    #[test]
    fn every_stale_item_is_named() {
        let up = update("f1", "\"old\"");
        let del = Change::delete(Resource::TargetConnection, "a", IdRef::parse("t9"));
        let profile = create(
            Resource::Connection,
            "b",
            json!({"connectionSpec": {"id": PROFILE_STORE_SPEC_ID}}),
        );
        let flow = create(Resource::Flow, "a", json!({}));
        let p = plan(vec![up, del, profile, flow]);
        let Err(PreflightError::Stale(items)) = check(&p, &live(), &p.target) else {
            panic!("expected stale");
        };
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0].reason,
            StaleReason::EtagChanged {
                recorded: Etag("\"old\"".into()),
                current: Etag("\"e1\"".into())
            }
        );
        assert_eq!(items[1].reason, StaleReason::Gone);
        assert_eq!(
            items[2].reason,
            StaleReason::AlreadyExists { id: "p1".into() }
        );
        assert_eq!(
            items[3].reason,
            StaleReason::AlreadyExists { id: "f1".into() }
        );
        let msg = PreflightError::Stale(items).to_string();
        assert!(msg.contains("Re-run `destctl plan`"), "{msg}");
        assert!(
            msg.contains("#2 delete targetConnection of `a` (t9): no longer exists"),
            "{msg}"
        );
        assert!(msg.contains("#1 update flow of `a` (f1): changed"), "{msg}");
    }
}
