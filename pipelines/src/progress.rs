//! Progress output: live bars on a terminal, plain log lines otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives progress events from the runner.
pub trait Progress: Send + Sync {
    /// A stream started loading.
    fn started(&self, source: &str, stream: &str, mode: &str);
    /// A page was written (not yet committed).
    fn page(&self, source: &str, stream: &str, records: u64, pages: u64);
    /// A stream finished (or failed).
    fn finished(&self, source: &str, stream: &str, summary: &str);
}

/// No output.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: &str, _: &str, _: &str) {}
    fn page(&self, _: &str, _: &str, _: u64, _: u64) {}
    fn finished(&self, _: &str, _: &str, _: &str) {}
}

/// Log lines through `tracing`: one at start, one every 10 seconds while loading, one at the end.
pub struct LogLines {
    last: Mutex<HashMap<String, (Instant, Instant)>>,
}

impl LogLines {
    /// A new reporter.
    pub fn new() -> Self {
        LogLines {
            last: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for LogLines {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for LogLines {
    fn started(&self, source: &str, stream: &str, mode: &str) {
        let now = Instant::now();
        self.last
            .lock()
            .expect("progress lock")
            .insert(format!("{source}.{stream}"), (now, now));
        tracing::info!(source, stream, mode, "loading");
    }

    fn page(&self, source: &str, stream: &str, records: u64, pages: u64) {
        let key = format!("{source}.{stream}");
        let mut last = self.last.lock().expect("progress lock");
        let Some((start, prev)) = last.get_mut(&key) else {
            return;
        };
        if prev.elapsed() >= Duration::from_secs(10) {
            *prev = Instant::now();
            let rate = records as f64 / start.elapsed().as_secs_f64().max(0.001);
            tracing::info!(
                source,
                stream,
                records,
                pages,
                rate = format!("{rate:.0}/s"),
                "progress"
            );
        }
    }

    fn finished(&self, source: &str, stream: &str, summary: &str) {
        self.last
            .lock()
            .expect("progress lock")
            .remove(&format!("{source}.{stream}"));
        tracing::info!(source, stream, "{summary}");
    }
}

/// Live progress bars (one spinner line per stream) on stderr.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, (ProgressBar, Instant)>>,
}

impl Bars {
    /// Bars drawn on stderr.
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bars {
    fn started(&self, source: &str, stream: &str, mode: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<28} {msg}").expect("valid template"),
        );
        bar.set_prefix(format!("{source}.{stream}"));
        bar.set_message(format!("starting ({mode})"));
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars
            .lock()
            .expect("progress lock")
            .insert(format!("{source}.{stream}"), (bar, Instant::now()));
    }

    fn page(&self, source: &str, stream: &str, records: u64, pages: u64) {
        if let Some((bar, start)) = self
            .bars
            .lock()
            .expect("progress lock")
            .get(&format!("{source}.{stream}"))
        {
            let rate = records as f64 / start.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{records} records, {pages} pages, {rate:.0} records/s"
            ));
        }
    }

    fn finished(&self, source: &str, stream: &str, summary: &str) {
        if let Some((bar, _)) = self
            .bars
            .lock()
            .expect("progress lock")
            .remove(&format!("{source}.{stream}"))
        {
            bar.finish_with_message(summary.to_string());
        }
    }
}
