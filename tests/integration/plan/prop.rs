//! Property tests of the diff: for random live/desired pairs, executing the plan the way the
//! server does gives a flow whose managed part equals desired, and planning again finds
//! nothing; a reorder-only change plans nothing.

use crate::support::plan::*;
use destctl::catalog::{ExportMode, Frequency, Schedule, StartTime, TriggerType};
use destctl::model::{DesiredAudience, DesiredDestination};
use destctl::plan::build_plan;
use destctl::plan::diff::{desired_flow_view, live_flow_view};
use destctl::wire::{PatchOpKind, Resource};
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::json;

const SEGMENTS: [&str; 8] = ["s-0", "s-1", "s-2", "s-3", "s-4", "s-5", "s-6", "s-7"];
const PATHS: [&str; 7] = [
    "person.name.firstName",
    "person.name.lastName",
    "personalEmail.address",
    "mobilePhone.number",
    "homeAddress.city",
    "homeAddress.postalCode",
    "loyalty.tier",
];

fn schedule_strategy() -> impl Strategy<Value = (ExportMode, Schedule)> {
    (
        0..6usize,
        0..24u8,
        prop::option::of(1..60u32),
        any::<bool>(),
    )
        .prop_map(|(kind, hour, end_days, after_eval)| {
            let start = date("2026-01-05");
            let end = end_days.map(|d| start + chrono::Days::new(d.into()));
            match kind {
                0 => (
                    ExportMode::DailyFullExport,
                    Schedule {
                        frequency: Frequency::Once,
                        trigger_type: Some(TriggerType::Scheduled),
                        start_date: start,
                        end_date: None,
                        start_time: StartTime::from_hour(hour),
                    },
                ),
                1 if after_eval => (
                    ExportMode::DailyFullExport,
                    Schedule {
                        frequency: Frequency::Daily,
                        trigger_type: Some(TriggerType::AfterSegmentEval),
                        start_date: start,
                        end_date: end,
                        start_time: None,
                    },
                ),
                1 => (
                    ExportMode::DailyFullExport,
                    Schedule {
                        frequency: Frequency::Daily,
                        trigger_type: Some(TriggerType::Scheduled),
                        start_date: start,
                        end_date: end,
                        start_time: StartTime::from_hour(hour),
                    },
                ),
                n => (
                    ExportMode::FirstFullThenIncremental,
                    Schedule {
                        frequency: [
                            Frequency::Daily,
                            Frequency::Every3Hours,
                            Frequency::Every6Hours,
                            Frequency::Every12Hours,
                        ][n - 2],
                        trigger_type: None,
                        start_date: start,
                        end_date: end,
                        start_time: None,
                    },
                ),
            }
        })
}

fn audiences_strategy() -> impl Strategy<Value = Vec<DesiredAudience>> {
    // Shuffled: the planner has a path for audiences listed in id order and one for others.
    subsequence(SEGMENTS.to_vec(), 0..=SEGMENTS.len())
        .prop_shuffle()
        .prop_flat_map(|ids| {
            let n = ids.len();
            (
                Just(ids),
                prop::collection::vec(
                    (
                        schedule_strategy(),
                        prop::option::of(prop::sample::select(vec!["Bikers", "Runners", "VIP"])),
                        any::<bool>(),
                    ),
                    n,
                ),
            )
                .prop_map(|(ids, props)| {
                    ids.into_iter()
                        .zip(props)
                        .map(|(id, ((mode, schedule), name, custom))| {
                            let mut a = audience(id, name, mode, schedule);
                            if custom {
                                a.filename_template.push_str("_%this is custom text%");
                            }
                            a
                        })
                        .collect()
                })
        })
}

prop_compose! {
    fn destination()(
        name in prop::sample::select(vec!["Partner SFTP", "Partner exports"]),
        description in prop::option::of(prop::sample::select(vec!["Nightly", "For the partner"])),
        attributes in subsequence(PATHS.to_vec(), 0..=PATHS.len()).prop_shuffle(),
        mandatory_mask in prop::collection::vec(any::<bool>(), PATHS.len()),
        dedup_mask in prop::collection::vec(any::<bool>(), PATHS.len()),
        audiences in audiences_strategy(),
        enabled in any::<bool>(),
        path in prop::sample::select(vec!["/upload", "/upload/v2"]),
        credentials in 1..4u32,
    ) -> DesiredDestination {
        let mut d = sftp();
        d.display_name = name.into();
        d.description = description.map(str::to_owned);
        d.attributes = attributes.iter().map(|p| attr(p)).collect();
        d.mandatory_attributes = attributes
            .iter()
            .zip(&mandatory_mask)
            .filter(|(_, m)| **m)
            .map(|(p, _)| attr(p))
            .collect();
        d.deduplication_keys = attributes
            .iter()
            .zip(&dedup_mask)
            .filter(|(_, m)| **m)
            .map(|(p, _)| attr(p))
            .collect();
        d.audiences = audiences;
        d.enabled = enabled;
        d.location.params.insert("remotePath".into(), path.into());
        d.connection.credentials_version = credentials;
        d
    }
}

