//! Which Flow Service a command talks to: a remote endpoint with credentials, or — with no
//! endpoint and no credentials configured — the embedded emulator, started in-process with its
//! state in `.destctl/emulator.json`.
//!
//! Rules:
//! * Nothing configured → [`Target::Embedded`].
//! * An endpoint needs credentials: `AEP_ACCESS_TOKEN` with `AEP_CLIENT_ID` and `AEP_ORG_ID`, or
//!   `AEP_CLIENT_ID`, `AEP_CLIENT_SECRET` and `AEP_ORG_ID` (OAuth server-to-server; a ready
//!   token wins when both are set). `AEP_SCOPES` defaults to [`DEFAULT_SCOPES`].
//! * Credentials without an endpoint are an error: destctl never falls back to the production
//!   platform by itself.
//! * The IMS URL is `--ims-url` / `DESTCTL_IMS_URL`; when unset it is the endpoint itself for a
//!   plain-http loopback endpoint (an emulator serves `/ims/token/v3` on its own port), and
//!   `https://ims-na1.adobelogin.com` otherwise.
//! * Plain `http://` is accepted only for loopback hosts: credentials never travel in clear.

use crate::client::{Auth, Client, ClientConfig, ClientError};
use crate::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, Emulator, EmulatorConfig,
    RunningEmulator,
};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public IMS.
pub const DEFAULT_IMS_URL: &str = "https://ims-na1.adobelogin.com";

/// The sandbox used when none is given.
pub const DEFAULT_SANDBOX: &str = "prod";

/// The scopes asked for when `AEP_SCOPES` is unset (those the Developer Console lists for an
/// Experience Platform API credential).
pub const DEFAULT_SCOPES: &str =
    "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext";

/// The embedded emulator's state file, relative to the current directory.
pub const EMBEDDED_STATE_FILE: &str = ".destctl/emulator.json";

/// What the command line (flags and environment) says about the target. The client secret
/// and a ready token are [`SecretString`]s: their `Debug` is redacted.
#[derive(Clone, Default)]
pub struct TargetOptions {
    /// Platform base URL (`--endpoint`, `DESTCTL_ENDPOINT`).
    pub endpoint: Option<String>,
    /// IMS base URL for the token exchange (`--ims-url`, `DESTCTL_IMS_URL`).
    pub ims_url: Option<String>,
    /// Sandbox name (`--sandbox`, `AEP_SANDBOX`); [`DEFAULT_SANDBOX`] when unset.
    pub sandbox: Option<String>,
    /// Client id, the API key (`AEP_CLIENT_ID`).
    pub client_id: Option<String>,
    /// Client secret (`AEP_CLIENT_SECRET`).
    pub client_secret: Option<SecretString>,
    /// IMS org id (`AEP_ORG_ID`).
    pub org_id: Option<String>,
    /// OAuth scopes, comma-separated (`AEP_SCOPES`).
    pub scopes: Option<String>,
    /// A ready access token (`AEP_ACCESS_TOKEN`).
    pub access_token: Option<SecretString>,
    /// Per-request timeout (`--request-timeout`); the client's default when unset.
    pub request_timeout: Option<Duration>,
    /// Connection timeout (`--connect-timeout`); the client's default when unset.
    pub connect_timeout: Option<Duration>,
    /// Total timeout of the command's requests (`--total-timeout`); the client's default when
    /// unset.
    pub total_timeout: Option<Duration>,
    /// Retries of one request (`--max-retries`); the client's default when unset.
    pub max_retries: Option<u32>,
}

impl fmt::Debug for TargetOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn set<T>(o: &Option<T>) -> &'static str {
            if o.is_some() { "<set>" } else { "<unset>" }
        }
        f.debug_struct("TargetOptions")
            .field("endpoint", &self.endpoint)
            .field("ims_url", &self.ims_url)
            .field("sandbox", &self.sandbox)
            .field("client_id", &set(&self.client_id))
            .field("client_secret", &set(&self.client_secret))
            .field("org_id", &self.org_id)
            .field("scopes", &self.scopes)
            .field("access_token", &set(&self.access_token))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// Where commands send their requests.
