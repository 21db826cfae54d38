//! The emulator fixture, with fault options either way: in process on a random loopback port
//! ([`start`]), or as a `destctl emulator` child process on its own socket
//! ([`EmulatorProcess`]); a token from its IMS endpoint for plain HTTP requests ([`token`]).

use super::cli::Cli;
use destctl::emulator::{
    EMBEDDED_CLIENT_SECRET, Emulator, EmulatorConfig, FaultConfig, RunningEmulator,
};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ExitStatus, Stdio};

/// An in-process emulator on a random loopback port, with `faults`.
pub async fn start(faults: FaultConfig) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts")
}

/// An access token from the IMS endpoint of the emulator at `base`, for `client_id` with the
/// embedded client secret (the id is what the emulator records as `createdClient`).
pub async fn token(http: &reqwest::Client, base: &str, client_id: &str) -> String {
    let r = http
        .post(format!("{base}/ims/token/v3"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", EMBEDDED_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `destctl emulator --listen 127.0.0.1:0 [args]` running as a child process.
pub struct EmulatorProcess {
    child: Child,
    stderr: BufReader<ChildStderr>,
    base_url: String,
    // The process's temporary HOME and working directory.
    _cli: Cli,
}

impl EmulatorProcess {
    /// Starts it with extra `args` (e.g. fault options) and waits for its listening line.
    pub fn spawn(args: &[&str]) -> EmulatorProcess {
        EmulatorProcess::spawn_with_env(args, &[])
    }

    /// [`EmulatorProcess::spawn`] with extra environment variables (e.g. `RUST_LOG`).
    pub fn spawn_with_env(args: &[&str], envs: &[(&str, &str)]) -> EmulatorProcess {
        let mut cli = Cli::new();
        for (k, v) in envs {
            cli.env(k, v);
        }
        cli.args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cli.spawn().expect("destctl emulator starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let mut line = String::new();
        stderr.read_line(&mut line).expect("stderr is readable");
        let base_url = line
            .strip_prefix("destctl emulator listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_owned();
        EmulatorProcess {
            child,
            stderr,
            base_url,
            _cli: cli,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends SIGINT (Ctrl-C) and waits; the exit status and the rest of stderr.
    pub fn interrupt(mut self) -> (ExitStatus, String) {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let mut rest = String::new();
        self.stderr
            .read_to_string(&mut rest)
            .expect("stderr is readable");
        let status = self.child.wait().expect("the emulator exits");
        (status, rest)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
