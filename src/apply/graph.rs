//! The execution graph: a plan's changes grouped into independent units (one per Destination,
//! merged where a `${ref:}` crosses names) and ordered inside each unit — creates in dependency
//! order, then updates / enables / disables as the plan orders them, then deletes, flow first.

use super::refs::{parse_ref, refs_in};
use super::secrets::{action_word, resource_word};
use crate::client::FlowAction;
use crate::plan::{Action, Change, Plan};
use crate::wire::{Etag, Resource};
use std::collections::{BTreeMap, HashMap};

/// An entity id as a change names it: live, or created earlier in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdRef {
    /// An existing entity.
    Live(String),
    /// `${ref:KEY}`.
    Created(String),
}

impl IdRef {
    fn parse(s: &str) -> IdRef {
        match parse_ref(s) {
            Some(k) => IdRef::Created(k.to_owned()),
            None => IdRef::Live(s.to_owned()),
        }
    }
}

/// What one step sends. Bodies and patches are read from the resolved plan at `Step::index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOp {
    /// `POST` the body; then, for a flow with an activation patch, `PATCH` it with the etag the
    /// create returned.
    Create {
        /// Collection.
        resource: Resource,
        /// Plan key the new id is recorded under.
        key: String,
        /// Whether an activation patch follows.
        activation: bool,
    },
    /// `PATCH` with `If-Match`.
    Update {
        /// Collection.
        resource: Resource,
        /// Entity.
        id: IdRef,
        /// The etag the patch was computed from.
        etag: Etag,
    },
    /// Enable or disable a flow.
    FlowAction {
        /// The flow.
        id: IdRef,
        /// Which.
        action: FlowAction,
    },
    /// `DELETE`.
    Delete {
        /// Collection.
        resource: Resource,
        /// Entity.
        id: IdRef,
    },
}

/// One request (or create + activation pair) of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Index into `plan.changes`.
    pub index: usize,
    /// The Destination name.
    pub name: String,
    /// What to send.
    pub op: StepOp,
}

/// Steps that must run in order, one after another; groups run in parallel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The Destination names in it (usually one).
    pub names: Vec<String>,
    /// The steps in execution order.
    pub steps: Vec<Step>,
}

/// The whole plan as independent groups, in the order of their first change in the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecGraph {
    /// The groups.
    pub groups: Vec<Group>,
}

impl ExecGraph {
    /// The number of steps.
    pub fn step_count(&self) -> usize {
        self.groups.iter().map(|g| g.steps.len()).sum()
    }
}

/// A plan that cannot be executed as written.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A change lacks a field its action needs.
    #[error("plan change #{index} ({what}) has no `{field}`")]
    Missing {
        /// 1-based.
        index: usize,
        /// `create flow of NAME`.
        what: String,
        /// The missing field.
        field: &'static str,
    },
    /// Two creates share a key.
    #[error("plan changes #{first} and #{second} both create `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based.
        first: usize,
        /// 1-based.
        second: usize,
    },
    /// A `${ref:KEY}` names no create of the plan.
    #[error("plan change #{index} refers to `${{ref:{key}}}`, which no create in the plan makes")]
    UnknownRef {
        /// 1-based.
        index: usize,
        /// The key.
        key: String,
    },
    /// Creates refer to each other in a cycle.
    #[error("the creates of {keys:?} refer to each other in a cycle")]
    Cycle {
        /// The keys involved.
        keys: Vec<String>,
    },
    /// Enable/disable on something that is not a flow.
    #[error("plan change #{index} ({what}): only flows can be enabled or disabled")]
    NotAFlow {
        /// 1-based.
        index: usize,
        /// Description.
        what: String,
    },
}

fn what(c: &Change) -> String {
    format!(
        "{} {} of `{}`",
        action_word(c.action),
        resource_word(c.resource),
        c.name
    )
}

