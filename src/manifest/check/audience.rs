//! `Audience` documents and their activations: the segment id, and per activation the
//! references to a `Destination` and a `Schedule` (by name or inline), the one-activation-per-
//! destination rule, and the filename template (the legacy macro rules, or the V2 ones for a
//! current card).

use super::checker::{Checker, DocRef};
use super::schedule::check_schedule;
use super::{check_name, list_or_none};
use crate::catalog::{self, ExportMode, Schedule};
use crate::manifest::raw::{Activation, AudienceDoc, DEFAULT_FILENAME_TEMPLATE, Kind, ScheduleRef};
use crate::model::{DesiredAudience, DesiredDestination, ResourceName, SegmentId, SourceLocation};
use std::collections::{BTreeMap, HashMap};

/// What activations refer to: the destinations and schedules by name (`None` for one that
/// has errors, reported at its own document).
pub(super) struct Targets<'a> {
    /// Destinations by name.
    pub(super) destinations: &'a BTreeMap<String, Option<DesiredDestination>>,
    /// Schedules by name.
    pub(super) schedules: &'a BTreeMap<String, Option<(ExportMode, Schedule)>>,
}

/// Checks every `Audience`; returns the audiences by destination name, in document order.
pub(super) fn check_audiences(
    ck: &mut Checker,
    audiences: &[(DocRef, AudienceDoc)],
    targets: &Targets<'_>,
) -> BTreeMap<String, Vec<DesiredAudience>> {
    let mut names = BTreeMap::new();
    let mut activated = HashMap::new();
    let mut out: BTreeMap<String, Vec<DesiredAudience>> = BTreeMap::new();
    for (doc, a) in audiences {
        let name = check_name(ck, *doc, &a.metadata.name, Kind::Audience, &mut names);
        let segment = match SegmentId::parse(&a.spec.segment_id.value) {
            Ok(s) => Some(s),
            Err(e) => {
                let pos = ck.at(*doc, &a.spec.segment_id);
                ck.err(&pos, "spec.segmentId", e.to_string());
                None
            }
        };
        for (i, act) in a.spec.activations.iter().enumerate() {
            let field = format!("spec.activations[{i}]");
            let checked = Activated {
                segment: segment.as_ref(),
                activated: &mut activated,
            }
            .check(ck, *doc, &act.value, &field, targets);
            if let (Some((dest, parts)), Some(n), Some(seg)) =
                (checked, name.as_ref(), segment.as_ref())
            {
                out.entry(dest).or_default().push(DesiredAudience {
                    manifest: n.clone(),
                    segment_id: seg.clone(),
                    display_name: a.spec.display_name.clone(),
                    description: a.spec.description.clone(),
                    filename_template: parts.filename_template,
                    export_mode: parts.export_mode,
                    schedule: parts.schedule,
                    schedule_name: parts.schedule_name,
                });
            }
        }
    }
    out
}

/// What one valid activation adds to its audience.
struct ActivationParts {
    filename_template: String,
    export_mode: ExportMode,
    schedule: Schedule,
    schedule_name: Option<ResourceName>,
}

/// One audience's activations being checked: its segment (when valid) and where each
/// (destination, segment) pair was first activated.
struct Activated<'a> {
    segment: Option<&'a SegmentId>,
    activated: &'a mut HashMap<(String, String), SourceLocation>,
}

impl Activated<'_> {
    /// Checks one activation at `field`; returns its destination's name and what it adds.
    fn check(
        &mut self,
        ck: &mut Checker,
        doc: DocRef,
        act: &Activation,
        field: &str,
        targets: &Targets<'_>,
    ) -> Option<(String, ActivationParts)> {
        let errors_before = ck.error_count();
        self.check_destination(ck, doc, act, field, targets);
        let resolved = resolve_schedule(ck, doc, act, field, targets);
        let filename_template = match &act.filename_template {
            Some(t) => {
                let pos = ck.at(doc, t);
                let dest = targets.destinations.get(&act.destination.value);
                let current = dest
                    .and_then(Option::as_ref)
                    .is_some_and(|d| d.platform.info().card == catalog::Card::Current);
                let violations = match dest {
                    // A Destination with errors (reported there): its card, and so the
                    // template rules, are not known; no follow-on error here.
                    Some(None) => Vec::new(),
                    _ if current => catalog::check_v2_filename_template(&t.value),
                    _ => catalog::check_filename_template(&t.value),
                };
                for v in violations {
                    ck.err(&pos, &format!("{field}.filenameTemplate"), v.message);
                }
                t.value.clone()
            }
            None => DEFAULT_FILENAME_TEMPLATE.to_owned(),
        };
        if ck.error_count() > errors_before {
            return None;
        }
        let (export_mode, schedule, schedule_name) = resolved?;
        Some((
            act.destination.value.clone(),
            ActivationParts {
                filename_template,
                export_mode,
                schedule,
                schedule_name,
            },
        ))
    }

    /// The destination exists, and this audience is not already activated to it.
    fn check_destination(
        &mut self,
        ck: &mut Checker,
        doc: DocRef,
        act: &Activation,
        field: &str,
        targets: &Targets<'_>,
    ) {
        let dest = &act.destination;
        let dest_pos = ck.at(doc, dest);
        if !targets.destinations.contains_key(&dest.value) {
            ck.err(
                &dest_pos,
                &format!("{field}.destination"),
                format!(
                    "no Destination named `{}`; defined: {}",
                    dest.value,
                    list_or_none(targets.destinations.keys())
                ),
            );
        } else if let Some(seg) = self.segment {
            let key = (dest.value.clone(), seg.as_str().to_owned());
            if let Some(first) = self.activated.get(&key) {
                ck.err(
                    &dest_pos,
                    &format!("{field}.destination"),
                    format!(
                        "audience {seg} is already activated to `{}` at {first}; an audience goes to a destination at most once",
                        dest.value
                    ),
                );
            } else {
                self.activated.insert(key, dest_pos.loc);
            }
        }
    }
}

/// The activation's schedule: a named `Schedule` (reported when unknown) or an inline one.
fn resolve_schedule(
    ck: &mut Checker,
    doc: DocRef,
    act: &Activation,
    field: &str,
    targets: &Targets<'_>,
) -> Option<(ExportMode, Schedule, Option<ResourceName>)> {
    let sched_field = format!("{field}.schedule");
    match &act.schedule.value {
        ScheduleRef::Name(n) => match targets.schedules.get(n) {
            Some(Some((mode, s))) => Some((*mode, s.clone(), ResourceName::parse(n).ok())),
            Some(None) => None, // the Schedule's own errors are reported there
            None => {
                let pos = ck.at(doc, &act.schedule);
                ck.err(
                    &pos,
                    &sched_field,
                    format!(
                        "no Schedule named `{n}`; defined: {} (or write the schedule inline)",
                        list_or_none(targets.schedules.keys())
                    ),
                );
                None
            }
        },
        ScheduleRef::Inline(spec) => {
            check_schedule(ck, doc, spec, &sched_field).map(|(m, s)| (m, s, None))
        }
    }
}
