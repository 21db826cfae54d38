//! The commands' error: every command returns it, and [`report`] alone turns it into a
//! message, a hint and an exit code. Library modules return their own error types; this one
//! aggregates them.
//!
//! The rule every error follows: a message never repeats its cause. An error with a source
//! says what failed; the source says why; [`report`] prints the chain once, joined by `: `.

use super::Context;
use crate::manifest::ManifestError;
use std::path::PathBuf;

/// Everything a destctl command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Manifests that do not validate (every problem, located).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `validate --strict` found warnings.
    #[error("{warnings} warning(s) and --strict was given")]
    StrictWarnings {
        /// How many warnings.
        warnings: usize,
    },
    /// The emulator failed to start or serve.
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    /// The target (endpoint, credentials, embedded emulator) cannot be resolved or started.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// A Flow Service request failed.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// No plan can be made (e.g. a platform change, which the API refuses).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime {
        /// The cause.
        source: std::io::Error,
    },
    /// `import` refused.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// `apply` failed or was refused.
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    /// The drift ignore file has an unusable line.
    #[error("{}", path.display())]
    Ignore {
        /// The file.
        path: PathBuf,
        /// The line and what is wrong with it.
        source: crate::drift::IgnoreError,
    },
    /// The environments file cannot be used, or an environment cannot be chosen.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// One environment of a multi-environment run failed.
    #[error("environment `{name}`")]
    Environment {
        /// The environment.
        name: String,
        /// What failed.
        source: Box<Error>,
    },
    /// `apply --plan` with more than one environment.
    #[error(
        "apply --plan applies one saved plan: choose its environment with one --env NAME (plan --out writes one file per environment)"
    )]
    SavedPlanEnvironments,
    /// Some environments of a run failed (each reported above).
    #[error("{failed} of {total} environments failed")]
    Environments {
        /// How many failed.
        failed: usize,
        /// How many ran.
        total: usize,
    },
    /// A file could not be written or read.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The process exit code for `err`: always 1 (2 is reserved for "changes present", which is
/// a result, not an error; clap's usage errors are mapped to 1 as well).
pub fn exit_code(_err: &Error) -> u8 {
    1
}

/// What the user can do about `err`, when there is something to say: the hint of the first
/// client failure in its chain.
pub fn hint(err: &Error) -> Option<&'static str> {
    match err {
        Error::Client(c) => c.hint(),
        other => crate::client::find_hint(other),
    }
}

/// The message of `err`: its text and each source's, joined by `: `.
pub(crate) fn message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The text [`report`] writes on stderr for `err`.
pub(crate) fn report_text(err: &Error, ctx: &Context) -> String {
    match err {
        Error::Manifest(m) => format!("{}error: {m}\n", m.render(ctx.stderr_color)),
        other => {
            // The message may quote the server or a manifest: control characters escaped.
            let mut text = format!("error: {}\n", crate::render::escape_lines(&message(other)));
            if let Some(hint) = hint(other) {
                text.push_str(&format!("hint: {hint}\n"));
            }
            text
        }
    }
}

/// Prints `err` on stderr and returns its exit code.
pub fn report(err: &Error, ctx: &Context) -> u8 {
    eprint!("{}", report_text(err, ctx));
    exit_code(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::ApplyError;
    use crate::client::ClientError;
    use crate::target::TargetError;
    use std::error::Error as _;

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
    }

    fn transport() -> ClientError {
        ClientError::Transport {
            method: reqwest::Method::GET,
            path: "/data/foundation/flowservice/flows".into(),
            message: "connection failed: connection refused".into(),
            timeout: false,
            attempts: 1,
        }
    }

    /// One of each error that carries a source, down to the library's own types.
    fn representative() -> Vec<Error> {
        let parse_error = serde_json::from_str::<serde_json::Value>("not json")
            .expect_err("not json does not parse");
        vec![
            Error::Io {
                path: "/dev/null/schemas".into(),
                source: io(),
            },
            Error::Runtime { source: io() },
            Error::Target(TargetError::CurrentDir(io())),
            Error::Apply(ApplyError::ReadPlan {
                path: "plan.json".into(),
                source: io().into(),
            }),
            Error::Apply(ApplyError::ParsePlan {
                path: "plan.json".into(),
                source: parse_error,
            }),
            Error::Apply(ApplyError::PlanDigest {
                path: "plan.json".into(),
                source: crate::plan::digest::DigestError::Mismatch,
            }),
            Error::Apply(ApplyError::Fetch(transport())),
            Error::Apply(ApplyError::Prompt(io())),
            Error::Apply(ApplyError::CurrentDir(io())),
            Error::Apply(ApplyError::Target(TargetError::CurrentDir(io()))),
            Error::Client(transport()),
            Error::Emulator(crate::emulator::EmulatorError::Bind {
                addr: "127.0.0.1:1".parse().expect("an address"),
                source: io(),
            }),
        ]
    }

    fn unreadable_secret() -> crate::apply::secrets::SecretError {
        crate::apply::secrets::SecretError::UnreadableFile {
            reference: "${file:secrets/key}".into(),
            origin: Box::new(crate::apply::secrets::SecretOrigin::Manifest {
                destination: "d".into(),
                param: "secretKey".into(),
                location: Default::default(),
            }),
            path: "secrets/key".into(),
            source: io().into(),
        }
    }

    #[test]
    fn no_message_repeats_its_source() {
        let (errors, secret) = (representative(), unreadable_secret());
        let all = errors
            .iter()
            .map(|e| e as &(dyn std::error::Error + 'static))
            .chain([&secret as &(dyn std::error::Error + 'static)]);
        for err in all {
            let mut cur = Some(err);
            while let Some(e) = cur {
                if let Some(source) = e.source() {
                    let (text, cause) = (e.to_string(), source.to_string());
                    assert!(!text.contains(&cause), "{text:?} repeats {cause:?}");
                }
                cur = e.source();
            }
        }
    }

    #[test]
    fn the_chain_is_printed_once_with_the_hint() {
        let ctx = Context::default();
        let text = report_text(
            &Error::Io {
                path: "/dev/null/schemas".into(),
                source: io(),
            },
            &ctx,
        );
        assert_eq!(
            text,
            "error: /dev/null/schemas: No such file or directory\n"
        );
        let err = Error::Apply(ApplyError::Fetch(transport()));
        assert_eq!(
            report_text(&err, &ctx),
            "error: reading live state failed; nothing was written: \
             GET /data/foundation/flowservice/flows: connection failed: connection refused\n\
             hint: check the endpoint (--endpoint / DESTCTL_ENDPOINT) and the network\n"
        );
        assert_eq!(exit_code(&err), 1);
        assert!(err.source().is_some());
        let secrets = Error::Apply(ApplyError::Secrets(crate::apply::secrets::SecretErrors(
            vec![unreadable_secret()],
        )));
        let text = report_text(&secrets, &ctx);
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{text}"
        );
    }
}