fn delete_rank(r: Resource) -> u8 {
    match r {
        Resource::Flow => 0,
        Resource::TargetConnection => 1,
        Resource::SourceConnection => 2,
        Resource::Connection => 3,
    }
}

/// Every `${ref:KEY}` a change uses: in its id, body and patch values.
fn change_refs(c: &Change) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(k) = c.id.as_deref().and_then(parse_ref) {
        out.push(k.to_owned());
    }
    if let Some(b) = &c.body {
        out.extend(refs_in(b));
    }
    for op in c.patch.iter().flatten() {
        if let Some(v) = &op.value {
            out.extend(refs_in(v));
        }
    }
    out
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, x: usize) -> usize {
        let p = self.0[x];
        if p == x {
            return x;
        }
        let r = self.find(p);
        self.0[x] = r;
        r
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Builds the execution graph, checking that every change has what its action needs and every
/// reference names a create of the plan.
pub fn build(plan: &Plan) -> Result<ExecGraph, GraphError> {
    let changes = &plan.changes;
    let missing = |i: usize, field| GraphError::Missing {
        index: i + 1,
        what: what(&changes[i]),
        field,
    };

    // Typed steps, and create keys.
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut steps = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let id = || c.id.as_deref().map(IdRef::parse).ok_or(missing(i, "id"));
        let op = match c.action {
            Action::Create => {
                let key = c.key.clone().ok_or(missing(i, "key"))?;
                if c.body.is_none() {
                    return Err(missing(i, "body"));
                }
                if let Some(first) = keys.insert(key.clone(), i) {
                    return Err(GraphError::DuplicateKey {
                        key,
                        first: first + 1,
                        second: i + 1,
                    });
                }
                StepOp::Create {
                    resource: c.resource,
                    key,
                    activation: c.resource == Resource::Flow
                        && c.patch.as_ref().is_some_and(|p| !p.is_empty()),
                }
            }
            Action::Update => {
                if c.patch.is_none() {
                    return Err(missing(i, "patch"));
                }
                StepOp::Update {
                    resource: c.resource,
                    id: id()?,
                    etag: c.etag.clone().ok_or(missing(i, "etag"))?,
                }
            }
            Action::Enable | Action::Disable => {
                if c.resource != Resource::Flow {
                    return Err(GraphError::NotAFlow {
                        index: i + 1,
                        what: what(c),
                    });
                }
                StepOp::FlowAction {
                    id: id()?,
                    action: if c.action == Action::Enable {
                        FlowAction::Enable
                    } else {
                        FlowAction::Disable
                    },
                }
            }
            Action::Delete => StepOp::Delete {
                resource: c.resource,
                id: id()?,
            },
        };
        steps.push(Step {
            index: i,
            name: c.name.clone(),
            op,
        });
    }

    // Dependencies between changes (through refs) and groups of names.
    let mut names: Vec<String> = Vec::new();
    let mut name_ix: HashMap<String, usize> = HashMap::new();
    for c in changes {
        if !name_ix.contains_key(&c.name) {
            name_ix.insert(c.name.clone(), names.len());
            names.push(c.name.clone());
        }
    }
    let mut uf = UnionFind((0..names.len()).collect());
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for k in change_refs(c) {
            let Some(&j) = keys.get(&k) else {
                return Err(GraphError::UnknownRef {
                    index: i + 1,
                    key: k,
                });
            };
            if j != i {
                deps[i].push(j);
            }
            uf.union(name_ix[&c.name], name_ix[&changes[j].name]);
        }
    }

    // Creates in dependency order (stable: plan order among the ready ones).
    let creates: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].action == Action::Create)
        .collect();
    let mut create_order = Vec::with_capacity(creates.len());
    let mut placed = vec![false; changes.len()];
    while create_order.len() < creates.len() {
        let next = creates.iter().copied().find(|&i| {
            !placed[i]
                && deps[i]
                    .iter()
                    .all(|&j| placed[j] || changes[j].action != Action::Create)
        });
        match next {
            Some(i) => {
                placed[i] = true;
                create_order.push(i);
            }
            None => {
                let keys = creates
                    .iter()
                    .filter(|&&i| !placed[i])
                    .filter_map(|&i| changes[i].key.clone())
                    .collect();
                return Err(GraphError::Cycle { keys });
            }
        }
    }
    let middle = (0..changes.len()).filter(|&i| {
        matches!(
            changes[i].action,
            Action::Update | Action::Enable | Action::Disable
        )
    });
    let mut deletes: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].action == Action::Delete)
        .collect();
    deletes.sort_by_key(|&i| delete_rank(changes[i].resource));

    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for i in create_order.into_iter().chain(middle).chain(deletes) {
        let root = uf.find(name_ix[&changes[i].name]);
        let g = groups.entry(root).or_insert_with(|| Group {
            names: Vec::new(),
            steps: Vec::new(),
        });
        if !g.names.contains(&changes[i].name) {
            g.names.push(changes[i].name.clone());
        }
        g.steps.push(steps[i].clone());
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    for g in &mut groups {
        g.names.sort_by_key(|n| name_ix[n]);
    }
    Ok(ExecGraph { groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanTarget, Summary};
    use crate::wire::{PatchOp, PatchOpKind};
    use serde_json::json;

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            target: PlanTarget {
                endpoint: "e".into(),
                sandbox: "prod".into(),
            },
            summary: Summary::default(),
            changes,
            left_in_place: vec![],
            duplicates: vec![],
        }
    }

    fn change(action: Action, resource: Resource, name: &str) -> Change {
        Change {
            action,
            resource,
            name: name.into(),
            id: None,
            etag: None,
            key: None,
            body: None,
            patch: None,
        }
    }

    fn create(resource: Resource, name: &str, key: &str, body: serde_json::Value) -> Change {
        Change {
            key: Some(format!("{name}/{key}")),
            body: Some(body),
            ..change(Action::Create, resource, name)
        }
    }

    fn with_id(mut c: Change, id: &str) -> Change {
        c.id = Some(id.into());
        c
    }

    fn op() -> Vec<PatchOp> {
        vec![PatchOp {
            op: PatchOpKind::Replace,
            path: "/name".into(),
            value: Some(json!("n")),
        }]
    }

    fn create_chain(n: &str) -> Vec<Change> {
        let mut flow = create(
            Resource::Flow,
            n,
            "flow",
            json!({"sourceConnectionIds": [format!("${{ref:{n}/sourceConnection}}")],
                   "targetConnectionIds": [format!("${{ref:{n}/targetConnection}}")]}),
        );
        flow.patch = Some(op());
        vec![
            // Deliberately out of order: the flow first.
            flow,
            create(
                Resource::TargetConnection,
                n,
                "targetConnection",
                json!({"baseConnectionId": format!("${{ref:{n}/connection}}")}),
            ),
            create(
                Resource::SourceConnection,
                n,
                "sourceConnection",
                json!({"baseConnectionId": format!("${{ref:{n}/profileConnection}}")}),
            ),
            create(Resource::Connection, n, "profileConnection", json!({})),
            create(Resource::Connection, n, "connection", json!({})),
            with_id(
                change(Action::Enable, Resource::Flow, n),
                &format!("${{ref:{n}/flow}}"),
            ),
        ]
    }

    fn keys(g: &Group) -> Vec<String> {
        g.steps
            .iter()
            .map(|s| match &s.op {
                StepOp::Create { key, .. } => key.clone(),
                StepOp::Update { id, .. } => format!("update {id:?}"),
                StepOp::FlowAction { action, .. } => format!("{action:?}"),
                StepOp::Delete { resource, .. } => format!("delete {resource:?}"),
            })
            .collect()
    }

    #[test]
    fn creates_follow_dependencies_and_destinations_are_independent() {
        let mut changes = create_chain("a");
        changes.extend(create_chain("b"));
        let g = build(&plan(changes)).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["a"]);
        assert_eq!(keys(&g.groups[0]).len(), 6);
        // Every create comes after the creates it refers to.
        let order = keys(&g.groups[0]);
        let at = |k: &str| order.iter().position(|x| x == k).unwrap();
        assert!(at("a/profileConnection") < at("a/sourceConnection"));
        assert!(at("a/connection") < at("a/targetConnection"));
        assert!(at("a/sourceConnection") < at("a/flow"));
        assert!(at("a/targetConnection") < at("a/flow"));
        assert!(at("a/flow") < at("Enable"));
        assert!(matches!(
            g.groups[0].steps[4].op,
            StepOp::Create {
                activation: true,
                ..
            }
        ));
        assert_eq!(g.step_count(), 12);
    }

    #[test]
    fn updates_keep_plan_order_and_deletes_go_last_flow_first() {
        let mut up = with_id(change(Action::Update, Resource::Flow, "a"), "f1");
        up.etag = Some(Etag("\"e\"".into()));
        up.patch = Some(op());
        let changes = vec![
            with_id(change(Action::Delete, Resource::Connection, "gone"), "c1"),
            with_id(change(Action::Disable, Resource::Flow, "a"), "f1"),
            up,
            with_id(
                change(Action::Delete, Resource::SourceConnection, "gone"),
                "s1",
            ),
            with_id(change(Action::Delete, Resource::Flow, "gone"), "f9"),
            with_id(
                change(Action::Delete, Resource::TargetConnection, "gone"),
                "t1",
            ),
        ];
        let g = build(&plan(changes)).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["gone"]);
        assert_eq!(
            keys(&g.groups[0]),
            vec![
                "delete Flow",
                "delete TargetConnection",
                "delete SourceConnection",
                "delete Connection"
            ]
        );
        assert_eq!(keys(&g.groups[1]), vec!["Disable", "update Live(\"f1\")"]);
    }

    #[test]
    fn rejects_malformed_plans() {
        let up = with_id(change(Action::Update, Resource::Flow, "a"), "f1");
        assert_eq!(
            build(&plan(vec![up])),
            Err(GraphError::Missing {
                index: 1,
                what: "update flow of `a`".into(),
                field: "patch"
            })
        );
        let c = create(
            Resource::Flow,
            "a",
            "flow",
            json!({"x": "${ref:a/nothing}"}),
        );
        assert!(matches!(
            build(&plan(vec![c])),
            Err(GraphError::UnknownRef { index: 1, .. })
        ));
        let x = create(Resource::Connection, "a", "x", json!({"y": "${ref:a/y}"}));
        let y = create(Resource::Connection, "a", "y", json!({"x": "${ref:a/x}"}));
        assert!(matches!(
            build(&plan(vec![x, y])),
            Err(GraphError::Cycle { .. })
        ));
        let d = create(Resource::Connection, "a", "x", json!({}));
        assert!(matches!(
            build(&plan(vec![d.clone(), d])),
            Err(GraphError::DuplicateKey { .. })
        ));
        let e = with_id(change(Action::Enable, Resource::Connection, "a"), "c");
        assert!(matches!(
            build(&plan(vec![e])),
            Err(GraphError::NotAFlow { .. })
        ));
    }

    #[test]
    fn references_across_names_merge_groups() {
        let a = create(Resource::Connection, "a", "connection", json!({}));
        let b = create(
            Resource::TargetConnection,
            "b",
            "targetConnection",
            json!({"baseConnectionId": "${ref:a/connection}"}),
        );
        let c = create(Resource::Connection, "c", "connection", json!({}));
        let g = build(&plan(vec![b, c, a])).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["b", "a"]);
        assert_eq!(
            keys(&g.groups[0]),
            vec!["a/connection", "b/targetConnection"]
        );
    }
}
