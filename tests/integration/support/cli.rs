//! The one way tests run the real `destctl` binary: an isolated environment (no `AEP_*`,
//! `DESTCTL_*`, `RUST_LOG` or colour variables inherited from the caller), `HOME` in a fresh
//! temporary directory, and that directory as the working directory unless a test picks one.
//! Its trust store is the test CA alone (`SSL_CERT_FILE`, no `SSL_CERT_DIR`): the servers it
//! talks to are the tests' own, and a debug build parses every system root certificate
//! anew in each process that builds a client.

use super::{Dir, root, tempdir};
use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    /// `destctl` in a fresh temporary directory (also its `HOME`), with `NO_COLOR=1`, the test
    /// CA as its only trusted root and stdin from `/dev/null`.
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
            .env("SSL_CERT_FILE", root().join("tests/fixtures/tls/ca.pem"))
            .env_remove("SSL_CERT_DIR")
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

    /// Runs to completion within `timeout` and an address-space cap of `max_memory` bytes
    /// (an allocation beyond it fails), capturing stdout and stderr; returns the output and
    /// the process's peak resident memory in bytes. Panics, killing the process, when the
    /// time is up.
    // Capping the child's address space (setrlimit before exec) and reading its peak memory
    // (wait4's rusage) have no safe std API: the two calls below are the only unsafe code.
    #[allow(unsafe_code)]
    #[expect(
        clippy::zombie_processes,
        reason = "the child is reaped by wait4, which also gives its peak memory"
    )]
    pub fn output_bounded(&mut self, timeout: Duration, max_memory: u64) -> (Output, u64) {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let limit = libc::rlimit {
            rlim_cur: max_memory,
            rlim_max: max_memory,
        };
        // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
        unsafe {
            self.cmd.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("destctl runs");
        let drain = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    r.read_to_end(&mut buf).expect("the pipe reads");
                }
                buf
            })
        };
        let stdout = drain(child.stdout.take().map(|r| Box::new(r) as _));
        let stderr = drain(child.stderr.take().map(|r| Box::new(r) as _));
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        let deadline = Instant::now() + timeout;
        let mut status = 0;
        // SAFETY: rusage is plain data, filled in by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waits only for our own child, with valid out-pointers.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if r == pid {
                break;
            }
            assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("destctl ran longer than {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout: stdout.join().expect("stdout is read"),
            stderr: stderr.join().expect("stderr is read"),
        };
        // ru_maxrss is in KiB on Linux.
        let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
        (output, peak)
    }

    /// Starts the process; the caller waits for it while this `Cli` (its `HOME`) is alive.
    pub fn spawn(&mut self) -> std::io::Result<Child> {
        self.cmd.spawn()
    }
}

/// The process's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code and both streams, for an assertion's message.
pub fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}
