//! The saved-plan reader used by `apply --plan`: arbitrary bytes as a plan file →
//! `apply::read_plan_file`. A plan it accepts must survive what `apply` does with it before the
//! first request (the execution graph, the text and JSON renderings) and read back identically
//! once written again. Must not panic, hang or grow without bound.
#![no_main]

use destctl::render::Format;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One temporary directory per fuzzing process; each input overwrites the same file.
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
    let path = dir().join("plan.json");
    std::fs::write(&path, data).expect("write the input");
    let Ok(plan) = destctl::apply::read_plan_file(&path) else {
        return;
    };
    let _ = destctl::apply::graph::build(&plan);
    let _ = destctl::render::render(Format::Text, &plan, None, true);
    let written = destctl::render::json(&plan);
    let again = dir().join("again.json");
    std::fs::write(&again, &written).expect("write the plan again");
    let back = destctl::apply::read_plan_file(&again)
        .unwrap_or_else(|e| panic!("a plan read once does not read again: {e:?}\n{written}"));
    assert_eq!(back, plan, "the plan changed on a round trip");
});
