//! Parsing documents and checking every rule; builds the desired model when nothing is wrong.

use super::node::{self, Node};
use super::raw::{
    Activation, AudienceDoc, DEFAULT_FILENAME_TEMPLATE, DestinationDoc, Header, Kind, ScheduleDoc,
    ScheduleRef, ScheduleSpec,
};
use super::source::{self, SourceFile};
use super::{Loaded, ManifestError, Problem, Severity, Sources};
use crate::catalog::{
    self, ExportMode, MAX_ATTRIBUTES_PER_FLOW, MAX_AUDIENCES_PER_FLOW,
    MAX_DESTINATIONS_PER_SANDBOX, Schedule, StartTime, TriggerType,
};
use crate::model::{
    AttributePath, DesiredAudience, DesiredConnection, DesiredDestination, DesiredLocation,
    DesiredState, ParamValue, ResourceName, SecretRef, SegmentId, SourceLocation,
};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

/// A position in a file: line, column and the byte range of the value.
#[derive(Clone, Debug)]
struct Pos {
    loc: SourceLocation,
    span: Range<usize>,
}

/// Which document of which file a value belongs to.
#[derive(Clone, Copy, Debug)]
struct DocRef {
    file: usize,
    line_offset: usize,
}

struct Checker {
    files: Vec<SourceFile>,
    problems: Vec<Problem>,
    secret_spans: Vec<(PathBuf, Range<usize>)>,
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
    fn pos(&self, doc: DocRef, l: &Location) -> Pos {
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

    fn at<T>(&self, doc: DocRef, v: &Spanned<T>) -> Pos {
        self.pos(doc, &v.referenced)
    }

    fn push(&mut self, severity: Severity, pos: Option<&Pos>, field: &str, message: String) {
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
    fn err_labeled(&mut self, pos: &Pos, field: &str, message: impl Into<String>, label: String) {
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
    fn key_pos(&self, doc: DocRef, path: &[&str]) -> Option<Pos> {
        let text = source::split_documents(&self.files[doc.file].text)
            .into_iter()
            .find(|c| c.line_offset == doc.line_offset)?
            .text;
        let root = parse_tree(&text)?;
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        node::anchor(&root, &path).map(|l| self.pos(doc, l))
    }

    fn err(&mut self, pos: &Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, Some(pos), field, message.into());
    }

    fn warn(&mut self, pos: &Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Warning, Some(pos), field, message.into());
    }

    /// Deserializes a document; on failure records the error with its position and field path.
    fn parse<T: DeserializeOwned>(&mut self, doc: DocRef, text: &str) -> Option<T> {
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

    /// The document's first line of content (after comments and its `---` marker).
    fn doc_start(&self, doc: DocRef) -> Pos {
        let f = &self.files[doc.file];
        let skip = f
            .text
            .lines()
            .skip(doc.line_offset)
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

struct Docs {
    destinations: Vec<(DocRef, DestinationDoc)>,
    schedules: Vec<(DocRef, ScheduleDoc)>,
    audiences: Vec<(DocRef, AudienceDoc)>,
}

pub(super) fn load(paths: &[PathBuf]) -> Result<Loaded, ManifestError> {
    let mut ck = Checker {
        files: Vec::new(),
        problems: Vec::new(),
        secret_spans: Vec::new(),
    };
    let (paths_found, missing) = source::discover(paths);
    for (_, message) in missing {
        ck.push(Severity::Error, None, "", message);
    }
    let mut docs = Docs {
        destinations: Vec::new(),
        schedules: Vec::new(),
        audiences: Vec::new(),
    };
    let mut read_files = Vec::new();
    for path in &paths_found {
        match source::read(path) {
            Ok(f) => {
                read_files.push(path.clone());
                ck.files.push(f);
            }
            Err(message) => ck.push(Severity::Error, None, "", message),
        }
    }
    if paths_found.is_empty() && ck.problems.is_empty() {
        let shown: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
        ck.push(
            Severity::Error,
            None,
            "",
            format!("no manifest files (*.yaml, *.yml) in {}", shown.join(", ")),
        );
    }
    for i in 0..ck.files.len() {
        let text = ck.files[i].text.clone();
        for chunk in source::split_documents(&text) {
            let doc = DocRef {
                file: i,
                line_offset: chunk.line_offset,
            };
            read_document(&mut ck, doc, &chunk.text, &mut docs);
        }
    }

    let desired = check_all(&mut ck, &docs);

    let mut sources = Sources::default();
    for f in &ck.files {
        sources.insert(f.path.clone(), f.text.clone());
    }
    for (path, span) in &ck.secret_spans {
        sources.mask(path, span.clone());
    }
    let order: HashMap<PathBuf, usize> = read_files
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i))
        .collect();
    let mut problems = ck.problems;
    problems.sort_by_key(|p| {
        p.location.as_ref().map(|l| {
            (
                order.get(&l.file).copied().unwrap_or(usize::MAX),
                l.line,
                l.column,
            )
        })
    });
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(ManifestError {
            problems,
            files: read_files,
            sources,
        });
    }
    Ok(Loaded {
        desired,
        warnings: problems,
        files: read_files,
        sources,
    })
}

fn read_document(ck: &mut Checker, doc: DocRef, text: &str, docs: &mut Docs) {
    let Some(header) = ck.parse::<Header>(doc, text) else {
        return;
    };
    let allowed = "allowed: Destination, Schedule, Audience";
    let kind = match &header.kind {
        None => {
            let pos = ck.doc_start(doc);
            ck.err_labeled(
                &pos,
                "kind",
                format!("missing field `kind`; {allowed}"),
                "missing `kind`".into(),
            );
            return;
        }
        Some(k) => match Kind::parse(&k.value) {
            Some(kind) => kind,
            None => {
                let pos = ck.at(doc, k);
                ck.err(
                    &pos,
                    "kind",
                    format!("unknown kind `{}`; {allowed}", k.value),
                );
                return;
            }
        },
    };
    match kind {
        Kind::Destination => {
            if let Some(d) = ck.parse::<DestinationDoc>(doc, text) {
                docs.destinations.push((doc, d));
            }
        }
        Kind::Schedule => {
            if let Some(d) = ck.parse::<ScheduleDoc>(doc, text) {
                docs.schedules.push((doc, d));
            }
        }
        Kind::Audience => {
            if let Some(d) = ck.parse::<AudienceDoc>(doc, text) {
                docs.audiences.push((doc, d));
            }
        }
    }
}

/// Checks `metadata.name` and its uniqueness within the kind; returns the name when valid.
fn check_name(
    ck: &mut Checker,
    doc: DocRef,
    name: &Spanned<String>,
    kind: Kind,
    seen: &mut BTreeMap<String, SourceLocation>,
) -> Option<ResourceName> {
    let pos = ck.at(doc, name);
    match ResourceName::parse(&name.value) {
        Err(m) => {
            ck.err(&pos, "metadata.name", m);
            None
        }
        Ok(n) => {
            if let Some(first) = seen.get(&name.value) {
                ck.err(
                    &pos,
                    "metadata.name",
                    format!(
                        "another {kind} named `{}` is defined at {first}; names are unique per kind",
                        name.value
                    ),
                );
                None
            } else {
                seen.insert(name.value.clone(), pos.loc);
                Some(n)
            }
        }
    }
}

fn check_all(ck: &mut Checker, docs: &Docs) -> DesiredState {
    // Schedules first: activations refer to them.
    let mut schedule_names = BTreeMap::new();
    let mut schedules: BTreeMap<String, Option<(ExportMode, Schedule)>> = BTreeMap::new();
    for (doc, s) in &docs.schedules {
        let name = check_name(
            ck,
            *doc,
            &s.metadata.name,
            Kind::Schedule,
            &mut schedule_names,
        );
        let checked = check_schedule(ck, *doc, &s.spec, "spec");
        if let Some(n) = name {
            schedules.insert(n.as_str().to_owned(), checked);
        }
    }

    let mut destination_names = BTreeMap::new();
    let mut destinations: BTreeMap<String, Option<DesiredDestination>> = BTreeMap::new();
    for (i, (doc, d)) in docs.destinations.iter().enumerate() {
        let name = check_name(
            ck,
            *doc,
            &d.metadata.name,
            Kind::Destination,
            &mut destination_names,
        );
        if i == MAX_DESTINATIONS_PER_SANDBOX {
            let pos = ck.at(*doc, &d.metadata.name);
            ck.err(
                &pos,
                "metadata.name",
                format!(
                    "more than {MAX_DESTINATIONS_PER_SANDBOX} destinations; a sandbox holds at most {MAX_DESTINATIONS_PER_SANDBOX} (guardrail)"
                ),
            );
        }
        let built = check_destination(ck, *doc, d, name.as_ref());
        if let Some(n) = name {
            destinations.insert(n.as_str().to_owned(), built);
        }
    }

    let mut audience_names = BTreeMap::new();
    let mut activated: HashMap<(String, String), SourceLocation> = HashMap::new();
    let mut audiences: BTreeMap<String, Vec<DesiredAudience>> = BTreeMap::new();
    for (doc, a) in &docs.audiences {
        let name = check_name(
            ck,
            *doc,
            &a.metadata.name,
            Kind::Audience,
            &mut audience_names,
        );
        let seg_pos = ck.at(*doc, &a.spec.segment_id);
        let segment = match SegmentId::parse(&a.spec.segment_id.value) {
            Ok(s) => Some(s),
            Err(m) => {
                ck.err(&seg_pos, "spec.segmentId", m);
                None
            }
        };
        for (i, act) in a.spec.activations.iter().enumerate() {
            let field = format!("spec.activations[{i}]");
            let built = check_activation(
                ck,
                *doc,
                &act.value,
                &field,
                &destinations,
                &schedules,
                &mut activated,
                segment.as_ref(),
            );
            if let (Some((dest, audience_parts)), Some(n), Some(seg)) =
                (built, name.as_ref(), segment.as_ref())
            {
                let (filename_template, export_mode, schedule, schedule_name) = audience_parts;
                audiences.entry(dest).or_default().push(DesiredAudience {
                    manifest: n.clone(),
                    segment_id: seg.clone(),
                    display_name: a.spec.display_name.clone(),
                    description: a.spec.description.clone(),
                    filename_template,
                    export_mode,
                    schedule,
                    schedule_name,
                });
            }
        }
    }

    let mut out = Vec::new();
    for (doc, d) in &docs.destinations {
        let Some(Some(mut dest)) = destinations.remove(&d.metadata.name.value) else {
            continue;
        };
        let mut list = audiences.remove(dest.name.as_str()).unwrap_or_default();
        list.sort_by(|a, b| a.segment_id.cmp(&b.segment_id));
        if list.len() > MAX_AUDIENCES_PER_FLOW {
            let pos = ck.at(*doc, &d.metadata.name);
            ck.warn(
                &pos,
                "metadata.name",
                format!(
                    "{} audiences are activated to this destination; more than {MAX_AUDIENCES_PER_FLOW} per dataflow is above Adobe's guardrail",
                    list.len()
                ),
            );
        }
        dest.audiences = list;
        out.push(dest);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    DesiredState { destinations: out }
}

/// Parses `YYYY-MM-DD` as a real calendar date.
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(format!(
            "`{s}` is not a date; write YYYY-MM-DD, e.g. 2021-12-20"
        ));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        format!("`{s}` is not a real calendar date; write an existing day as YYYY-MM-DD")
    })
}

