//! The binary's error reporting.

mod errors;