/// Live state made by applying `before`, then disturbed the way other writers and the server
/// do: server fields rewritten, a duplicate audience, an unknown selector, shuffled lists.
fn live_from(before: &DesiredDestination, disturb: u8) -> FakeService {
    let mut svc = FakeService::default();
    let plan = build_plan(&state(vec![before.clone()]), &svc.live(), &opts(false)).unwrap();
    svc.apply(&plan);
    let (id, _) = svc.find(Resource::Flow, "partner-sftp", false);
    let flow = &mut svc.objects.get_mut(&id).unwrap().1;
    let segs = flow
        .pointer_mut("/transformations/0/params/segmentSelectors/selectors")
        .unwrap()
        .as_array_mut()
        .unwrap();
    if disturb & 1 != 0 {
        for s in segs.iter_mut() {
            s["value"]["updateTime"] = json!("1");
        }
    }
    if disturb & 2 != 0 && !segs.is_empty() {
        let dup = segs[0].clone();
        segs.push(dup);
    }
    if disturb & 4 != 0 {
        segs.insert(
            0,
            json!({"type": "PLATFORM_SEGMENT", "value": {"id": "foreign-1", "exportMode": "DAILY_FULL_EXPORT",
                "schedule": {"frequency": "ONCE", "startDate": "2026-01-01"}, "createTime": "5"}}),
        );
    }
    if disturb & 8 != 0 {
        segs.reverse();
        let profs = flow
            .pointer_mut("/transformations/0/params/profileSelectors/selectors")
            .unwrap()
            .as_array_mut()
            .unwrap();
        profs.reverse();
    }
    svc
}

/// Applies `ops` as a service that resolves every index against the original document would:
/// replaces and removes by original index, appends at the end, other ops in order.
fn apply_against_original(
    flow: &serde_json::Value,
    ops: &[destctl::wire::PatchOp],
) -> serde_json::Value {
    use std::collections::{BTreeMap, BTreeSet};
    let lists = [
        "/transformations/0/params/segmentSelectors/selectors",
        "/transformations/0/params/profileSelectors/selectors",
    ];
    let mut out = flow.clone();
    let mut rest = Vec::new();
    type ListOps = (
        BTreeMap<usize, serde_json::Value>,
        BTreeSet<usize>,
        Vec<serde_json::Value>,
    );
    let mut per: BTreeMap<&str, ListOps> = BTreeMap::new();
    for op in ops {
        let list = lists.iter().find(|l| op.path.starts_with(&format!("{l}/")));
        match list {
            Some(l) => {
                let e = per.entry(l).or_default();
                let tail = &op.path[l.len() + 1..];
                match (op.op, tail) {
                    (PatchOpKind::Add, "-") => e.2.push(op.value.clone().unwrap()),
                    (PatchOpKind::Replace, i) => {
                        e.0.insert(i.parse().unwrap(), op.value.clone().unwrap());
                    }
                    (PatchOpKind::Remove, i) => {
                        e.1.insert(i.parse().unwrap());
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            None => rest.push(op.clone()),
        }
    }
    for (l, (replaces, removes, adds)) in per {
        let items = flow.pointer(l).unwrap().as_array().unwrap();
        let mut new: Vec<serde_json::Value> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| !removes.contains(i))
            .map(|(i, v)| replaces.get(&i).cloned().unwrap_or_else(|| v.clone()))
            .collect();
        new.extend(adds);
        *out.pointer_mut(l).unwrap() = serde_json::Value::Array(new);
    }
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::to_value(&rest).unwrap()).unwrap();
    json_patch::patch(&mut out, &patch).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn applying_the_plan_reaches_desired_and_replanning_finds_nothing(
        before in destination(),
        after in destination(),
        disturb in 0..16u8,
    ) {
        let mut svc = live_from(&before, disturb);
        let plan = build_plan(&state(vec![after.clone()]), &svc.live(), &opts(false)).unwrap();
        for c in &plan.changes {
            if let Some(p) = &c.patch() {
                // removes come after the replaces and in descending index order
                let removes: Vec<(&str, usize)> = p
                    .iter()
                    .filter(|o| o.op == PatchOpKind::Remove)
                    .filter_map(|o| o.path.rsplit_once('/'))
                    .filter_map(|(list, i)| Some((list, i.parse().ok()?)))
                    .collect();
                for w in removes.windows(2) {
                    if w[0].0 == w[1].0 {
                        prop_assert!(w[0].1 > w[1].1, "{:?}", removes);
                    }
                }
            }
        }
        // the patch means the same under both readings of JSON Patch indices
        let (_, live_flow) = svc.find(Resource::Flow, "partner-sftp", false);
        if let Some(c) = plan.changes.iter().find(|c| c.resource() == Resource::Flow && c.patch().is_some()) {
            let ops = c.patch().unwrap();
            let patch: json_patch::Patch =
                serde_json::from_value(serde_json::to_value(ops).unwrap()).unwrap();
            let mut sequential = live_flow.clone();
            json_patch::patch(&mut sequential, &patch).unwrap();
            prop_assert_eq!(sequential, apply_against_original(&live_flow, ops));
        }
        svc.apply(&plan);
        let (_, flow) = svc.find(Resource::Flow, "partner-sftp", false);
        prop_assert_eq!(
            live_flow_view(&destctl::wire::flow::Flow::from_value(&flow).unwrap()),
            desired_flow_view(&after)
        );
        let again = build_plan(&state(vec![after]), &svc.live(), &opts(false)).unwrap();
        prop_assert!(again.changes.is_empty(), "{:#?}", again.changes);
        prop_assert_eq!(again.summary.unchanged, 1);
    }

    #[test]
    fn reordering_the_manifest_plans_nothing(
        d in destination(),
        seed in any::<u64>(),
        disturb in prop::sample::select(vec![0u8, 1, 8, 9]),
    ) {
        let svc = live_from(&d, disturb);
        let mut shuffled = d.clone();
        let n = shuffled.audiences.len().max(1);
        shuffled.audiences.rotate_left((seed as usize) % n);
        shuffled.attributes.reverse();
        shuffled.mandatory_attributes.reverse();
        shuffled.deduplication_keys.reverse();
        let plan = build_plan(&state(vec![shuffled]), &svc.live(), &opts(false)).unwrap();
        prop_assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    }
}
