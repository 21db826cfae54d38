//! `DatasetExport` rules: the Destination it names exists and is of a current card (dataset
//! flows exist only there), the datasets are distinct and non-empty, the file type is `JSON` or
//! `PARQUET`, and the schedule is one AEP accepts (`interval` 1 by `day`, 3/6/9/12 by `hour`,
//! 0 by `day` for a one-off `DAILY_FULL_EXPORT`; RFC 3339 times, the end after the start).

use super::check_name;
use super::checker::{Checker, DocRef};
use crate::catalog::{Card, Compression, FileType};
use crate::manifest::raw::{DatasetExportDoc, DatasetScheduleSpec, Kind};
use crate::model::{
    DatasetExportMode, DatasetSchedule, DatasetTimeUnit, DesiredDataset, DesiredDatasetExport,
    DesiredDestination,
};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// Checks every `DatasetExport` against the checked destinations (`None` for one with
/// errors); returns the valid ones sorted by name.
pub(super) fn check_dataset_exports(
    ck: &mut Checker,
    docs: &[(DocRef, DatasetExportDoc)],
    destinations: &BTreeMap<String, Option<DesiredDestination>>,
) -> Vec<DesiredDatasetExport> {
    let mut names = BTreeMap::new();
    let mut out = Vec::new();
    for (doc, d) in docs {
        let errors_before = ck.error_count();
        let name = check_name(ck, *doc, &d.metadata.name, Kind::DatasetExport, &mut names);
        if let Some(n) = &name
            && destinations.contains_key(n.as_str())
        {
            let pos = ck.at(*doc, &d.metadata.name);
            ck.err(
                &pos,
                "metadata.name",
                format!(
                    "a Destination is also named `{n}`; a DatasetExport's objects carry its name as their ownership marker, so it must differ from every Destination's"
                ),
            );
        }
        let spec = &d.spec;
        let dest_pos = ck.at(*doc, &spec.destination);
        let dest = match destinations.get(&spec.destination.value) {
            None => {
                let known: Vec<&str> = destinations.keys().map(String::as_str).collect();
                ck.err(
                    &dest_pos,
                    "spec.destination",
                    format!(
                        "no Destination named `{}`; defined: {}",
                        spec.destination.value,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                None
            }
            Some(None) => None,
            Some(Some(dest)) if dest.platform.info().card != Card::Current => {
                ck.err(
                    &dest_pos,
                    "spec.destination",
                    format!(
                        "Destination `{}` is on {}, which has no dataset exports; use a current card (amazon-s3, azure-blob, sftp, azure-data-lake-gen2, data-landing-zone, google-cloud-storage)",
                        dest.name, dest.platform
                    ),
                );
                None
            }
            Some(Some(dest)) => Some(dest),
        };
        let datasets = check_datasets(ck, *doc, &spec.datasets);
        if !matches!(spec.file_type.value, FileType::Json | FileType::Parquet) {
            let pos = ck.at(*doc, &spec.file_type);
            ck.err(
                &pos,
                "spec.fileType",
                format!(
                    "{} is not a dataset file type; use JSON or PARQUET",
                    spec.file_type.value.as_str()
                ),
            );
        }
        let schedule = check_schedule(ck, *doc, &spec.schedule);
        if ck.error_count() != errors_before {
            continue;
        }
        let (Some(name), Some(dest), Some(schedule)) = (name, dest, schedule) else {
            continue;
        };
        out.push(DesiredDatasetExport {
            display_name: spec
                .display_name
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| name.to_string()),
            name,
            source: ck.doc_start(*doc).loc,
            description: spec.description.clone(),
            destination: dest.name.clone(),
            platform: dest.platform,
            location: dest.location.params.clone(),
            mode: dest.location.mode,
            datasets,
            file_type: spec.file_type.value,
            compression: spec
                .compression
                .as_ref()
                .map_or(Compression::None, |c| c.value),
            schedule,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn check_datasets(
    ck: &mut Checker,
    doc: DocRef,
    list: &Spanned<Vec<Spanned<crate::manifest::raw::DatasetSpec>>>,
) -> Vec<DesiredDataset> {
    if list.value.is_empty() {
        let pos = ck.at(doc, list);
        ck.err(&pos, "spec.datasets", "list at least one dataset");
    }
    let mut out: Vec<DesiredDataset> = Vec::new();
    for (i, item) in list.value.iter().enumerate() {
        let id = &item.value.id;
        let pos = ck.at(doc, id);
        let field = format!("spec.datasets[{i}].id");
        let v = id.value.trim();
        if v.is_empty() || v.contains(char::is_whitespace) || v.contains('/') {
            ck.err(&pos, &field, format!("`{}` is not a dataset id", id.value));
        } else if out.iter().any(|d| d.id == v) {
            ck.err(&pos, &field, format!("dataset `{v}` is listed twice"));
        } else {
            out.push(DesiredDataset {
                id: v.to_owned(),
                name: item.value.name.clone().filter(|n| !n.trim().is_empty()),
            });
        }
    }
    out
}

fn epoch_secs(ck: &mut Checker, doc: DocRef, v: &Spanned<String>, field: &str) -> Option<i64> {
    match chrono::DateTime::parse_from_rfc3339(v.value.trim()) {
        Ok(t) => Some(t.timestamp()),
        Err(_) => {
            let pos = ck.at(doc, v);
            ck.err(
                &pos,
                field,
                format!(
                    "`{}` is not an RFC 3339 time; write e.g. 2026-12-01T06:00:00Z",
                    v.value
                ),
            );
            None
        }
    }
}

fn check_schedule(
    ck: &mut Checker,
    doc: DocRef,
    s: &Spanned<DatasetScheduleSpec>,
) -> Option<DatasetSchedule> {
    let sp = &s.value;
    let start = epoch_secs(ck, doc, &sp.start_time, "spec.schedule.startTime");
    let end = sp
        .end_time
        .as_ref()
        .map(|e| (e, epoch_secs(ck, doc, e, "spec.schedule.endTime")));
    if let (Some(st), Some((e, Some(en)))) = (start, &end)
        && *en <= st
    {
        let pos = ck.at(doc, e);
        ck.err(
            &pos,
            "spec.schedule.endTime",
            "the end is not after startTime",
        );
    }
    let mode = sp.export_mode.as_ref().map(|m| m.value);
    let full = mode == Some(DatasetExportMode::DailyFullExport);
    let unit = sp.time_unit.value;
    let interval = sp.interval.value;
    let ok = match unit {
        DatasetTimeUnit::Day if full => interval == 0,
        DatasetTimeUnit::Day => interval == 1,
        DatasetTimeUnit::Hour => !full && matches!(interval, 3 | 6 | 9 | 12),
    };
    if !ok {
        let pos = ck.at(doc, &sp.interval);
        ck.err(
            &pos,
            "spec.schedule.interval",
            format!(
                "interval {interval} is not accepted here: use 1 with timeUnit day, 3, 6, 9 or 12 with hour, 0 with day and exportMode DAILY_FULL_EXPORT (a one-off full export)"
            ),
        );
    }
    if let Some(t) = &sp.folder_name_template
        && t.trim().is_empty()
    {
        let pos = ck.at(doc, s);
        ck.err(
            &pos,
            "spec.schedule.folderNameTemplate",
            "the template is empty",
        );
    }
    Some(DatasetSchedule {
        export_mode: mode,
        start_time: start?,
        end_time: match end {
            None => None,
            Some((_, e)) => Some(e?),
        },
        interval,
        time_unit: unit,
        folder_name_template: sp.folder_name_template.clone(),
    })
}
