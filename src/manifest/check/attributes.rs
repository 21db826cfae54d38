//! Attribute rules of a `Destination`: every path is a valid XDM path listed once, the
//! guardrail on the number of attributes, and `mandatoryAttributes`/`deduplicationKeys` name
//! exported attributes only.

use super::checker::{Checker, DocRef};
use crate::catalog::MAX_ATTRIBUTES_PER_FLOW;
use crate::manifest::raw::DestinationSpec;
use crate::model::AttributePath;
use serde_saphyr::Spanned;

/// The attribute lists of a destination, as checked.
pub(super) struct Attributes {
    /// `attributes`, in the order written.
    pub(super) exported: Vec<AttributePath>,
    /// `mandatoryAttributes`.
    pub(super) mandatory: Vec<AttributePath>,
    /// `deduplicationKeys`.
    pub(super) deduplication_keys: Vec<AttributePath>,
}

/// Checks `spec.attributes`, `spec.mandatoryAttributes` and `spec.deduplicationKeys`.
pub(super) fn check_attributes(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
) -> Attributes {
    let exported = check_exported(ck, doc, spec);
    let mandatory = check_subset(
        ck,
        doc,
        &exported,
        &spec.mandatory_attributes,
        "mandatoryAttributes",
    );
    let deduplication_keys = check_subset(
        ck,
        doc,
        &exported,
        &spec.deduplication_keys,
        "deduplicationKeys",
    );
    Attributes {
        exported,
        mandatory,
        deduplication_keys,
    }
}

/// `spec.attributes`: valid paths, each once; more than the guardrail is a warning.
fn check_exported(ck: &mut Checker, doc: DocRef, spec: &DestinationSpec) -> Vec<AttributePath> {
    let mut attributes = Vec::new();
    let Some(list) = &spec.attributes else {
        return attributes;
    };
    if list.value.len() > MAX_ATTRIBUTES_PER_FLOW {
        let pos = ck.at(doc, list);
        ck.warn(
            &pos,
            "spec.attributes",
            format!(
                "{} attributes; more than {MAX_ATTRIBUTES_PER_FLOW} per dataflow is above Adobe's guardrail",
                list.value.len()
            ),
        );
    }
    for (i, a) in list.value.iter().enumerate() {
        let field = format!("spec.attributes[{i}]");
        let pos = ck.at(doc, a);
        match AttributePath::parse(&a.value) {
            Err(e) => ck.err(&pos, &field, e.to_string()),
            Ok(p) if attributes.contains(&p) => {
                ck.err(&pos, &field, format!("`{p}` is listed twice"))
            }
            Ok(p) => attributes.push(p),
        }
    }
    attributes
}

/// A list of `what` (`mandatoryAttributes`, …) whose paths must be among `exported`, each once.
fn check_subset(
    ck: &mut Checker,
    doc: DocRef,
    exported: &[AttributePath],
    list: &[Spanned<String>],
    what: &str,
) -> Vec<AttributePath> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let field = format!("spec.{what}[{i}]");
        let pos = ck.at(doc, a);
        match AttributePath::parse(&a.value) {
            Err(e) => ck.err(&pos, &field, e.to_string()),
            Ok(p) if !exported.contains(&p) => ck.err(
                &pos,
                &field,
                format!(
                    "`{p}` is not among `attributes`; {what} must be exported attributes (allowed: {})",
                    if exported.is_empty() {
                        "none listed".to_owned()
                    } else {
                        exported.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                    }
                ),
            ),
            Ok(p) if out.contains(&p) => ck.err(&pos, &field, format!("`{p}` is listed twice")),
            Ok(p) => out.push(p),
        }
    }
    out
}
