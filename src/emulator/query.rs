//! List queries: `property=` filters, `orderby`, `limit`, `count`, `continuationToken` paging.

use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashSet;

/// The filter path of the audience reverse lookup.
pub(crate) const AUDIENCE_PATH: &str =
    "transformations[].params.segmentSelectors.selectors[].value.id";

/// Largest page Adobe's API reference allows for `limit`.
pub(crate) const MAX_LIMIT: usize = 100;

/// A refused query: FSE code and message (all 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub code: u32,
    pub message: String,
}

fn qerr(code: u32, message: impl Into<String>) -> QueryError {
    QueryError {
        code,
        message: message.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    path: Vec<Segment>,
    /// The audience reverse lookup, answered from the entity's audience index.
    audience: bool,
    op: Op,
    values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct Segment {
    name: String,
    each: bool,
}

/// A parsed list query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListQuery {
    filters: Vec<Filter>,
    order: Vec<(Vec<Segment>, bool)>,
    pub limit: usize,
    pub count: bool,
    /// Where this page starts (from a continuation token); `None` on the first page.
    pub cursor: Option<Cursor>,
    /// The query string without paging, kept in continuation tokens.
    canonical: String,
}

/// The sort key of a listed item: its `orderby` values (`None` where absent), then its
/// creation sequence (newest first), which makes the order total.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SortKey {
    values: Vec<Option<Value>>,
    created: u64,
}

/// Where a continued page starts: after the item with sort key `last`, among the items created
/// at or before `cutoff` (the store's write sequence when the first page was served).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cursor {
    pub cutoff: u64,
    last: SortKey,
}

/// Splits and percent-decodes a raw query string.
pub(crate) fn decode_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_path(p: &str) -> Option<Vec<Segment>> {
    p.split('.')
        .map(|s| {
            let (name, each) = match s.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (s, false),
            };
            (!name.is_empty()
                && name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$'))
            .then(|| Segment {
                name: name.to_owned(),
                each,
            })
        })
        .collect()
}

fn parse_filter(raw: &str, roots: &[&str]) -> Result<Filter, QueryError> {
    let Some(start) = raw.find(['=', '!', '<', '>', '~']) else {
        return Err(qerr(
            1450,
            format!("Invalid operator in filter `{raw}`; use ==, !=, >, <, >= or <="),
        ));
    };
    let rest = &raw[start..];
    let op_len = rest.bytes().take_while(|c| b"=!<>~".contains(c)).count();
    let (op_str, value) = rest.split_at(op_len);
    let op = match op_str {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" => Op::Ge,
        "<=" => Op::Le,
        "~" | "!>" | "!<" => {
            return Err(qerr(1440, format!("Operator {op_str} is not implemented")));
        }
        _ => {
            return Err(qerr(
                1450,
                format!("Invalid operator {op_str} in filter `{raw}`"),
            ));
        }
    };
    let path_str = &raw[..start];
    let path = parse_path(path_str)
        .filter(|p| roots.contains(&p[0].name.as_str()))
        .ok_or_else(|| qerr(1449, format!("Invalid filter field `{path_str}`")))?;
    if value.is_empty() {
        return Err(qerr(1453, format!("Empty value in filter `{raw}`")));
    }
    let values: Vec<String> = value.split(',').map(str::to_owned).collect();
    if values.iter().any(String::is_empty) {
        return Err(qerr(1452, format!("Invalid filter value in `{raw}`")));
    }
    if values.len() > 1 && !matches!(op, Op::Eq | Op::Ne) {
        return Err(qerr(
            1443,
            format!("Operator {op_str} is not allowed with multiple values"),
        ));
    }
    if path_str == "id" && !matches!(op, Op::Eq | Op::Ne) {
        return Err(qerr(
            1448,
            format!("Operator {op_str} is not supported for field id"),
        ));
    }
    Ok(Filter {
        audience: path_str == AUDIENCE_PATH,
        path,
        op,
        values,
    })
}

impl ListQuery {
    /// Parses a raw query string. `roots` are the fields a filter or `orderby` may start with.
    pub(crate) fn parse(raw: &str, roots: &[&str]) -> Result<ListQuery, QueryError> {
        let pairs = decode_pairs(raw);
        if let Some((_, token)) = pairs.iter().find(|(k, _)| k == "continuationToken") {
            let invalid = || qerr(1451, "Invalid query parameter continuationToken");
            let (cursor, canonical) = decode_token(token).ok_or_else(invalid)?;
            let mut q = Self::parse_pairs(&decode_pairs(&canonical), roots)?;
            if cursor.last.values.len() != q.order.len() {
                return Err(invalid());
            }
            q.cursor = Some(cursor);
            return Ok(q);
        }
        Self::parse_pairs(&pairs, roots)
    }

