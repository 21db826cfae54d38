//! The plan digest: SHA-256 over a canonical serialization of the plan's `target` and
//! `changes`, written as `sha256:HEX` in the plan's `digest` field. It catches a saved plan
//! whose changes were edited by hand, truncated or damaged after `destctl plan` wrote it; it
//! is not a signature (whoever can edit the file can recompute it).

use super::{Change, PlanTarget};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The prefix of a digest value.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Why a plan's digest does not vouch for its changes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The plan has no `digest` field.
    #[error(
        "the plan has no `digest`: it was not written by this destctl's `plan`, or the field was removed; re-run `destctl plan --out` and review the new plan"
    )]
    Missing,
    /// The changes (or target) are not those the digest was computed over.
    #[error(
        "the plan's target and changes do not match its `digest` (edited, truncated or damaged since `destctl plan` wrote it); re-run `destctl plan --out` and review the new plan"
    )]
    Mismatch,
}

/// `sha256:HEX` of the canonical form of `target` and `changes`.
pub fn digest(target: &PlanTarget, changes: &[Change]) -> String {
    let doc = serde_json::json!({ "target": target, "changes": changes });
    let mut canonical = String::new();
    write_canonical(&doc, &mut canonical);
    let hash = Sha256::digest(canonical.as_bytes());
    let mut out = String::with_capacity(DIGEST_PREFIX.len() + 64);
    out.push_str(DIGEST_PREFIX);
    for b in hash {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Checks `recorded` against the digest of `target` and `changes`.
pub fn verify(
    recorded: Option<&str>,
    target: &PlanTarget,
    changes: &[Change],
) -> Result<(), DigestError> {
    let recorded = recorded.ok_or(DigestError::Missing)?;
    if recorded == digest(target, changes) {
        Ok(())
    } else {
        Err(DigestError::Mismatch)
    }
}

/// Compact JSON with object keys sorted at every level: the same text whatever the key order
/// or whitespace of the file.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::IdRef;
    use crate::wire::{Etag, Resource};
    use serde_json::json;

    fn target() -> PlanTarget {
        PlanTarget {
            endpoint: "http://127.0.0.1:1".into(),
            sandbox: "prod".into(),
        }
    }

    fn changes() -> Vec<Change> {
        vec![
            Change::create(
                Resource::Connection,
                "a",
                "a/connection".into(),
                json!({"name": "a", "auth": {"specName": "S3", "params": {"accessId": "${env:A}"}}}),
            ),
            Change::update(
                Resource::Flow,
                "a",
                IdRef::parse("f-1"),
                Etag("\"e\"".into()),
                vec![],
            ),
        ]
    }

    #[test]
    fn any_change_to_target_or_changes_changes_the_digest() {
        let d = digest(&target(), &changes());
        assert!(d.starts_with("sha256:") && d.len() == 7 + 64, "{d}");
        assert_eq!(d, digest(&target(), &changes()));
        assert_eq!(verify(Some(&d), &target(), &changes()), Ok(()));
        let mut edited = changes();
        edited.pop();
        assert_eq!(
            verify(Some(&d), &target(), &edited),
            Err(DigestError::Mismatch)
        );
        let mut other = target();
        other.sandbox = "dev".into();
        assert_ne!(digest(&other, &changes()), d);
        assert_eq!(
            verify(None, &target(), &changes()),
            Err(DigestError::Missing)
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        let mut reordered = changes();
        if let Change::Create(c) = &mut reordered[0] {
            c.body = json!({"auth": {"params": {"accessId": "${env:A}"}, "specName": "S3"}, "name": "a"});
        }
        assert_eq!(digest(&target(), &reordered), digest(&target(), &changes()));
    }
}
