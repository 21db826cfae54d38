//! `destctl import [--out DIR] [--id ID]... [--name GLOB]... [--platform P]...`.
//!
//! Lists the sandbox's destination flows and connections (the same list calls as `plan`),
//! writes a Destination manifest per selected unmanaged flow plus the Audience and Schedule
//! documents they need ([`crate::import`]) into `--out` (new files only), prints what was
//! written on stdout and the environment variables to set for the credentials on stderr.
//! Read-only on the service: the objects are adopted by the next `apply`. A flow named with
//! `--id` that destctl already manages is refused with the Destination's name.

use super::cli::ImportArgs;
use super::envs::{self, WhenNoneNamed};
use super::{Context, Error, Exit};
use crate::catalog::Platform;
use crate::config::Environment;
use crate::fetch::{FetchOptions, fetch};
use crate::import::{self, ImportError, Selection, Taken};
use crate::plan::adopt::left_words;
use crate::target;

/// Runs `destctl import`.
pub(crate) async fn run(args: &ImportArgs, _ctx: &Context) -> Result<Exit, Error> {
    let mut platforms = Vec::new();
    for p in &args.platforms {
        let platform = Platform::parse(p).ok_or_else(|| {
            let all: Vec<&str> = Platform::all().map(Platform::as_str).collect();
            ImportError::UnknownPlatform(p.clone(), all.join(", "))
        })?;
        platforms.push(platform);
    }
    let selection = Selection {
        ids: args.ids.clone(),
        name_globs: args.names.clone(),
        platforms,
    };
    // With a config file, one environment: import reads one sandbox.
    let environment = match envs::select(&args.env, WhenNoneNamed::Refuse)? {
        None => None,
        Some(list) if list.len() == 1 => list.into_iter().next(),
        Some(list) => return Err(ImportError::OneEnvironment(list.len()).into()),
    };
    let options = match &environment {
        Some(env) => envs::target_for(env, &args.target.options()),
        None => args.target.options(),
    };
    let mut taken = existing_names(&args.out, environment.as_ref());
    let connected = target::connect(target::resolve(&options)?).await?;
    connected
        .client
        .observe_retries(std::sync::Arc::new(super::progress::RetryPrinter));
    if let Some(notice) = connected.notice() {
        eprintln!("{notice}");
    }
    let live = fetch(
        &connected.client,
        &FetchOptions {
            campaign_flow_spec: true,
        },
    )
    .await?;
    drop(connected);
    taken.destinations.extend(live.managed().into_keys());
    let imported = import::import(&live, &selection, &taken)?;
    for s in &imported.skipped {
        let why = if s.pending {
            format!("already imported as `{}` (adoption pending)", s.destination)
        } else {
            format!("already managed by Destination `{}`", s.destination)
        };
        let line = format!("destctl: skipped flow {} ({:?}): {why}", s.id, s.flow_name);
        eprintln!("{}", crate::render::escape_controls(&line));
    }
    for u in &imported.unsupported {
        eprintln!(
            "destctl: warning: {}; skipped",
            crate::render::escape_controls(&u.to_string())
        );
    }
    if imported.flows.is_empty() {
        println!("No unmanaged destination flow to import.");
        return Ok(Exit::Success);
    }
    for (name, _) in &imported.files {
        let path = args.out.join(name);
        if path.exists() {
            return Err(ImportError::FileExists(path.display().to_string()).into());
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.clone(),
        source,
    })?;
    for (name, text) in &imported.files {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Io { path, source })?;
    }
    let n = imported.flows.len();
    println!(
        "Imported {n} flow{} into {}:",
        if n == 1 { "" } else { "s" },
        args.out.display()
    );
    // Ids and names come from the server: no control character reaches the terminal.
    let safe = |s: &str| crate::render::escape_controls(s).into_owned();
    for f in &imported.flows {
        println!(
            "  {}  <- flow {} {:?} ({})",
            f.name,
            safe(&f.flow_id),
            safe(&f.flow_name),
            f.file
        );
        for l in &f.left {
            println!("      {}", safe(&left_words(l)));
        }
    }
    for (name, _) in imported
        .files
        .iter()
        .filter(|(n, _)| n == import::AUDIENCES_FILE || n == import::SCHEDULES_FILE)
    {
        println!("  {name}");
    }
    println!(
        "Next: `destctl validate {0}`, then `destctl plan {0}` shows one adopt per object and `destctl apply {0}` adopts them.",
        args.out.display()
    );
    if !imported.env.is_empty() {
        eprintln!(
            "destctl: the credentials are write-only (the API never returns them): set these variables before `destctl apply`:"
        );
        for v in &imported.env {
            eprintln!("  {}   ({} {})", v.name, v.destination, v.param);
        }
    }
    Ok(Exit::Success)
}

/// The names the manifests already in `dir` use (none when it has none or they do not load),
/// read for `env` when given.
fn existing_names(dir: &std::path::Path, env: Option<&Environment>) -> Taken {
    let mut taken = Taken::default();
    if !dir.is_dir() {
        return taken;
    }
    let paths = [dir.to_path_buf()];
    let loaded = match env {
        Some(env) => crate::manifest::load_for(&paths, env),
        None => crate::manifest::load(&paths),
    };
    let Ok(loaded) = loaded else {
        return taken;
    };
    for (name, id) in &loaded.desired.adoptions {
        taken.adopting.insert(id.0.clone(), name.to_string());
    }
    for d in &loaded.desired.destinations {
        taken.destinations.insert(d.name.to_string());
        for a in &d.audiences {
            taken.audiences.insert(a.manifest.to_string());
            if let Some(s) = &a.schedule_name {
                taken.schedules.insert(s.to_string());
            }
        }
    }
    taken
}