    fn parse_pairs(pairs: &[(String, String)], roots: &[&str]) -> Result<ListQuery, QueryError> {
        let mut q = ListQuery {
            filters: Vec::new(),
            order: Vec::new(),
            limit: MAX_LIMIT,
            count: false,
            cursor: None,
            canonical: String::new(),
        };
        let mut limit_given = false;
        let mut canonical = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "property" => q.filters.push(parse_filter(v, roots)?),
                "orderby" => {
                    for field in v.split(',') {
                        let (desc, name) = match field.as_bytes().first() {
                            Some(b'-') => (true, &field[1..]),
                            Some(b'+') => (false, &field[1..]),
                            Some(c) if c.is_ascii_alphabetic() => (false, field),
                            _ => {
                                return Err(qerr(
                                    1433,
                                    format!("Invalid orderby `{field}`; use name, +name or -name"),
                                ));
                            }
                        };
                        let path = parse_path(name)
                            .filter(|p| {
                                roots.contains(&p[0].name.as_str()) && p.iter().all(|s| !s.each)
                            })
                            .ok_or_else(|| qerr(1432, format!("Invalid orderby field `{name}`")))?;
                        q.order.push((path, desc));
                    }
                }
                "limit" => {
                    limit_given = true;
                    q.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            qerr(1451, format!("Invalid query parameter limit={v}; 1 to 100"))
                        })?;
                }
                "count" => match v.to_ascii_lowercase().as_str() {
                    "true" => q.count = true,
                    "false" => {}
                    _ => return Err(qerr(1451, format!("Invalid query parameter count={v}"))),
                },
                _ => return Err(qerr(1451, format!("Invalid query parameter `{k}`"))),
            }
            canonical.push(format!("{}={}", percent_encode(k), percent_encode(v)));
        }
        if q.count && limit_given {
            return Err(qerr(1401, "limit and count cannot be used together"));
        }
        q.canonical = canonical.join("&");
        Ok(q)
    }

    /// Whether `entity` passes every filter.
    pub(crate) fn matches(&self, entity: &Value) -> bool {
        self.matches_indexed(entity, None)
    }

    /// [`Self::matches`], with the entity's audience ids (the values at [`AUDIENCE_PATH`])
    /// when known.
    pub(crate) fn matches_indexed(
        &self,
        entity: &Value,
        audiences: Option<&HashSet<String>>,
    ) -> bool {
        self.filters.iter().all(|f| {
            if let (true, Some(ids), Op::Eq | Op::Ne) = (f.audience, audiences, f.op) {
                let found = f.values.iter().any(|v| ids.contains(v));
                return if f.op == Op::Ne { !found } else { found };
            }
            let hit = |v: &Value| match f.op {
                Op::Eq | Op::Ne => f.values.iter().any(|want| value_eq(v, want)),
                _ => matches!(
                    (f.op, value_cmp_str(v, &f.values[0])),
                    (Op::Gt, Some(Ordering::Greater))
                        | (Op::Lt, Some(Ordering::Less))
                        | (Op::Ge, Some(Ordering::Greater | Ordering::Equal))
                        | (Op::Le, Some(Ordering::Less | Ordering::Equal))
                ),
            };
            let found = any_at(entity, &f.path, &hit);
            if f.op == Op::Ne { !found } else { found }
        })
    }

    /// The sort key of an entity created at `created`.
    pub(crate) fn key(&self, entity: &Value, created: u64) -> SortKey {
        SortKey {
            values: self
                .order
                .iter()
                .map(|(path, _)| resolve(entity, path).into_iter().next().cloned())
                .collect(),
            created,
        }
    }

    /// The list order: `orderby` fields, then newest created first.
    pub(crate) fn compare(&self, a: &SortKey, b: &SortKey) -> Ordering {
        for ((_, desc), (va, vb)) in self.order.iter().zip(a.values.iter().zip(&b.values)) {
            let o = match (va, vb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => value_cmp(x, y),
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        b.created.cmp(&a.created)
    }

    /// Sorts `items` into the list order; `entity` gives an item's JSON and creation sequence.
    pub(crate) fn sort<T>(&self, items: &mut Vec<T>, entity: impl Fn(&T) -> (&Value, u64)) {
        let mut keyed: Vec<(SortKey, T)> = items
            .drain(..)
            .map(|t| {
                let (v, created) = entity(&t);
                (self.key(v, created), t)
            })
            .collect();
        keyed.sort_by(|a, b| self.compare(&a.0, &b.0));
        items.extend(keyed.into_iter().map(|(_, t)| t));
    }

    /// Whether an item belongs to this page's walk: created by the cutoff and, on a continued
    /// page, after the cursor.
    pub(crate) fn in_walk(&self, key: &SortKey) -> bool {
        match &self.cursor {
            None => true,
            Some(c) => key.created <= c.cutoff && self.compare(key, &c.last) == Ordering::Greater,
        }
    }

    /// The continuation token for the page after one ending with the item keyed `last`;
    /// `cutoff` is the store's write sequence when the walk began.
    pub(crate) fn token(&self, cutoff: u64, last: SortKey) -> String {
        let cutoff = self.cursor.as_ref().map_or(cutoff, |c| c.cutoff);
        let values: Vec<Value> = last
            .values
            .into_iter()
            .map(|v| Value::Array(v.into_iter().collect()))
            .collect();
        let raw = format!(
            "{cutoff}:{}:{}:{}",
            last.created,
            self.canonical,
            Value::Array(values)
        );
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }
}

/// Tokens are lower-case hex of `cutoff:created:canonical-query:[[value]…]` (no `=` or `&`
/// in them; the canonical query is percent-encoded, so it holds no `:`).
fn decode_token(token: &str) -> Option<(Cursor, String)> {
    if token.is_empty() || !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    let mut parts = s.splitn(4, ':');
    let cutoff = parts.next()?.parse().ok()?;
    let created = parts.next()?.parse().ok()?;
    let canonical = parts.next()?.to_owned();
    let values = match serde_json::from_str(parts.next()?).ok()? {
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::Array(mut one) if one.len() <= 1 => Some(one.pop()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    Some((
        Cursor {
            cutoff,
            last: SortKey { values, created },
        },
        canonical,
    ))
}

/// Whether any value at `path` satisfies `pred`, stopping at the first.
fn any_at(v: &Value, path: &[Segment], pred: &dyn Fn(&Value) -> bool) -> bool {
    let Some((seg, rest)) = path.split_first() else {
        return pred(v);
    };
    match v.get(&seg.name) {
        Some(child) if seg.each => child
            .as_array()
            .is_some_and(|a| a.iter().any(|item| any_at(item, rest, pred))),
        Some(child) => any_at(child, rest, pred),
        None => false,
    }
}

fn resolve<'a>(v: &'a Value, path: &[Segment]) -> Vec<&'a Value> {
    let mut cur = vec![v];
    for seg in path {
        let mut next = Vec::new();
        for c in cur {
            if let Some(child) = c.get(&seg.name) {
                if seg.each {
                    if let Some(a) = child.as_array() {
                        next.extend(a.iter());
                    }
                } else {
                    next.push(child);
                }
            }
        }
        cur = next;
    }
    cur
}

fn value_eq(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Number(n) => n.to_string() == want || n.as_f64() == want.parse::<f64>().ok(),
        Value::Null => want == "null",
        _ => false,
    }
}