/// Checks a schedule (named or inline) and returns it when valid.
fn check_schedule(
    ck: &mut Checker,
    doc: DocRef,
    s: &ScheduleSpec,
    prefix: &str,
) -> Option<(ExportMode, Schedule)> {
    let mut ok = true;
    let start_date = match parse_date(&s.start_date.value) {
        Ok(d) => Some(d),
        Err(m) => {
            let pos = ck.at(doc, &s.start_date);
            ck.err(&pos, &format!("{prefix}.startDate"), m);
            ok = false;
            None
        }
    };
    let end_date = match &s.end_date {
        None => None,
        Some(e) => match parse_date(&e.value) {
            Ok(d) => Some(d),
            Err(m) => {
                let pos = ck.at(doc, e);
                ck.err(&pos, &format!("{prefix}.endDate"), m);
                ok = false;
                None
            }
        },
    };
    let start_time = match &s.start_time {
        None => None,
        Some(t) => match StartTime::parse(&t.value) {
            Ok(t) => Some(t),
            Err(m) => {
                let pos = ck.at(doc, t);
                ck.err(&pos, &format!("{prefix}.startTime"), m);
                ok = false;
                None
            }
        },
    };
    let trigger = s.trigger_type.as_ref().map(|t| t.value);
    let schedule = Schedule {
        frequency: s.frequency.value,
        trigger_type: trigger,
        start_date: start_date.unwrap_or_default(),
        end_date,
        start_time,
    };
    let mode = s.export_mode.value;
    for v in catalog::check_schedule(mode, &schedule) {
        // A bad date or time was already reported; the catalog saw a placeholder.
        let pos = match v.field {
            "frequency" => ck.at(doc, &s.frequency),
            "startTime" => match (&s.start_time, &s.trigger_type) {
                (Some(t), _) => {
                    if start_time.is_none() {
                        continue;
                    }
                    ck.at(doc, t)
                }
                (None, Some(t)) => ck.at(doc, t),
                (None, None) => ck.at(doc, &s.frequency),
            },
            "endDate" => {
                if start_date.is_none() || end_date.is_none() {
                    continue;
                }
                match &s.end_date {
                    Some(e) => ck.at(doc, e),
                    None => continue,
                }
            }
            _ => ck.at(doc, &s.export_mode),
        };
        ck.err(&pos, &format!("{prefix}.{}", v.field), v.message);
        ok = false;
    }
    if mode == ExportMode::DailyFullExport
        && trigger == Some(TriggerType::AfterSegmentEval)
        && let Some(t) = &s.start_time
    {
        let pos = ck.at(doc, t);
        ck.warn(
            &pos,
            &format!("{prefix}.startTime"),
            "startTime does not apply to a DAILY_FULL_EXPORT triggered AFTER_SEGMENT_EVAL; AEP ignores it",
        );
    }
    ok.then_some((mode, schedule))
}

