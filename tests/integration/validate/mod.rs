//! Manifest loading and checks, the `validate` command and the JSON Schemas.

mod cli;
mod model;
mod schema;
