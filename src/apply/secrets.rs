//! Secret resolution: every `${env:NAME}` / `${file:PATH}` in a plan's create bodies and patch
//! values is read before the first request, so a missing secret stops the apply with nothing
//! sent. Resolved values are held in [`Secrets`] as zeroizing [`SecretString`]s, apart from the
//! plan (which keeps its references), and copied into a request only while it is built
//! ([`Secrets::expose`]); no `Debug` shows them.

use crate::client::Redactor;
use crate::manifest::source::{FileError, read_regular};
use crate::model::{DesiredState, SecretRef, SourceLocation};
use crate::plan::{Action, Change, Plan, describe};
use crate::wire::{PatchOp, Resource};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest `${file:…}` secret read, 64 KiB (credentials are far smaller; a guard against a
/// wrong path, not a format limit).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Where a secret reference was written, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretOrigin {
    /// In a manifest: the Destination's connection param.
    Manifest {
        /// The Destination's `metadata.name`.
        destination: String,
        /// The auth param.
        param: String,
        /// Where it was written.
        location: SourceLocation,
    },
    /// In a saved plan: change number `index` (1-based), at `pointer` inside its body/patch.
    PlanChange {
        /// 1-based position in `changes`.
        index: usize,
        /// The change's action.
        action: Action,
        /// The change's resource.
        resource: Resource,
        /// The Destination name.
        name: String,
        /// The param (last segment of the JSON pointer).
        param: String,
    },
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretOrigin::Manifest {
                destination,
                param,
                location,
            } => write!(
                f,
                "{location} (Destination `{destination}`, connection param `{param}`)"
            ),
            SecretOrigin::PlanChange {
                index,
                action,
                resource,
                name,
                param,
            } => write!(
                f,
                "plan change #{index} ({}, param `{param}`)",
                describe(*action, *resource, name)
            ),
        }
    }
}

/// Why one secret reference could not be resolved. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or empty.
    #[error("secret {reference} at {origin}: environment variable `{name}` is not set")]
    MissingEnv {
        /// The reference as written.
        reference: String,
        /// Where.
        origin: Box<SecretOrigin>,
        /// The variable.
        name: String,
    },
    /// The environment variable is not valid UTF-8.
    #[error("secret {reference} at {origin}: environment variable `{name}` is not valid UTF-8")]
    NotUnicodeEnv {
        /// The reference as written.
        reference: String,
        /// Where.
        origin: Box<SecretOrigin>,
        /// The variable.
        name: String,
    },
    /// The file cannot be read: missing, not a regular file, larger than
    /// [`MAX_SECRET_FILE_BYTES`], or not UTF-8.
    #[error("secret {reference} at {origin}: cannot read `{}`", path.display())]
    UnreadableFile {
        /// The reference as written.
        reference: String,
        /// Where.
        origin: Box<SecretOrigin>,
        /// The file, relative paths taken from the current directory.
        path: PathBuf,
        /// What is wrong.
        source: FileError,
    },
    /// The value is only whitespace (an empty file, or a variable holding spaces): sending it
    /// would fail half-way through the apply.
    #[error("secret {reference} at {origin}: the {what} is empty or only whitespace")]
    Blank {
        /// The reference as written.
        reference: String,
        /// Where.
        origin: Box<SecretOrigin>,
        /// `environment variable `NAME`` or `file `PATH``.
        what: String,
    },
    /// Written like a reference but malformed.
    #[error("at {origin}: {message}")]
    Malformed {
        /// Where.
        origin: Box<SecretOrigin>,
        /// What is wrong.
        message: String,
    },
}

/// All the secret references that failed, reported together.
#[derive(Debug, thiserror::Error)]
pub struct SecretErrors(pub Vec<SecretError>);

impl fmt::Display for SecretErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} secret reference{} could not be resolved; nothing was sent",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

/// Where the manifests wrote each connection param, to name it in errors.
#[derive(Clone, Debug, Default)]
pub struct SecretLocations(BTreeMap<(String, String), SourceLocation>);

impl SecretLocations {
    /// The param locations of every Destination in `desired`.
    pub fn from_desired(desired: &DesiredState) -> SecretLocations {
        let mut map = BTreeMap::new();
        for d in &desired.destinations {
            for (param, loc) in &d.connection.locations {
                map.insert((d.name.as_str().to_owned(), param.clone()), loc.clone());
            }
        }
        SecretLocations(map)
    }

