//! `destctl schema [--out DIR]`: writes the JSON Schemas of the manifest kinds.

use super::cli::SchemaArgs;
use super::{Context, Error, Exit};

/// Writes the schemas into `args.out` (created if missing) and lists them on stdout.
pub(crate) fn run(args: &SchemaArgs, _ctx: &Context) -> Result<Exit, Error> {
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.clone(),
        source,
    })?;
    for (name, text) in crate::manifest::schema::generate() {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        println!("{}", path.display());
    }
    Ok(Exit::Success)
}
