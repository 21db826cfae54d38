//! What `destctl apply` shows while it works: the plan and the question on stderr before a
//! live apply, and one indicatif line per Destination while the plan executes.

use crate::apply::execute::{BoxFuture, Cancel, Progress};
use crate::apply::{ApplyError, Observer, confirm};
use crate::client::{RetryNotice, RetryObserver};
use crate::plan::{Plan, PlanDetails};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

/// Prints each retry, and each check after a lost answer, as one line on stderr.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RetryPrinter;

impl RetryObserver for RetryPrinter {
    fn retrying(&self, n: &RetryNotice) {
        eprintln!(
            "destctl: {} {}: {}; retrying (attempt {} of {}) in {:.1}s",
            n.method,
            n.path,
            n.reason,
            n.attempt,
            n.max_attempts,
            n.delay.as_secs_f64()
        );
    }

    fn resolving(&self, method: &reqwest::Method, path: &str, what: &str) {
        eprintln!("destctl: {method} {path}: outcome unknown; {what}");
    }
}

/// The terminal side of an apply, on stderr.
pub(crate) struct TerminalObserver {
    /// Colour the plan.
    color: bool,
    /// Progress bars, when stderr is a terminal.
    bars: Option<Bars>,
}

/// Per-Destination progress bars.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
    style: ProgressStyle,
}

impl TerminalObserver {
    /// An observer that colours the plan when `color` and draws progress bars when
    /// `progress`.
    pub(crate) fn new(color: bool, progress: bool) -> TerminalObserver {
        let bars = progress.then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(Vec::new()),
            style: ProgressStyle::with_template("{prefix:>24} [{bar:20}] {pos}/{len} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        });
        TerminalObserver { color, bars }
    }

    /// Whether a progress bar was drawn (they end without a newline).
    pub(crate) fn drew_bars(&self) -> bool {
        self.bars.as_ref().is_some_and(|b| {
            b.bars
                .lock()
                .expect("progress lock")
                .iter()
                .any(Option::is_some)
        })
    }
}

impl Progress for TerminalObserver {
    fn group_started(&self, group: usize, names: &[String], steps: usize) {
        let Some(b) = &self.bars else { return };
        let pb = b.multi.add(ProgressBar::new(steps as u64));
        pb.set_style(b.style.clone());
        pb.set_prefix(names.join(", "));
        pb.set_message("running");
        let mut bars = b.bars.lock().expect("progress lock");
        if bars.len() <= group {
            bars.resize(group + 1, None);
        }
        bars[group] = Some(pb);
    }

    fn step_done(&self, group: usize, what: &str) {
        let Some(b) = &self.bars else { return };
        if let Some(Some(pb)) = b.bars.lock().expect("progress lock").get(group) {
            pb.inc(1);
            pb.set_message(what.to_owned());
        }
    }

    fn group_finished(&self, group: usize, ok: bool) {
        let Some(b) = &self.bars else { return };
        if let Some(Some(pb)) = b.bars.lock().expect("progress lock").get(group) {
            pb.finish_with_message(if ok { "done" } else { "FAILED" });
        }
    }
}

impl Observer for TerminalObserver {
    fn no_changes(&self, plan: &Plan) {
        eprintln!(
            "Target: {} (sandbox {})",
            crate::render::escape_controls(&plan.target.endpoint),
            crate::render::escape_controls(&plan.target.sandbox)
        );
        eprintln!("No changes: the live state matches the manifests.");
    }

    fn planned(&self, plan: &Plan, details: &PlanDetails) {
        eprint!(
            "{}",
            crate::render::text::render(plan, Some(details), self.color)
        );
    }

    /// Reads a yes/no on the terminal without blocking the runtime.
    fn confirm<'a>(&'a self, cancel: &'a Cancel) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // A plain thread: a pending read of stdin must not keep the runtime from shutting
            // down.
            std::thread::spawn(move || {
                let r = confirm(&mut std::io::stdin().lock(), &mut std::io::stderr());
                let _ = tx.send(r);
            });
            tokio::select! {
                r = rx => r.unwrap_or(Err(ApplyError::NotConfirmed)),
                _ = cancel.cancelled() => Err(ApplyError::NotConfirmed),
            }
        })
    }
}
