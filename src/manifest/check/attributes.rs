//! Attribute rules of a `Destination`: every path is a valid XDM path listed once, the
//! guardrail on the number of attributes, and `mandatoryAttributes`/`deduplicationKeys` name
//! exported attributes only.

use super::checker::{Checker, DocRef};
use crate::catalog::Card;
use crate::catalog::MAX_ATTRIBUTES_PER_FLOW;
use crate::manifest::raw::DestinationSpec;
use crate::model::{AttributePath, ColumnSource, ExportedColumn};
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
        match AttributePath::parse(&a.value.path) {
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

/// Whether `c` can be a column header: non-empty, letters, digits, `_` and `-` (no `.`, which
/// the Data Prep API refuses in a mapping's destination).
fn valid_column(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 128
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The exported columns of a current card (its mapping set): every attribute with its column
/// (named, or the path with `.` written `_`), then `spec.identities`. Columns are distinct;
/// at most one identity is exported (ASFB). On legacy cards a named column or an exported
/// identity is an error, and no column is returned (they export profile selectors).
pub(super) fn check_columns(
    ck: &mut Checker,
    doc: DocRef,
    spec: &DestinationSpec,
    card: Card,
) -> Vec<ExportedColumn> {
    let mut out: Vec<ExportedColumn> = Vec::new();
    let legacy = |what: &str| {
        format!(
            "{what} need a current card (its columns are a Data Prep mapping set); platform {} exports attributes by path",
            spec.platform.value
        )
    };
    let mut push = |ck: &mut Checker, pos, field: &str, col: ExportedColumn| {
        if !valid_column(&col.column) {
            ck.err(
                &pos,
                field,
                format!(
                    "`{}` is not a column name: use letters, digits, '_' and '-' (no '.')",
                    col.column
                ),
            );
        } else if out.iter().any(|c| c.column == col.column) {
            ck.err(
                &pos,
                field,
                format!("column `{}` is exported twice", col.column),
            );
        } else if !out.iter().any(|c| c.source == col.source) {
            out.push(col);
        }
    };
    if let Some(list) = &spec.attributes {
        for (i, a) in list.value.iter().enumerate() {
            let field = format!("spec.attributes[{i}].column");
            let pos = ck.at(doc, a);
            if card == Card::Legacy {
                if a.value.column.is_some() {
                    ck.err(&pos, &field, legacy("named columns"));
                }
                continue;
            }
            let Ok(path) = AttributePath::parse(&a.value.path) else {
                continue;
            };
            let column = a
                .value
                .column
                .clone()
                .unwrap_or_else(|| ExportedColumn::default_column(&path));
            push(
                ck,
                pos,
                &field,
                ExportedColumn {
                    source: ColumnSource::Attribute(path),
                    column,
                },
            );
        }
    }
    for (i, id) in spec.identities.iter().enumerate() {
        let field = format!("spec.identities[{i}]");
        let pos = ck.at(doc, id);
        let ns = &id.value.namespace;
        if card == Card::Legacy {
            ck.err(&pos, &field, legacy("exported identities"));
            continue;
        }
        if i > 0 {
            ck.err(
                &pos,
                &field,
                "a dataflow exports at most one identity (Adobe's rule); list one namespace",
            );
            continue;
        }
        if ns.is_empty()
            || !ns
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.')
        {
            ck.err(
                &pos,
                &format!("{field}.namespace"),
                format!("`{ns}` is not an identity namespace: use letters, digits, '_', '-' and '.', e.g. Email"),
            );
            continue;
        }
        let column = id
            .value
            .column
            .clone()
            .unwrap_or_else(|| ns.replace('.', "_"));
        push(
            ck,
            pos,
            &format!("{field}.column"),
            ExportedColumn {
                source: ColumnSource::Identity(ns.clone()),
                column,
            },
        );
    }
    out
}
