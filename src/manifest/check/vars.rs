//! `${var:NAME}` substitution and the placement rule of secret references, run on the
//! documents as read, before any other rule: every text value of a document except the
//! credential params (`connection.params` the catalog marks secret, and the PGP public key
//! `location.encryption.publicKey`, a `${file:}` reference) has its `${var:NAME}`
//! references replaced by the selected environment's values, and may not hold `${env:…}` or
//! `${file:…}` (secrets are resolved only where they are sent as credentials, never into a
//! flow name or a path). Credential params keep their references as written.

use super::Docs;
use super::checker::{Checker, DocRef, Pos};
use crate::config::Vars;
use crate::manifest::raw::{ScheduleRef, ScheduleSpec};
use serde_saphyr::Spanned;

/// What the values may refer to.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    /// The selected environment's name and variables; `None` without a config file.
    pub(crate) vars: Option<(&'a str, &'a Vars)>,
}

/// Why a value is refused.
enum Refusal {
    /// `${env:…}` or `${file:…}` outside a credential param.
    SecretRef(String),
    /// `${var:NAME}` with no such variable.
    Undefined(String),
    /// `${var:NAME}` without an environment.
    NoEnvironment(String),
    /// `${var:` with no closing `}` or a bad name.
    Malformed(String),
}

impl Env<'_> {
    fn message(&self, r: Refusal) -> String {
        match r {
            Refusal::SecretRef(r) => format!(
                "`{r}` is a secret reference, allowed only in credential params (the secret params of spec.connection.params); use ${{var:NAME}} for a value that differs per environment"
            ),
            Refusal::Undefined(n) => match self.vars {
                Some((env, vars)) => {
                    let defined: Vec<&str> = vars.keys().map(String::as_str).collect();
                    format!(
                        "undefined variable `{n}` in environment `{env}`; defined: {}",
                        if defined.is_empty() {
                            "none".to_owned()
                        } else {
                            defined.join(", ")
                        }
                    )
                }
                None => format!("undefined variable `{n}`"),
            },
            Refusal::NoEnvironment(n) => format!(
                "`${{var:{n}}}` needs an environment: define it in destctl.yaml (or --config FILE) and choose it with --env NAME or --all-envs"
            ),
            Refusal::Malformed(s) => format!(
                "malformed variable reference in `{s}`; write ${{var:NAME}} (letters, digits and _)"
            ),
        }
    }

    /// `value` with its `${var:NAME}` references replaced.
    fn substitute(&self, value: &str) -> Result<Option<String>, Refusal> {
        for secret in ["${env:", "${file:"] {
            if let Some(i) = value.find(secret) {
                let end = value[i..].find('}').map_or(value.len(), |e| i + e + 1);
                return Err(Refusal::SecretRef(value[i..end].to_owned()));
            }
        }
        if !value.contains("${var:") {
            return Ok(None);
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(i) = rest.find("${var:") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "${var:".len()..];
            let Some(end) = after.find('}') else {
                return Err(Refusal::Malformed(value.to_owned()));
            };
            let name = &after[..end];
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(Refusal::Malformed(value.to_owned()));
            }
            match self.vars {
                None => return Err(Refusal::NoEnvironment(name.to_owned())),
                Some((_, vars)) => match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Err(Refusal::Undefined(name.to_owned())),
                },
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Some(out))
    }
}

/// Substitutes one located value; a refusal is an error at the value.
fn spanned(ck: &mut Checker, env: Env<'_>, doc: DocRef, v: &mut Spanned<String>, field: &str) {
    match env.substitute(&v.value) {
        Ok(Some(s)) => v.value = s,
        Ok(None) => {}
        Err(r) => {
            let pos = ck.at(doc, v);
            ck.err(&pos, field, env.message(r));
        }
    }
}

/// Substitutes an optional located value.
fn opt(ck: &mut Checker, env: Env<'_>, doc: DocRef, v: &mut Option<Spanned<String>>, f: &str) {
    if let Some(v) = v {
        spanned(ck, env, doc, v, f);
    }
}

