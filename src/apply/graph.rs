//! The execution graph: a plan's changes grouped into independent units (one per Destination,
//! merged where a `${ref:}` crosses names) and ordered inside each unit — creates in dependency
//! order, then updates / enables / disables as the plan orders them, then deletes, flow first.

use super::refs::refs_in;
use crate::plan::{Change, IdRef, Plan};
use crate::wire::Resource;
use std::collections::{BTreeMap, HashMap};

/// One request (or create + activation pair) of the plan: what it sends is the change at
/// `index`, whose variant says which request it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Index into `plan.changes`.
    pub index: usize,
    /// The Destination name.
    pub name: String,
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

/// A plan that cannot be executed as written: its changes are well formed (the types see to
/// that) but do not fit together.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
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
}

fn delete_rank(r: Resource) -> u8 {
    match r {
        Resource::Flow => 0,
        Resource::TargetConnection => 1,
        Resource::SourceConnection => 2,
        Resource::Connection => 3,
        Resource::MappingSet => 4,
    }
}

/// Every `${ref:KEY}` a change uses: in its id, body and patch values.
fn change_refs(c: &Change) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(IdRef::Ref(k)) = c.id() {
        out.push(k.clone());
    }
    if let Some(b) = c.body() {
        out.extend(refs_in(b));
    }
    for op in c.patch().into_iter().flatten() {
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

/// Builds the execution graph, checking that create keys are unique, that every reference
/// names a create of the plan, and that creates do not refer to each other in a cycle.
pub(crate) fn build(plan: &Plan) -> Result<ExecGraph, GraphError> {
    let changes = &plan.changes;

    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if let Change::Create(c) = c
            && let Some(first) = keys.insert(&c.key, i)
        {
            return Err(GraphError::DuplicateKey {
                key: c.key.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }

    // Dependencies between changes (through refs) and groups of names.
    let mut names: Vec<&str> = Vec::new();
    let mut name_ix: HashMap<&str, usize> = HashMap::new();
    for c in changes {
        if !name_ix.contains_key(c.name()) {
            name_ix.insert(c.name(), names.len());
            names.push(c.name());
        }
    }
    let mut uf = UnionFind((0..names.len()).collect());
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for k in change_refs(c) {
            let Some(&j) = keys.get(k.as_str()) else {
                return Err(GraphError::UnknownRef {
                    index: i + 1,
                    key: k,
                });
            };
            if j != i {
                deps[i].push(j);
            }
            uf.union(name_ix[c.name()], name_ix[changes[j].name()]);
        }
    }

    // Creates in dependency order (stable: plan order among the ready ones).
    let is_create = |i: usize| matches!(changes[i], Change::Create(_));
    let creates: Vec<usize> = (0..changes.len()).filter(|&i| is_create(i)).collect();
    let mut create_order = Vec::with_capacity(creates.len());
    let mut placed = vec![false; changes.len()];
    while create_order.len() < creates.len() {
        let next = creates
            .iter()
            .copied()
            .find(|&i| !placed[i] && deps[i].iter().all(|&j| placed[j] || !is_create(j)));
        match next {
            Some(i) => {
                placed[i] = true;
                create_order.push(i);
            }
            None => {
                let keys = creates
                    .iter()
                    .filter(|&&i| !placed[i])
                    .filter_map(|&i| changes[i].key().map(str::to_owned))
                    .collect();
                return Err(GraphError::Cycle { keys });
            }
        }
    }
    let middle = (0..changes.len()).filter(|&i| {
        matches!(
            changes[i],
            Change::Update(_) | Change::Enable(_) | Change::Disable(_) | Change::Adopt(_)
        )
    });
    let mut deletes: Vec<usize> = (0..changes.len())
        .filter(|&i| matches!(changes[i], Change::Delete(_)))
        .collect();
    deletes.sort_by_key(|&i| delete_rank(changes[i].resource()));

    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for i in create_order.into_iter().chain(middle).chain(deletes) {
        let name = changes[i].name();
        let root = uf.find(name_ix[name]);
        let g = groups.entry(root).or_insert_with(|| Group {
            names: Vec::new(),
            steps: Vec::new(),
        });
        if !g.names.iter().any(|n| n == name) {
            g.names.push(name.to_owned());
        }
        g.steps.push(Step {
            index: i,
            name: name.to_owned(),
        });
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    for g in &mut groups {
        g.names.sort_by_key(|n| name_ix[n.as_str()]);
    }
    Ok(ExecGraph { groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanTarget, Summary};
    use crate::wire::{EntityId, Etag, PatchOp, PatchOpKind};
    use serde_json::json;

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

    fn create(resource: Resource, name: &str, key: &str, body: serde_json::Value) -> Change {
        Change::create(resource, name, format!("{name}/{key}"), body)
    }

    fn live(id: &str) -> IdRef {
        IdRef::Live(EntityId(id.into()))
    }

    fn delete(resource: Resource, name: &str, id: &str) -> Change {
        Change::delete(resource, name, live(id))
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
        if let Change::Create(c) = &mut flow {
            c.activation = Some(op());
        }
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
            Change::enable(n, IdRef::Ref(format!("{n}/flow"))),
        ]
    }

    fn keys(p: &Plan, g: &Group) -> Vec<String> {
        g.steps
            .iter()
            .map(|s| match &p.changes[s.index] {
                Change::Create(c) => c.key.clone(),
                Change::Update(u) => format!("update {}", u.id),
                Change::Adopt(u) => format!("adopt {}", u.id),
                Change::Enable(_) => "Enable".into(),
                Change::Disable(_) => "Disable".into(),
                Change::Delete(d) => format!("delete {:?}", d.resource),
            })
            .collect()
    }

    #[test]
    fn creates_follow_dependencies_and_destinations_are_independent() {
        let mut changes = create_chain("a");
        changes.extend(create_chain("b"));
        let p = plan(changes);
        let g = build(&p).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["a"]);
        assert_eq!(keys(&p, &g.groups[0]).len(), 6);
        // Every create comes after the creates it refers to.
        let order = keys(&p, &g.groups[0]);
        let at = |k: &str| order.iter().position(|x| x == k).unwrap();
        assert!(at("a/profileConnection") < at("a/sourceConnection"));
        assert!(at("a/connection") < at("a/targetConnection"));
        assert!(at("a/sourceConnection") < at("a/flow"));
        assert!(at("a/targetConnection") < at("a/flow"));
        assert!(at("a/flow") < at("Enable"));
        assert!(matches!(
            &p.changes[g.groups[0].steps[4].index],
            Change::Create(c) if c.activation.is_some()
        ));
        assert_eq!(g.step_count(), 12);
    }

    #[test]
    fn updates_keep_plan_order_and_deletes_go_last_flow_first() {
        let up = Change::update(Resource::Flow, "a", live("f1"), Etag("\"e\"".into()), op());
        let changes = vec![
            delete(Resource::Connection, "gone", "c1"),
            Change::disable("a", live("f1")),
            up,
            delete(Resource::SourceConnection, "gone", "s1"),
            delete(Resource::Flow, "gone", "f9"),
            delete(Resource::TargetConnection, "gone", "t1"),
        ];
        let p = plan(changes);
        let g = build(&p).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["gone"]);
        assert_eq!(
            keys(&p, &g.groups[0]),
            vec![
                "delete Flow",
                "delete TargetConnection",
                "delete SourceConnection",
                "delete Connection"
            ]
        );
        assert_eq!(keys(&p, &g.groups[1]), vec!["Disable", "update f1"]);
    }

    #[test]
    fn rejects_plans_whose_changes_do_not_fit_together() {
        let c = create(
            Resource::Flow,
            "a",
            "flow",
            json!({"x": "${ref:a/nothing}"}),
        );
        assert_eq!(
            build(&plan(vec![c])),
            Err(GraphError::UnknownRef {
                index: 1,
                key: "a/nothing".into()
            })
        );
        let toggle = Change::enable("a", IdRef::Ref("a/flow".into()));
        assert!(matches!(
            build(&plan(vec![toggle])),
            Err(GraphError::UnknownRef { index: 1, .. })
        ));
        let x = create(Resource::Connection, "a", "x", json!({"y": "${ref:a/y}"}));
        let y = create(Resource::Connection, "a", "y", json!({"x": "${ref:a/x}"}));
        assert_eq!(
            build(&plan(vec![x, y])),
            Err(GraphError::Cycle {
                keys: vec!["a/x".into(), "a/y".into()]
            })
        );
        let d = create(Resource::Connection, "a", "x", json!({}));
        assert_eq!(
            build(&plan(vec![d.clone(), d])),
            Err(GraphError::DuplicateKey {
                key: "a/x".into(),
                first: 1,
                second: 2
            })
        );
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
        let p = plan(vec![b, c, a]);
        let g = build(&p).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].names, vec!["b", "a"]);
        assert_eq!(
            keys(&p, &g.groups[0]),
            vec!["a/connection", "b/targetConnection"]
        );
    }
}
