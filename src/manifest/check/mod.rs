//! Checking manifests: reads every file, deserializes each document by its `kind`, checks the
//! rules of each kind and the references between documents, and builds the desired model
//! when nothing is wrong. Problems are reported in file and position order.
//!
//! The rule families live in submodules: [`schedule`], [`destination`] (with [`connection`],
//! [`location`] and [`attributes`]) and [`audience`] (activations and their references);
//! [`checker`] holds positions and problem recording. Documents are checked in this order:
//! schedules, destinations, audiences (activations refer to the first two), dataset exports
//! ([`dataset`]; they refer to destinations).

mod attributes;
mod audience;
mod checker;
mod connection;
mod dataset;
mod destination;
mod location;
mod schedule;
mod vars;

use super::raw::{
    AudienceDoc, DatasetExportDoc, DestinationDoc, Header, Kind, NameOnly, ScheduleDoc,
};
use super::source;
use super::{Loaded, ManifestError, Severity, Sources};
use crate::catalog::{ExportMode, MAX_AUDIENCES_PER_FLOW, MAX_DESTINATIONS_PER_SANDBOX, Schedule};
use crate::model::{DesiredDestination, DesiredState, ResourceName, SourceLocation};
use crate::wire::EntityId;
use audience::{Targets, check_audiences};
use checker::{Checker, DocRef};
use destination::check_destination;
use schedule::check_schedule;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// The documents read, by kind, in reading order.
struct Docs {
    destinations: Vec<(DocRef, DestinationDoc)>,
    schedules: Vec<(DocRef, ScheduleDoc)>,
    audiences: Vec<(DocRef, AudienceDoc)>,
    dataset_exports: Vec<(DocRef, DatasetExportDoc)>,
    /// Names of documents whose structure has an error (reported at the document): they are
    /// defined, so references to them are not reported again.
    broken: Vec<(Kind, String)>,
}

/// Reads, checks and builds; see [`super::load`]. `env` is the selected environment's name
/// and variables (`None` without a config file).
pub(super) fn load(
    paths: &[PathBuf],
    env: Option<(&str, &crate::config::Vars)>,
) -> Result<Loaded, ManifestError> {
    let mut ck = Checker::new();
    let read_files = read_files(&mut ck, paths);
    let mut docs = read_documents(&mut ck);
    vars::substitute(&mut ck, &mut docs, vars::Env { vars: env });
    let desired = check_all(&mut ck, &docs);
    finish(ck, read_files, desired)
}

/// Finds and reads the manifest files under `paths` into the checker; returns the paths read.
fn read_files(ck: &mut Checker, paths: &[PathBuf]) -> Vec<PathBuf> {
    let (paths_found, missing) = source::discover(paths);
    for (_, message) in missing {
        ck.push(Severity::Error, None, "", message);
    }
    let mut read_files = Vec::new();
    for path in &paths_found {
        match source::read(path) {
            Ok(f) => {
                read_files.push(path.clone());
                ck.files.push(f);
            }
            Err(e) => ck.push(Severity::Error, None, "", e.to_string()),
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
    read_files
}

/// Splits every file read into documents and deserializes each by its kind.
fn read_documents(ck: &mut Checker) -> Docs {
    let mut docs = Docs {
        destinations: Vec::new(),
        schedules: Vec::new(),
        audiences: Vec::new(),
        dataset_exports: Vec::new(),
        broken: Vec::new(),
    };
    for i in 0..ck.files.len() {
        let text = ck.files[i].text.clone();
        for chunk in source::split_documents(&text) {
            let doc = DocRef {
                file: i,
                line_offset: chunk.line_offset,
            };
            read_document(ck, doc, &chunk.text, &mut docs);
        }
    }
    docs
}

/// Sorts the problems by file (in reading order) and position, masks the secret literals in
/// the sources, and returns the model or, when any problem is an error, every problem.
fn finish(
    ck: Checker,
    read_files: Vec<PathBuf>,
    desired: DesiredState,
) -> Result<Loaded, ManifestError> {
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
            environment: None,
        });
    }
    Ok(Loaded {
        desired,
        warnings: problems,
        files: read_files,
        sources,
    })
}

/// The kind a document's top-level `kind: X` line names, if it has one: a guess, which only
/// a successful parse as that kind confirms (each kind's type requires its `kind` value).
fn kind_line(text: &str) -> Option<Kind> {
    text.lines()
        .find_map(|l| l.strip_prefix("kind:"))
        .and_then(|v| Kind::parse(v.trim()))
}