#[derive(Clone, Debug)]
pub enum Target {
    /// A Flow Service reached over HTTP(S).
    Remote(ClientConfig),
    /// The in-process emulator.
    Embedded {
        /// Its state file (`.destctl/emulator.json` under the current directory).
        state_file: PathBuf,
        /// The sandbox to use.
        sandbox: String,
    },
}

impl Target {
    /// The sandbox.
    pub fn sandbox(&self) -> &str {
        match self {
            Target::Remote(c) => &c.sandbox,
            Target::Embedded { sandbox, .. } => sandbox,
        }
    }
}

/// Why the target cannot be resolved or reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Part of the configuration is present, part is missing.
    #[error("incomplete AEP configuration: {reason}; set {}", .missing.join(", "))]
    Incomplete {
        /// What was found.
        reason: String,
        /// The variables (or flags) still needed.
        missing: Vec<&'static str>,
    },
    /// The endpoint or IMS URL is not a usable URL.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidUrl {
        /// `endpoint` or `IMS URL`.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A value is empty or malformed.
    #[error("invalid {name}: {reason}")]
    InvalidValue {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The current directory cannot be read (for the embedded state file).
    #[error("cannot determine the current directory")]
    CurrentDir(#[source] std::io::Error),
    /// The embedded emulator failed to start.
    #[error("cannot start the embedded emulator: {0}")]
    Emulator(String),
    /// The client cannot be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn non_empty_secret(v: &Option<SecretString>) -> Option<&str> {
    v.as_ref()
        .map(|s| s.expose_secret().trim())
        .filter(|s| !s.is_empty())
}

/// Checks a base URL: http(s), a host, no query, plain http only on loopback.
fn check_url(what: &'static str, value: &str) -> Result<reqwest::Url, TargetError> {
    let invalid = |reason: String| TargetError::InvalidUrl {
        what,
        value: value.to_owned(),
        reason,
    };
    let url = reqwest::Url::parse(value).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed for loopback addresses (credentials would travel in clear); use https"
                    .into(),
            ));
        }
        other => return Err(invalid(format!("unsupported scheme {other:?}"))),
    }
    if url.host().is_none() {
        return Err(invalid("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment".into()));
    }
    Ok(url)
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolves the target from `opts` (flags and environment, as the command line gave them).
pub fn resolve(opts: &TargetOptions) -> Result<Target, TargetError> {
    let endpoint = non_empty(&opts.endpoint);
    let client_id = non_empty(&opts.client_id);
    let client_secret = non_empty_secret(&opts.client_secret);
    let org_id = non_empty(&opts.org_id);
    let scopes = non_empty(&opts.scopes);
    let access_token = non_empty_secret(&opts.access_token);
    let sandbox = match opts.sandbox.as_deref().map(str::trim) {
        None => DEFAULT_SANDBOX.to_owned(),
        Some("") => {
            return Err(TargetError::InvalidValue {
                name: "AEP_SANDBOX",
                reason: "empty".into(),
            });
        }
        Some(s) if s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            return Err(TargetError::InvalidValue {
                name: "AEP_SANDBOX",
                reason: "a sandbox name has no spaces".into(),
            });
        }
        Some(s) => s.to_owned(),
    };
    let any_credential = [client_id, client_secret, org_id, scopes, access_token]
        .iter()
        .any(Option::is_some);

    let Some(endpoint) = endpoint else {
        if !any_credential {
            let cwd = std::env::current_dir().map_err(TargetError::CurrentDir)?;
            return Ok(Target::Embedded {
                state_file: cwd.join(EMBEDDED_STATE_FILE),
                sandbox,
            });
        }
        return Err(TargetError::Incomplete {
            reason: "credentials are set but no endpoint".into(),
            missing: vec!["DESTCTL_ENDPOINT (or --endpoint), e.g. https://platform.adobe.io"],
        });
    };
    let endpoint_url = check_url("endpoint", endpoint)?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();

    let auth = if let Some(token) = access_token {
        let mut missing = Vec::new();
        if client_id.is_none() {
            missing.push("AEP_CLIENT_ID");
        }
        if org_id.is_none() {
            missing.push("AEP_ORG_ID");
        }
        if !missing.is_empty() {
            return Err(TargetError::Incomplete {
                reason: "AEP_ACCESS_TOKEN is set".into(),
                missing,
            });
        }
        Auth::Token {
            access_token: token.into(),
            client_id: client_id.expect("checked").to_owned(),
            org_id: org_id.expect("checked").to_owned(),
        }
    } else {
        let mut missing = Vec::new();
        if client_id.is_none() {
            missing.push("AEP_CLIENT_ID");
        }
        if client_secret.is_none() {
            missing.push("AEP_CLIENT_SECRET");
        }
        if org_id.is_none() {
            missing.push("AEP_ORG_ID");
        }
        if !missing.is_empty() {
            let reason = if any_credential {
                "the credentials are incomplete".to_owned()
            } else {
                format!("the endpoint {endpoint} is set but no credentials")
            };
            missing.push("or AEP_ACCESS_TOKEN with AEP_CLIENT_ID and AEP_ORG_ID");
            return Err(TargetError::Incomplete { reason, missing });
        }
        let ims_url = match non_empty(&opts.ims_url) {
            Some(u) => {
                check_url("IMS URL", u)?;
                u.trim_end_matches('/').to_owned()
            }
            None if endpoint_url.scheme() == "http" => endpoint.clone(),
            None => DEFAULT_IMS_URL.to_owned(),
        };
        Auth::ClientCredentials {
            ims_url,
            client_id: client_id.expect("checked").to_owned(),
            client_secret: client_secret.expect("checked").into(),
            org_id: org_id.expect("checked").to_owned(),
            scopes: scopes.unwrap_or(DEFAULT_SCOPES).to_owned(),
        }
    };
    let mut config = ClientConfig::new(endpoint, sandbox, auth);
    if let Some(t) = opts.request_timeout {
        config.timeout = t;
    }
    if let Some(t) = opts.connect_timeout {
        config.connect_timeout = t;
    }
    if let Some(t) = opts.total_timeout {
        config.total_timeout = Some(t);
    }
    if let Some(n) = opts.max_retries {
        config.retry.max_retries = n;
    }
    Ok(Target::Remote(config))
}

