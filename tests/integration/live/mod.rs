//! Reading live state: `live::fetch` and the target the command line resolves.

mod embedded_cli;
mod emulator;
mod fetch_mock;
