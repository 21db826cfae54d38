//! The planner, the plan document and its renderings, in process and through the binary.

mod build;
mod cli_edits;
mod e2e;
mod prop;
mod render;
