//! The one way tests run the real `destctl` binary: an isolated environment (no `AEP_*`,
//! `DESTCTL_*`, `RUST_LOG` or colour variables inherited from the caller), `HOME` in a fresh
//! temporary directory, and that directory as the working directory unless a test picks one.

use super::{Dir, root, tempdir};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Variables that change what `destctl` does and must come only from the test.
const INHERITED_PREFIXES: [&str; 2] = ["AEP_", "DESTCTL_"];
const INHERITED: [&str; 7] = [
    "RUST_LOG",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "TERM",
    "COLUMNS",
];

/// A `destctl` invocation being built.
pub struct Cli {
    cmd: Command,
    // Kept alive until the process has run: the default working directory and `HOME`.
    _home: Dir,
}

impl Default for Cli {
    fn default() -> Cli {
        Cli::new()
    }
}

impl Cli {
    /// `destctl` in a fresh temporary directory (also its `HOME`), with `NO_COLOR=1` and stdin
    /// from `/dev/null`.
    pub fn new() -> Cli {
        let home = tempdir();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_destctl"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if INHERITED_PREFIXES.iter().any(|p| k.starts_with(p)) || INHERITED.contains(&&*k) {
                cmd.env_remove(&*k);
            }
        }
        cmd.current_dir(home.path())
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        Cli { cmd, _home: home }
    }

    /// `destctl` with the repository root as working directory (for repository-relative paths
    /// such as `manifests/` and `tests/invalid/…`).
    pub fn in_repo() -> Cli {
        Cli::in_dir(root())
    }

    /// `destctl` working in `dir`.
    pub fn in_dir(dir: impl AsRef<Path>) -> Cli {
        let mut cli = Cli::new();
        cli.current_dir(dir);
        cli
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Cli {
        self.cmd.current_dir(dir);
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Cli {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut Cli {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: &str) -> &mut Cli {
        self.cmd.env_remove(key);
        self
    }

    pub fn stdout(&mut self, cfg: Stdio) -> &mut Cli {
        self.cmd.stdout(cfg);
        self
    }

    pub fn stderr(&mut self, cfg: Stdio) -> &mut Cli {
        self.cmd.stderr(cfg);
        self
    }

    /// Client-credential variables for a Flow Service (and IMS) at `endpoint`.
    pub fn target(&mut self, endpoint: &str, client_id: &str, secret: &str, org: &str) -> &mut Cli {
        self.env("DESTCTL_ENDPOINT", endpoint)
            .env("AEP_CLIENT_ID", client_id)
            .env("AEP_CLIENT_SECRET", secret)
            .env("AEP_ORG_ID", org)
    }

    /// The embedded emulator's own credentials, for an emulator the test started.
    pub fn emulator(&mut self, endpoint: &str) -> &mut Cli {
        use destctl::emulator::{EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID};
        self.target(
            endpoint,
            EMBEDDED_CLIENT_ID,
            EMBEDDED_CLIENT_SECRET,
            EMBEDDED_ORG_ID,
        )
    }

    /// Runs to completion, capturing stdout and stderr.
    pub fn output(&mut self) -> Output {
        self.cmd.output().expect("destctl runs")
    }

    /// [`Cli::output`] off the async runtime's threads.
    pub async fn run(mut self) -> Output {
        tokio::task::spawn_blocking(move || self.output())
            .await
            .expect("the blocking task finishes")
    }

    /// Starts the process; the caller waits for it while this `Cli` (its `HOME`) is alive.
    pub fn spawn(&mut self) -> std::io::Result<Child> {
        self.cmd.spawn()
    }
}