/// A client ready to use, and the embedded emulator behind it when there is one (dropping it
/// stops the emulator; its state is saved after every change).
pub struct Connected {
    /// The client.
    pub client: Client,
    /// The endpoint, as plans record it: the base URL, or for the embedded emulator (whose
    /// port changes on every run) `embedded:<state file>`, stable from one run to the next.
    pub endpoint: String,
    emulator: Option<RunningEmulator>,
    state_file: Option<PathBuf>,
}

impl fmt::Debug for Connected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connected")
            .field("client", &self.client)
            .field("endpoint", &self.endpoint)
            .field("embedded", &self.is_embedded())
            .finish()
    }
}

impl Connected {
    /// Whether the target is the embedded emulator.
    pub fn is_embedded(&self) -> bool {
        self.emulator.is_some()
    }

    /// The line announcing the embedded emulator (for the command to show on stderr), if that
    /// is the target.
    pub fn notice(&self) -> Option<String> {
        self.state_file.as_deref().map(embedded_notice)
    }

    /// The embedded emulator, if that is the target.
    pub fn emulator(&self) -> Option<&RunningEmulator> {
        self.emulator.as_ref()
    }

    /// Stops the embedded emulator, letting in-flight requests finish.
    pub async fn shutdown(self) {
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }
}

/// The state file as shown to the user: relative to the current directory when inside it.
fn shown_path(state_file: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| state_file.strip_prefix(cwd).ok().map(PathBuf::from))
        .unwrap_or_else(|| state_file.to_path_buf())
}

/// The line announcing the embedded emulator with its state in `state_file`.
pub fn embedded_notice(state_file: &Path) -> String {
    format!(
        "destctl: no AEP endpoint or credentials configured; using the embedded emulator (state in {})",
        shown_path(state_file).display()
    )
}

/// Builds the client for `target`; for [`Target::Embedded`], starts the emulator first (on a
/// free loopback port, with the embedded credentials); [`Connected::notice`] then says so.
pub async fn connect(target: Target) -> Result<Connected, TargetError> {
    match target {
        Target::Remote(config) => {
            let endpoint = config.endpoint.clone();
            Ok(Connected {
                client: Client::new(config)?,
                endpoint,
                emulator: None,
                state_file: None,
            })
        }
        Target::Embedded {
            state_file,
            sandbox,
        } => start_embedded(&state_file, &sandbox).await,
    }
}

