//! Connection rules of a `Destination`: the auth method is one the platform accepts, every
//! auth param is known, written once, and well formed, secrets are written as references
//! (never as literals), required params are present, and `credentialsVersion` starts at 1.
//! A card without credentials (Data Landing Zone) takes no `connection`; every other card
//! needs one.

use super::checker::{Checker, DocRef, Pos};
use crate::catalog::{AuthMethod, ParamSpec, PlatformInfo};
use crate::manifest::raw::{ConnectionSpec, DestinationSpec};
use crate::model::{DesiredConnection, ParamValue, SecretRef};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};

/// Checks `spec.connection`; returns what it holds (partial when something is wrong: the
/// caller counts the errors).
pub(super) fn check_connection(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    info: &PlatformInfo,
) -> DesiredConnection {
    let mut params = BTreeMap::new();
    let mut locations = BTreeMap::new();
    let Some(connection) = &spec.connection else {
        if !info.auth_methods.is_empty() {
            let pos = ck
                .key_pos(doc, &["spec"])
                .unwrap_or_else(|| ck.doc_start(doc));
            let allowed: Vec<_> = info.auth_methods.iter().map(|a| a.spec_name()).collect();
            ck.err(
                &pos,
                "spec.connection",
                format!(
                    "platform {} needs a connection (auth: {})",
                    info.platform,
                    allowed.join(" or ")
                ),
            );
        }
        return DesiredConnection {
            auth: None,
            params,
            credentials_version: 1,
            locations,
            encryption_key: None,
        };
    };
    let conn = &connection.value;
    let auth = conn.auth.value;
    if info.auth_methods.is_empty() {
        let pos = ck
            .key_pos(doc, &["spec", "connection"])
            .unwrap_or_else(|| ck.at(doc, connection));
        ck.err(
            &pos,
            "spec.connection",
            format!(
                "platform {} takes no credentials; remove spec.connection",
                info.platform
            ),
        );
    } else if check_auth(ck, doc, conn, info) {
        let written: &[(Spanned<String>, Spanned<String>)] =
            conn.params.as_ref().map_or(&[], |p| p.value.0.as_slice());
        for (key, value) in written {
            if let Some((v, pos)) = check_param(ck, doc, info, auth, key, value) {
                params.insert(key.value.clone(), v);
                locations.insert(key.value.clone(), pos.loc);
            }
        }
        check_required_params(ck, doc, connection, info, written);
        check_params_written_once(ck, doc, written);
    }
    DesiredConnection {
        auth: Some(auth),
        params,
        credentials_version: credentials_version(ck, doc, conn),
        locations,
        encryption_key: None,
    }
}

/// Whether the platform accepts the auth method; reports it when not.
fn check_auth(ck: &mut Checker, doc: DocRef, conn: &ConnectionSpec, info: &PlatformInfo) -> bool {
    let auth = conn.auth.value;
    if info.auth_methods.contains(&auth) {
        return true;
    }
    let pos = ck.at(doc, &conn.auth);
    let allowed: Vec<_> = info.auth_methods.iter().map(|a| a.spec_name()).collect();
    ck.err(
        &pos,
        "spec.connection.auth",
        format!(
            "auth `{auth}` is not accepted by platform {}; allowed: {}",
            info.platform,
            allowed.join(", ")
        ),
    );
    false
}