    fn origin(&self, index: usize, change: &Change, pointer: &str) -> SecretOrigin {
        let param = pointer.rsplit('/').next().unwrap_or("").to_owned();
        match self.0.get(&(change.name().to_owned(), param.clone())) {
            Some(location) => SecretOrigin::Manifest {
                destination: change.name().to_owned(),
                param,
                location: location.clone(),
            },
            None => SecretOrigin::PlanChange {
                index: index + 1,
                action: change.action(),
                resource: change.resource(),
                name: change.name().to_owned(),
                param,
            },
        }
    }
}

type EnvLookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

/// Reads secret values: environment variables and files relative to a directory.
#[derive(Clone)]
pub struct Resolver {
    env: Arc<EnvLookup>,
    cwd: PathBuf,
    /// Learns every value read, so the client's errors are redacted of it.
    redactor: Redactor,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").field("cwd", &self.cwd).finish()
    }
}

impl Resolver {
    /// The process environment and current directory.
    pub fn process() -> std::io::Result<Resolver> {
        Ok(Resolver {
            env: Arc::new(|n| std::env::var_os(n)),
            cwd: std::env::current_dir()?,
            redactor: Redactor::new(),
        })
    }

    /// A resolver with its own variable lookup and base directory (tests, embedding).
    pub fn new(
        env: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static,
        cwd: impl Into<PathBuf>,
    ) -> Resolver {
        Resolver {
            env: Arc::new(env),
            cwd: cwd.into(),
            redactor: Redactor::new(),
        }
    }

    /// This resolver, adding every value it reads to `redactor` (the client's, so that no
    /// server text echoing a secret reaches an error or a log line).
    pub fn redacting(self, redactor: &Redactor) -> Resolver {
        Resolver {
            redactor: redactor.clone(),
            ..self
        }
    }

    fn read(&self, r: &SecretRef, origin: Box<SecretOrigin>) -> Result<SecretString, SecretError> {
        let value = self.read_value(r, origin)?;
        self.redactor.add(&value);
        Ok(value)
    }

    /// The directory `${file:…}` paths are relative to.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn read_value(
        &self,
        r: &SecretRef,
        origin: Box<SecretOrigin>,
    ) -> Result<SecretString, SecretError> {
        let (value, what) = match r {
            SecretRef::Env(name) => match (self.env)(name) {
                None => {
                    return Err(SecretError::MissingEnv {
                        reference: r.to_string(),
                        origin,
                        name: name.clone(),
                    });
                }
                Some(v) if v.is_empty() => {
                    return Err(SecretError::MissingEnv {
                        reference: r.to_string(),
                        origin,
                        name: name.clone(),
                    });
                }
                Some(v) => match v.into_string() {
                    Ok(v) => (
                        SecretString::from(v),
                        format!("environment variable `{name}`"),
                    ),
                    Err(_) => {
                        return Err(SecretError::NotUnicodeEnv {
                            reference: r.to_string(),
                            origin,
                            name: name.clone(),
                        });
                    }
                },
            },
            SecretRef::File(p) => {
                let path = self.cwd.join(p);
                let text = read_regular(&path, MAX_SECRET_FILE_BYTES).and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| {
                        FileError::Io(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "it is not UTF-8 text",
                        ))
                    })
                });
                match text {
                    Ok(mut s) => {
                        s.truncate(s.trim_end_matches(['\n', '\r']).len());
                        (SecretString::from(s), format!("file `{p}`"))
                    }
                    Err(source) => {
                        return Err(SecretError::UnreadableFile {
                            reference: r.to_string(),
                            origin,
                            path: PathBuf::from(p),
                            source,
                        });
                    }
                }
            }
        };
        if value.expose_secret().trim().is_empty() {
            return Err(SecretError::Blank {
                reference: r.to_string(),
                origin,
                what,
            });
        }
        Ok(value)
    }

    /// Reads the secrets one change (at `index` in its plan) refers to in its body and patch
    /// values into `secrets`; errors are appended to `errors`.
    pub fn resolve_change(
        &self,
        index: usize,
        change: &Change,
        locations: &SecretLocations,
        secrets: &mut Secrets,
        errors: &mut Vec<SecretError>,
    ) {
        let mut walk = |value: &Value, pointer: String| {
            Walk {
                resolver: self,
                index,
                change,
                locations,
                secrets: &mut *secrets,
                errors: &mut *errors,
            }
            .walk(value, pointer)
        };
        if let Some(body) = change.body() {
            walk(body, String::new());
        }
        for op in change.patch().into_iter().flatten() {
            if let Some(v) = &op.value {
                walk(v, op.path.clone());
            }
        }
    }

    /// Reads every secret the manifests reference (values discarded), so that a missing one
    /// stops a live apply before its first request, even before live state is read.
    pub fn check_desired(&self, desired: &DesiredState) -> Result<(), SecretErrors> {
        let mut errors = Vec::new();
        for d in &desired.destinations {
            // The credentials, and the PGP key of an encrypting card (kept as `publicKey`).
            let key = d
                .connection
                .encryption_key
                .as_ref()
                .map(|r| ("publicKey".to_owned(), r));
            let refs = d
                .connection
                .params
                .iter()
                .filter_map(|(param, value)| match value {
                    crate::model::ParamValue::Secret(r) => Some((param.clone(), r)),
                    crate::model::ParamValue::Literal(_) => None,
                })
                .chain(key);
            for (param, r) in refs {
                let param = &param;
                let origin = match d.connection.locations.get(param) {
                    Some(location) => SecretOrigin::Manifest {
                        destination: d.name.as_str().to_owned(),
                        param: param.clone(),
                        location: location.clone(),
                    },
                    None => SecretOrigin::Manifest {
                        destination: d.name.as_str().to_owned(),
                        param: param.clone(),
                        location: d.source.clone(),
                    },
                };
                if let Err(e) = self.read(r, Box::new(origin)) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SecretErrors(errors))
        }
    }

    /// Reads every secret the plan refers to, or lists every reference that failed.
    pub fn resolve_plan(
        &self,
        plan: &Plan,
        locations: &SecretLocations,
    ) -> Result<ResolvedPlan, SecretErrors> {
        let mut errors = Vec::new();
        let mut secrets = Secrets::default();
        for (i, c) in plan.changes.iter().enumerate() {
            self.resolve_change(i, c, locations, &mut secrets, &mut errors);
        }
        if errors.is_empty() {
            Ok(ResolvedPlan {
                changes: plan.changes.clone(),
                secrets,
            })
        } else {
            Err(SecretErrors(errors))
        }
    }
}