/// Connects to every target of a multi-environment run, in order. Embedded targets with the
/// same state file share one emulator (a state file serves one emulator at a time): the
/// first one starts it and holds it, so it must outlive the others.
pub async fn connect_all(targets: Vec<Target>) -> Result<Vec<Connected>, TargetError> {
    let mut out: Vec<Connected> = Vec::new();
    for target in targets {
        if let Target::Embedded {
            state_file,
            sandbox,
        } = &target
            && let Some(base_url) = out.iter().find_map(|c| {
                c.emulator
                    .as_ref()
                    .filter(|_| c.state_file.as_ref() == Some(state_file))
                    .map(|e| e.base_url())
            })
        {
            let auth = embedded_auth(&base_url);
            let client = Client::new(ClientConfig::new(base_url, sandbox, auth))?;
            out.push(Connected {
                client,
                endpoint: format!("embedded:{}", shown_path(state_file).display()),
                emulator: None,
                state_file: Some(state_file.clone()),
            });
            continue;
        }
        out.push(connect(target).await?);
    }
    Ok(out)
}

/// The embedded emulator's own client credentials, for an emulator at `base_url`.
fn embedded_auth(base_url: &str) -> Auth {
    Auth::ClientCredentials {
        ims_url: base_url.to_owned(),
        client_id: EMBEDDED_CLIENT_ID.to_owned(),
        client_secret: EMBEDDED_CLIENT_SECRET.into(),
        org_id: EMBEDDED_ORG_ID.to_owned(),
        scopes: DEFAULT_SCOPES.to_owned(),
    }
}

