//! The environments file, `destctl.yaml`: named environments, each a sandbox, an optional
//! endpoint and the values of the `${var:NAME}` references of the manifests.
//!
//! [`find`] reads `--config FILE`, or `destctl.yaml` in the current directory when it exists;
//! without either, nothing changes (one run, no variables). [`Config::select`] turns
//! `--env NAME`/`--all-envs` into the environments of a run. The same types generate the JSON
//! Schema `schemas/config.json`. See docs/environments.md.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The file looked for in the current directory.
pub const DEFAULT_FILE: &str = "destctl.yaml";

/// The largest config file read (a guard against mistakes).
const MAX_BYTES: u64 = 1024 * 1024;

/// `apiVersion: destctl/v1`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum ConfigApiVersion {
    /// The only version.
    #[serde(rename = "destctl/v1")]
    V1,
}

/// `kind: Config`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub(crate) enum ConfigKind {
    /// The only kind.
    Config,
}

/// The `destctl.yaml` document as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "destctl Config")]
pub(crate) struct ConfigDoc {
    /// Always `destctl/v1`.
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub api_version: ConfigApiVersion,
    /// Always `Config`.
    #[allow(dead_code, reason = "deserialized only to check the value")]
    pub kind: ConfigKind,
    /// The environments by name (letters, digits, `-` and `_`).
    pub environments: BTreeMap<String, EnvironmentDoc>,
}

/// One environment as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct EnvironmentDoc {
    /// The sandbox (`x-sandbox-name`).
    pub sandbox: String,
    /// The platform base URL; default `--endpoint`/`DESTCTL_ENDPOINT`, else the embedded
    /// emulator.
    pub endpoint: Option<String>,
    /// Values of `${var:NAME}` in the manifests (names: letters, digits and `_`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, VarSchema>")]
    pub vars: BTreeMap<String, Scalar>,
}

/// A scalar variable value (text, number or boolean), kept as text.
#[derive(Debug)]
pub(crate) struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text, number or boolean value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Schema of a variable value.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum VarSchema {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// The values of `${var:NAME}` references, by name.
pub type Vars = BTreeMap<String, String>;

/// One environment of the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// Its name in the config file.
    pub name: String,
    /// The sandbox.
    pub sandbox: String,
    /// Its own endpoint, if it has one.
    pub endpoint: Option<String>,
    /// Its variables.
    pub vars: Vars,
}

/// A read config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where it was read.
    pub path: PathBuf,
    /// The environments, sorted by name.
    pub environments: Vec<Environment>,
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Larger than the cap.
    #[error("{} is larger than {MAX_BYTES} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not a valid config document; located.
    #[error("{}:{line}:{column}: {field}{}{message}", path.display(), if field.is_empty() { "" } else { ": " })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column.
        column: u64,
        /// The field, when known.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `--env`/`--all-envs` without a config file.
    #[error(
        "--env and --all-envs need a config file: none given with --config and no {DEFAULT_FILE} in the current directory"
    )]
    NoConfig,
    /// An `--env` name the file does not define.
    #[error("no environment named `{name}` in {}; defined: {defined}", path.display())]
    UnknownEnvironment {
        /// The name asked for.
        name: String,
        /// The file.
        path: PathBuf,
        /// The names it defines.
        defined: String,
    },
    /// A config file and no environment chosen for a command that needs one.
    #[error(
        "{} defines environments ({defined}): choose with --env NAME (repeatable) or --all-envs", path.display()
    )]
    NoneSelected {
        /// The file.
        path: PathBuf,
        /// The names it defines.
        defined: String,
    },
}

/// Which environments a run asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--env NAME`, in the order given.
    pub names: Vec<String>,
    /// `--all-envs`.
    pub all: bool,
}

impl Selection {
    /// Whether nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.all
    }
}

/// Reads `explicit` (`--config`), or `destctl.yaml` in the current directory if there is
/// one; `Ok(None)` without either.
pub fn find(explicit: Option<&Path>) -> Result<Option<Config>, ConfigError> {
    match explicit {
        Some(p) => read(p).map(Some),
        None => {
            let p = Path::new(DEFAULT_FILE);
            if p.exists() {
                read(p).map(Some)
            } else {
                Ok(None)
            }
        }
    }
}

/// Reads and checks one config file.
pub fn read(path: &Path) -> Result<Config, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if meta.len() > MAX_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

fn invalid(path: &Path, line: u64, column: u64, field: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        column,
        field: field.to_owned(),
        message,
    }
}

/// Where `key:` is first written in `text` at or after line `from` (1-based), for locating
/// problems found after parsing.
fn locate(text: &str, key: &str, from: u64) -> (u64, u64) {
    let needle = format!("{key}:");
    for (i, l) in text.lines().enumerate() {
        let line = i as u64 + 1;
        if line < from {
            continue;
        }
        let mut start = 0;
        while let Some(at) = l[start..].find(&needle) {
            let at = start + at;
            let before = l[..at].chars().next_back();
            if before.is_none_or(|c| matches!(c, ' ' | '{' | ',' | '"' | '\'')) {
                return (line, l[..at].chars().count() as u64 + 1);
            }
            start = at + needle.len();
        }
    }
    (0, 0)
}

