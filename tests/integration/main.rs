//! The integration tests, in one binary: one module per area, each driving the library or the
//! real `destctl` binary, and one support module with the shared fixtures.
// Test code: panicking on a broken fixture is the point, output goes to the test log, and the
// support module's items are shared between test modules, not an API.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    unreachable_pub,
    missing_docs
)]

mod apply;
mod cards;
mod cli;
mod client;
mod corpus;
mod dataprep;
mod drift;
mod emulator;
mod envs;
mod hostile;
mod import;
mod live;
mod mapping;
mod plan;
mod secrets;
mod status;
mod support;
mod validate;