/// One walk of a change's values, collecting the secrets it refers to.
struct Walk<'a> {
    resolver: &'a Resolver,
    index: usize,
    change: &'a Change,
    locations: &'a SecretLocations,
    secrets: &'a mut Secrets,
    errors: &'a mut Vec<SecretError>,
}

impl Walk<'_> {
    fn walk(&mut self, value: &Value, pointer: String) {
        match value {
            Value::String(s) => {
                if !(s.starts_with("${env:") || s.starts_with("${file:"))
                    || self.secrets.0.contains_key(s)
                {
                    return;
                }
                let origin = || Box::new(self.locations.origin(self.index, self.change, &pointer));
                let read = match SecretRef::parse(s) {
                    Some(Ok(r)) => self.resolver.read(&r, origin()),
                    Some(Err(e)) => Err(SecretError::Malformed {
                        origin: origin(),
                        message: e.to_string(),
                    }),
                    None => Err(SecretError::Malformed {
                        origin: origin(),
                        message: format!("`{s}` is not a complete secret reference"),
                    }),
                };
                match read {
                    Ok(secret) => {
                        self.secrets.0.insert(s.clone(), secret);
                    }
                    Err(e) => self.errors.push(e),
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.walk(v, format!("{pointer}/{i}"));
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    self.walk(v, p);
                }
            }
            _ => {}
        }
    }
}

/// Secret values read for a plan, by their reference as written (`${env:NAME}`). Each value
/// is a [`SecretString`]: wiped from memory when dropped, never shown by `Debug`, and read
/// only by [`Secrets::expose`] while a request is built.
#[derive(Clone, Default)]
pub struct Secrets(BTreeMap<String, SecretString>);

impl Secrets {
    /// How many distinct references were resolved.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy of `value` with every secret reference replaced by its value: a request body
    /// about to be sent. References not resolved here stay as written.
    pub fn expose(&self, value: &Value) -> Value {
        let mut out = value.clone();
        if !self.0.is_empty() {
            self.expose_in(&mut out);
        }
        out
    }

    /// A copy of `ops` with the secrets in their values exposed, as [`Secrets::expose`].
    pub fn expose_ops(&self, ops: &[PatchOp]) -> Vec<PatchOp> {
        ops.iter()
            .map(|op| PatchOp {
                op: op.op,
                path: op.path.clone(),
                value: op.value.as_ref().map(|v| self.expose(v)),
            })
            .collect()
    }