/// Parses the text of a config file read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    };
    let doc: ConfigDoc = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let e = e.without_snippet();
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let mut message = e.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        invalid(path, line, column, "", message)
    })?;
    let mut environments = Vec::new();
    for (name, env) in doc.environments {
        let (line, column) = locate(text, &name, 1);
        if !valid_name(&name, true) {
            return Err(invalid(
                path,
                line,
                column,
                &format!("environments.{name}"),
                "an environment name is letters, digits, `-` and `_`".into(),
            ));
        }
        if env.sandbox.trim().is_empty() {
            let (l, c) = locate(text, "sandbox", line);
            return Err(invalid(
                path,
                l,
                c,
                &format!("environments.{name}.sandbox"),
                "empty sandbox name".into(),
            ));
        }
        let mut vars = Vars::new();
        for (var, value) in env.vars {
            if !valid_name(&var, false) {
                let (l, c) = locate(text, &var, line);
                return Err(invalid(
                    path,
                    l,
                    c,
                    &format!("environments.{name}.vars.{var}"),
                    "a variable name is letters, digits and `_`, not starting with a digit".into(),
                ));
            }
            vars.insert(var, value.0);
        }
        environments.push(Environment {
            name,
            sandbox: env.sandbox,
            endpoint: env.endpoint.filter(|e| !e.trim().is_empty()),
            vars,
        });
    }
    if environments.is_empty() {
        let (line, column) = locate(text, "environments", 1);
        return Err(invalid(
            path,
            line,
            column,
            "environments",
            "no environment defined".into(),
        ));
    }
    Ok(Config {
        path: path.to_owned(),
        environments,
    })
}

/// Environment names: letters, digits, `-`, `_`; variable names: letters, digits, `_`, not
/// starting with a digit.
fn valid_name(s: &str, dashes: bool) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(|c: char| c.is_ascii_digit() && !dashes)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dashes && c == '-'))
}

impl Config {
    /// The environments named by `selection` (all of them for `--all-envs`), in the config's
    /// order; an unknown name is an error. An empty selection is an error too: a command
    /// that runs without choosing calls [`Config::select_or_all`].
    pub fn select(&self, selection: &Selection) -> Result<Vec<Environment>, ConfigError> {
        if selection.is_empty() {
            return Err(ConfigError::NoneSelected {
                path: self.path.clone(),
                defined: self.names(),
            });
        }
        self.select_or_all(selection)
    }

    /// Like [`Config::select`], with every environment when nothing is selected.
    pub fn select_or_all(&self, selection: &Selection) -> Result<Vec<Environment>, ConfigError> {
        if selection.all || selection.names.is_empty() {
            return Ok(self.environments.clone());
        }
        let mut out: Vec<Environment> = Vec::new();
        for name in &selection.names {
            let Some(env) = self.environments.iter().find(|e| &e.name == name) else {
                return Err(ConfigError::UnknownEnvironment {
                    name: name.clone(),
                    path: self.path.clone(),
                    defined: self.names(),
                });
            };
            if !out.iter().any(|e| e.name == env.name) {
                out.push(env.clone());
            }
        }
        Ok(out)
    }

    fn names(&self) -> String {
        let v: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "apiVersion: destctl/v1\nkind: Config\nenvironments:\n  dev:\n    sandbox: dev\n    vars: {bucket: acme-dev, n: 3, on: true}\n  prod:\n    sandbox: prod\n    endpoint: https://platform.adobe.io\n";

    #[test]
    fn reads_environments_and_vars() {
        let c = parse(Path::new("destctl.yaml"), TEXT).unwrap();
        assert_eq!(c.environments.len(), 2);
        let dev = &c.environments[0];
        assert_eq!(dev.name, "dev");
        assert_eq!(dev.vars["bucket"], "acme-dev");
        assert_eq!(dev.vars["n"], "3");
        assert_eq!(dev.vars["on"], "true");
        assert_eq!(
            c.environments[1].endpoint.as_deref(),
            Some("https://platform.adobe.io")
        );
    }

    #[test]
    fn selection() {
        let c = parse(Path::new("destctl.yaml"), TEXT).unwrap();
        let sel = |names: &[&str], all| Selection {
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            all,
        };
        assert!(matches!(
            c.select(&Selection::default()),
            Err(ConfigError::NoneSelected { .. })
        ));
        assert_eq!(c.select_or_all(&Selection::default()).unwrap().len(), 2);
        assert_eq!(c.select(&sel(&[], true)).unwrap().len(), 2);
        let one = c.select(&sel(&["prod", "prod"], false)).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "prod");
        let e = c.select(&sel(&["stage"], false)).unwrap_err().to_string();
        assert_eq!(
            e,
            "no environment named `stage` in destctl.yaml; defined: dev, prod"
        );
    }

    #[test]
    fn problems_are_located() {
        let e = parse(
            Path::new("c.yaml"),
            &TEXT.replace("    sandbox: dev\n", "    sandbox: dev\n    sandbx: x\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("c.yaml:6:"), "{e}");
        assert!(e.contains("unknown field `sandbx`"), "{e}");
        let e = parse(Path::new("c.yaml"), &TEXT.replace("n: 3", "3n: 3"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.yaml:6:30: environments.dev.vars.3n:"),
            "{e}"
        );
    }
}
