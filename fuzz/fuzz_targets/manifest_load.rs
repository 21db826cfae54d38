//! The manifest loader: arbitrary bytes as one manifest file (any number of YAML documents) →
//! `manifest::load` → the model or every problem, rendered as `validate` shows it. Must not
//! panic, hang or grow without bound. The checks are `destctl::fuzzing::manifest_load`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One temporary directory per fuzzing process; each input overwrites the same file.
fn file() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("fuzz.yaml");
        (dir, path)
    });
    path
}

fuzz_target!(|data: &[u8]| destctl::fuzzing::manifest_load(file(), data));