fn check_destination(
    ck: &mut Checker,
    doc: DocRef,
    d: &DestinationDoc,
    name: Option<&ResourceName>,
) -> Option<DesiredDestination> {
    let errors_before = count_errors(ck);
    let spec = &d.spec.value;
    let platform = spec.platform.value;
    let info = platform.info();

    // Connection: auth method and params.
    let conn = &spec.connection.value;
    let auth = conn.auth.value;
    let auth_ok = info.auth_methods.contains(&auth);
    if !auth_ok {
        let pos = ck.at(doc, &conn.auth);
        let allowed: Vec<_> = info.auth_methods.iter().map(|a| a.spec_name()).collect();
        ck.err(
            &pos,
            "spec.connection.auth",
            format!(
                "auth `{auth}` is not accepted by platform {platform}; allowed: {}",
                allowed.join(", ")
            ),
        );
    }
    let mut params = BTreeMap::new();
    let mut locations = BTreeMap::new();
    let written: &[(Spanned<String>, Spanned<String>)] =
        conn.params.as_ref().map_or(&[], |p| p.value.0.as_slice());
    if auth_ok {
        let specs = auth.params();
        let known: Vec<_> = specs.iter().map(|p| p.name).collect();
        for (key, value) in written {
            let field = format!("spec.connection.params.{}", key.value);
            let Some(ps) = specs.iter().find(|p| p.name == key.value) else {
                let pos = ck.at(doc, key);
                ck.err(
                    &pos,
                    &field,
                    format!(
                        "unknown param `{}` for auth `{auth}`; allowed: {}",
                        key.value,
                        known.join(", ")
                    ),
                );
                continue;
            };
            let pos = ck.at(doc, value);
            let parsed = match SecretRef::parse(&value.value) {
                Some(Ok(r)) => Some(ParamValue::Secret(r)),
                Some(Err(m)) => {
                    ck.err(&pos, &field, m);
                    None
                }
                None if ps.secret => {
                    ck.secret_spans
                        .push((pos.loc.file.clone(), pos.span.clone()));
                    ck.err(
                        &pos,
                        &field,
                        format!(
                            "`{}` is a secret and must not be written in a manifest; write a reference: ${{env:NAME}} or ${{file:PATH}}",
                            key.value
                        ),
                    );
                    None
                }
                None => {
                    if let Some(pat) = ps.pattern
                        && !pat.matches(&value.value)
                    {
                        ck.err(
                            &pos,
                            &field,
                            format!("`{}` does not match: {}", value.value, pat.describe()),
                        );
                        None
                    } else if value.value.trim().is_empty() {
                        ck.err(&pos, &field, "empty value");
                        None
                    } else if !ps.value_type.matches(&value.value) {
                        ck.err(
                            &pos,
                            &field,
                            format!(
                                "`{}` is not a valid {}: {}",
                                value.value,
                                key.value,
                                ps.value_type.describe()
                            ),
                        );
                        None
                    } else {
                        Some(ParamValue::Literal(value.value.clone()))
                    }
                }
            };
            if let Some(v) = parsed {
                params.insert(key.value.clone(), v);
                locations.insert(key.value.clone(), pos.loc);
            }
        }
        let written_names: BTreeSet<&str> = written.iter().map(|(k, _)| k.value.as_str()).collect();
        let missing: Vec<_> = specs
            .iter()
            .filter(|p| p.required && !written_names.contains(p.name))
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            let required: Vec<_> = specs
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name)
                .collect();
            let (path, field): (&[&str], _) = match &conn.params {
                Some(_) => (&["spec", "connection", "params"], "spec.connection.params"),
                None => (&["spec", "connection"], "spec.connection"),
            };
            let pos = ck
                .key_pos(doc, path)
                .unwrap_or_else(|| ck.at(doc, &spec.connection));
            ck.err_labeled(
                &pos,
                field,
                format!(
                    "missing required param{} {} for auth `{auth}`; required: {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", "),
                    required.join(", ")
                ),
                format!("missing {}", missing.join(", ")),
            );
        }
        for (i, (key, _)) in written.iter().enumerate() {
            if written[..i].iter().any(|(k, _)| k.value == key.value) {
                let pos = ck.at(doc, key);
                ck.err(
                    &pos,
                    &format!("spec.connection.params.{}", key.value),
                    "param written twice",
                );
            }
        }
    }
    let credentials_version = match &conn.credentials_version {
        None => 1,
        Some(v) if v.value == 0 => {
            let pos = ck.at(doc, v);
            ck.err(
                &pos,
                "spec.connection.credentialsVersion",
                "credentialsVersion starts at 1; raise it to push the credentials again",
            );
            1
        }
        Some(v) => v.value,
    };

    // Location: mode and its params.
    let loc = &spec.location.value;
    let mode = loc.mode.value;
    let mut location_params = BTreeMap::new();
    if !info.location_modes.contains(&mode) {
        let pos = ck.at(doc, &loc.mode);
        let allowed: Vec<_> = info.location_modes.iter().map(|m| m.as_str()).collect();
        ck.err(
            &pos,
            "spec.location.mode",
            format!(
                "location mode {mode} is not accepted by platform {platform}; allowed: {}",
                allowed.join(", ")
            ),
        );
    } else {
        let specs = mode.params();
        let takes: Vec<_> = specs.iter().map(|p| p.name).collect();
        for (pname, value) in loc.params() {
            let Some(value) = value else { continue };
            let field = format!("spec.location.{pname}");
            let pos = ck.at(doc, value);
            let Some(ps) = specs.iter().find(|p| p.name == pname) else {
                ck.err(
                    &pos,
                    &field,
                    format!(
                        "`{pname}` does not apply to location mode {mode}; {mode} takes: {}",
                        takes.join(", ")
                    ),
                );
                continue;
            };
            if let Some(pat) = ps.pattern
                && !pat.matches(&value.value)
            {
                ck.err(
                    &pos,
                    &field,
                    format!(
                        "`{}` is not a valid {pname}: {}",
                        value.value,
                        pat.describe()
                    ),
                );
                continue;
            }
            location_params.insert(pname.to_owned(), value.value.clone());
        }
        let missing: Vec<_> = specs
            .iter()
            .filter(|p| {
                p.required
                    && loc
                        .params()
                        .iter()
                        .all(|(n, v)| *n != p.name || v.is_none())
            })
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            let pos = ck
                .key_pos(doc, &["spec", "location"])
                .unwrap_or_else(|| ck.at(doc, &spec.location));
            ck.err_labeled(
                &pos,
                "spec.location",
                format!(
                    "location mode {mode} needs {}; {mode} takes: {}",
                    missing.join(", "),
                    takes.join(", ")
                ),
                format!("missing {}", missing.join(", ")),
            );
        }
    }

    // Attributes.
    let mut attributes = Vec::new();
    if let Some(list) = &spec.attributes {
        if list.value.len() > MAX_ATTRIBUTES_PER_FLOW {
            let pos = ck.at(doc, list);
            ck.warn(
                &pos,
                "spec.attributes",
                format!(
                    "{} attributes; more than {MAX_ATTRIBUTES_PER_FLOW} per dataflow is above Adobe's guardrail",
                    list.value.len()
                ),
            );
        }
        for (i, a) in list.value.iter().enumerate() {
            let field = format!("spec.attributes[{i}]");
            let pos = ck.at(doc, a);
            match AttributePath::parse(&a.value) {
                Err(m) => ck.err(&pos, &field, m),
                Ok(p) if attributes.contains(&p) => {
                    ck.err(&pos, &field, format!("`{p}` is listed twice"))
                }
                Ok(p) => attributes.push(p),
            }
        }
    }
    let mut subset = |list: &[Spanned<String>], what: &str| -> Vec<AttributePath> {
        let mut out = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let field = format!("spec.{what}[{i}]");
            let pos = ck.at(doc, a);
            match AttributePath::parse(&a.value) {
                Err(m) => ck.err(&pos, &field, m),
                Ok(p) if !attributes.contains(&p) => ck.err(
                    &pos,
                    &field,
                    format!(
                        "`{p}` is not among `attributes`; {what} must be exported attributes (allowed: {})",
                        if attributes.is_empty() {
                            "none listed".to_owned()
                        } else {
                            attributes.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    ),
                ),
                Ok(p) if out.contains(&p) => ck.err(&pos, &field, format!("`{p}` is listed twice")),
                Ok(p) => out.push(p),
            }
        }
        out
    };
    let mandatory_attributes = subset(&spec.mandatory_attributes, "mandatoryAttributes");
    let deduplication_keys = subset(&spec.deduplication_keys, "deduplicationKeys");

    let display_name = match &spec.display_name {
        Some(n) if n.value.trim().is_empty() => {
            let pos = ck.at(doc, n);
            ck.err(
                &pos,
                "spec.displayName",
                "displayName is empty; omit it to use metadata.name",
            );
            None
        }
        Some(n) => Some(n.value.clone()),
        None => name.map(|n| n.as_str().to_owned()),
    };

    if count_errors(ck) > errors_before {
        return None;
    }
    let name = name?.clone();
    Some(DesiredDestination {
        name,
        source: ck.doc_start(doc).loc,
        display_name: display_name?,
        description: spec.description.clone(),
        platform,
        connection: DesiredConnection {
            auth,
            params,
            credentials_version,
            locations,
        },
        location: DesiredLocation {
            mode,
            params: location_params,
            include_file_manifest: loc.include_file_manifest,
        },
        attributes,
        mandatory_attributes,
        deduplication_keys,
        enabled: spec.enabled.unwrap_or(true),
        audiences: Vec::new(),
    })
}

