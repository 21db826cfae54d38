//! A `Destination` document: its connection, location and attribute rules (each in its own
//! module) and its display name, assembled into a [`DesiredDestination`] when all hold.

use super::attributes::{check_attributes, check_columns};
use super::checker::{Checker, DocRef};
use super::connection::check_connection;
use super::location::check_location;
use crate::catalog::Card;
use crate::manifest::raw::{DestinationDoc, DestinationSpec};
use crate::model::{DesiredDestination, ResourceName};

/// Checks one `Destination`; returns it when it has no error and its name is valid.
pub(super) fn check_destination(
    ck: &mut Checker,
    doc: DocRef,
    d: &DestinationDoc,
    name: Option<&ResourceName>,
) -> Option<DesiredDestination> {
    let errors_before = ck.error_count();
    let spec = &d.spec.value;
    let platform = spec.platform.value;
    let info = platform.info();
    if let Some(current) = info.replaced_by {
        let pos = ck.at(doc, &spec.platform);
        ck.warn(
            &pos,
            "spec.platform",
            format!(
                "AEP retired the {} card (its flows were migrated to the current card by 2023-07-26); use platform {} instead",
                info.display_name, current
            ),
        );
    }
    let mut connection = check_connection(ck, doc, spec, info);
    let checked = check_location(ck, doc, spec, info);
    if let Some((key, loc)) = checked.encryption_key {
        connection.locations.insert("publicKey".into(), loc);
        connection.encryption_key = Some(key);
    }
    let location = checked.location;
    let attributes = check_attributes(ck, doc, spec);
    let identity_deduplication_keys = check_identity_keys(ck, doc, spec, info.card);
    let columns = check_columns(ck, doc, spec, info.card);
    let display_name = match &spec.display_name {
        Some(n) if n.value.trim().is_empty() => {
            let pos = ck.at(doc, n);
            ck.err(
                &pos,
                "spec.displayName",
                "displayName is empty; omit it to use metadata.name",
            );
            None
        }
        Some(n) => Some(n.value.clone()),
        None => name.map(|n| n.as_str().to_owned()),
    };
    if ck.error_count() > errors_before {
        return None;
    }
    Some(DesiredDestination {
        name: name?.clone(),
        former_names: Vec::new(),
        source: ck.doc_start(doc).loc,
        display_name: display_name?,
        description: spec.description.clone(),
        platform,
        connection,
        location,
        attributes: attributes.exported,
        columns,
        mandatory_attributes: attributes.mandatory,
        deduplication_keys: attributes.deduplication_keys,
        identity_deduplication_keys,
        enabled: spec.enabled.unwrap_or(true),
        audiences: Vec::new(),
    })
}

/// `spec.identityDeduplicationKeys`: identity namespaces (letters, digits, `_`, `-`), each
/// once, on current cards only (legacy flows deduplicate by attribute).
fn check_identity_keys(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    card: Card,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, k) in spec.identity_deduplication_keys.iter().enumerate() {
        let field = format!("spec.identityDeduplicationKeys[{i}]");
        let pos = ck.at(doc, k);
        let v = &k.value;
        if card == Card::Legacy {
            ck.err(
                &pos,
                &field,
                format!(
                    "identity deduplication keys apply to the current cloud storage cards only; platform {} deduplicates by attribute (deduplicationKeys)",
                    spec.platform.value
                ),
            );
        } else if v.is_empty()
            || !v
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            ck.err(
                &pos,
                &field,
                format!("`{v}` is not an identity namespace: use letters, digits, '_' and '-', e.g. ECID"),
            );
        } else if out.contains(v) {
            ck.err(&pos, &field, format!("`{v}` is listed twice"));
        } else {
            out.push(v.clone());
        }
    }
    out
}
