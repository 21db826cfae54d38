//! Convergence, as a property: for random pairs of manifest sets (subsets of the examples with
//! random renames, audiences, attributes, enabled flags and credential versions), applying the
//! first and then the second leaves nothing to plan and exactly one of each object.

use crate::support::apply::*;
use destctl::emulator::FaultConfig;
use destctl::model::{DesiredDestination, DesiredState};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// How one example Destination is varied.
#[derive(Clone, Debug)]
struct Variation {
    keep: bool,
    name_variant: u8,
    enabled: bool,
    audience_mask: u8,
    attribute_mask: u8,
    rotate_attributes: usize,
    credentials_bump: u32,
}

fn variation() -> impl Strategy<Value = Variation> {
    (
        prop::bool::weighted(0.7),
        0u8..3,
        prop::bool::weighted(0.8),
        any::<u8>(),
        any::<u8>(),
        0usize..5,
        0u32..2,
    )
        .prop_map(
            |(keep, name_variant, enabled, audience_mask, attribute_mask, rotate, bump)| {
                Variation {
                    keep,
                    name_variant,
                    enabled,
                    audience_mask,
                    attribute_mask,
                    rotate_attributes: rotate,
                    credentials_bump: bump,
                }
            },
        )
}

fn vary(base: &DesiredState, vs: &[Variation]) -> DesiredState {
    let destinations = base
        .destinations
        .iter()
        .zip(vs)
        .filter(|(_, v)| v.keep)
        .map(|(d, v)| vary_one(d, v))
        .collect();
    DesiredState {
        destinations,
        ..DesiredState::default()
    }
}

fn vary_one(d: &DesiredDestination, v: &Variation) -> DesiredDestination {
    let mut d = d.clone();
    if v.name_variant > 0 {
        d.display_name = format!("{} (variant {})", d.display_name, v.name_variant);
    }
    d.enabled = v.enabled;
    d.audiences = d
        .audiences
        .iter()
        .enumerate()
        .filter(|(i, _)| v.audience_mask & (1 << (i % 8)) != 0)
        .map(|(_, a)| a.clone())
        .collect();
    // Keep the first attribute at least; mandatory attributes and deduplication keys must
    // stay among the selected ones.
    let mut attributes: Vec<_> = d
        .attributes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || v.attribute_mask & (1 << (i % 8)) != 0)
        .map(|(_, a)| a.clone())
        .collect();
    let n = attributes.len();
    attributes.rotate_left(v.rotate_attributes % n.max(1));
    d.mandatory_attributes.retain(|a| attributes.contains(a));
    d.deduplication_keys.retain(|a| attributes.contains(a));
    d.attributes = attributes;
    d.connection.credentials_version += v.credentials_bump;
    d
}

#[test]
fn applying_any_manifest_set_after_any_other_converges() {
    let base = load(&all_paths());
    let n = base.destinations.len();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(variation(), n),
        prop::collection::vec(variation(), n),
    );
    runner
        .run(&strategy, |(first, second)| {
            let a = vary(&base, &first);
            let b = vary(&base, &second);
            rt.block_on(async {
                let emu = emulator(FaultConfig::default()).await;
                let r = apply_live(&emu, &a, true).await.unwrap();
                prop_assert!(r.report.is_success(), "{}", r.report.to_text());
                prop_assert!(!plan_now(&emu, &a, true).await.has_changes());
                let r = apply_live(&emu, &b, true).await.unwrap();
                prop_assert!(r.report.is_success(), "{}", r.report.to_text());
                let left = plan_now(&emu, &b, true).await;
                prop_assert!(!left.has_changes(), "{:#?}", left.changes);
                assert_exactly_one_of_each(&emu, &b).await;
                let writes_before = writes(&emu);
                let again = apply_live(&emu, &b, true).await.unwrap();
                prop_assert!(again.report.done.is_empty());
                prop_assert_eq!(writes(&emu), writes_before);
                emu.shutdown().await;
                Ok(())
            })
        })
        .unwrap();
}
