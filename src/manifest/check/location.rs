//! Location rules of a `Destination`. Legacy cards: the location mode is one the platform
//! accepts, and the params written are the mode's, well formed, with the required ones
//! present. Current cards: the mode is `Server-to-server` (the default), the params are the
//! card's own location fields, and the file options (`fileType`, `compression`, `csvOptions`,
//! `encryption`) apply — `csvOptions` only to CSV, encryption (a `${file:}` reference to a
//! PGP public key) only on cards that take it.

use super::checker::{Checker, DocRef};
use crate::catalog::{Card, Compression, FileType, LocationMode, ParamSpec, PlatformInfo};
use crate::manifest::raw::{DestinationSpec, LocationSpec};
use crate::model::{DesiredLocation, FileOptions, SecretRef, SourceLocation};
use std::collections::BTreeMap;

/// What `spec.location` holds: the location, and the encryption key with where it was written.
pub(super) struct CheckedLocation {
    /// The target connection's location.
    pub(super) location: DesiredLocation,
    /// The PGP public key reference and its position.
    pub(super) encryption_key: Option<(SecretRef, SourceLocation)>,
}

/// Checks `spec.location`; returns what it holds (partial when something is wrong: the caller
/// counts the errors).
pub(super) fn check_location(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    info: &PlatformInfo,
) -> CheckedLocation {
    let loc = &spec.location.value;
    match info.card {
        Card::Legacy => CheckedLocation {
            location: check_legacy(ck, doc, spec, info),
            encryption_key: None,
        },
        Card::Current => check_current(ck, doc, spec, info),
    }
    .with_manifest_flag(loc.include_file_manifest)
}

impl CheckedLocation {
    fn with_manifest_flag(mut self, flag: Option<bool>) -> CheckedLocation {
        self.location.include_file_manifest = flag;
        self
    }
}

fn check_legacy(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    info: &PlatformInfo,
) -> DesiredLocation {
    let loc = &spec.location.value;
    let allowed: Vec<_> = info.location_modes.iter().map(|m| m.as_str()).collect();
    let mut params = BTreeMap::new();
    let mode = match &loc.mode {
        None => {
            let pos = ck
                .key_pos(doc, &["spec", "location"])
                .unwrap_or_else(|| ck.at(doc, &spec.location));
            ck.err_labeled(
                &pos,
                "spec.location.mode",
                format!(
                    "location mode is required for platform {}; allowed: {}",
                    info.platform,
                    allowed.join(", ")
                ),
                "missing mode".to_owned(),
            );
            info.location_modes[0]
        }
        Some(m) if info.location_modes.contains(&m.value) => {
            let specs = info.location_params(m.value);
            params = check_params(ck, doc, loc, specs, &format!("location mode {}", m.value));
            check_required_params(ck, doc, spec, specs, &format!("location mode {}", m.value));
            m.value
        }
        Some(m) => {
            let pos = ck.at(doc, m);
            ck.err(
                &pos,
                "spec.location.mode",
                format!(
                    "location mode {} is not accepted by platform {}; allowed: {}",
                    m.value,
                    info.platform,
                    allowed.join(", ")
                ),
            );
            m.value
        }
    };
    let current_only = [
        ("fileType", loc.file_type.as_ref().map(|v| ck.at(doc, v))),
        (
            "compression",
            loc.compression.as_ref().map(|v| ck.at(doc, v)),
        ),
        (
            "csvOptions",
            loc.csv_options.as_ref().map(|v| ck.at(doc, v)),
        ),
        ("encryption", loc.encryption.as_ref().map(|v| ck.at(doc, v))),
    ];
    for (name, pos) in current_only {
        if let Some(pos) = pos {
            ck.err(
                &pos,
                &format!("spec.location.{name}"),
                format!(
                    "`{name}` applies to the current cloud storage cards only; platform {} exports CSV files without it",
                    info.platform
                ),
            );
        }
    }
    DesiredLocation {
        mode,
        params,
        include_file_manifest: None,
        files: None,
    }
}

