//! The fuzz targets' harness bodies (`fuzz/fuzz_targets/`, one function per target): the
//! targets only turn libFuzzer's bytes into these functions' arguments. They live in the
//! library so that the test suite compiles them and runs them on the targets' seed inputs (the
//! tests below), and a change of the API they drive cannot break the fuzz targets unnoticed.
//! Hidden from the docs; the `destctl` binary never calls them, so the linker leaves them out.

use crate::catalog::FlowSpecRef;
use crate::model::DesiredDestination;
use crate::plan::diff::{desired_flow_view, flow_diff, live_flow_view};
use crate::render::Format;
use crate::wire::flow::Flow;
use serde_json::{Value, json};
use std::path::Path;

/// The clock of [`plan_patch`]'s patches (epoch seconds).
const NOW: i64 = 1_764_000_000;

/// `manifest_load`: `data` as one manifest file at `path` → `manifest::load`, which returns
/// the model or every problem (an error always has an error problem); rendering the problems
/// as `validate` does never panics.
pub fn manifest_load(path: &Path, data: &[u8]) {
    std::fs::write(path, data).expect("write the input");
    match crate::manifest::load(&[path.to_owned()]) {
        Ok(loaded) => {
            let _ = loaded.render_warnings(false);
            let _ = crate::fetch::FetchOptions::for_desired(&loaded.desired);
        }
        Err(e) => {
            assert!(
                e.errors().next().is_some(),
                "an error without an error problem"
            );
            let _ = e.render(true);
            let _ = e.summary();
        }
    }
}

/// `saved_plan`: `data` as a plan file in `dir` → `apply::read_plan_file`. An accepted plan
/// survives the execution graph and the text rendering and reads back identically once written
/// again; a plan refused for its digest alone is accepted once sealed with its own digest.
/// Returns whether a plan was accepted (as it is or sealed).
pub fn saved_plan(dir: &Path, data: &[u8]) -> bool {
    use crate::apply::{ApplyError, check_graph, read_plan_file};
    let path = dir.join("plan.json");
    std::fs::write(&path, data).expect("write the input");
    let plan = match read_plan_file(&path) {
        Ok(plan) => plan,
        Err(ApplyError::PlanDigest { .. }) => {
            let mut plan: crate::plan::Plan = serde_json::from_slice(data)
                .unwrap_or_else(|e| panic!("a plan refused for its digest does not parse: {e}"));
            plan.seal();
            let sealed = dir.join("sealed.json");
            std::fs::write(&sealed, crate::render::json(&plan)).expect("write the sealed plan");
            read_plan_file(&sealed).unwrap_or_else(|e| panic!("a sealed plan is refused: {e:?}"))
        }
        Err(_) => return false,
    };
    let _ = check_graph(&plan);
    let _ = crate::render::render(Format::Text, &plan, None, true);
    let written = crate::render::json(&plan);
    let again = dir.join("again.json");
    std::fs::write(&again, &written).expect("write the plan again");
    let back = read_plan_file(&again)
        .unwrap_or_else(|e| panic!("a plan read once does not read again: {e:?}\n{written}"));
    assert_eq!(back, plan, "the plan changed on a round trip");
    true
}

/// `plan_patch`, first half: `before`'s flow as the emulator stores it after `POST /flows` and
/// the activation patch (`None` when it cannot be a JSON object).
pub fn stored_flow(before: &DesiredDestination) -> Option<Value> {
    // The emulator tells a V2 flow (current card) by its flow spec id.
    let flow_spec = match before.platform.info().flow_spec {
        FlowSpecRef::Id(id) => id,
        FlowSpecRef::Name(_) => "flow-spec",
    };
    let mut flow = crate::plan::flow_body(before, flow_spec, "source-1", "target-1");
    let m = flow.as_object_mut()?;
    m.insert("id".into(), json!("flow-1"));
    m.insert("etag".into(), json!("\"1\""));
    m.insert("version".into(), json!("\"1\""));
    m.insert("state".into(), json!("enabled"));
    m.insert(
        "inheritedAttributes".into(),
        json!({"properties": {"isDestinationFlow": true}}),
    );
    let ops = crate::plan::activation_patch(before);
    if ops.is_empty() {
        return Some(flow);
    }
    let ops = serde_json::to_value(&ops).ok()?;
    Some(
        crate::emulator::apply_flow_patch(&flow, &ops, NOW - 100).unwrap_or_else(|e| {
            panic!("the emulator refuses a new flow's activation patch: {e}\n{ops:#}")
        }),
    )
}

