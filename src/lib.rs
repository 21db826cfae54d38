//! destctl: Adobe Experience Platform batch destinations as code.
//!
//! Manifests are validated into a desired model, live state is listed from the Flow Service, the
//! pure planner diffs the two into a plan document, and `apply` executes a plan and nothing else.
//! The [`catalog`] is the one source of truth for spec ids and per-destination rules.
//!
//! # Layers
//!
//! Bottom to top. A module may use modules of its own layer or below, never above, and two
//! modules never use each other (the test in `layers.rs` reads every `crate::` path in `src/`
//! against this table). The emulator is a side branch: it uses only `wire` and `catalog`, so the
//! server and the client share nothing but the Flow Service's vocabulary.
//!
//! | layer | modules | role |
//! |---|---|---|
//! | 0 | `wire` | the Flow Service's vocabulary: ids, etags, collections, patch ops, typed flows and connections |
//! | 1 | `catalog`, `model`, `marker` | destination cards and their rules; the desired model; the ownership marker |
//! | 2 | `diagnostics`, `config`, `manifest` | located problems; the environments file (`destctl.yaml`); YAML manifests → desired model, and their JSON Schemas |
//! | 3 | `live`, `plan`, `drift`, `health`, `import` | live state from list pages; the pure planner and the plan document; drift (live vs manifests vs the fingerprint last applied); export health from runs (`status`); live flows → manifests (`import`) |
//! | 4 | `render` | plans in text, JSON and Markdown; drift reports also in OpenMetrics |
//! | 5 | `client`, `fetch`, `emulator`, `target`, `apply` | HTTP client; live state read with list calls; the Flow Service emulator; which service a run talks to; the plan executor |
//! | 6 | `commands` | clap types, one module per subcommand, printing, exit codes and hints |
//! | 7 | `fuzzing` | the fuzz targets' harness bodies, run by the test suite on their seeds |
//!
//! # Public API
//!
//! The binary is a thin `main` over [`commands`]. The layers below are public so that the
//! integration tests, benchmarks and fuzz targets drive them as a library: [`manifest::load`],
//! [`fetch`], [`plan::build_plan`] and the [`plan::Plan`] document, [`drift::detect`] and the
//! [`drift::DriftReport`], [`apply`], the
//! [`emulator`] server and [`client::Client`]; [`import::import`] (live flows → manifests) and
//! [`health::evaluate`] (export health from runs) are pure functions for the same use. Everything else is `pub(crate)`. The emulator's
//! seeding helpers and `fuzzing` (the fuzz targets' harness bodies) are for tests,
//! benchmarks and `fuzz/` only: hidden from the docs, and left out of the `destctl` binary by
//! the linker since it never calls them.

pub mod apply;
pub mod catalog;
pub mod client;
pub mod commands;
pub mod config;
pub mod diagnostics;
pub mod drift;
pub mod emulator;
pub mod fetch;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod import;
pub mod live;
pub mod manifest;
pub mod marker;
pub mod model;
pub mod plan;
pub mod render;
pub mod target;
pub mod wire;

#[cfg(test)]
mod layers;

pub use commands::Error;
