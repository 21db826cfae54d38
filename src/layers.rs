//! The layer rule, checked: every `crate::…` path in `src/` names a module of the same or a lower
//! layer of the table in the crate docs (`src/lib.rs`), modules of one layer never import each
//! other in a cycle, and the emulator uses only the layers it is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layer of each top-level module, read from the `//! | N | `a`, `b` | … |` rows of
/// `src/lib.rs`.
fn layer_table(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut table = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let mut cells = row.split('|').map(str::trim);
        let Some(layer) = cells.next().and_then(|c| c.parse::<u32>().ok()) else {
            continue;
        };
        let Some(modules) = cells.next() else {
            continue;
        };
        for name in modules.split('`').skip(1).step_by(2) {
            table.insert(name.to_owned(), layer);
        }
    }
    table
}

/// The top-level module a source file belongs to (`src/plan/diff.rs` → `plan`).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main" && name != "layers").then(|| name.to_owned())
}

/// The top-level modules named by `crate::NAME` paths in code (comments and strings excluded).
fn imports(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            let tail = &rest[at + "crate::".len()..];
            let in_string = before.matches('"').count() % 2 == 1;
            let glued = before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            if !in_string && !glued {
                let name: String = tail
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            rest = tail;
        }
    }
    out
}

/// Every violation of the layer rule in a crate given as (file, source) pairs.
fn violations(lib_rs: &str, files: &[(String, String)]) -> Vec<String> {
    let table = layer_table(lib_rs);
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in files {
        let Some(module) = module_of(Path::new(file)) else {
            continue;
        };
        let Some(&layer) = table.get(&module) else {
            problems.push(format!(
                "{file}: module `{module}` has no row in the layer table"
            ));
            continue;
        };
        for target in imports(source) {
            if target == module {
                continue;
            }
            let Some(&target_layer) = table.get(&target) else {
                problems.push(format!(
                    "{file}: imports `crate::{target}`, which has no layer"
                ));
                continue;
            };
            if target_layer > layer {
                problems.push(format!(
                    "{file}: `{module}` (layer {layer}) imports `crate::{target}` (layer {target_layer}), a layer above it"
                ));
            }
            if module == "emulator" && !["wire", "catalog"].contains(&target.as_str()) {
                problems.push(format!(
                    "{file}: the emulator may use only `wire` and `catalog`, not `crate::{target}`"
                ));
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
    }
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                problems.push(format!("`{a}` and `{b}` import each other"));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src/");
            let source = std::fs::read_to_string(&path).expect("source file is UTF-8");
            out.push((relative.display().to_string(), source));
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    assert!(
        layer_table(&lib_rs).len() >= 10,
        "the layer table in src/lib.rs was not found"
    );
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    let problems = violations(&lib_rs, &files);
    assert!(
        problems.is_empty(),
        "layer rule broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_reversed_import_is_caught() {
    let lib_rs = "//! | 0 | `wire` | vocabulary |\n//! | 3 | `plan`, `live` | planner |\n//! | 5 | `emulator`, `client` | I/O |\n";
    let ok = vec![(
        "plan/build.rs".to_owned(),
        "use crate::wire::Etag;".to_owned(),
    )];
    assert!(violations(lib_rs, &ok).is_empty());
    let reversed = vec![(
        "wire/mod.rs".to_owned(),
        "use crate::plan::Plan;".to_owned(),
    )];
    assert_eq!(
        violations(lib_rs, &reversed),
        ["wire/mod.rs: `wire` (layer 0) imports `crate::plan` (layer 3), a layer above it"]
    );
    let inline = vec![(
        "wire/x.rs".to_owned(),
        "let p = crate::live::fetch(x);".to_owned(),
    )];
    assert_eq!(violations(lib_rs, &inline).len(), 1);
    let cycle = vec![
        ("plan/a.rs".to_owned(), "use crate::live::X;".to_owned()),
        ("live/b.rs".to_owned(), "use crate::plan::Y;".to_owned()),
    ];
    assert_eq!(
        violations(lib_rs, &cycle),
        ["`live` and `plan` import each other"]
    );
    let emulator = vec![("emulator/s.rs".to_owned(), "use crate::plan::Y;".to_owned())];
    assert_eq!(violations(lib_rs, &emulator).len(), 1);
    let comment = vec![("wire/c.rs".to_owned(), "// see crate::plan".to_owned())];
    assert!(violations(lib_rs, &comment).is_empty());
    let unknown = vec![("newmod.rs".to_owned(), String::new())];
    assert_eq!(violations(lib_rs, &unknown).len(), 1);
}