fn value_cmp_str(v: &Value, want: &str) -> Option<Ordering> {
    match v {
        Value::Number(n) => n.as_f64()?.partial_cmp(&want.parse::<f64>().ok()?),
        Value::String(s) => Some(s.as_str().cmp(want)),
        _ => None,
    }
}

fn value_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROOTS: &[&str] = &[
        "id",
        "name",
        "state",
        "transformations",
        "inheritedAttributes",
        "createdAt",
    ];

    #[test]
    fn filters() {
        let f = json!({"id": "a", "name": "x", "createdAt": 5,
            "inheritedAttributes": {"properties": {"isDestinationFlow": true}},
            "transformations": [{"params": {"segmentSelectors": {"selectors": [
                {"value": {"id": "s1"}}, {"value": {"id": "s2"}}]}}}]});
        let q = |s: &str| ListQuery::parse(s, ROOTS).unwrap().matches(&f);
        assert!(q(
            "property=inheritedAttributes.properties.isDestinationFlow%3D%3Dtrue"
        ));
        assert!(q(
            "property=transformations[].params.segmentSelectors.selectors[].value.id==s2"
        ));
        assert!(!q(
            "property=transformations[].params.segmentSelectors.selectors[].value.id==s3"
        ));
        assert!(q("property=id==b,a&property=name==x"));
        assert!(!q("property=id==a&property=name==y"));
        assert!(q("property=createdAt>4"));
        assert!(!q("property=createdAt>=6"));
        assert!(q("property=name!=y"));
    }

    #[test]
    fn audience_index_agrees_with_the_generic_path() {
        let f = json!({"transformations": [{"params": {"segmentSelectors": {"selectors": [
            {"value": {"id": "s1"}}, {"value": {"id": "s2"}}]}}}]});
        let ids: HashSet<String> = ["s1".to_owned(), "s2".to_owned()].into();
        for (q, want) in [
            (
                "property=transformations[].params.segmentSelectors.selectors[].value.id==s2",
                true,
            ),
            (
                "property=transformations[].params.segmentSelectors.selectors[].value.id==s3,s1",
                true,
            ),
            (
                "property=transformations[].params.segmentSelectors.selectors[].value.id==s3",
                false,
            ),
            (
                "property=transformations[].params.segmentSelectors.selectors[].value.id!=s1",
                false,
            ),
        ] {
            let q = ListQuery::parse(q, ROOTS).unwrap();
            assert_eq!(q.matches(&f), want);
            assert_eq!(q.matches_indexed(&f, Some(&ids)), want);
        }
        let q = ListQuery::parse("property=transformations[].params.segmentSelectors.selectors[].value.id==only-in-index", ROOTS).unwrap();
        assert!(
            q.matches_indexed(&f, Some(&["only-in-index".to_owned()].into())),
            "the index is used"
        );
    }

    #[test]
    fn errors() {
        let code = |s: &str| ListQuery::parse(s, ROOTS).unwrap_err().code;
        assert_eq!(code("property=name=x"), 1450);
        assert_eq!(code("property=name~x"), 1440);
        assert_eq!(code("property=bogus==x"), 1449);
        assert_eq!(code("property=name=="), 1453);
        assert_eq!(code("property=createdAt<=1,2"), 1443);
        assert_eq!(code("property=id>=a"), 1448);
        assert_eq!(code("count=true&limit=5"), 1401);
        assert_eq!(code("orderby=*name"), 1433);
        assert_eq!(code("orderby=bogus"), 1432);
        assert_eq!(code("limit=101"), 1451);
        assert_eq!(code("start=0"), 1451);
        assert_eq!(code("continuationToken=zz"), 1451);
    }

    #[test]
    fn tokens_round_trip_without_reserved_chars() {
        let q = ListQuery::parse("property=name==a%26b&limit=2&count=False", ROOTS).unwrap();
        assert!(!q.count);
        let t = q.token(9, q.key(&json!({"name": "a&b:c"}), 4));
        assert!(!t.contains('=') && !t.contains('&'));
        let back = ListQuery::parse(&format!("continuationToken={t}"), ROOTS).unwrap();
        assert_eq!(back.cursor.as_ref().unwrap().cutoff, 9);
        assert!(back.in_walk(&q.key(&json!({}), 3)));
        assert!(
            !back.in_walk(&q.key(&json!({}), 4)),
            "the last item is not repeated"
        );
        let o = ListQuery::parse("orderby=-name&limit=1", ROOTS).unwrap();
        let t = o.token(9, o.key(&json!({"name": "m:x"}), 4));
        let ob = ListQuery::parse(&format!("continuationToken={t}"), ROOTS).unwrap();
        assert!(ob.in_walk(&o.key(&json!({"name": "a"}), 8)));
        assert!(ob.in_walk(&o.key(&json!({"name": "m:x"}), 3)));
        assert!(!ob.in_walk(&o.key(&json!({"name": "m:x"}), 5)));
        assert!(!ob.in_walk(&o.key(&json!({"name": "z"}), 1)));
        assert!(
            !ob.in_walk(&o.key(&json!({"name": "a"}), 10)),
            "after the cutoff"
        );
        assert_eq!(back.limit, 2);
        assert_eq!(back.filters, q.filters);
        assert!(back.matches(&json!({"name": "a&b"})));
    }
}
