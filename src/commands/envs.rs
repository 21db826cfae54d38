//! Environments for a command, shared by every command that takes `--env`/`--all-envs`:
//! which environments of the config file a run uses ([`select`]), each one's target options
//! ([`target_for`]), running one future per environment concurrently ([`join_all`]), and the
//! file a per-environment plan is saved to ([`out_path`]). Without a config file none of this
//! applies and a command runs as it always did.

use super::Error;
use super::cli::EnvArgs;
use crate::config::{self, ConfigError, Environment};
use crate::target::{self, Connected, TargetOptions};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::Poll;

/// How environments are chosen when none is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenNoneNamed {
    /// Every environment (`validate`).
    All,
    /// An error asking for `--env` or `--all-envs` (commands that talk to a service).
    Refuse,
}

/// The environments of this run: `None` without a config file (a plain run); an error for
/// `--env`/`--all-envs` without one, or for an unknown name.
pub(crate) fn select(
    args: &EnvArgs,
    none_named: WhenNoneNamed,
) -> Result<Option<Vec<Environment>>, Error> {
    let selection = args.selection();
    let Some(cfg) = config::find(args.config.as_deref())? else {
        if selection.is_empty() {
            return Ok(None);
        }
        return Err(ConfigError::NoConfig.into());
    };
    let envs = match none_named {
        WhenNoneNamed::All => cfg.select_or_all(&selection)?,
        WhenNoneNamed::Refuse => cfg.select(&selection)?,
    };
    Ok(Some(envs))
}

/// The target options of `env`: its sandbox, and its endpoint when it has one (else the
/// command line's or `DESTCTL_ENDPOINT`).
pub(crate) fn target_for(env: &Environment, base: &TargetOptions) -> TargetOptions {
    TargetOptions {
        sandbox: Some(env.sandbox.clone()),
        endpoint: env.endpoint.clone().or_else(|| base.endpoint.clone()),
        ..base.clone()
    }
}

/// `plan.json` → `plan.dev.json`: the file of one environment's plan when a run saves several.
pub(crate) fn out_path(path: &Path, env: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{env}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{env}"),
    };
    path.with_file_name(name)
}

/// The targets of `environments` (each with its sandbox and endpoint over `base`), resolved
/// and connected; the first connection notice (an embedded emulator started) is printed.
pub(crate) async fn connect(
    environments: &[Environment],
    base: &TargetOptions,
) -> Result<Vec<Connected>, Error> {
    let targets = environments
        .iter()
        .map(|e| target::resolve(&target_for(e, base)))
        .collect::<Result<Vec<_>, _>>()?;
    let connected = target::connect_all(targets).await?;
    if let Some(notice) = connected.iter().find_map(Connected::notice) {
        eprintln!("{notice}");
    }
    Ok(connected)
}

/// A future of one environment's work.
pub(crate) type EnvFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Runs the futures concurrently on the current task; their outputs in the same order.
pub(crate) async fn join_all<T>(futures: Vec<EnvFuture<'_, T>>) -> Vec<T> {
    let mut pending: Vec<Option<EnvFuture<'_, T>>> = futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot
                && let Poll::Ready(v) = f.as_mut().poll(cx)
            {
                *out = Some(v);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_environment_plan_files() {
        assert_eq!(
            out_path(Path::new("out/plan.json"), "dev"),
            PathBuf::from("out/plan.dev.json")
        );
        assert_eq!(
            out_path(Path::new("plan"), "prod"),
            PathBuf::from("plan.prod")
        );
    }

    #[tokio::test]
    async fn futures_run_together_and_keep_their_order() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        // The first waits for the second: sequential polling would never finish.
        let first: EnvFuture<'_, u8> = Box::pin(async move { rx.await.unwrap_or(0) + 1 });
        let second: EnvFuture<'_, u8> = Box::pin(async move {
            let _ = tx.send(41);
            7
        });
        assert_eq!(join_all(vec![first, second]).await, vec![42, 7]);
    }
}