/// Starts the in-process emulator with its state in `state_file` and a client for `sandbox`.
pub async fn start_embedded(state_file: &Path, sandbox: &str) -> Result<Connected, TargetError> {
    if let Some(dir) = state_file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| TargetError::Emulator(format!("cannot create {}: {e}", dir.display())))?;
    }
    let running = Emulator::start(EmulatorConfig {
        state_file: Some(state_file.to_path_buf()),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(|e| TargetError::Emulator(e.to_string()))?;
    let base_url = running.base_url();
    let auth = embedded_auth(&base_url);
    let client = Client::new(ClientConfig::new(base_url, sandbox, auth))?;
    Ok(Connected {
        client,
        endpoint: format!("embedded:{}", shown_path(state_file).display()),
        emulator: Some(running),
        state_file: Some(state_file.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> TargetOptions {
        TargetOptions::default()
    }

    #[test]
    fn nothing_configured_is_embedded() {
        let t = resolve(&opts()).unwrap();
        match t {
            Target::Embedded {
                state_file,
                sandbox,
            } => {
                assert!(state_file.ends_with(".destctl/emulator.json"));
                assert!(state_file.is_absolute());
                assert_eq!(sandbox, "prod");
            }
            other => panic!("{other:?}"),
        }
        let t = resolve(&TargetOptions {
            sandbox: Some("dev".into()),
            endpoint: Some("  ".into()),
            ..opts()
        })
        .unwrap();
        assert_eq!(t.sandbox(), "dev");
        assert!(matches!(t, Target::Embedded { .. }));
    }

    #[test]
    fn client_credentials_against_an_emulator_default_ims_to_the_endpoint() {
        let t = resolve(&TargetOptions {
            endpoint: Some("http://127.0.0.1:8080/".into()),
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            org_id: Some("org@AdobeOrg".into()),
            ..opts()
        })
        .unwrap();
        let Target::Remote(c) = t else { panic!() };
        assert_eq!(c.endpoint, "http://127.0.0.1:8080");
        assert_eq!(c.sandbox, "prod");
        match c.auth {
            Auth::ClientCredentials {
                ims_url, scopes, ..
            } => {
                assert_eq!(ims_url, "http://127.0.0.1:8080");
                assert_eq!(scopes, DEFAULT_SCOPES);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn https_endpoint_defaults_to_public_ims_and_ims_flag_wins() {
        let base = TargetOptions {
            endpoint: Some("https://platform.adobe.io".into()),
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            org_id: Some("org@AdobeOrg".into()),
            scopes: Some("openid,AdobeID".into()),
            sandbox: Some("dev-1".into()),
            ..opts()
        };
        let Target::Remote(c) = resolve(&base).unwrap() else {
            panic!()
        };
        let Auth::ClientCredentials {
            ims_url, scopes, ..
        } = &c.auth
        else {
            panic!()
        };
        assert_eq!(ims_url, DEFAULT_IMS_URL);
        assert_eq!(scopes, "openid,AdobeID");
        assert_eq!(c.sandbox, "dev-1");
        let Target::Remote(c) = resolve(&TargetOptions {
            ims_url: Some("https://ims-eu.example.com/".into()),
            ..base
        })
        .unwrap() else {
            panic!()
        };
        let Auth::ClientCredentials { ims_url, .. } = &c.auth else {
            panic!()
        };
        assert_eq!(ims_url, "https://ims-eu.example.com");
    }

    #[test]
    fn ready_token_needs_client_id_and_org() {
        let t = resolve(&TargetOptions {
            endpoint: Some("https://platform.adobe.io".into()),
            access_token: Some("tok".into()),
            client_id: Some("id".into()),
            org_id: Some("org".into()),
            client_secret: Some("ignored".into()),
            ..opts()
        })
        .unwrap();
        let Target::Remote(c) = t else { panic!() };
        assert!(matches!(c.auth, Auth::Token { .. }));
        let err = resolve(&TargetOptions {
            endpoint: Some("https://platform.adobe.io".into()),
            access_token: Some("tok".into()),
            ..opts()
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("AEP_CLIENT_ID") && msg.contains("AEP_ORG_ID"),
            "{msg}"
        );
        assert!(!msg.contains("tok"), "{msg}");
    }

    #[test]
    fn partial_configurations_name_what_is_missing() {
        let err = resolve(&TargetOptions {
            endpoint: Some("https://platform.adobe.io".into()),
            ..opts()
        })
        .unwrap_err()
        .to_string();
        for v in [
            "AEP_CLIENT_ID",
            "AEP_CLIENT_SECRET",
            "AEP_ORG_ID",
            "AEP_ACCESS_TOKEN",
        ] {
            assert!(err.contains(v), "{err}");
        }
        let err = resolve(&TargetOptions {
            endpoint: Some("https://platform.adobe.io".into()),
            client_id: Some("id".into()),
            org_id: Some("org".into()),
            ..opts()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AEP_CLIENT_SECRET") && !err.contains("AEP_ORG_ID,"),
            "{err}"
        );
        let err = resolve(&TargetOptions {
            client_id: Some("id".into()),
            client_secret: Some("very-secret".into()),
            ..opts()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("DESTCTL_ENDPOINT"), "{err}");
        assert!(!err.contains("very-secret"), "{err}");
    }

    #[test]
    fn bad_urls_are_refused() {
        let with = |endpoint: &str| {
            resolve(&TargetOptions {
                endpoint: Some(endpoint.into()),
                access_token: Some("t".into()),
                client_id: Some("id".into()),
                org_id: Some("org".into()),
                ..opts()
            })
        };
        assert!(with("http://platform.adobe.io").is_err());
        assert!(with("ftp://127.0.0.1").is_err());
        assert!(with("not a url").is_err());
        assert!(with("https://x.example?a=b").is_err());
        assert!(with("http://localhost:1234").is_ok());
        assert!(with("http://[::1]:1234").is_ok());
        assert!(
            resolve(&TargetOptions {
                sandbox: Some("".into()),
                ..opts()
            })
            .is_err()
        );
    }

    #[test]
    fn options_debug_hides_secrets() {
        let shown = format!(
            "{:?}",
            TargetOptions {
                client_secret: Some("s3cr3t-value".into()),
                access_token: Some("t0ken-value".into()),
                ..opts()
            }
        );
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("t0ken-value"),
            "{shown}"
        );
        assert!(shown.contains("client_secret: \"<set>\""), "{shown}");
    }

    #[test]
    fn notice_names_the_state_file() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            embedded_notice(&cwd.join(EMBEDDED_STATE_FILE)),
            "destctl: no AEP endpoint or credentials configured; using the embedded emulator (state in .destctl/emulator.json)"
        );
    }
}
