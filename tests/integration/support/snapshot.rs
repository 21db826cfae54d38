//! Output made ready for a snapshot: what varies from run to run — temporary directories,
//! loopback ports, generated ids — replaced by placeholders, so the snapshot pins the rest.

use std::path::Path;

/// Replacements applied to a text before it is snapshotted.
#[derive(Default)]
pub struct Redact {
    exact: Vec<(String, String)>,
}

impl Redact {
    pub fn new() -> Redact {
        Redact::default()
    }

    /// Replaces `dir` (as displayed) with `[name]`.
    pub fn dir(mut self, dir: &Path, name: &str) -> Redact {
        self.exact
            .push((dir.display().to_string(), format!("[{name}]")));
        self
    }

    /// Replaces the exact text `from` with `[name]`.
    pub fn text(mut self, from: impl Into<String>, name: &str) -> Redact {
        self.exact.push((from.into(), format!("[{name}]")));
        self
    }

    /// The text with the exact replacements made, then every UUID shown as `[uuid]`, every
    /// Data Prep id (32 lower-case hex characters) as `[id]` and every loopback port as
    /// `[port]`.
    pub fn apply(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.exact {
            text = text.replace(from.as_str(), to);
        }
        loopback_ports(&uuids(&text))
    }
}

fn uuids(text: &str) -> String {
    let b = text.as_bytes();
    let is_uuid = |s: &[u8]| {
        s.len() == 36
            && s.iter().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let boundary = |j: usize| j >= b.len() || !b[j].is_ascii_alphanumeric();
        if i + 36 <= b.len() && is_uuid(&b[i..i + 36]) {
            out.push_str("[uuid]");
            i += 36;
        } else if (i == 0 || boundary(i - 1))
            && i + 32 <= b.len()
            && boundary(i + 32)
            && b[i..i + 32]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        {
            out.push_str("[id]");
            i += 32;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn loopback_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let after = at + "127.0.0.1:".len();
        out.push_str(&rest[..after]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[port]");
        }
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn redaction_replaces_what_varies_and_keeps_the_rest() {
    let r = Redact::new()
        .dir(Path::new("/tmp/destctl-x1"), "tmp")
        .text("secret", "value");
    assert_eq!(
        r.apply("at /tmp/destctl-x1/a.json: http://127.0.0.1:4321/x, 127.0.0.1: id 0b23e41a-cb4a-4321-a78f-3b654f5d7d97 secret ✓"),
        "at [tmp]/a.json: http://127.0.0.1:[port]/x, 127.0.0.1: id [uuid] [value] ✓"
    );
    assert_eq!(
        r.apply("set efcd8a1b5222444f8d0d36e2c1e03134, not xefcd8a1b5222444f8d0d36e2c1e03134"),
        "set [id], not xefcd8a1b5222444f8d0d36e2c1e03134"
    );
}