    fn expose_in(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(secret) = self.0.get(s.as_str()) {
                    *s = secret.expose_secret().to_owned();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.expose_in(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.expose_in(v)),
            _ => {}
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A plan's changes, still with their secret references, and the secrets they refer to: what
/// is sent. Its `Debug` shows no body, patch or secret.
#[derive(Clone)]
pub struct ResolvedPlan {
    changes: Vec<Change>,
    secrets: Secrets,
}

impl ResolvedPlan {
    /// The change at `index` (the same index as in the plan).
    pub fn change(&self, index: usize) -> &Change {
        &self.changes[index]
    }

    /// The secrets its changes refer to.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl fmt::Debug for ResolvedPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.changes.iter().map(Change::describe))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{IdRef, PlanTarget, Summary};
    use crate::wire::{Etag, PatchOpKind};
    use serde_json::json;

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            target: PlanTarget {
                endpoint: "http://x".into(),
                sandbox: "prod".into(),
            },
            digest: None,
            summary: Summary::default(),
            changes,
            left_in_place: vec![],
            duplicates: vec![],
            changed_outside: vec![],
        }
    }

    fn conn_create(name: &str, params: Value) -> Change {
        Change::create(
            Resource::Connection,
            name,
            format!("{name}/connection"),
            json!({"name": name, "auth": {"specName": "S3", "params": params}}),
        )
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn resolves_env_and_file_in_bodies_and_patches() {
        let dir = std::env::temp_dir().join(format!("destctl-secrets-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("s")).unwrap();
        std::fs::write(dir.join("s/key"), "file-secret\n").unwrap();
        let r = Resolver::new(env(&[("ACCESS", "env-secret")]), &dir);
        let patch = Change::update(
            Resource::Connection,
            "a",
            IdRef::parse("c1"),
            Etag("\"e\"".into()),
            vec![PatchOp {
                op: PatchOpKind::Replace,
                path: "/auth/params".into(),
                value: Some(json!({"s3SecretKey": "${file:s/key}", "literal": "plain"})),
            }],
        );
        let p = plan(vec![
            conn_create(
                "a",
                json!({"s3AccessKey": "${env:ACCESS}", "s3SecretKey": "${file:s/key}"}),
            ),
            patch,
        ]);
        let resolved = r.resolve_plan(&p, &SecretLocations::default()).unwrap();
        let secrets = resolved.secrets();
        // One value per distinct reference.
        assert_eq!(secrets.len(), 2);
        assert_eq!(
            secrets.expose(resolved.change(0).body().unwrap())["auth"]["params"],
            json!({"s3AccessKey": "env-secret", "s3SecretKey": "file-secret"})
        );
        assert_eq!(
            secrets.expose_ops(resolved.change(1).patch().unwrap())[0].value,
            Some(json!({"s3SecretKey": "file-secret", "literal": "plain"}))
        );
        for dbg in [format!("{resolved:?}"), format!("{secrets:?}")] {
            assert!(!dbg.contains("secret\""), "{dbg}");
            assert!(
                !dbg.contains("env-secret") && !dbg.contains("file-secret"),
                "{dbg}"
            );
        }
        assert!(format!("{secrets:?}").contains("${env:ACCESS}"));
        // The plan and the resolved changes still hold the references.
        for c in [&p.changes[0], resolved.change(0)] {
            assert_eq!(
                c.body().unwrap()["auth"]["params"]["s3AccessKey"],
                json!("${env:ACCESS}")
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_secrets_name_reference_and_manifest_location() {
        let r = Resolver::new(env(&[("EMPTY", "")]), "/nonexistent-destctl-dir");
        let p = plan(vec![conn_create(
            "campaign-s3",
            json!({"s3AccessKey": "${env:NOPE}", "s3SecretKey": "${file:missing.txt}", "x": "${env:EMPTY}"}),
        )]);
        let mut locations = SecretLocations::default();
        locations.0.insert(
            ("campaign-s3".into(), "s3AccessKey".into()),
            SourceLocation {
                file: "manifests/campaign.yaml".into(),
                line: 12,
                column: 20,
            },
        );
        let errs = r.resolve_plan(&p, &locations).unwrap_err();
        assert_eq!(errs.0.len(), 3);
        let msg = errs.to_string();
        assert!(msg.contains("${env:NOPE}"), "{msg}");
        assert!(msg.contains("manifests/campaign.yaml:12:20"), "{msg}");
        assert!(msg.contains("`NOPE` is not set"), "{msg}");
        assert!(msg.contains("${file:missing.txt}"), "{msg}");
        assert!(
            msg.contains(
                "plan change #1 (create connection of `campaign-s3`, param `s3SecretKey`)"
            ),
            "{msg}"
        );
        assert!(msg.contains("`EMPTY` is not set"), "{msg}");
        assert!(msg.contains("nothing was sent"));
    }

    #[test]
    fn malformed_references_and_plain_values() {
        let r = Resolver::new(env(&[]), "/");
        let p = plan(vec![conn_create(
            "a",
            json!({"k": "${env:bad-name}", "ref": "${ref:a/x}", "plain": "$notref"}),
        )]);
        let errs = r.resolve_plan(&p, &SecretLocations::default()).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert!(matches!(errs.0[0], SecretError::Malformed { .. }));
    }
}
