//! The saved-plan reader used by `apply --plan`: arbitrary bytes as a plan file →
//! `apply::read_plan_file`. A plan it accepts must survive what `apply` does with it before the
//! first request (the execution graph, the text and JSON renderings) and read back identically
//! once written again. A plan refused for its digest alone (random bytes almost never carry
//! the right one) must be accepted once sealed with its own digest, so the checks after the
//! digest are fuzzed too. Must not panic, hang or grow without bound. The checks are
//! `destctl::fuzzing::saved_plan`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One temporary directory per fuzzing process; each input overwrites the same files.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().to_owned();
        (dir, path)
    });
    path
}

fuzz_target!(|data: &[u8]| {
    destctl::fuzzing::saved_plan(dir(), data);
});
