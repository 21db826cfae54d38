//! A `Destination` document: its connection, location and attribute rules (each in its own
//! module) and its display name, assembled into a [`DesiredDestination`] when all hold.

use super::attributes::check_attributes;
use super::checker::{Checker, DocRef};
use super::connection::check_connection;
use super::location::check_location;
use crate::manifest::raw::DestinationDoc;
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
    let connection = check_connection(ck, doc, spec, info);
    let location = check_location(ck, doc, spec, info);
    let attributes = check_attributes(ck, doc, spec);
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
        mandatory_attributes: attributes.mandatory,
        deduplication_keys: attributes.deduplication_keys,
        enabled: spec.enabled.unwrap_or(true),
        audiences: Vec::new(),
    })
}