/// Deserializes the document as `kind` into `docs`, recording nothing; false when it is not a
/// valid document of that kind.
fn read_as(kind: Kind, doc: DocRef, text: &str, docs: &mut Docs) -> bool {
    match kind {
        Kind::Destination => Checker::parse_quiet::<DestinationDoc>(text)
            .map(|d| docs.destinations.push((doc, d)))
            .is_some(),
        Kind::Schedule => Checker::parse_quiet::<ScheduleDoc>(text)
            .map(|d| docs.schedules.push((doc, d)))
            .is_some(),
        Kind::Audience => Checker::parse_quiet::<AudienceDoc>(text)
            .map(|d| docs.audiences.push((doc, d)))
            .is_some(),
        Kind::DatasetExport => Checker::parse_quiet::<DatasetExportDoc>(text)
            .map(|d| docs.dataset_exports.push((doc, d)))
            .is_some(),
    }
}

/// Reads one document's `kind` and deserializes it as that kind into `docs`.
fn read_document(ck: &mut Checker, doc: DocRef, text: &str, docs: &mut Docs) {
    // The usual document, read once as the kind its `kind:` line names (reading the header
    // first parsed the whole document twice). Anything else — no such line, any error — takes
    // the path below, which finds the kind and reports the problems as it always did.
    if let Some(kind) = kind_line(text)
        && read_as(kind, doc, text, docs)
    {
        return;
    }
    let Some(header) = ck.parse::<Header>(doc, text) else {
        return;
    };
    let allowed = "allowed: Destination, Schedule, Audience, DatasetExport";
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
    let parsed = match kind {
        Kind::Destination => ck
            .parse::<DestinationDoc>(doc, text)
            .map(|d| docs.destinations.push((doc, d))),
        Kind::Schedule => ck
            .parse::<ScheduleDoc>(doc, text)
            .map(|d| docs.schedules.push((doc, d))),
        Kind::Audience => ck
            .parse::<AudienceDoc>(doc, text)
            .map(|d| docs.audiences.push((doc, d))),
        Kind::DatasetExport => ck
            .parse::<DatasetExportDoc>(doc, text)
            .map(|d| docs.dataset_exports.push((doc, d))),
    };
    if parsed.is_none()
        && let Ok(n) = serde_saphyr::from_str::<NameOnly>(text)
    {
        docs.broken.push((kind, n.metadata.name));
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
        Err(e) => {
            ck.err(&pos, "metadata.name", e.to_string());
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

/// Checks every document and the references between them; returns the desired model (only
/// used when no error was recorded).
fn check_all(ck: &mut Checker, docs: &Docs) -> DesiredState {
    let mut schedules = check_schedules(ck, &docs.schedules);
    let mut destinations = check_destinations(ck, &docs.destinations);
    // A document with a structural error still defines its name (its error is reported
    // there): activations that refer to it get no follow-on error.
    for (kind, name) in &docs.broken {
        match kind {
            Kind::Destination => {
                destinations.entry(name.clone()).or_insert(None);
            }
            Kind::Schedule => {
                schedules.entry(name.clone()).or_insert(None);
            }
            Kind::Audience | Kind::DatasetExport => {}
        }
    }
    let targets = Targets {
        destinations: &destinations,
        schedules: &schedules,
    };
    let mut audiences = check_audiences(ck, &docs.audiences, &targets);
    let dataset_exports = dataset::check_dataset_exports(ck, &docs.dataset_exports, &destinations);

    let mut out = Vec::new();
    let mut adoptions = BTreeMap::new();
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
        if let Some(adopt) = &d.spec.value.adopt {
            let id = &adopt.flow_id;
            let ok = !id.value.is_empty()
                && id.value.len() <= 128
                && id
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if ok {
                adoptions.insert(dest.name.clone(), EntityId(id.value.clone()));
            } else {
                let pos = ck.at(*doc, id);
                ck.err(
                    &pos,
                    "spec.adopt.flowId",
                    format!(
                        "`{}` is not a flow id: letters, digits, '-' and '_' (a UUID)",
                        id.value
                    ),
                );
            }
        }
        dest.audiences = list;
        out.push(dest);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    DesiredState {
        destinations: out,
        adoptions,
        dataset_exports,
    }
}

/// Checks every `Schedule`; returns them by name (`None` for one with errors).
fn check_schedules(
    ck: &mut Checker,
    docs: &[(DocRef, ScheduleDoc)],
) -> BTreeMap<String, Option<(ExportMode, Schedule)>> {
    let mut names = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (doc, s) in docs {
        let name = check_name(ck, *doc, &s.metadata.name, Kind::Schedule, &mut names);
        let checked = check_schedule(ck, *doc, &s.spec, "spec");
        if let Some(n) = name {
            out.insert(n.as_str().to_owned(), checked);
        }
    }
    out
}

/// Checks every `Destination` and the per-sandbox guardrail; returns them by name (`None`
/// for one with errors).
fn check_destinations(
    ck: &mut Checker,
    docs: &[(DocRef, DestinationDoc)],
) -> BTreeMap<String, Option<DesiredDestination>> {
    let mut names = BTreeMap::new();
    let mut former_seen = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (i, (doc, d)) in docs.iter().enumerate() {
        let name = check_name(ck, *doc, &d.metadata.name, Kind::Destination, &mut names);
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
        let mut built = check_destination(ck, *doc, d, name.as_ref());
        let former = check_former_names(ck, *doc, d, &mut former_seen);
        if let Some(b) = built.as_mut() {
            b.former_names = former;
        }
        if let Some(n) = name {
            out.insert(n.as_str().to_owned(), built);
        }
    }
    // A former name may not be the name of a Destination of the set.
    for (doc, d) in docs {
        for f in d.metadata.former_names.iter().flatten() {
            if names.contains_key(&f.value) {
                let pos = ck.at(*doc, f);
                ck.err(
                    &pos,
                    "metadata.formerNames",
                    format!(
                        "`{}` is the name of a Destination of these manifests; a former name must be free",
                        f.value
                    ),
                );
            }
        }
    }
    out
}

/// Checks a Destination's `metadata.formerNames`: valid names, not its own name, each claimed by
/// one Destination only (`seen`, across the set).
fn check_former_names(
    ck: &mut Checker,
    doc: DocRef,
    d: &DestinationDoc,
    seen: &mut BTreeMap<String, SourceLocation>,
) -> Vec<ResourceName> {
    let mut out = Vec::new();
    for f in d.metadata.former_names.iter().flatten() {
        let pos = ck.at(doc, f);
        match ResourceName::parse(&f.value) {
            Err(e) => ck.err(&pos, "metadata.formerNames", e.to_string()),
            Ok(_) if f.value == d.metadata.name.value => ck.err(
                &pos,
                "metadata.formerNames",
                "a Destination's former name cannot be its own name".to_owned(),
            ),
            Ok(n) => {
                if let Some(first) = seen.get(&f.value) {
                    ck.err(
                        &pos,
                        "metadata.formerNames",
                        format!(
                            "`{}` is already a former name at {first}; one Destination only may take over its objects",
                            f.value
                        ),
                    );
                } else {
                    seen.insert(f.value.clone(), pos.loc);
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The names, comma-separated, or `none`.
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
    use crate::manifest::Problem;
    use crate::manifest::raw::{Activation, ScheduleRef};

    /// Loads manifest text written to a fresh temporary file.
    fn load_text(name: &str, text: &str) -> Result<Loaded, ManifestError> {
        let dir = std::env::temp_dir().join(format!("destctl-check-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.yaml");
        std::fs::write(&file, text).unwrap();
        let out = load(&[file], None);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    const SFTP_DESTINATION: &str = "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: exports}\nspec:\n  platform: sftp\n  connection:\n    auth: SFTP with Password\n    params: {domain: sftp.example.com, username: aep, password: \"${env:P}\"}\n  location: {remotePath: /x}\n";

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
        let text = SFTP_DESTINATION.replace("  location: {remotePath: /x}\n", "")
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
            "    params: {domain: sftp.example.com, username: aep, password: \"${env:P}\"}\n",
            "",
        );
        let p = only_error(&text, "no-params");
        assert_eq!(p.field, "spec.connection");
        assert_eq!(line_col(&p), (6, 3), "the `connection:` key");
        assert_eq!(
            p.label.as_deref(),
            Some("missing domain, username, password")
        );
    }

    #[test]
    fn a_missing_location_param_points_at_the_location_key() {
        let text = SFTP_DESTINATION.replace("{remotePath: /x}", "{}");
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
