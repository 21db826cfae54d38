//! destctl: Adobe Experience Platform batch destinations as code.
//!
//! Data flows one way: manifests ([`manifest`]) → desired model ([`model`]) → [`plan`] ← live
//! state; `apply` executes a plan and nothing else. The [`catalog`] is the one source of truth
//! for spec ids and per-destination rules.

pub mod apply;
pub mod catalog;
pub mod client;
pub mod commands;
pub mod diagnostics;
pub mod emulator;
pub mod live;
pub mod manifest;
pub mod marker;
pub mod model;
pub mod plan;
pub mod render;
pub mod schema;
pub mod target;
pub mod wire;

pub use commands::Error;
