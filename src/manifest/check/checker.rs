//! The checker's shared state and position helpers: where a value sits in its file (line,
//! column, byte span), recording problems, and deserializing one YAML document with the
//! library's errors reworded for manifest authors.

use super::super::node::{self, Node};
use super::super::source::{self, SourceFile};
use super::super::{Problem, Severity};
use crate::model::SourceLocation;
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};
use std::ops::Range;
use std::path::PathBuf;

/// A position in a file: line, column and the byte range of the value.
#[derive(Clone, Debug)]
pub(super) struct Pos {
    pub(super) loc: SourceLocation,
    pub(super) span: Range<usize>,
}

/// Which document of which file a value belongs to.
#[derive(Clone, Copy, Debug)]
pub(super) struct DocRef {
    pub(super) file: usize,
    pub(super) line_offset: usize,
}

pub(super) struct Checker {
    pub(super) files: Vec<SourceFile>,
    pub(super) problems: Vec<Problem>,
    pub(super) secret_spans: Vec<(PathBuf, Range<usize>)>,
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        alias_limits: {
            let mut l = serde_saphyr::options::AliasLimits::default();
            l.max_total_replayed_events = 100_000;
            l.max_replay_stack_depth = 16;
            l
        },
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_nodes: 1_000_000,
            max_events: 1_000_000,
            max_documents: 10_000,
            max_total_scalar_bytes: 16 * 1024 * 1024,
        },
    }
}

impl Checker {
    /// A checker with no file read yet.
    pub(super) fn new() -> Checker {
        Checker {
            files: Vec::new(),
            problems: Vec::new(),
            secret_spans: Vec::new(),
        }
    }

    pub(super) fn pos(&self, doc: DocRef, l: &Location) -> Pos {
        let f = &self.files[doc.file];
        let line = l.line() as usize + doc.line_offset;
        let column = (l.column() as usize).max(1);
        let start = f.offset(line, column);
        Pos {
            loc: SourceLocation {
                file: f.path.clone(),
                line,
                column,
            },
            span: f.char_range(start, l.span().len() as usize),
        }
    }

    pub(super) fn at<T>(&self, doc: DocRef, v: &Spanned<T>) -> Pos {
        self.pos(doc, &v.referenced)
    }

    pub(super) fn push(
        &mut self,
        severity: Severity,
        pos: Option<&Pos>,
        field: &str,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            location: pos.map(|p| p.loc.clone()),
            span: pos.map(|p| p.span.clone()),
            field: field.to_owned(),
            message,
            label: None,
        });
    }

    /// An error whose snippet label says what is missing instead of repeating the field path.
    pub(super) fn err_labeled(
        &mut self,
        pos: &Pos,
        field: &str,
        message: impl Into<String>,
        label: String,
    ) {
        self.err(pos, field, message);
        if let Some(p) = self.problems.last_mut() {
            p.label = Some(label);
        }
    }

    /// Where to point for a field missing in the mapping at `owner`: its key (`spec:`); for a
    /// list item, the item's first line; for the document itself, its `kind` key.
    fn owner_pos(&self, doc: DocRef, root: &Spanned<Node>, owner: &[String]) -> Pos {
        if owner.is_empty() {
            return match node::anchor(root, &["kind".to_owned()]) {
                Some(kind) => self.pos(doc, kind),
                None => self.doc_start(doc),
            };
        }
        let Some(l) = node::anchor(root, owner) else {
            return self.doc_start(doc);
        };
        let mut pos = self.pos(doc, l);
        if owner.last().is_some_and(|s| s.starts_with('[')) {
            let f = &self.files[doc.file];
            let line = f.char_range(pos.span.start, usize::MAX);
            let trimmed = f.text[line.clone()].trim_end().len();
            pos.span = line.start..line.start + trimmed.max(1);
        }
        pos
    }

    /// The position of the key naming the value at `path` in a document (`["spec",
    /// "location"]` → the `location:` key), for problems about something missing inside it.
    pub(super) fn key_pos(&self, doc: DocRef, path: &[&str]) -> Option<Pos> {
        let text = source::split_documents(&self.files[doc.file].text)
            .into_iter()
            .find(|c| c.line_offset == doc.line_offset)?
            .text;
        let root = parse_tree(&text)?;
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        node::anchor(&root, &path).map(|l| self.pos(doc, l))
    }

    pub(super) fn err(&mut self, pos: &Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, Some(pos), field, message.into());
    }

    pub(super) fn warn(&mut self, pos: &Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Warning, Some(pos), field, message.into());
    }

    /// Deserializes a document, recording nothing: `None` on any error.
    pub(super) fn parse_quiet<T: DeserializeOwned>(text: &str) -> Option<T> {
        serde_saphyr::from_str_with_options::<T>(text, yaml_options()).ok()
    }

    /// Deserializes a document; on failure records the error with its position and field path.
    pub(super) fn parse<T: DeserializeOwned>(&mut self, doc: DocRef, text: &str) -> Option<T> {
        match serde_saphyr::from_str_with_options::<T>(text, yaml_options()) {
            Ok(v) => Some(v),
            Err(e) => {
                let e = e.without_snippet();
                let location = e.location();
                let mut message = e.to_string();
                let mut field = String::new();
                let mut missing_pos = None;
                let budget = message.starts_with("budget breached")
                    || message.contains("alias")
                    || message.contains("replay");
                if let Some(i) = message.find(" at line ") {
                    message.truncate(i);
                }
                let missing = message.strip_prefix("missing field ").map(|f| f.to_owned());
                if let Some(l) = location.filter(|_| !budget)
                    && let Some(root) = parse_tree(text)
                {
                    let path = if missing.is_some() {
                        // Point at the mapping that should hold the field, not at a sibling.
                        let owner = node::missing_field_owner(&root, l.line(), l.column());
                        missing_pos = Some(self.owner_pos(doc, &root, &owner));
                        owner
                    } else {
                        node::path_at(&root, l.line(), l.column())
                    };
                    field = node::join(&path);
                }
                let text = user_message(&message);
                match (missing, missing_pos) {
                    (Some(what), Some(pos)) => {
                        self.err_labeled(&pos, &field, text, format!("missing {what}"));
                    }
                    _ => {
                        let pos = match location {
                            Some(l) if l.line() > 0 => self.pos(doc, &l),
                            _ => self.doc_start(doc),
                        };
                        self.err(&pos, &field, text);
                    }
                }
                None
            }
        }
    }

    /// Errors recorded so far (a check compares it before and after to know whether it added
    /// any).
    pub(super) fn error_count(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    /// The document's first line of content (after comments and its `---` marker).
    pub(super) fn doc_start(&self, doc: DocRef) -> Pos {
        let f = &self.files[doc.file];
        let skip = f
            .text_from_line(doc.line_offset)
            .lines()
            .take_while(|l| {
                let t = l.trim();
                t.is_empty()
                    || t.starts_with('#')
                    || t.starts_with('%')
                    || (t.starts_with("---") && t[3..].trim_start().is_empty())
                    || (t.starts_with("--- ") && t[4..].trim_start().starts_with('#'))
            })
            .count();
        let line = doc.line_offset + skip + 1;
        let start = f.offset(line, 1);
        Pos {
            loc: SourceLocation {
                file: f.path.clone(),
                line,
                column: 1,
            },
            span: f.char_range(start, 1),
        }
    }
}

