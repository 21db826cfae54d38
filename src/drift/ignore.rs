//! The drift ignore list (`.destctlignore`, README "Drift"): one pattern per line, `#`
//! comments and blank lines skipped; a pattern is a flow id or a glob (`*`, `?`) matched against
//! the flow's id and its name. Matching unmanaged flows are left out of the report, its warnings
//! and its coverage figure.

/// A line of the ignore file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct IgnoreError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parsed ignore patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreList {
    patterns: Vec<String>,
}

impl IgnoreList {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<IgnoreList, IgnoreError> {
        let mut patterns = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.chars().any(char::is_control) {
                return Err(IgnoreError {
                    line: i + 1,
                    message: "a pattern may not contain control characters".into(),
                });
            }
            if line.chars().all(|c| c == '*') {
                return Err(IgnoreError {
                    line: i + 1,
                    message: format!(
                        "`{line}` would ignore every unmanaged flow; name the flows (an id or a name glob)"
                    ),
                });
            }
            patterns.push(line.to_owned());
        }
        Ok(IgnoreList { patterns })
    }

    /// The number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first pattern matching a flow's id or name.
    pub fn matches(&self, id: &str, name: Option<&str>) -> Option<&str> {
        self.patterns
            .iter()
            .find(|p| glob(p, id) || name.is_some_and(|n| glob(p, n)))
            .map(String::as_str)
    }
}

/// Whether `text` matches `pattern` (`*`: any run of characters, `?`: one character).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("a*", "abcd"));
        assert!(glob("*UI*", "made in the UI today"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c-y-b"));
    }

    #[test]
    fn parse_and_match() {
        let list = IgnoreList::parse("# legacy\n\nflow-123\nLegacy * export\n").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.matches("flow-123", None), Some("flow-123"));
        assert_eq!(
            list.matches("x", Some("Legacy S3 export")),
            Some("Legacy * export")
        );
        assert_eq!(list.matches("x", Some("Other")), None);
        let err = IgnoreList::parse("ok\n**\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