/// Substitutes a value without its own position, reported at its key (`path`).
fn plain(
    ck: &mut Checker,
    env: Env<'_>,
    doc: DocRef,
    v: &mut Option<String>,
    path: &[&str],
    fallback: &Pos,
) {
    let Some(s) = v else { return };
    match env.substitute(s) {
        Ok(Some(new)) => *s = new,
        Ok(None) => {}
        Err(r) => {
            let pos = ck.key_pos(doc, path).unwrap_or_else(|| fallback.clone());
            ck.err(&pos, &path.join("."), env.message(r));
        }
    }
}

fn schedule(ck: &mut Checker, env: Env<'_>, doc: DocRef, s: &mut ScheduleSpec, field: &str) {
    spanned(
        ck,
        env,
        doc,
        &mut s.start_date,
        &format!("{field}.startDate"),
    );
    opt(ck, env, doc, &mut s.end_date, &format!("{field}.endDate"));
    opt(
        ck,
        env,
        doc,
        &mut s.start_time,
        &format!("{field}.startTime"),
    );
}

/// Substitutes every document's values and reports misplaced secret references.
pub(super) fn substitute(ck: &mut Checker, docs: &mut Docs, env: Env<'_>) {
    for (doc, d) in &mut docs.destinations {
        let doc = *doc;
        let start = ck.doc_start(doc);
        let spec = &mut d.spec.value;
        opt(ck, env, doc, &mut spec.display_name, "spec.displayName");
        plain(
            ck,
            env,
            doc,
            &mut spec.description,
            &["spec", "description"],
            &start,
        );
        if let Some(conn) = &mut spec.connection
            && let Some(params) = &mut conn.value.params
        {
            let auth = conn.value.auth.value;
            for (key, value) in &mut params.value.0 {
                let secret = auth
                    .params()
                    .iter()
                    .any(|p| p.name == key.value && p.secret);
                if !secret {
                    let field = format!("spec.connection.params.{}", key.value);
                    spanned(ck, env, doc, value, &field);
                }
            }
        }
        let loc = &mut spec.location.value;
        opt(
            ck,
            env,
            doc,
            &mut loc.bucket_name,
            "spec.location.bucketName",
        );
        opt(ck, env, doc, &mut loc.path, "spec.location.path");
        opt(ck, env, doc, &mut loc.container, "spec.location.container");
        opt(
            ck,
            env,
            doc,
            &mut loc.remote_path,
            "spec.location.remotePath",
        );
        if let Some(list) = &mut spec.attributes {
            for (i, a) in list.value.iter_mut().enumerate() {
                spanned(ck, env, doc, a, &format!("spec.attributes[{i}]"));
            }
        }
        for (i, a) in spec.mandatory_attributes.iter_mut().enumerate() {
            spanned(ck, env, doc, a, &format!("spec.mandatoryAttributes[{i}]"));
        }
        for (i, a) in spec.deduplication_keys.iter_mut().enumerate() {
            spanned(ck, env, doc, a, &format!("spec.deduplicationKeys[{i}]"));
        }
        for (i, a) in spec.identity_deduplication_keys.iter_mut().enumerate() {
            let field = format!("spec.identityDeduplicationKeys[{i}]");
            spanned(ck, env, doc, a, &field);
        }
    }
    for (doc, s) in &mut docs.schedules {
        schedule(ck, env, *doc, &mut s.spec, "spec");
    }
    for (doc, e) in &mut docs.dataset_exports {
        let doc = *doc;
        let start = ck.doc_start(doc);
        let spec = &mut e.spec;
        plain(
            ck,
            env,
            doc,
            &mut spec.display_name,
            &["spec", "displayName"],
            &start,
        );
        plain(
            ck,
            env,
            doc,
            &mut spec.description,
            &["spec", "description"],
            &start,
        );
        spanned(ck, env, doc, &mut spec.destination, "spec.destination");
        for (i, d) in spec.datasets.value.iter_mut().enumerate() {
            let field = format!("spec.datasets[{i}].id");
            spanned(ck, env, doc, &mut d.value.id, &field);
        }
        let sched = &mut spec.schedule.value;
        spanned(
            ck,
            env,
            doc,
            &mut sched.start_time,
            "spec.schedule.startTime",
        );
        opt(ck, env, doc, &mut sched.end_time, "spec.schedule.endTime");
    }
    for (doc, a) in &mut docs.audiences {
        let doc = *doc;
        let start = ck.doc_start(doc);
        let spec = &mut a.spec;
        spanned(ck, env, doc, &mut spec.segment_id, "spec.segmentId");
        plain(
            ck,
            env,
            doc,
            &mut spec.display_name,
            &["spec", "displayName"],
            &start,
        );
        plain(
            ck,
            env,
            doc,
            &mut spec.description,
            &["spec", "description"],
            &start,
        );
        for (i, act) in spec.activations.iter_mut().enumerate() {
            let field = format!("spec.activations[{i}]");
            let act = &mut act.value;
            spanned(
                ck,
                env,
                doc,
                &mut act.destination,
                &format!("{field}.destination"),
            );
            let sched_pos = ck.at(doc, &act.schedule);
            match &mut act.schedule.value {
                ScheduleRef::Name(n) => match env.substitute(n) {
                    Ok(Some(new)) => *n = new,
                    Ok(None) => {}
                    Err(r) => ck.err(&sched_pos, &format!("{field}.schedule"), env.message(r)),
                },
                ScheduleRef::Inline(s) => schedule(ck, env, doc, s, &format!("{field}.schedule")),
            }
            opt(
                ck,
                env,
                doc,
                &mut act.filename_template,
                &format!("{field}.filenameTemplate"),
            );
        }
    }
}

