//! Manifest files: finding them, reading them, splitting them into YAML documents, and turning
//! parser locations into file positions.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest manifest file read (a guard against mistakes, not a format limit).
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One manifest file's text, with a line index.
#[derive(Clone, Debug)]
pub(crate) struct SourceFile {
    /// The path as given on the command line or found in a directory.
    pub path: PathBuf,
    /// The text.
    pub text: Arc<String>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A file with this text.
    pub(crate) fn new(path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            text: Arc::new(text),
            line_starts,
        }
    }

    /// Byte offset of a 1-based line and 1-based character column (clamped to the text).
    pub(crate) fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
        start
            + line_text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(line_text.len(), |(i, _)| i)
    }

    /// The byte range of `chars` characters starting at byte `start` (at least one character
    /// when the text has one there; never past the end of the line).
    pub(crate) fn char_range(&self, start: usize, chars: usize) -> Range<usize> {
        let rest = &self.text[start.min(self.text.len())..];
        let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let len = line
            .char_indices()
            .nth(chars.max(1))
            .map_or(line.len(), |(i, _)| i);
        start..start + len
    }
}

/// One YAML document of a file.
#[derive(Clone, Debug)]
pub(crate) struct Chunk {
    /// The document's text (from its `---` line, if any, up to the next one).
    pub text: String,
    /// Lines of the file before the chunk.
    pub line_offset: usize,
}

/// Splits a YAML stream into documents at `---` lines. A line starting with `---` followed by
/// nothing or whitespace is always a document marker in YAML, even inside a block scalar, so
/// textual splitting agrees with the parser. Each document is then parsed on its own, so an
/// error in one does not hide the others. Documents holding only comments are dropped.
pub(crate) fn split_documents(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut pos = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let is_marker = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']));
        if is_marker && pos > start {
            chunks.push(Chunk {
                text: text[start..pos].to_owned(),
                line_offset: start_line,
            });
            start = pos;
            start_line = line_no;
        }
        pos += line.len();
    }
    if pos > start {
        chunks.push(Chunk {
            text: text[start..].to_owned(),
            line_offset: start_line,
        });
    }
    chunks.retain(|c| has_content(&c.text));
    chunks
}

fn has_content(doc: &str) -> bool {
    doc.lines().any(|l| {
        let t = l.trim();
        let t = t
            .strip_prefix("---")
            .map_or(t, str::trim_start)
            .trim_end_matches("...");
        !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
    })
}

/// The manifest files under `paths`: files as given, directories read recursively for
/// `*.yaml` / `*.yml` in sorted order. Missing paths and unreadable directories are returned
/// as problems `(path, message)`.
pub(crate) fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, &mut files, &mut problems),
            Ok(_) => files.push(path.clone()),
            Err(e) => problems.push((path.clone(), format!("cannot read {}: {e}", path.display()))),
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    (files, problems)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<(PathBuf, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push((
                dir.to_owned(),
                format!("cannot read {}: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, files, problems);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(p);
        }
    }
}

/// Reads one manifest file (UTF-8, at most [`MAX_FILE_BYTES`]).
pub(crate) fn read(path: &Path) -> Result<SourceFile, ReadError> {
    let io = |error| ReadError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            len: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8(path.to_owned()))?;
    Ok(SourceFile::new(path.to_owned(), text))
}

/// A manifest file that cannot be read as text. Its message becomes a problem of `validate`,
/// so it holds the OS error's text itself rather than as a source.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The OS refused.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// Larger than `MAX_FILE_BYTES`.
    #[error("{} is {len} bytes; manifest files are at most {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
    },
    /// Not UTF-8.
    #[error("{} is not UTF-8 text", .0.display())]
    NotUtf8(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_keeps_line_offsets() {
        let text = "# head\na: 1\n---\nb: 2\n--- # c\n# only a comment\n---\nc: |\n  x\n";
        let chunks = split_documents(text);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].line_offset, 0);
        assert_eq!(chunks[1].line_offset, 2);
        assert_eq!(chunks[1].text, "---\nb: 2\n");
        assert_eq!(chunks[2].line_offset, 6);
        assert!(split_documents("---\n# nothing\n").is_empty());
        assert_eq!(split_documents("a: '---x'\n----\n").len(), 1);
    }

    #[test]
    fn offsets_count_characters() {
        let f = SourceFile::new("x".into(), "é: 1\nab: cd\n".into());
        assert_eq!(f.offset(1, 4), 4);
        assert_eq!(f.offset(2, 5), 10);
        assert_eq!(f.char_range(10, 2), 10..12);
        assert_eq!(f.offset(9, 1), f.text.len());
    }
}
