//! A schema-less view of a YAML document with positions, used only to name the field path of
//! a parse error (serde reports a line and column, not a path).

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};
use std::fmt;

/// A YAML node.
#[derive(Debug)]
pub(super) enum Node {
    /// A mapping, keys in order.
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    /// A sequence.
    Seq(Vec<Spanned<Node>>),
    /// Any scalar.
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

fn pos(s: &Location) -> (u64, u64) {
    (s.line(), s.column())
}

/// The dotted field path (`spec.activations[0].schedule`) of the value at `(line, column)`.
pub(super) fn path_at(root: &Spanned<Node>, line: u64, column: u64) -> Vec<String> {
    let target = (line, column);
    let mut out = Vec::new();
    let mut node = &root.value;
    loop {
        match node {
            Node::Map(entries) => {
                let Some((k, v)) = entries
                    .iter()
                    .rev()
                    .find(|(k, _)| pos(&k.referenced) <= target)
                else {
                    break;
                };
                out.push(k.value.clone());
                node = &v.value;
            }
            Node::Seq(items) => {
                let Some((i, item)) = items
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, it)| pos(&it.referenced) <= target)
                else {
                    break;
                };
                out.push(format!("[{i}]"));
                node = &item.value;
            }
            Node::Scalar => break,
        }
    }
    out
}

/// Where the node at `path` is named: its key in the parent mapping, or the item itself in a
/// sequence. `None` for the root or a path that is not in the document.
pub(super) fn anchor<'a>(root: &'a Spanned<Node>, path: &[String]) -> Option<&'a Location> {
    let mut node = &root.value;
    let mut found = None;
    for seg in path {
        match node {
            Node::Map(entries) => {
                let (k, v) = entries.iter().find(|(k, _)| &k.value == seg)?;
                found = Some(&k.referenced);
                node = &v.value;
            }
            Node::Seq(items) => {
                let i: usize = seg.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
                let item = items.get(i)?;
                found = Some(&item.referenced);
                node = &item.value;
            }
            Node::Scalar => return None,
        }
    }
    found
}

/// The path of the mapping a "missing field" error at `(line, column)` is about. The parser
/// reports such an error at the mapping's last key, or at the mapping itself when it has no
/// key there to point at (an empty `{}`).
pub(super) fn missing_field_owner(root: &Spanned<Node>, line: u64, column: u64) -> Vec<String> {
    let mut path = path_at(root, line, column);
    if anchor(root, &path).is_some_and(|l| pos(l) == (line, column)) {
        path.pop();
    }
    path
}

/// Joins path segments: keys with `.`, indexes as `[i]`.
pub(super) fn join(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        if !s.is_empty() && !seg.starts_with('[') {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Spanned<Node> {
        serde_saphyr::from_str(text).unwrap()
    }

    fn owner(text: &str, line: u64, column: u64) -> String {
        join(&missing_field_owner(&tree(text), line, column))
    }

    #[test]
    fn a_missing_field_belongs_to_the_mapping_whose_last_key_is_reported() {
        let text = "kind: X\nspec:\n  platform: sftp\n  attributes: [a.b]\n";
        // The parser reports the last key of `spec`; the field is missing from `spec`.
        assert_eq!(owner(text, 4, 3), "spec");
        // Reported at a top-level key: missing from the document itself.
        assert_eq!(owner(text, 2, 1), "");
        let nested = "spec:\n  platform: sftp\n  connection:\n    auth: x\n";
        assert_eq!(owner(nested, 3, 3), "spec");
    }

    #[test]
    fn a_missing_field_of_an_empty_mapping_belongs_to_it() {
        assert_eq!(owner("kind: X\nspec: {}\n", 2, 7), "spec");
    }

    #[test]
    fn a_missing_field_of_a_list_item_belongs_to_the_item() {
        let text = "spec:\n  activations:\n    - destination: x\n";
        assert_eq!(owner(text, 3, 7), "spec.activations[0]");
    }

    #[test]
    fn anchors_are_keys_or_items() {
        let root = tree("spec:\n  connection:\n    params: {a: 1}\n  list:\n    - x: 1\n");
        let at = |path: &[&str]| {
            let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
            anchor(&root, &path).map(|l| (l.line(), l.column()))
        };
        assert_eq!(at(&["spec", "connection", "params"]), Some((3, 5)));
        assert_eq!(at(&["spec", "connection"]), Some((2, 3)));
        assert_eq!(at(&["spec", "list", "[0]"]), Some((5, 7)));
        assert_eq!(at(&["spec", "nope"]), None);
        assert_eq!(at(&[]), None);
    }
}
