//! Manifest files: finding them, reading them, splitting them into YAML documents, and turning
//! parser locations into file positions.
//!
//! Files are read with [`read_regular`], shared with `${file:}` secrets: only regular files
//! (a symbolic link only when it leads to one), opened without blocking (a FIFO cannot hang
//! the open), checked on the opened handle (no stat-then-open race), and read with a size cap
//! applied while reading. A file whose content does not match its reported size is refused:
//! that is how `/proc` and `/sys` pseudo-files look (size 0 or 4096, any content), and it also
//! refuses a file being rewritten while read. No error ever shows the file's content.

use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest manifest file read, 4 MiB (a guard against mistakes, not a format limit).
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What a path is when a regular file was wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe).
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else that is not a regular file.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

fn kind_of(t: std::fs::FileType) -> Option<FileKind> {
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some(FileKind::Directory);
    }
    #[cfg(unix)]
    {
        if t.is_fifo() {
            return Some(FileKind::Fifo);
        }
        if t.is_char_device() {
            return Some(FileKind::CharDevice);
        }
        if t.is_block_device() {
            return Some(FileKind::BlockDevice);
        }
        if t.is_socket() {
            return Some(FileKind::Socket);
        }
    }
    Some(FileKind::Other)
}

/// Why [`read_regular`] refused or failed to read a file. Never holds the file's content.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The OS refused (missing file, permissions).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not a regular file (or a symbolic link to something that is not one).
    #[error("{}{kind}; only regular files are read", if *.via_symlink { "it is a symbolic link to " } else { "it is " })]
    NotRegular {
        /// What it is.
        kind: FileKind,
        /// Whether the path was a symbolic link.
        via_symlink: bool,
    },
    /// Larger than the cap.
    #[error("it is larger than {cap} bytes, the most read from such a file")]
    TooLarge {
        /// The cap in bytes.
        cap: u64,
    },
    /// Reads differently from its reported size: a `/proc` or `/sys` pseudo-file, or a file
    /// changed while being read.
    #[error(
        "its content does not match its reported size of {size} bytes (a /proc or /sys pseudo-file, or a file changed while being read); only plain regular files are read"
    )]
    SizeMismatch {
        /// The size the file system reported.
        size: u64,
    },
}

/// Reads a whole regular file of at most `cap` bytes. A symbolic link is followed only to a
/// regular file; directories, FIFOs, sockets and devices are refused without reading (a FIFO
/// is opened non-blocking, so it cannot hang), the kind is checked again on the opened handle,
/// and at most `min(size, cap) + 1` bytes are ever read, so that a pseudo-file (reported size
/// different from its content) is refused too.
pub(crate) fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let via_symlink = std::fs::symlink_metadata(path)?.file_type().is_symlink();
    let refuse = |kind| FileError::NotRegular { kind, via_symlink };
    // Cheap early refusal (no open of a device at all); the check that counts is on the handle.
    if let Some(kind) = kind_of(std::fs::metadata(path)?.file_type()) {
        return Err(refuse(kind));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(refuse(kind));
    }
    let size = meta.len();
    if size > cap {
        return Err(FileError::TooLarge { cap });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(size + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != size {
        bytes.clear();
        return Err(FileError::SizeMismatch { size });
    }
    Ok(bytes)
}

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

    /// The text from the start of the 0-based line `line` on (empty past the end): what
    /// `text.lines().skip(line)` walks, without walking the lines before it.
    pub(crate) fn text_from_line(&self, line: usize) -> &str {
        self.line_starts.get(line).map_or("", |&s| &self.text[s..])
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
            Ok(m) if m.is_dir() => walk(path, &mut files, &mut problems, &mut Vec::new()),
            Ok(_) => files.push(path.clone()),
            Err(e) => problems.push((path.clone(), format!("cannot read {}: {e}", path.display()))),
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    (files, problems)
}

/// `ancestors` holds the canonical directories being walked, so that a symbolic link back to
/// one of them is not followed forever.
fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<(PathBuf, String)>,
    ancestors: &mut Vec<PathBuf>,
) {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    if ancestors.contains(&canonical) {
        return;
    }
    ancestors.push(canonical);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push((
                dir.to_owned(),
                format!("cannot read {}: {e}", dir.display()),
            ));
            ancestors.pop();
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, files, problems, ancestors);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(p);
        }
    }
    ancestors.pop();
}

/// Reads one manifest file: a regular file (see [`read_regular`]), UTF-8, at most
/// [`MAX_FILE_BYTES`].
pub(crate) fn read(path: &Path) -> Result<SourceFile, ReadError> {
    let bytes = read_regular(path, MAX_FILE_BYTES).map_err(|error| ReadError::Io {
        path: path.to_owned(),
        error,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8(path.to_owned()))?;
    Ok(SourceFile::new(path.to_owned(), text))
}

/// A manifest file that cannot be read as text. Its message becomes a problem of `validate`,
/// so it holds the OS error's text itself rather than as a source.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The OS refused, or the path is not a regular file of at most [`MAX_FILE_BYTES`].
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: FileError,
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

    proptest::proptest! {
        /// Jumping to a line gives the lines a walk from the top gives.
        #[test]
        fn from_line_is_the_lines_after_it(text in "[a\r\n]{0,12}", line in 0usize..8) {
            let f = SourceFile::new("x".into(), text.clone());
            let jumped: Vec<&str> = f.text_from_line(line).lines().collect();
            let walked: Vec<&str> = text.lines().skip(line).collect();
            proptest::prop_assert_eq!(jumped, walked);
        }
    }

    #[test]
    fn offsets_count_characters() {
        let f = SourceFile::new("x".into(), "é: 1\nab: cd\n".into());
        assert_eq!(f.offset(1, 4), 4);
        assert_eq!(f.offset(2, 5), 10);
        assert_eq!(f.char_range(10, 2), 10..12);
        assert_eq!(f.offset(9, 1), f.text.len());
    }

    #[test]
    fn regular_files_are_read_up_to_the_cap_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("destctl-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular(&f, 4),
            Err(FileError::TooLarge { cap: 4 })
        ));
        assert!(matches!(
            read_regular(&dir, 5),
            Err(FileError::NotRegular {
                kind: FileKind::Directory,
                via_symlink: false
            })
        ));
        #[cfg(target_os = "linux")]
        {
            let link = dir.join("null");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/dev/null", &link).unwrap();
            let err = read_regular(&link, 5).unwrap_err();
            assert!(matches!(
                err,
                FileError::NotRegular {
                    kind: FileKind::CharDevice,
                    via_symlink: true
                }
            ));
            assert_eq!(
                err.to_string(),
                "it is a symbolic link to a character device; only regular files are read"
            );
            assert!(matches!(
                read_regular(Path::new("/proc/self/status"), 1 << 20),
                Err(FileError::SizeMismatch { size: 0 })
            ));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
