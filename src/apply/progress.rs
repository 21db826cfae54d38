//! Progress on a terminal: one indicatif line per Destination on stderr.

use super::execute::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

/// Per-Destination progress bars on stderr.
pub struct TerminalProgress {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
    style: ProgressStyle,
}

impl TerminalProgress {
    /// Bars for `groups` groups, drawn on stderr.
    pub fn new(groups: usize) -> TerminalProgress {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>24} [{bar:20}] {pos}/{len} {wide_msg}")
            .expect("valid template")
            .progress_chars("=> ");
        TerminalProgress {
            multi,
            bars: Mutex::new(vec![None; groups]),
            style,
        }
    }
}

impl Progress for TerminalProgress {
    fn group_started(&self, group: usize, names: &[String], steps: usize) {
        let pb = self.multi.add(ProgressBar::new(steps as u64));
        pb.set_style(self.style.clone());
        pb.set_prefix(names.join(", "));
        pb.set_message("running");
        let mut bars = self.bars.lock().expect("progress lock");
        if let Some(slot) = bars.get_mut(group) {
            *slot = Some(pb);
        }
    }

    fn step_done(&self, group: usize, what: &str) {
        if let Some(Some(pb)) = self.bars.lock().expect("progress lock").get(group) {
            pb.inc(1);
            pb.set_message(what.to_owned());
        }
    }

    fn group_finished(&self, group: usize, ok: bool) {
        if let Some(Some(pb)) = self.bars.lock().expect("progress lock").get(group) {
            pb.finish_with_message(if ok { "done" } else { "FAILED" });
        }
    }
}
