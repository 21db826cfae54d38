//! Secret resolution: every `${env:NAME}` / `${file:PATH}` in a plan's create bodies and patch
//! values is read before the first request, so a missing secret stops the apply with nothing
//! sent. Resolved values live only in [`ResolvedPlan`], whose `Debug` never shows them.

use crate::manifest::source::{FileError, read_regular};
use crate::model::{DesiredState, SecretRef, SourceLocation};
use crate::plan::{Action, Change, Plan};
use crate::wire::Resource;
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
                "plan change #{index} ({} {} of `{name}`, param `{param}`)",
                action_word(*action),
                resource_word(*resource)
            ),
        }
    }
}

pub(crate) fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Enable => "enable",
        Action::Disable => "disable",
    }
}

pub(crate) fn resource_word(r: Resource) -> &'static str {
    match r {
        Resource::Connection => "connection",
        Resource::SourceConnection => "sourceConnection",
        Resource::TargetConnection => "targetConnection",
        Resource::Flow => "flow",
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
        match self.0.get(&(change.name.clone(), param.clone())) {
            Some(location) => SecretOrigin::Manifest {
                destination: change.name.clone(),
                param,
                location: location.clone(),
            },
            None => SecretOrigin::PlanChange {
                index: index + 1,
                action: change.action,
                resource: change.resource,
                name: change.name.clone(),
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
        }
    }

    /// The directory `${file:…}` paths are relative to.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn read(&self, r: &SecretRef, origin: Box<SecretOrigin>) -> Result<String, SecretError> {
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
                    Ok(v) => (v, format!("environment variable `{name}`")),
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
                    Ok(s) => (
                        s.trim_end_matches(['\n', '\r']).to_owned(),
                        format!("file `{p}`"),
                    ),
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
        if value.trim().is_empty() {
            return Err(SecretError::Blank {
                reference: r.to_string(),
                origin,
                what,
            });
        }
        Ok(value)
    }

    /// Resolves one change in place (body and patch values); errors are appended to `errors`.
    pub fn resolve_change(
        &self,
        index: usize,
        change: &mut Change,
        locations: &SecretLocations,
        errors: &mut Vec<SecretError>,
    ) {
        let snapshot = change.clone();
        if let Some(body) = change.body.as_mut() {
            self.walk(body, String::new(), index, &snapshot, locations, errors);
        }
        if let Some(ops) = change.patch.as_mut() {
            for op in ops {
                if let Some(v) = op.value.as_mut() {
                    self.walk(v, op.path.clone(), index, &snapshot, locations, errors);
                }
            }
        }
    }

    fn walk(
        &self,
        value: &mut Value,
        pointer: String,
        index: usize,
        change: &Change,
        locations: &SecretLocations,
        errors: &mut Vec<SecretError>,
    ) {
        match value {
            Value::String(s) => {
                if !(s.starts_with("${env:") || s.starts_with("${file:")) {
                    return;
                }
                let origin = || Box::new(locations.origin(index, change, &pointer));
                match SecretRef::parse(s) {
                    Some(Ok(r)) => match self.read(&r, origin()) {
                        Ok(v) => *s = v,
                        Err(e) => errors.push(e),
                    },
                    Some(Err(e)) => errors.push(SecretError::Malformed {
                        origin: origin(),
                        message: e.to_string(),
                    }),
                    None => errors.push(SecretError::Malformed {
                        origin: origin(),
                        message: format!("`{s}` is not a complete secret reference"),
                    }),
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.walk(
                        v,
                        format!("{pointer}/{i}"),
                        index,
                        change,
                        locations,
                        errors,
                    );
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    self.walk(v, p, index, change, locations, errors);
                }
            }
            _ => {}
        }
    }

    /// Reads every secret the manifests reference (values discarded), so that a missing one
    /// stops a live apply before its first request, even before live state is read.
    pub fn check_desired(&self, desired: &DesiredState) -> Result<(), SecretErrors> {
        let mut errors = Vec::new();
        for d in &desired.destinations {
            for (param, value) in &d.connection.params {
                let crate::model::ParamValue::Secret(r) = value else {
                    continue;
                };
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

    /// Resolves the whole plan, or lists every reference that failed.
    pub fn resolve_plan(
        &self,
        plan: &Plan,
        locations: &SecretLocations,
    ) -> Result<ResolvedPlan, SecretErrors> {
        let mut errors = Vec::new();
        let mut changes = plan.changes.clone();
        for (i, c) in changes.iter_mut().enumerate() {
            self.resolve_change(i, c, locations, &mut errors);
        }
        if errors.is_empty() {
            Ok(ResolvedPlan { changes })
        } else {
            Err(SecretErrors(errors))
        }
    }
}

/// A plan's changes with secret values in place: what is sent. Only for sending; its `Debug`
/// shows no body or patch.
#[derive(Clone)]
pub struct ResolvedPlan {
    changes: Vec<Change>,
}

impl ResolvedPlan {
    /// The change at `index` (the same index as in the plan), secrets resolved.
    pub fn change(&self, index: usize) -> &Change {
        &self.changes[index]
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
            .entries(self.changes.iter().map(|c| {
                format!(
                    "{} {} {}",
                    action_word(c.action),
                    resource_word(c.resource),
                    c.name
                )
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanTarget, Summary};
    use crate::wire::{PatchOp, PatchOpKind};
    use serde_json::json;

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            target: PlanTarget {
                endpoint: "http://x".into(),
                sandbox: "prod".into(),
            },
            summary: Summary::default(),
            changes,
            left_in_place: vec![],
            duplicates: vec![],
        }
    }

    fn conn_create(name: &str, params: Value) -> Change {
        Change {
            action: Action::Create,
            resource: Resource::Connection,
            name: name.into(),
            id: None,
            etag: None,
            key: Some(format!("{name}/connection")),
            body: Some(json!({"name": name, "auth": {"specName": "S3", "params": params}})),
            patch: None,
        }
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
        let mut patch = conn_create("a", json!({}));
        patch.action = Action::Update;
        patch.body = None;
        patch.id = Some("c1".into());
        patch.patch = Some(vec![PatchOp {
            op: PatchOpKind::Replace,
            path: "/auth/params".into(),
            value: Some(json!({"s3SecretKey": "${file:s/key}", "literal": "plain"})),
        }]);
        let p = plan(vec![
            conn_create(
                "a",
                json!({"s3AccessKey": "${env:ACCESS}", "s3SecretKey": "${file:s/key}"}),
            ),
            patch,
        ]);
        let resolved = r.resolve_plan(&p, &SecretLocations::default()).unwrap();
        assert_eq!(
            resolved.change(0).body.as_ref().unwrap()["auth"]["params"],
            json!({"s3AccessKey": "env-secret", "s3SecretKey": "file-secret"})
        );
        assert_eq!(
            resolved.change(1).patch.as_ref().unwrap()[0].value,
            Some(json!({"s3SecretKey": "file-secret", "literal": "plain"}))
        );
        let dbg = format!("{resolved:?}");
        assert!(!dbg.contains("secret\""), "{dbg}");
        assert!(!dbg.contains("env-secret") && !dbg.contains("file-secret"));
        // The plan itself still holds the references.
        assert_eq!(
            p.changes[0].body.as_ref().unwrap()["auth"]["params"]["s3AccessKey"],
            json!("${env:ACCESS}")
        );
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