fn count_errors(ck: &Checker) -> usize {
    ck.problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count()
}

type AudienceParts = (String, ExportMode, Schedule, Option<ResourceName>);

#[allow(clippy::too_many_arguments)]
fn check_activation(
    ck: &mut Checker,
    doc: DocRef,
    act: &Activation,
    field: &str,
    destinations: &BTreeMap<String, Option<DesiredDestination>>,
    schedules: &BTreeMap<String, Option<(ExportMode, Schedule)>>,
    activated: &mut HashMap<(String, String), SourceLocation>,
    segment: Option<&SegmentId>,
) -> Option<(String, AudienceParts)> {
    let errors_before = count_errors(ck);
    let dest = &act.destination;
    let dest_pos = ck.at(doc, dest);
    if !destinations.contains_key(&dest.value) {
        ck.err(
            &dest_pos,
            &format!("{field}.destination"),
            format!(
                "no Destination named `{}`; defined: {}",
                dest.value,
                list_or_none(destinations.keys())
            ),
        );
    } else if let Some(seg) = segment {
        let key = (dest.value.clone(), seg.as_str().to_owned());
        if let Some(first) = activated.get(&key) {
            ck.err(
                &dest_pos,
                &format!("{field}.destination"),
                format!(
                    "audience {seg} is already activated to `{}` at {first}; an audience goes to a destination at most once",
                    dest.value
                ),
            );
        } else {
            activated.insert(key, dest_pos.loc.clone());
        }
    }

    let sched_field = format!("{field}.schedule");
    let resolved = match &act.schedule.value {
        ScheduleRef::Name(n) => match schedules.get(n) {
            Some(Some((mode, s))) => Some((*mode, s.clone(), ResourceName::parse(n).ok())),
            Some(None) => None, // the Schedule's own errors are reported there
            None => {
                let pos = ck.at(doc, &act.schedule);
                ck.err(
                    &pos,
                    &sched_field,
                    format!(
                        "no Schedule named `{n}`; defined: {} (or write the schedule inline)",
                        list_or_none(schedules.keys())
                    ),
                );
                None
            }
        },
        ScheduleRef::Inline(spec) => {
            check_schedule(ck, doc, spec, &sched_field).map(|(m, s)| (m, s, None))
        }
    };

    let template = match &act.filename_template {
        Some(t) => {
            let pos = ck.at(doc, t);
            for v in catalog::check_filename_template(&t.value) {
                ck.err(&pos, &format!("{field}.filenameTemplate"), v.message);
            }
            t.value.clone()
        }
        None => DEFAULT_FILENAME_TEMPLATE.to_owned(),
    };

    if count_errors(ck) > errors_before {
        return None;
    }
    let (mode, schedule, schedule_name) = resolved?;
    Some((
        dest.value.clone(),
        (template, mode, schedule, schedule_name),
    ))
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<_> = names.map(|s| s.as_str()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads manifest text written to a fresh temporary file.
    fn load_text(name: &str, text: &str) -> Result<Loaded, ManifestError> {
        let dir = std::env::temp_dir().join(format!("destctl-check-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.yaml");
        std::fs::write(&file, text).unwrap();
        let out = load(&[file]);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    const SFTP_DESTINATION: &str = "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: exports}\nspec:\n  platform: sftp\n  connection:\n    auth: Basic Authentication for sftp\n    params: {host: sftp.example.com, username: aep, password: \"${env:P}\"}\n  location: {mode: FTP, remotePath: /x}\n";

    fn with_audiences(n: usize) -> String {
        let mut text = SFTP_DESTINATION.to_owned();
        for i in 0..n {
            text.push_str(&format!(
                "---\n{{apiVersion: destctl/v1, kind: Audience, metadata: {{name: a{i}}}, spec: {{segmentId: seg-{i}, activations: [{{destination: exports, schedule: {{exportMode: DAILY_FULL_EXPORT, frequency: DAILY, startDate: 2021-12-20}}}}]}}}}\n"
            ));
        }
        text
    }

    #[test]
    fn more_than_250_audiences_on_a_destination_is_a_warning() {
        let at_limit = load_text("aud250", &with_audiences(MAX_AUDIENCES_PER_FLOW)).unwrap();
        assert!(at_limit.warnings.is_empty(), "{:?}", at_limit.warnings);
        assert_eq!(at_limit.desired.destinations[0].audiences.len(), 250);
        let above = load_text("aud251", &with_audiences(MAX_AUDIENCES_PER_FLOW + 1)).unwrap();
        assert_eq!(above.warnings.len(), 1, "{:?}", above.warnings);
        let w = &above.warnings[0];
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(w.field, "metadata.name");
        assert!(w.message.starts_with("251 audiences"), "{}", w.message);
        assert_eq!(w.location.as_ref().unwrap().line, 3);
    }

    fn only_error(text: &str, name: &str) -> Problem {
        let err = load_text(name, text).unwrap_err();
        let errors: Vec<_> = err.errors().cloned().collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    fn line_col(p: &Problem) -> (usize, usize) {
        let l = p.location.as_ref().unwrap();
        (l.line, l.column)
    }

    #[test]
    fn a_missing_field_points_at_the_key_of_its_mapping() {
        let text = SFTP_DESTINATION.replace("  location: {mode: FTP, remotePath: /x}\n", "")
            + "  attributes: [person.name.firstName]\n";
        let p = only_error(&text, "missing-location");
        assert_eq!(p.field, "spec");
        assert_eq!(p.message, "missing required field `location`");
        assert_eq!(line_col(&p), (4, 1), "the `spec:` key");
        assert_eq!(p.label.as_deref(), Some("missing `location`"));
        assert_eq!(p.span.as_ref().unwrap().len(), "spec".len());
    }

    #[test]
    fn missing_params_point_at_the_params_key() {
        let text = SFTP_DESTINATION.replace("username: aep, ", "");
        let p = only_error(&text, "missing-param");
        assert_eq!(p.field, "spec.connection.params");
        assert_eq!(line_col(&p), (8, 5), "the `params:` key");
        assert_eq!(p.label.as_deref(), Some("missing username"));
        let text = SFTP_DESTINATION.replace(
            "    params: {host: sftp.example.com, username: aep, password: \"${env:P}\"}\n",
            "",
        );
        let p = only_error(&text, "no-params");
        assert_eq!(p.field, "spec.connection");
        assert_eq!(line_col(&p), (6, 3), "the `connection:` key");
        assert_eq!(p.label.as_deref(), Some("missing host, username, password"));
    }

    #[test]
    fn a_missing_location_param_points_at_the_location_key() {
        let text = SFTP_DESTINATION.replace(", remotePath: /x", "");
        let p = only_error(&text, "missing-remote-path");
        assert_eq!(p.field, "spec.location");
        assert_eq!(line_col(&p), (9, 3), "the `location:` key");
        assert_eq!(p.label.as_deref(), Some("missing remotePath"));
    }

    #[test]
    fn more_than_100_destinations_is_an_error() {
        let many = |n: usize| {
            (0..n)
                .map(|i| SFTP_DESTINATION.replace("name: exports", &format!("name: d{i}")))
                .collect::<Vec<_>>()
                .join("---\n")
        };
        assert!(load_text("dest100", &many(MAX_DESTINATIONS_PER_SANDBOX)).is_ok());
        let err = load_text("dest101", &many(MAX_DESTINATIONS_PER_SANDBOX + 1)).unwrap_err();
        let errors: Vec<_> = err.errors().collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.starts_with("more than 100 destinations"));
    }

    #[test]
    fn dates_are_real_calendar_days() {
        assert_eq!(
            parse_date("2021-12-20").unwrap(),
            NaiveDate::from_ymd_opt(2021, 12, 20).unwrap()
        );
        assert!(parse_date("2024-02-29").is_ok());
        assert!(parse_date("2021-02-29").unwrap_err().contains("calendar"));
        assert!(parse_date("2021-02-30").is_err());
        assert!(parse_date("2021-2-3").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_date("20211220").is_err());
    }

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
            user_message("missing field `spec`"),
            "missing required field `spec`"
        );
    }

    #[test]
    fn a_schedule_name_or_an_inline_map() {
        let a: Activation = serde_saphyr::from_str(
            "destination: d\nschedule: {exportMode: DAILY_FULL_EXPORT, frequency: ONCE, startDate: 2021-12-20}\n",
        )
        .unwrap();
        match a.schedule.value {
            ScheduleRef::Inline(s) => {
                assert_eq!(s.start_date.value, "2021-12-20");
                assert_eq!(s.start_date.referenced.line(), 2);
            }
            ScheduleRef::Name(_) => panic!("inline expected"),
        }
        let a: Activation = serde_saphyr::from_str("destination: d\nschedule: daily\n").unwrap();
        assert!(matches!(a.schedule.value, ScheduleRef::Name(n) if n == "daily"));
    }
}
