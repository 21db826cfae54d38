//! The bad-input corpus against a live emulator: every invalid manifest (`tests/invalid/`)
//! given to `apply` and every invalid saved plan (`tests/invalid-plans/`) given to
//! `apply --plan` exits 1 with a located message, within a time and memory bound, before any
//! request reaches the service (not even a token request). The manifests' messages are
//! snapshotted by `validate::cli`; the plans' messages here.

use crate::support::cli::Cli;
use crate::support::emulator::start;
use crate::support::root;
use crate::support::snapshot::Redact;
use destctl::emulator::{FaultConfig, RunningEmulator};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

/// Longest a refused input may take (the whole run, process start included).
const TIME_BOUND: Duration = Duration::from_secs(20);
/// Address-space cap of each run: an input that makes destctl allocate without bound fails.
const ADDRESS_SPACE: u64 = 2 << 30;
/// Largest peak resident memory a refused input may cost.
const PEAK_RSS: u64 = 256 << 20;

fn corpus(dir: &str, ext: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
            format!("{dir}/{name}")
        })
        .collect();
    files.sort();
    files
}

/// `destctl apply --auto-approve ARGS` against `emu`, bounded, for each `ARGS` of `runs`
/// (four at a time); the outputs and stderr as text, in order.
async fn apply_each(emu: &RunningEmulator, runs: Vec<Vec<String>>) -> Vec<(Output, String)> {
    let url = emu.base_url();
    let outs = tokio::task::spawn_blocking(move || {
        crate::support::par_map(runs, |args| {
            Cli::in_repo()
                .emulator(&url)
                .arg("apply")
                .arg("--auto-approve")
                .args(&args)
                .output_bounded(TIME_BOUND, ADDRESS_SPACE)
        })
    })
    .await
    .expect("the runs finish");
    outs.into_iter()
        .map(|(out, peak)| {
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(peak < PEAK_RSS, "peak memory {peak} bytes:\n{err}");
            (out, err)
        })
        .collect()
}

fn assert_no_request(emu: &RunningEmulator, what: &str) {
    assert!(
        emu.request_counts().is_empty(),
        "{what} sent requests: {:?}",
        emu.request_counts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_manifest_is_refused_before_any_request() {
    let emu = start(FaultConfig::default()).await;
    let files = corpus("tests/invalid", "yaml");
    assert!(files.len() >= 95, "the corpus has {} files", files.len());
    let runs = apply_each(&emu, files.iter().map(|f| vec![f.clone()]).collect()).await;
    for (rel, (out, err)) in files.into_iter().zip(runs) {
        assert_eq!(out.status.code(), Some(1), "{rel}:\n{err}");
        assert!(
            err.contains(&format!("[{rel}:")),
            "{rel}: not located:\n{err}"
        );
        assert!(
            err.contains("error: manifests are invalid"),
            "{rel}:\n{err}"
        );
    }
    // The runs went at once: any request fails here, for the corpus as a whole.
    assert_no_request(&emu, "the corpus");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_saved_plan_is_refused_before_any_request() {
    let emu = start(FaultConfig::default()).await;
    let files = corpus("tests/invalid-plans", "json");
    assert!(files.len() >= 45, "the corpus has {} files", files.len());
    let runs = apply_each(
        &emu,
        files
            .iter()
            .map(|f| vec!["--plan".into(), f.clone()])
            .collect(),
    )
    .await;
    for (rel, (out, err)) in files.into_iter().zip(runs) {
        assert_eq!(out.status.code(), Some(1), "{rel}:\n{err}");
        assert!(
            err.contains(&format!("`{rel}`")),
            "{rel}: the file is not named:\n{err}"
        );
        assert!(
            err.contains(" at line ") || err.contains("plan format_version"),
            "{rel}: not located:\n{err}"
        );
        let stem = PathBuf::from(&rel)
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a stem")
            .to_owned();
        insta::with_settings!({
            snapshot_path => "snapshots/invalid-plans",
            prepend_module_to_snapshot => false,
            description => rel.clone(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem, Redact::new().apply(&err));
        });
    }
    assert_no_request(&emu, "the corpus");
}
