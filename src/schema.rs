//! JSON Schemas of the manifest kinds, generated from the same types the parser reads
//! (`destctl schema [--out DIR]`), for editor completion through yaml-language-server.

use crate::error::Error;
use crate::manifest::raw::{AnyDoc, AudienceDoc, DestinationDoc, ScheduleDoc};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use std::path::PathBuf;

/// Arguments of `destctl schema`.
#[derive(Clone, Debug, clap::Args)]
pub struct SchemaArgs {
    /// Directory to write the schemas into.
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    pub out: PathBuf,
}

fn one<T: JsonSchema>() -> String {
    let schema = SchemaSettings::draft07()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}

/// The schema files: one per kind and a combined one, as `(file name, JSON text)`.
pub fn generate() -> Vec<(&'static str, String)> {
    vec![
        ("destination.json", one::<DestinationDoc>()),
        ("schedule.json", one::<ScheduleDoc>()),
        ("audience.json", one::<AudienceDoc>()),
        ("manifest.json", one::<AnyDoc>()),
    ]
}

/// Writes the schemas into `args.out` (created if missing) and lists them on stdout.
pub fn run(args: &SchemaArgs) -> Result<(), Error> {
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.clone(),
        source,
    })?;
    for (name, text) in generate() {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        println!("{}", path.display());
    }
    Ok(())
}
