//! Reading live state: `fetch` and the target the command line resolves.

mod embedded_cli;
mod emulator;
mod fetch_mock;