/// `${file:PATH}` as written in the manifest at `manifest`: an absolute path as is, a relative
/// one taken from the manifest's directory (lexically: `manifests/../secrets/x` is
/// `secrets/x`).
pub(super) fn rebase_file(manifest: &std::path::Path, path: &str) -> String {
    use std::path::{Component, Path, PathBuf};
    let p = Path::new(path);
    if p.is_absolute() {
        return path.to_owned();
    }
    let joined = manifest.parent().unwrap_or(Path::new("")).join(p);
    let mut out = PathBuf::new();
    let mut normals = 0usize;
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if normals > 0 => {
                out.pop();
                normals -= 1;
            }
            Component::Normal(n) => {
                out.push(n);
                normals += 1;
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        return ".".into();
    }
    out.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn substitutes_vars_and_refuses_secrets() {
        let vars: Vars = [("bucket".to_owned(), "acme-dev".to_owned())].into();
        let env = Env {
            vars: Some(("dev", &vars)),
        };
        assert_eq!(
            env.substitute("s3://${var:bucket}/x/${var:bucket}")
                .ok()
                .flatten(),
            Some("s3://acme-dev/x/acme-dev".to_owned())
        );
        assert!(matches!(env.substitute("plain"), Ok(None)));
        assert!(matches!(
            env.substitute("${var:nope}"),
            Err(Refusal::Undefined(n)) if n == "nope"
        ));
        assert!(matches!(
            env.substitute("a ${env:SECRET} b"),
            Err(Refusal::SecretRef(r)) if r == "${env:SECRET}"
        ));
        assert!(matches!(
            env.substitute("${var:bad-name}"),
            Err(Refusal::Malformed(_))
        ));
        let none = Env { vars: None };
        assert!(matches!(
            none.substitute("${var:bucket}"),
            Err(Refusal::NoEnvironment(_))
        ));
        assert!(matches!(
            none.substitute("${file:x}"),
            Err(Refusal::SecretRef(_))
        ));
    }

    #[test]
    fn relative_files_are_taken_from_the_manifest_directory() {
        let m = Path::new("manifests/campaign.yaml");
        assert_eq!(rebase_file(m, "../secrets/a"), "secrets/a");
        assert_eq!(rebase_file(m, "keys/a"), "manifests/keys/a");
        assert_eq!(rebase_file(m, "/abs/a"), "/abs/a");
        assert_eq!(rebase_file(Path::new("m.yaml"), "a"), "a");
        assert_eq!(rebase_file(Path::new("m.yaml"), "../a"), "../a");
        assert_eq!(
            rebase_file(Path::new("/repo/manifests/x.yaml"), "../secrets/k"),
            "/repo/secrets/k"
        );
    }
}
