//! Location rules of a `Destination`: the location mode is one the platform accepts, and the
//! params written are the mode's, well formed, with the required ones present.

use super::checker::{Checker, DocRef};
use crate::catalog::PlatformInfo;
use crate::manifest::raw::{DestinationSpec, LocationSpec};
use crate::model::DesiredLocation;
use std::collections::BTreeMap;

/// Checks `spec.location`; returns what it holds (partial when something is wrong: the caller
/// counts the errors).
pub(super) fn check_location(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    info: &PlatformInfo,
) -> DesiredLocation {
    let loc = &spec.location.value;
    let mode = loc.mode.value;
    let mut params = BTreeMap::new();
    if info.location_modes.contains(&mode) {
        params = check_params(ck, doc, loc);
        check_required_params(ck, doc, spec);
    } else {
        let pos = ck.at(doc, &loc.mode);
        let allowed: Vec<_> = info.location_modes.iter().map(|m| m.as_str()).collect();
        ck.err(
            &pos,
            "spec.location.mode",
            format!(
                "location mode {mode} is not accepted by platform {}; allowed: {}",
                info.platform,
                allowed.join(", ")
            ),
        );
    }
    DesiredLocation {
        mode,
        params,
        include_file_manifest: loc.include_file_manifest,
    }
}

/// Checks each location param written: one the mode takes, matching its pattern.
fn check_params(ck: &mut Checker, doc: DocRef, loc: &LocationSpec) -> BTreeMap<String, String> {
    let mode = loc.mode.value;
    let specs = mode.params();
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
                    "`{pname}` does not apply to location mode {mode}; {mode} takes: {}",
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

/// Reports the mode's required params that are not written, at the `location:` key.
fn check_required_params(ck: &mut Checker, doc: DocRef, spec: &DestinationSpec) {
    let loc = &spec.location.value;
    let mode = loc.mode.value;
    let specs = mode.params();
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
            "location mode {mode} needs {}; {mode} takes: {}",
            missing.join(", "),
            takes.join(", ")
        ),
        format!("missing {}", missing.join(", ")),
    );
}
