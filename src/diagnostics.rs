//! Located problems in manifests and their rendering as source snippets (miette graphical
//! reports). Colour only when asked (a terminal without a non-empty `NO_COLOR`); the plain rendering is
//! stable, so tests snapshot it.
//!
//! A snippet shows at most [`MAX_SNIPPET_CHARS`] characters of a line (a window around the
//! problem's column, cut ends marked `…`), and its text, message and label go through
//! [`escape_controls`], so that neither a huge line nor an escape sequence in a manifest
//! reaches the terminal as is.

use crate::model::SourceLocation;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, NamedSource, Report, SourceCode, SourceSpan, SpanContents,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
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

/// Most characters of one source line shown in a snippet.
pub(crate) const MAX_SNIPPET_CHARS: usize = 200;

/// Characters shown before the problem's column when a long line is cut.
const CHARS_BEFORE_COLUMN: usize = 80;

/// Lines of a multi-line value shown at most.
const MAX_SPAN_LINES: usize = 10;

/// Whether `c` is escaped by [`escape_controls`]: control characters (C0, DEL, C1) and the
/// bidirectional overrides that reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// A string from a manifest or a server made safe to show on a terminal: control characters
/// (ESC, BEL, newlines, C1) and bidirectional overrides become visible escapes (`\u{1b}`,
/// `\n`), so that no escape sequence reaches the terminal. Borrowed when nothing needs it.
/// The one escaping function of every renderer (re-exported as `render::escape_controls`).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`escape_controls`] for text whose line breaks are meant (messages, rendered documents):
/// each line escaped, the `\n` between them kept.
pub fn escape_lines(s: &str) -> String {
    s.split('\n')
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of a file around a problem, cut to a window of [`MAX_SNIPPET_CHARS`] characters
/// and escaped; miette renders it with the original line numbers and column.
struct Excerpt {
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// Bytes before the problem on its line, in the file and in `text`.
    column: (usize, usize),
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        let column = if context_lines_before == 0 && inner.column() == self.column.1 {
            self.column.0
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

/// One line cut to the character window `[start, end)` and escaped (tabs kept: miette expands
/// them); `targets` (byte offsets in the line) come back as byte offsets in the result,
/// clamped to the window.
fn excerpt_line(line: &str, window: (usize, usize), targets: [usize; 2]) -> (String, [usize; 2]) {
    let (start, end) = window;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut mapped = [None, None];
    let mut cut_back = false;
    for (ci, (bi, c)) in line.char_indices().enumerate() {
        if ci >= end {
            cut_back = true;
            break;
        }
        for (t, m) in targets.iter().zip(mapped.iter_mut()) {
            if m.is_none() && bi >= *t {
                *m = Some(out.len());
            }
        }
        if ci < start {
            continue;
        }
        if c == '\t' || c == '\r' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    let len = out.len();
    if cut_back {
        out.push('…');
    }
    (out, mapped.map(|m| m.unwrap_or(len)))
}

/// The excerpt of `text` for a problem at `span`, with the span's place in it.
fn excerpt(text: &str, span: &Range<usize>) -> (Excerpt, Range<usize>) {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let first_of_span = line_start(start);
    let line_no = text[..first_of_span].matches('\n').count();
    let from = if first_of_span == 0 {
        0
    } else {
        line_start(first_of_span - 1)
    };
    let column_chars = text[first_of_span..start].chars().count();
    let window_start = column_chars.saturating_sub(CHARS_BEFORE_COLUMN);
    let mut out = String::new();
    let mut new_span = (0, 0);
    let mut new_column = 0;
    let mut pos = from;
    let mut span_lines = 0;
    let mut end_reached = false;
    for line in text[from..].split_inclusive('\n') {
        let ending = if line.ends_with("\r\n") {
            "\r\n"
        } else if line.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        let body = &line[..line.len() - ending.len()];
        let chars = body.chars().count();
        let window = if chars <= MAX_SNIPPET_CHARS {
            (0, chars)
        } else {
            let s = window_start.min(chars - MAX_SNIPPET_CHARS);
            (s, s + MAX_SNIPPET_CHARS)
        };
        let rel = |at: usize| at.saturating_sub(pos).min(body.len());
        let (cut, [s, e]) = excerpt_line(body, window, [rel(start), rel(end)]);
        let base = out.len();
        let context_after = end_reached;
        if pos == first_of_span {
            new_span.0 = base + s;
            new_column = s;
        }
        if pos >= first_of_span && !end_reached {
            // A span running past this line's text takes its line break too.
            new_span.1 = if end > pos + body.len() {
                base + cut.len() + (end - pos - body.len()).min(ending.len())
            } else {
                base + e
            };
            span_lines += 1;
            end_reached = end <= pos + body.len() || span_lines >= MAX_SPAN_LINES;
        }
        out.push_str(&cut);
        out.push_str(ending);
        pos += line.len();
        if context_after {
            break;
        }
    }
    if first_of_span >= pos {
        // The span starts on the empty line after the file's last line break.
        new_span = (out.len(), out.len());
        new_column = 0;
    }
    let new_span = new_span.0..new_span.1.max(new_span.0);
    (
        Excerpt {
            text: out,
            first_line: line_no.saturating_sub(usize::from(from < first_of_span)),
            column: (start - first_of_span, new_column),
        },
        new_span,
    )
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
        let mut diag = MietteDiagnostic::new(escape_lines(&if p.field.is_empty() {
            p.message.clone()
        } else {
            format!("{}: {}", p.field, p.message)
        }))
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
                let (excerpt, span) = excerpt(text, span);
                diag = diag.with_label(LabeledSpan::new_primary_with_span(
                    Some(escape_lines(&label_for(p))),
                    span,
                ));
                Report::new(diag).with_source_code(
                    NamedSource::new(escape_controls(&loc.file.display().to_string()), excerpt)
                        .with_language("yaml"),
                )
            }
            _ => {
                if let Some(loc) = &p.location {
                    diag = diag.with_help(escape_lines(&format!("at {loc}")));
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

    fn problem(line: usize, column: usize, span: Range<usize>) -> Problem {
        Problem {
            severity: Severity::Error,
            location: Some(SourceLocation {
                file: "m.yaml".into(),
                line,
                column,
            }),
            span: Some(span),
            field: "b".into(),
            message: "bad \u{1b}]0;owned\u{7} value".into(),
            label: None,
        }
    }

    #[test]
    fn escapes_control_characters_and_bidi_overrides() {
        assert_eq!(escape_controls("plain é"), "plain é");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\u{1b}[31mb\u{7}\n\u{9b}\u{202e}"),
            "a\\u{1b}[31mb\\u{7}\\n\\u{9b}\\u{202e}"
        );
        assert_eq!(escape_lines("x\u{1b}\ny"), "x\\u{1b}\ny");
    }

    #[test]
    fn long_lines_are_cut_around_the_column_and_keep_their_position() {
        let long = format!("a: 1\nb: {}X{}\nc: 3\n", "y".repeat(5000), "z".repeat(5000));
        let at = long.find('X').unwrap();
        let mut s = Sources::default();
        s.insert("m.yaml".into(), Arc::new(long.clone()));
        let out = render(&[problem(2, at - 4, at..at + 1)], &s, false);
        assert!(out.len() < 2000, "{} bytes:\n{out}", out.len());
        assert!(out.contains(&format!("[m.yaml:2:{}]", at - 4)), "{out}");
        let shown = out.lines().find(|l| l.contains(" 2 │")).unwrap();
        assert!(shown.contains("…") && shown.contains('X'), "{shown}");
        assert!(shown.chars().count() < MAX_SNIPPET_CHARS + 20, "{shown}");
        assert!(
            out.contains(" 1 │ a: 1") && out.contains(" 3 │ c: 3"),
            "{out}"
        );
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("bad \\u{1b}]0;owned\\u{7} value"), "{out}");
    }

    #[test]
    fn control_characters_in_the_source_are_escaped_in_the_snippet() {
        let text = "a: 1\nb: \"\u{1b}[2Jx\"\n";
        let mut s = Sources::default();
        s.insert("m.yaml".into(), Arc::new(text.into()));
        let out = render(&[problem(2, 4, 8..9)], &s, false);
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("\\u{1b}[2Jx"), "{out}");
        assert!(out.contains("[m.yaml:2:4]"), "{out}");
    }

    fn plain_miette(text: &str, span: Range<usize>) -> String {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
            .with_context_lines(1);
        let diag = MietteDiagnostic::new("b: bad")
            .with_severity(miette::Severity::Error)
            .with_label(LabeledSpan::new_primary_with_span(Some("b".into()), span));
        let report =
            Report::new(diag).with_source_code(NamedSource::new("m.yaml", text.to_owned()));
        let mut expected = String::new();
        handler
            .render_report(&mut expected, report.as_ref())
            .unwrap();
        expected
    }

    #[test]
    fn short_snippets_render_as_the_whole_file_would_at_every_position() {
        for text in [
            "a: 1\nb: 2\nc: 3\nd: 4\n",
            "a: 1\nb: 2",
            "a: 1\r\nb: 2\r\nc: 3\r\n",
            "x",
        ] {
            // Every position but the middle of a `\r\n` (no parser points there).
            let inside_crlf = |i: usize| i > 0 && text.as_bytes()[i - 1] == b'\r';
            for start in (0..=text.len()).filter(|&i| !inside_crlf(i)) {
                for end in (start..=text.len().min(start + 7)).filter(|&i| !inside_crlf(i)) {
                    let mut s = Sources::default();
                    s.insert("m.yaml".into(), Arc::new(text.into()));
                    let p = Problem {
                        message: "bad".into(),
                        ..problem(1, 1, start..end)
                    };
                    let out = render(std::slice::from_ref(&p), &s, false);
                    assert_eq!(
                        out,
                        plain_miette(text, start..end),
                        "{text:?} {start}..{end}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_snippets_render_as_the_whole_file_would() {
        let text = "a: 1\nb: 2\nc: 3\nd: 4\n";
        let mut s = Sources::default();
        s.insert("m.yaml".into(), Arc::new(text.into()));
        let p = Problem {
            message: "bad".into(),
            ..problem(3, 4, 13..14)
        };
        let out = render(std::slice::from_ref(&p), &s, false);
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
            .with_context_lines(1);
        let diag = MietteDiagnostic::new("b: bad")
            .with_severity(miette::Severity::Error)
            .with_label(LabeledSpan::new_primary_with_span(Some("b".into()), 13..14));
        let report =
            Report::new(diag).with_source_code(NamedSource::new("m.yaml", text.to_owned()));
        let mut expected = String::new();
        handler
            .render_report(&mut expected, report.as_ref())
            .unwrap();
        assert_eq!(out, expected);
    }
}
