//! The embedded Flow Service emulator: gateway, resources, PATCH, sockets and faults.

mod conformance;
mod gateway;
mod patch;
mod resources;
mod robustness;
mod socket;
