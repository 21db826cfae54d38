//! JSON Schemas of the manifest kinds, generated from the same types the parser reads
//! (written by `destctl schema [--out DIR]`), for editor completion through yaml-language-server.

use crate::manifest::raw::{AnyDoc, AudienceDoc, DatasetExportDoc, DestinationDoc, ScheduleDoc};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

fn one<T: JsonSchema>() -> String {
    let schema = SchemaSettings::draft07()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}

/// The schema files: one per kind, a combined one and the config file's (`destctl.yaml`), as
/// `(file name, JSON text)`.
pub fn generate() -> Vec<(&'static str, String)> {
    vec![
        ("destination.json", one::<DestinationDoc>()),
        ("schedule.json", one::<ScheduleDoc>()),
        ("audience.json", one::<AudienceDoc>()),
        ("datasetexport.json", one::<DatasetExportDoc>()),
        ("manifest.json", one::<AnyDoc>()),
        ("config.json", one::<crate::config::ConfigDoc>()),
    ]
}