fn check_current(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    info: &PlatformInfo,
) -> CheckedLocation {
    let loc = &spec.location.value;
    if let Some(m) = loc
        .mode
        .as_ref()
        .filter(|m| m.value != LocationMode::ServerToServer)
    {
        let pos = ck.at(doc, m);
        let hint = info
            .platform
            .retired_predecessor()
            .filter(|old| old.info().location_modes.contains(&m.value))
            .map(|old| format!("; mode {} is the retired card's: platform {old}", m.value))
            .unwrap_or_default();
        ck.err(
            &pos,
            "spec.location.mode",
            format!(
                "location mode {} is not accepted by platform {}; allowed: {} (the default: omit mode){hint}",
                m.value,
                info.platform,
                LocationMode::ServerToServer
            ),
        );
    }
    let what = format!("platform {}", info.platform);
    let specs = info.location_params(LocationMode::ServerToServer);
    let params = check_params(ck, doc, loc, specs, &what);
    check_required_params(ck, doc, spec, specs, &what);
    let file_type = loc.file_type.as_ref().map_or(FileType::Csv, |f| f.value);
    if let Some(csv) = &loc.csv_options
        && file_type != FileType::Csv
    {
        let pos = ck.at(doc, csv);
        ck.err(
            &pos,
            "spec.location.csvOptions",
            format!("csvOptions apply to fileType CSV only; this location writes {file_type}"),
        );
    }
    let mut encryption_key = None;
    if let Some(enc) = &loc.encryption {
        let key = &enc.value.public_key;
        let pos = ck.at(doc, key);
        if !info.encryption {
            let pos = ck.at(doc, enc);
            ck.err(
                &pos,
                "spec.location.encryption",
                format!(
                    "platform {} does not encrypt files; remove encryption",
                    info.platform
                ),
            );
        } else {
            match SecretRef::parse(&key.value) {
                Some(Ok(SecretRef::File(path))) => {
                    // Relative: from the manifest's directory, as credential files.
                    let manifest = &ck.files[doc.file].path;
                    let path = super::vars::rebase_file(manifest, &path);
                    encryption_key = Some((SecretRef::File(path), pos.loc));
                }
                Some(Err(e)) => ck.err(&pos, "spec.location.encryption.publicKey", e.to_string()),
                _ => ck.err(
                    &pos,
                    "spec.location.encryption.publicKey",
                    "write the PGP public key as a file reference: ${file:PATH}",
                ),
            }
        }
    }
    CheckedLocation {
        location: DesiredLocation {
            mode: LocationMode::ServerToServer,
            params,
            include_file_manifest: None,
            files: Some(FileOptions {
                file_type,
                compression: loc
                    .compression
                    .as_ref()
                    .map_or(Compression::None, |c| c.value),
                csv_options: loc
                    .csv_options
                    .as_ref()
                    .map(|c| c.value)
                    .unwrap_or_default(),
            }),
        },
        encryption_key,
    }
}

/// Checks each location param written: one of `specs`, matching its pattern; `what` names
/// the mode or platform in messages.
fn check_params(
    ck: &mut Checker,
    doc: DocRef,
    loc: &LocationSpec,
    specs: &[ParamSpec],
    what: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (pname, value) in loc.params() {
        let Some(value) = value else { continue };
        let field = format!("spec.location.{pname}");
        let pos = ck.at(doc, value);
        let Some(ps) = specs.iter().find(|p| p.name == pname) else {
            let takes: Vec<_> = specs.iter().map(|p| p.name).collect();
            ck.err(
                &pos,
                &field,
                format!(
                    "`{pname}` does not apply to {what}; {what} takes: {}",
                    takes.join(", ")
                ),
            );
            continue;
        };
        if let Some(pat) = ps.pattern
            && !pat.matches(&value.value)
        {
            ck.err(
                &pos,
                &field,
                format!(
                    "`{}` is not a valid {pname}: {}",
                    value.value,
                    pat.describe()
                ),
            );
            continue;
        }
        out.insert(pname.to_owned(), value.value.clone());
    }
    out
}

/// Reports the required params of `specs` that are not written, at the `location:` key.
fn check_required_params(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    specs: &[ParamSpec],
    what: &str,
) {
    let loc = &spec.location.value;
    let missing: Vec<_> = specs
        .iter()
        .filter(|p| {
            p.required
                && loc
                    .params()
                    .iter()
                    .all(|(n, v)| *n != p.name || v.is_none())
        })
        .map(|p| p.name)
        .collect();
    if missing.is_empty() {
        return;
    }
    let takes: Vec<_> = specs.iter().map(|p| p.name).collect();
    let pos = ck
        .key_pos(doc, &["spec", "location"])
        .unwrap_or_else(|| ck.at(doc, &spec.location));
    ck.err_labeled(
        &pos,
        "spec.location",
        format!(
            "{what} needs {}; {what} takes: {}",
            missing.join(", "),
            takes.join(", ")
        ),
        format!("missing {}", missing.join(", ")),
    );
}
