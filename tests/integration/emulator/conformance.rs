//! Runs every non-disabled case of the JSON Patch conformance suite (json-patch/json-patch-tests,
//! copied in tests/data/json-patch-tests with its SOURCE.md) against the engine the emulator
//! uses for PATCH.

use destctl::emulator::patch_engine;
use serde_json::Value;

fn run(file: &str) -> usize {
    let path = format!(
        "{}/tests/data/json-patch-tests/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if case.get("disabled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let (Some(doc), Some(patch)) = (case.get("doc"), case.get("patch")) else {
            continue;
        };
        let label = case
            .get("comment")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let result = patch_engine(doc, patch);
        if let Some(expected) = case.get("expected") {
            ran += 1;
            match result {
                Ok(got) if &got == expected => {}
                other => failures.push(format!("#{i} {label}: expected {expected}, got {other:?}")),
            }
        } else if case.get("error").is_some() {
            ran += 1;
            if let Ok(got) = result {
                failures.push(format!("#{i} {label}: expected an error, got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{file}:\n{}", failures.join("\n"));
    ran
}

#[test]
fn tests_json() {
    assert_eq!(run("tests.json"), 92);
}

#[test]
fn spec_tests_json() {
    assert_eq!(run("spec_tests.json"), 16);
}

#[test]
fn a_failing_later_op_fails_the_whole_patch() {
    let doc: Value = serde_json::json!({"a": [1, 2]});
    let patch = serde_json::json!([
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "remove", "path": "/missing"}
    ]);
    assert!(patch_engine(&doc, &patch).is_err());
}
