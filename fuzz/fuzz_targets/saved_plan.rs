//! The saved-plan reader used by `apply --plan`: arbitrary bytes as a plan file →
//! `apply::read_plan_file`. A plan it accepts must survive what `apply` does with it before the
//! first request (the execution graph, the text and JSON renderings) and read back identically
//! once written again. A plan refused for its digest alone (random bytes almost never carry
//! the right one) must be accepted once sealed with its own digest, so the checks after the
//! digest are fuzzed too. Must not panic, hang or grow without bound.
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
    let plan = match destctl::apply::read_plan_file(&path) {
        Ok(plan) => plan,
        Err(destctl::apply::ApplyError::PlanDigest { .. }) => {
            // Read as a plan, refused only for its digest: sealed, it must be accepted.
            let mut plan: destctl::plan::Plan = serde_json::from_slice(data)
                .unwrap_or_else(|e| panic!("a plan refused for its digest does not parse: {e}"));
            plan.seal();
            let sealed = dir().join("sealed.json");
            std::fs::write(&sealed, destctl::render::json(&plan)).expect("write the sealed plan");
            destctl::apply::read_plan_file(&sealed)
                .unwrap_or_else(|e| panic!("a sealed plan is refused: {e:?}"))
        }
        Err(_) => return,
    };
    let _ = destctl::apply::check_graph(&plan);
    let _ = destctl::render::render(Format::Text, &plan, None, true);
    let written = destctl::render::json(&plan);
    let again = dir().join("again.json");
    std::fs::write(&again, &written).expect("write the plan again");
    let back = destctl::apply::read_plan_file(&again)
        .unwrap_or_else(|e| panic!("a plan read once does not read again: {e:?}\n{written}"));
    assert_eq!(back, plan, "the plan changed on a round trip");
});