/// A document as a schema-less tree with positions (duplicate keys tolerated), for naming
/// field paths and finding keys.
fn parse_tree(text: &str) -> Option<Spanned<Node>> {
    let mut lenient = yaml_options();
    lenient.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::FirstWins;
    serde_saphyr::from_str_with_options::<Spanned<Node>>(text, lenient).ok()
}

/// Rewords the YAML library's messages for manifest authors.
fn user_message(m: &str) -> String {
    if let Some(rest) = m.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`; a key may appear only once in a mapping");
    }
    if m.starts_with("invalid boolean") {
        return "not a boolean; write true or false (yes, no, on and off are not booleans here)"
            .into();
    }
    if let Some(rest) = m.strip_prefix("invalid u32") {
        return format!("not a whole number from 0 to 4294967295{rest}");
    }
    if let Some(rest) = m.strip_prefix("missing field ") {
        return format!("missing required field {rest}");
    }
    if let Some(rest) = m.strip_prefix("alias replay limit exceeded: ") {
        return format!("too many alias expansions ({rest}); manifests need no YAML aliases");
    }
    if let Some(depth) = m
        .strip_prefix("budget breached: Depth { depth: ")
        .and_then(|r| r.strip_suffix(" }"))
    {
        return format!(
            "values are nested too deeply (depth {depth}); manifests need only a few levels"
        );
    }
    if let Some(rest) = m.strip_prefix("budget breached: ") {
        return format!(
            "the document is too large or expands too many aliases (limit: {rest}); manifests need no YAML aliases"
        );
    }
    match m {
        "expected sequence start" => return "expected a list".into(),
        "expected mapping start" => return "expected a mapping of keys to values".into(),
        "expected string scalar" => return "expected a single text value".into(),
        _ => {}
    }
    m.replace("unknown variant ", "unknown value ")
        .replace(", expected one of ", "; allowed: ")
        .replace(", expected ", "; allowed: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_messages_are_reworded() {
        assert_eq!(
            user_message(
                "duplicate mapping key: name, set DuplicateKeyPolicy in Options if acceptable"
            ),
            "duplicate key `name`; a key may appear only once in a mapping"
        );
        assert_eq!(
            user_message("unknown variant `X`, expected one of A, B"),
            "unknown value `X`; allowed: A, B"
        );
        assert_eq!(
            user_message("budget breached: Depth { depth: 65 }"),
            "values are nested too deeply (depth 65); manifests need only a few levels"
        );
        assert_eq!(
            user_message("missing field `spec`"),
            "missing required field `spec`"
        );
    }
}