/// Checks one written param of an accepted auth method; returns its value and position.
fn check_param(
    ck: &mut Checker,
    doc: DocRef,
    info: &PlatformInfo,
    auth: AuthMethod,
    key: &Spanned<String>,
    value: &Spanned<String>,
) -> Option<(ParamValue, Pos)> {
    let field = format!("spec.connection.params.{}", key.value);
    let specs = info.auth_params(auth);
    let Some(ps) = specs.iter().find(|p| p.name == key.value) else {
        let pos = ck.at(doc, key);
        let known: Vec<_> = specs.iter().map(|p| p.name).collect();
        ck.err(
            &pos,
            &field,
            format!(
                "unknown param `{}` for auth `{auth}`; allowed: {}",
                key.value,
                known.join(", ")
            ),
        );
        return None;
    };
    let pos = ck.at(doc, value);
    // Only credential params hold references (a reference elsewhere is reported, with the
    // other misplaced ones, by the substitution pass).
    let reference = if ps.secret {
        SecretRef::parse(&value.value)
    } else {
        None
    };
    let parsed = match reference {
        Some(Ok(SecretRef::File(path))) => {
            let manifest = &ck.files[doc.file].path;
            Some(ParamValue::Secret(SecretRef::File(
                super::vars::rebase_file(manifest, &path),
            )))
        }
        Some(Ok(r)) => Some(ParamValue::Secret(r)),
        Some(Err(e)) => {
            ck.err(&pos, &field, e.to_string());
            None
        }
        None if ps.secret => {
            ck.secret_spans
                .push((pos.loc.file.clone(), pos.span.clone()));
            ck.err(
                &pos,
                &field,
                format!(
                    "`{}` is a secret and must not be written in a manifest; write a reference: ${{env:NAME}} or ${{file:PATH}}",
                    key.value
                ),
            );
            None
        }
        None => {
            check_literal(ck, &pos, &field, ps, &key.value, &value.value).map(ParamValue::Literal)
        }
    };
    parsed.map(|v| (v, pos))
}

/// Checks a param written as a literal: its pattern, non-empty, its value type.
fn check_literal(
    ck: &mut Checker,
    pos: &Pos,
    field: &str,
    ps: &ParamSpec,
    name: &str,
    value: &str,
) -> Option<String> {
    if let Some(pat) = ps.pattern
        && !pat.matches(value)
    {
        ck.err(
            pos,
            field,
            format!("`{value}` does not match: {}", pat.describe()),
        );
        None
    } else if value.trim().is_empty() {
        ck.err(pos, field, "empty value");
        None
    } else if !ps.value_type.matches(value) {
        ck.err(
            pos,
            field,
            format!(
                "`{value}` is not a valid {name}: {}",
                ps.value_type.describe()
            ),
        );
        None
    } else {
        Some(value.to_owned())
    }
}

/// Reports the auth method's required params that are not written, at the `params:` key (or
/// the `connection:` key when there is no `params`).
fn check_required_params(
    ck: &mut Checker,
    doc: DocRef,
    connection: &Spanned<ConnectionSpec>,
    info: &PlatformInfo,
    written: &[(Spanned<String>, Spanned<String>)],
) {
    let conn = &connection.value;
    let auth = conn.auth.value;
    let specs = info.auth_params(auth);
    let written_names: BTreeSet<&str> = written.iter().map(|(k, _)| k.value.as_str()).collect();
    let missing: Vec<_> = specs
        .iter()
        .filter(|p| p.required && !written_names.contains(p.name))
        .map(|p| p.name)
        .collect();
    if missing.is_empty() {
        return;
    }
    let required: Vec<_> = specs
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    let (path, field): (&[&str], _) = match &conn.params {
        Some(_) => (&["spec", "connection", "params"], "spec.connection.params"),
        None => (&["spec", "connection"], "spec.connection"),
    };
    let pos = ck
        .key_pos(doc, path)
        .unwrap_or_else(|| ck.at(doc, connection));
    ck.err_labeled(
        &pos,
        field,
        format!(
            "missing required param{} {} for auth `{auth}`; required: {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            required.join(", ")
        ),
        format!("missing {}", missing.join(", ")),
    );
}

/// Reports every repetition of a param after its first.
fn check_params_written_once(
    ck: &mut Checker,
    doc: DocRef,
    written: &[(Spanned<String>, Spanned<String>)],
) {
    for (i, (key, _)) in written.iter().enumerate() {
        if written[..i].iter().any(|(k, _)| k.value == key.value) {
            let pos = ck.at(doc, key);
            ck.err(
                &pos,
                &format!("spec.connection.params.{}", key.value),
                "param written twice",
            );
        }
    }
}

/// `credentialsVersion`, 1 when absent; 0 is an error.
fn credentials_version(ck: &mut Checker, doc: DocRef, conn: &ConnectionSpec) -> u32 {
    match &conn.credentials_version {
        None => 1,
        Some(v) if v.value == 0 => {
            let pos = ck.at(doc, v);
            ck.err(
                &pos,
                "spec.connection.credentialsVersion",
                "credentialsVersion starts at 1; raise it to push the credentials again",
            );
            1
        }
        Some(v) => v.value,
    }
}
