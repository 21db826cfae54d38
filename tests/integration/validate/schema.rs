//! The committed JSON Schemas are what the code generates, and every example manifest points
//! its editor at one of them.

use std::path::Path;

#[test]
fn committed_schemas_match_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let generated = destctl::manifest::schema::generate();
    // Five manifest schemas and the config file's (issue 10).
    assert_eq!(generated.len(), 6);
    for (name, text) in generated {
        let committed = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("schemas/{name}: {e}; run `destctl schema --out schemas`"));
        assert!(
            committed == text,
            "schemas/{name} differs from the generated schema; run `destctl schema --out schemas`"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

#[test]
fn the_schema_command_writes_the_files() {
    let tmp = crate::support::tempdir();
    let out_dir = tmp.join("schemas");
    let out = crate::support::cli::Cli::new()
        .args(["schema", "--out"])
        .arg(&out_dir)
        .output();
    assert_eq!(out.status.code(), Some(0));
    for (name, text) in destctl::manifest::schema::generate() {
        assert_eq!(std::fs::read_to_string(out_dir.join(name)).unwrap(), text);
    }
    tmp.close();
}

#[test]
fn every_manifest_starts_with_a_working_schema_modeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(root.join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        n += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: no modeline", path.display()));
        let schema = path.parent().unwrap().join(target);
        assert!(schema.is_file(), "{}: {target} not found", path.display());
        // A file of one kind names that kind's schema.
        let kinds: std::collections::BTreeSet<_> = text
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect();
        if kinds.len() == 1 {
            let kind = kinds.into_iter().next().unwrap().to_lowercase();
            assert!(
                target.ends_with(&format!("{kind}.json")),
                "{}",
                path.display()
            );
        } else {
            assert!(target.ends_with("manifest.json"), "{}", path.display());
        }
    }
    assert!(n >= 10);
}