/// `plan_patch`, second half: if the emulator would hold `live` (a stored flow, then disturbed
/// as other writers and the server do), `flow_diff` against `after` gives a patch that the
/// emulator's patch engine accepts, after which the live flow's view equals the desired view
/// and a second `flow_diff` finds nothing. Returns whether `live` got that far.
pub fn plan_patch(live: &Value, after: &DesiredDestination) -> bool {
    // Only flows the emulator could hold: a PATCH that changes nothing must pass its rules.
    let noop = json!([{"op": "replace", "path": "/name", "value": live["name"].clone()}]);
    if crate::emulator::apply_flow_patch(live, &noop, NOW).is_err() {
        return false;
    }
    let Ok(flow) = Flow::from_value(live) else {
        return false;
    };
    let Ok(diff) = flow_diff(after, &flow) else {
        return false;
    };
    let patched = if diff.ops.is_empty() {
        live.clone()
    } else {
        let ops = serde_json::to_value(&diff.ops).expect("ops serialize");
        crate::emulator::apply_flow_patch(live, &ops, NOW).unwrap_or_else(|e| {
            panic!("the emulator refuses the plan's patch: {e}\n{ops:#}\nlive: {live:#}")
        })
    };
    let patched_flow = Flow::from_value(&patched).expect("a patched flow parses");
    // `state` changes by the plan's enable/disable action, not by the patch.
    let without_state = |mut v: Value| {
        if let Some(m) = v.as_object_mut() {
            m.remove("state");
        }
        v
    };
    assert_eq!(
        without_state(live_flow_view(&patched_flow)),
        without_state(desired_flow_view(after)),
        "the patched flow differs from desired\nops: {:#?}",
        diff.ops
    );
    let again = flow_diff(after, &patched_flow).expect("the patched flow diffs");
    assert!(
        again.ops.is_empty(),
        "re-planning finds {:#?}\nafter applying {:#?}",
        again.ops,
        diff.ops
    );
    true
}

#[cfg(test)]
mod tests {
    //! The harnesses on the fuzz targets' seeds (`fuzz/README.md`): every file of `manifests/`,
    //! `tests/invalid/` and `tests/warnings/` for `manifest_load`, of `tests/invalid-plans/`
    //! for `saved_plan`; `plan_patch` (seeded from nothing) on the Destinations of
    //! `manifests/`, each against itself, against the others of its card and after a few
    //! disturbances of its stored flow.

    use super::*;
    use std::path::PathBuf;

    fn files(dirs: &[&str], ext: &str) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in dirs {
            for entry in std::fs::read_dir(root.join(dir)).expect("a seed directory") {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_some_and(|e| e == ext) {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn manifest_load_on_its_seeds() {
        let seeds = files(&["manifests", "tests/invalid", "tests/warnings"], "yaml");
        assert!(seeds.len() > 100, "{} seeds", seeds.len());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("fuzz.yaml");
        for seed in seeds {
            manifest_load(&path, &std::fs::read(seed).expect("a seed"));
        }
    }

    #[test]
    fn saved_plan_on_its_seeds() {
        let seeds = files(&["tests/invalid-plans"], "json");
        assert!(seeds.len() > 40, "{} seeds", seeds.len());
        let dir = tempfile::tempdir().expect("a temporary directory");
        for seed in seeds {
            assert!(
                !saved_plan(dir.path(), &std::fs::read(&seed).expect("a seed")),
                "{} is accepted",
                seed.display()
            );
        }
        // A plan without its unknown field: accepted once sealed, as it is once sealed, and
        // (sealed, then changed) once sealed again.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text =
            std::fs::read_to_string(root.join("tests/invalid-plans/unknown-top-level-field.json"))
                .expect("a seed");
        let mut value: Value = serde_json::from_str(&text).expect("JSON");
        value
            .as_object_mut()
            .expect("an object")
            .remove("approved_by");
        let unsealed = serde_json::to_vec(&value).expect("serializes");
        assert!(saved_plan(dir.path(), &unsealed));
        let mut plan: crate::plan::Plan = serde_json::from_value(value).expect("a plan");
        plan.seal();
        let sealed = crate::render::json(&plan);
        assert!(saved_plan(dir.path(), sealed.as_bytes()));
        let changed = sealed.replacen("\"Nightly\"", "\"Daily\"", 1);
        assert_ne!(changed, sealed);
        assert!(saved_plan(dir.path(), changed.as_bytes()));
    }

    /// Disturbances of a stored flow as in the fuzz target: renamed, segment selectors
    /// reversed, the first one duplicated or removed, profile selectors reversed.
    fn disturbed(flow: &Value) -> Vec<Value> {
        const SEGS: &str = "/transformations/0/params/segmentSelectors/selectors";
        const PROFS: &str = "/transformations/0/params/profileSelectors/selectors";
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut v = flow.clone();
            f(&mut v);
            v
        };
        let list = |v: &mut Value, p: &str, f: &dyn Fn(&mut Vec<Value>)| {
            if let Some(l) = v.pointer_mut(p).and_then(Value::as_array_mut) {
                f(l);
            }
        };
        vec![
            edit(&|v| v["name"] = json!("renamed elsewhere")),
            edit(&|v| list(v, SEGS, &|l| l.reverse())),
            edit(&|v| {
                list(v, SEGS, &|l| {
                    if let Some(first) = l.first().cloned() {
                        l.push(first);
                    }
                })
            }),
            edit(&|v| {
                list(v, SEGS, &|l| {
                    if !l.is_empty() {
                        l.remove(0);
                    }
                })
            }),
            edit(&|v| list(v, PROFS, &|l| l.reverse())),
        ]
    }

    #[test]
    fn plan_patch_on_the_example_destinations() {
        let loaded = crate::manifest::load(&files(&["manifests"], "yaml")).expect("manifests/");
        let destinations = &loaded.desired.destinations;
        let mut checked = 0;
        for before in destinations {
            let live = stored_flow(before).expect("a stored flow");
            for after in destinations
                .iter()
                .filter(|d| d.platform == before.platform)
            {
                checked += usize::from(plan_patch(&live, after));
            }
            for live in disturbed(&live) {
                checked += usize::from(plan_patch(&live, before));
            }
        }
        assert!(checked > destinations.len(), "{checked} flows checked");
    }
}
