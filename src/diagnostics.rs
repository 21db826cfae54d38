//! Located problems in manifests and their rendering as source snippets (miette graphical
//! reports). Colour only when asked (a terminal without a non-empty `NO_COLOR`); the plain rendering is
//! stable, so tests snapshot it.

use crate::model::SourceLocation;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Fails validation.
    Error,
    /// Reported; fails validation only with `--strict`.
    Warning,
}

/// One problem found in the manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where the offending value is (file, line, column); `None` for problems with no place in
    /// a file (a missing path).
    pub location: Option<SourceLocation>,
    /// The offending value's byte range in its file, for the snippet.
    pub span: Option<Range<usize>>,
    /// The field path in the document (`spec.connection.params.password`); empty when the
    /// problem is about a whole file or document.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// The snippet's label under the offending value; the field path when `None`.
    pub label: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: ")?;
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// The text of the files problems point into, with secret literals masked, for snippets.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: BTreeMap<PathBuf, Arc<String>>,
}

impl Sources {
    /// Registers a file's text.
    pub fn insert(&mut self, path: PathBuf, text: Arc<String>) {
        self.files.insert(path, text);
    }

    /// Replaces a byte range of a file with `*` so that snippets never show it (a secret
    /// written as a literal). Byte offsets stay valid.
    pub fn mask(&mut self, path: &std::path::Path, range: Range<usize>) {
        if let Some(text) = self.files.get_mut(path) {
            let t = Arc::make_mut(text);
            let end = range.end.min(t.len());
            let start = range.start.min(end);
            // Safety of UTF-8: the masked bytes become ASCII, and the range is snapped outward
            // to character boundaries first.
            let start = (0..=start)
                .rev()
                .find(|&i| t.is_char_boundary(i))
                .unwrap_or(0);
            let end = (end..=t.len())
                .find(|&i| t.is_char_boundary(i))
                .unwrap_or(t.len());
            let masked: String = "*".repeat(end - start);
            t.replace_range(start..end, &masked);
        }
    }

    /// A file's (masked) text.
    pub fn get(&self, path: &std::path::Path) -> Option<&Arc<String>> {
        self.files.get(path)
    }
}

/// Whether this value of `NO_COLOR` allows colour: per no-color.org, colour is off only when
/// the variable is present and not empty.
pub fn color_allowed(no_color: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty())
}

/// Renders problems as miette reports with source snippets, one after the other.
pub fn render(problems: &[Problem], sources: &Sources, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for p in problems {
        let mut diag = MietteDiagnostic::new(if p.field.is_empty() {
            p.message.clone()
        } else {
            format!("{}: {}", p.field, p.message)
        })
        .with_severity(match p.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        });
        let source = p
            .location
            .as_ref()
            .and_then(|loc| sources.get(&loc.file).map(|t| (loc, t)));
        let report = match (source, &p.span) {
            (Some((loc, text)), Some(span)) => {
                diag = diag.with_label(LabeledSpan::new_primary_with_span(
                    Some(label_for(p)),
                    span.clone(),
                ));
                Report::new(diag).with_source_code(
                    NamedSource::new(loc.file.display().to_string(), text.clone())
                        .with_language("yaml"),
                )
            }
            _ => {
                if let Some(loc) = &p.location {
                    diag = diag.with_help(format!("at {loc}"));
                }
                Report::new(diag)
            }
        };
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            out.push_str(&p.to_string());
            out.push('\n');
        }
    }
    out
}

fn label_for(p: &Problem) -> String {
    if let Some(label) = &p.label {
        return label.clone();
    }
    match p.severity {
        Severity::Error if p.field.is_empty() => "here".into(),
        Severity::Error => p.field.clone(),
        Severity::Warning if p.field.is_empty() => "warning here".into(),
        Severity::Warning => p.field.clone(),
    }
}

/// `N error(s)` / `N warning(s)` wording for summaries.
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_must_be_present_and_not_empty() {
        use std::ffi::OsStr;
        assert!(color_allowed(None));
        assert!(color_allowed(Some(OsStr::new(""))));
        assert!(!color_allowed(Some(OsStr::new("1"))));
        assert!(!color_allowed(Some(OsStr::new("0"))));
        assert!(!color_allowed(Some(OsStr::new(" "))));
    }

    #[test]
    fn masking_keeps_offsets_and_hides_text() {
        let mut s = Sources::default();
        s.insert("f".into(), Arc::new("password: hunter2\nx: é\n".into()));
        s.mask(std::path::Path::new("f"), 10..17);
        s.mask(std::path::Path::new("f"), 21..22);
        assert_eq!(
            s.get(std::path::Path::new("f")).unwrap().as_str(),
            "password: *******\nx: **\n"
        );
    }

    #[test]
    fn renders_a_snippet_without_colour() {
        let mut s = Sources::default();
        s.insert("m.yaml".into(), Arc::new("a: 1\nb: 2\n".into()));
        let p = Problem {
            severity: Severity::Error,
            location: Some(SourceLocation {
                file: "m.yaml".into(),
                line: 2,
                column: 4,
            }),
            span: Some(8..9),
            field: "b".into(),
            message: "bad value".into(),
            label: None,
        };
        let out = render(std::slice::from_ref(&p), &s, false);
        assert!(out.contains("b: bad value"), "{out}");
        assert!(out.contains("╰── b"), "{out}");
        let labeled = Problem {
            label: Some("missing `c`".into()),
            ..p
        };
        let out = render(&[labeled], &s, false);
        assert!(out.contains("╰── missing `c`"), "{out}");
        assert!(out.contains("[m.yaml:2:4]"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
    }
}
