//! The integration tests, in one binary: one module per area, each driving the library or the
//! real `destctl` binary, and one support module with the shared fixtures.

mod apply;
mod cli;
mod client;
mod emulator;
mod live;
mod plan;
mod secrets;
mod support;
mod validate;
