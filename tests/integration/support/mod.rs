//! What the integration tests share: the CLI builder ([`cli`]), the emulator fixture (in
//! process or as a child process, with faults: [`emulator`]; its router without a socket:
//! [`router`]; apply and plan against it: [`apply`]), the fake servers for what the emulator
//! cannot play ([`fake_server`]), hand-built planner states ([`plan`]), temporary directories
//! and redaction for snapshots ([`snapshot`]), a work directory of manifests beside an emulator
//! ([`workspace`]).

pub mod apply;
pub mod cli;
pub mod emulator;
pub mod fake_server;
pub mod plan;
pub mod router;
pub mod snapshot;
pub mod workspace;

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// The repository root (manifests/, secrets/example/ and the test corpora are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary directory (under the system's, so outside the repository: paths in it
/// are shown absolute).
pub fn tempdir() -> Dir {
    Dir(tempfile::Builder::new()
        .prefix("destctl-")
        .tempdir()
        .expect("a temporary directory"))
}

/// A temporary directory, removed when dropped; it dereferences to its path.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Removes the directory now, failing the test if that fails.
    pub fn close(self) {
        self.0.close().expect("the temporary directory is removed");
    }
}

impl Deref for Dir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Dir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// Writes `text` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("a file has a parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    p
}

/// Copies the tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A manifest set with nothing to create: one Schedule, at `dir/m/schedule.yaml`.
pub fn schedule_only(dir: &Path) -> PathBuf {
    write(
        dir,
        "m/schedule.yaml",
        "apiVersion: destctl/v1\nkind: Schedule\nmetadata: {name: daily}\nspec: {exportMode: DAILY_FULL_EXPORT, frequency: DAILY, triggerType: SCHEDULED, startDate: 2021-12-20, startTime: \"17:00\"}\n",
    )
}

/// `f` of every item, four at a time on threads of their own (for corpora of `destctl` runs,
/// which mostly wait on the process), in the items' order.
pub fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("the queue").next();
                        let Some((i, item)) = next else { break done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker finished"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Set in a child process of this binary to the one test it runs.
const OWN_PROCESS: &str = "INTEGRATION_OWN_PROCESS";

/// For a test that needs a process to itself (environment variables of its own, or a
/// process-wide `tracing` state no other test touches): in the test run, starts this binary
/// again running only `test` (its path, as `module_path!()` gives it) with `envs` set, asserts
/// that it passed and returns `false`; in that child, returns `true` and the caller runs its
/// body.
pub fn in_own_process(test: &str, envs: &[(&str, &std::ffi::OsStr)]) -> bool {
    let test = test.strip_prefix("integration::").unwrap_or(test);
    if std::env::var_os(OWN_PROCESS).is_some_and(|t| t == test) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(OWN_PROCESS, test)
        .envs(envs.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{test} failed in its own process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in its own process:\n{stdout}"
    );
    false
}
