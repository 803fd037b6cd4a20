//! Extract and load: for each selected source and stream, read pages, write them to the
//! stream's Delta table, and commit data with state in batches (by size or time, and at the
//! end). A run takes each source's lock first, records every stream in `_revline.runs`, and
//! stops gracefully (committing the page in flight) when cancelled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use revline_core::http::{HttpStats, HttpStatsSnapshot, with_stream_stats};
use revline_core::lake::lock::SourceLock;
use revline_core::lake::{Lake, TableWriter, WriteMode, WriterSettings};
use revline_core::schema::with_system_columns;
use revline_core::state::state_in_progress;
use revline_core::{Connector, Error, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{Config, SourceConfig};
use crate::history::{self, RunRow};
use crate::progress::Progress;
use crate::registry;

/// Which sources and streams to run, and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only this source.
    pub source: Option<String>,
    /// Only these sources (the scheduler's jobs); combined with `source` if both are set.
    pub sources: Option<Vec<String>>,
    /// Only this stream (of every selected source).
    pub stream: Option<String>,
    /// Ignore stored state: re-read everything and replace the tables.
    pub full_refresh: bool,
    /// Re-read one stream's records from this instant and merge them (needs `stream`).
    pub backfill_from: Option<DateTime<Utc>>,
    /// Stop gracefully when cancelled: finish the page in flight, commit, end.
    pub cancel: Option<CancellationToken>,
}

/// How a stream's load ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Everything was read and committed.
    Succeeded,
    /// The API's quota (or the configured reserve) ran out; what was read is committed and
    /// the next run resumes.
    Partial,
    /// Stopped by a shutdown signal after committing the page in flight; the next run resumes.
    Cancelled,
    /// The load failed; uncommitted pages were discarded, earlier commits stand.
    Failed,
}

impl StreamStatus {
    /// Lowercase name, as stored in `_revline.runs`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StreamStatus::Succeeded => "succeeded",
            StreamStatus::Partial => "partial",
            StreamStatus::Cancelled => "cancelled",
            StreamStatus::Failed => "failed",
        }
    }
}

/// What happened to one stream.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Source name.
    pub source: String,
    /// Stream name.
    pub stream: String,
    /// Sync mode used.
    pub mode: String,
    /// Outcome.
    pub status: StreamStatus,
    /// Records committed.
    pub records: u64,
    /// Pages read.
    pub pages: u64,
    /// Delta commits made.
    pub commits: u64,
    /// Values nulled under the `null` bad-value policy.
    pub nulled_values: u64,
    /// HTTP accounting of this stream.
    pub http: HttpStatsSnapshot,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// Wall time.
    pub seconds: f64,
    /// The error, if any.
    pub error: Option<String>,
    /// Error kind, if any.
    pub error_kind: Option<String>,
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// Source name.
    pub source: String,
    /// HTTP accounting for the whole source.
    pub http: HttpStatsSnapshot,
    /// Per-stream outcomes.
    pub streams: Vec<StreamReport>,
    /// A source-level failure.
    pub error: Option<String>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id (also in every commit's metadata and in `_revline.runs`).
    pub run_id: String,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// Wall time.
    pub seconds: f64,
    /// Per-source outcomes.
    pub sources: Vec<SourceReport>,
}

impl RunReport {
    /// Every stream's report.
    pub fn streams(&self) -> impl Iterator<Item = &StreamReport> {
        self.sources.iter().flat_map(|s| s.streams.iter())
    }

    /// Whether every selected stream committed completely.
    pub fn succeeded(&self) -> bool {
        self.sources.iter().all(|s| s.error.is_none())
            && self.streams().all(|s| s.status == StreamStatus::Succeeded)
    }

    /// Whether the only problems were graceful stops (quota reserve, shutdown signal).
    pub fn partial(&self) -> bool {
        self.sources.iter().all(|s| s.error.is_none())
            && self.streams().all(|s| s.status != StreamStatus::Failed)
            && self
                .streams()
                .any(|s| matches!(s.status, StreamStatus::Partial | StreamStatus::Cancelled))
    }

    /// Whether the run failed only because of configuration problems found while loading
    /// (e.g. a property name the API does not know).
    pub fn failed_only_on_config(&self) -> bool {
        let mut failed = self
            .streams()
            .filter(|s| s.status == StreamStatus::Failed)
            .peekable();
        failed.peek().is_some() && failed.all(|s| s.error_kind.as_deref() == Some("config"))
    }

    /// Total records committed.
    pub fn records(&self) -> u64 {
        self.streams().map(|s| s.records).sum()
    }
}

/// A new run id: UTC time plus a random suffix.
pub fn new_run_id() -> String {
    format!(
        "{}-{:06x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// Builds the connector of one configured source.
pub fn build_connector(
    config: &Config,
    src: &SourceConfig,
    stats: Arc<HttpStats>,
) -> Result<Arc<dyn Connector>, Error> {
    let factory = registry::find(&src.connector)
        .ok_or_else(|| Error::config(format!("unknown connector `{}`", src.connector)))?;
    let ctx = SourceContext {
        source: src.name.clone(),
        options: src.options.clone(),
        base_url: src.base_url.clone(),
        start_date: src.start_date,
        rate_limit: src.rate_limit,
        http: src.http.clone(),
        stats,
        on_bad_value: src.on_bad_value,
    };
    factory.build(ctx).map_err(|e| {
        if e.kind() == ErrorKind::Config {
            Error::config(config.locate(&src.name, e.message()).to_string())
        } else {
            e
        }
    })
}

/// A held source lock shared by the source's streams (checked before every commit) and
/// kept alive by a heartbeat task.
#[derive(Clone)]
pub struct Fence {
    lock: Arc<Mutex<SourceLock>>,
}

impl Fence {
    /// Fails if another run took the lock over.
    pub async fn check(&self) -> Result<(), Error> {
        self.lock.lock().await.check().await
    }
}

struct HeldLock {
    fence: Fence,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl HeldLock {
    async fn take(
        lake: &Lake,
        source: &str,
        run_id: &str,
        pipeline: &str,
        stale_after: Duration,
    ) -> Result<HeldLock, Error> {
        let lock = lake
            .lock_source(source, run_id, pipeline, stale_after)
            .await?;
        let lock = Arc::new(Mutex::new(lock));
        let beat = lock.clone();
        let every = (stale_after / 4).max(Duration::from_millis(200));
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = beat.lock().await.heartbeat().await {
                    tracing::warn!(error = %e, "lock heartbeat failed");
                }
            }
        });
        Ok(HeldLock {
            fence: Fence { lock },
            heartbeat,
        })
    }

    async fn release(self) {
        self.heartbeat.abort();
        if let Err(e) = self.fence.lock.lock().await.release().await {
            tracing::warn!(error = %e, "could not release a source lock");
        }
    }
}

/// Runs extract-and-load for the selected sources and streams.
pub async fn run(
    config: &Config,
    opts: &RunOptions,
    progress: Arc<dyn Progress>,
) -> Result<RunReport, Error> {
    let run_id = new_run_id();
    let span = tracing::info_span!("run", run_id = %run_id, pipeline = %config.pipeline.name);
    run_with_id(config, opts, progress, run_id)
        .instrument(span)
        .await
}

async fn run_with_id(
    config: &Config,
    opts: &RunOptions,
    progress: Arc<dyn Progress>,
    run_id: String,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let started_at = Utc::now();
    let lake = config.lake.open()?;
    let selected: Vec<&SourceConfig> = config
        .sources
        .values()
        .filter(|s| opts.source.as_deref().is_none_or(|n| n == s.name))
        .filter(|s| {
            opts.sources
                .as_ref()
                .is_none_or(|list| list.contains(&s.name))
        })
        .collect();
    if let Some(name) = &opts.source
        && selected.is_empty()
    {
        return Err(Error::config(format!(
            "no source named `{name}` in {} (configured: {})",
            config.file.display(),
            config
                .sources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if opts.backfill_from.is_some() && opts.stream.is_none() {
        return Err(Error::config(
            "--backfill-from re-pulls one stream: add --stream NAME",
        ));
    }
    if opts.backfill_from.is_some() && opts.full_refresh {
        return Err(Error::config(
            "--backfill-from and --full-refresh cannot be combined",
        ));
    }
    // Validate every selection before loading anything.
    let mut plans = Vec::new();
    for src in &selected {
        let stats = Arc::new(HttpStats::default());
        let connector = build_connector(config, src, stats.clone())?;
        let mut streams: Vec<Arc<dyn Stream>> = connector
            .streams()
            .into_iter()
            .filter(|s| {
                src.streams
                    .as_ref()
                    .is_none_or(|list| list.contains(&s.descriptor().name))
            })
            .collect();
        if let Some(only) = &opts.stream {
            let all: Vec<String> = streams
                .iter()
                .map(|s| s.descriptor().name.clone())
                .collect();
            streams.retain(|s| &s.descriptor().name == only);
            if streams.is_empty() && opts.source.is_some() {
                return Err(Error::config(format!(
                    "source `{}` has no selected stream `{only}` (selected: {})",
                    src.name,
                    all.join(", ")
                )));
            }
        }
        if opts.backfill_from.is_some() {
            for s in &streams {
                let d = s.descriptor();
                if !d.supports(SyncMode::Incremental) || d.cursor_field.is_none() {
                    return Err(Error::config(format!(
                        "stream `{}.{}` has no cursor to backfill from; use --full-refresh",
                        src.name, d.name
                    )));
                }
            }
        }
        if !streams.is_empty() {
            plans.push((*src, connector, stats, streams));
        }
    }
    if opts.stream.is_some() && plans.is_empty() {
        return Err(Error::config(format!(
            "no configured source has a stream named `{}`",
            opts.stream.as_deref().unwrap_or_default()
        )));
    }

    // Take every source's lock before loading anything: an overlapping run is refused whole.
    let stale_after = Duration::from_secs(config.pipeline.lock_stale_secs);
    let mut locks: Vec<(String, HeldLock)> = Vec::new();
    for (src, ..) in &plans {
        match HeldLock::take(
            &lake,
            &src.name,
            &run_id,
            &config.pipeline.name,
            stale_after,
        )
        .await
        {
            Ok(l) => locks.push((src.name.clone(), l)),
            Err(e) => {
                for (_, l) in locks {
                    l.release().await;
                }
                return Err(e);
            }
        }
    }

    let settings = WriterSettings {
        target_file_size: config.run.target_file_mb * 1024 * 1024,
        ..WriterSettings::default()
    };
    let kind = if opts.backfill_from.is_some() {
        "backfill"
    } else {
        "load"
    };
    let mut source_tasks = Vec::new();
    for (src, _connector, stats, streams) in plans {
        let fence = locks
            .iter()
            .find(|(n, _)| n == &src.name)
            .map(|(_, l)| l.fence.clone())
            .expect("lock taken above");
        let semaphore = Arc::new(Semaphore::new(config.run.stream_concurrency));
        let mut handles = Vec::new();
        for stream in streams {
            let name = stream.descriptor().name.clone();
            let job = StreamJob {
                lake: lake.clone(),
                source: src.name.clone(),
                start_date: src.start_date,
                stream,
                full_refresh: opts.full_refresh,
                backfill_from: opts.backfill_from,
                run_id: run_id.clone(),
                settings: settings.clone(),
                commit_bytes: (config.run.commit_mb * 1024 * 1024) as usize,
                commit_interval: Duration::from_secs(config.run.commit_interval_secs),
                progress: progress.clone(),
                fence: fence.clone(),
                cancel: opts.cancel.clone().unwrap_or_default(),
            };
            let permit = semaphore.clone();
            let span = tracing::info_span!("stream", source = %src.name, stream = %name);
            let stream_stats = Arc::new(HttpStats::default());
            handles.push(tokio::spawn(
                with_stream_stats(stream_stats.clone(), async move {
                    let _permit = permit.acquire_owned().await.expect("semaphore open");
                    let mut report = job.run().await;
                    report.http = stream_stats.snapshot();
                    report
                })
                .instrument(span),
            ));
        }
        source_tasks.push((src.name.clone(), stats, handles));
    }
    let mut sources = Vec::new();
    for (name, stats, handles) in source_tasks {
        let mut streams = Vec::new();
        for h in handles {
            match h.await {
                Ok(r) => streams.push(r),
                Err(e) => {
                    return Err(Error::internal(format!(
                        "a stream task of `{name}` crashed: {e}"
                    )));
                }
            }
        }
        streams.sort_by(|a, b| a.stream.cmp(&b.stream));
        sources.push(SourceReport {
            source: name,
            http: stats.snapshot(),
            streams,
            error: None,
        });
    }
    let report = RunReport {
        run_id: run_id.clone(),
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        sources,
    };
    let rows: Vec<RunRow> = report
        .streams()
        .map(|s| history_row(&run_id, &config.pipeline.name, kind, s))
        .collect();
    if let Err(e) = history::append(&lake, &rows).await {
        tracing::warn!(error = %e, "could not record the run in _revline.runs");
    }
    for (_, l) in locks {
        l.release().await;
    }
    Ok(report)
}

fn history_row(run_id: &str, pipeline: &str, kind: &str, s: &StreamReport) -> RunRow {
    let finished = s.started_at + chrono::Duration::milliseconds((s.seconds * 1000.0) as i64);
    RunRow {
        run_id: run_id.to_string(),
        pipeline: pipeline.to_string(),
        kind: kind.to_string(),
        source: s.source.clone(),
        stream: s.stream.clone(),
        mode: s.mode.clone(),
        started_at: s.started_at,
        finished_at: finished,
        status: s.status.as_str().to_string(),
        records: s.records as i64,
        pages: s.pages as i64,
        commits: s.commits as i64,
        bytes: s.http.bytes_received as i64,
        api_requests: s.http.requests as i64,
        retries: s.http.retries as i64,
        throttled: s.http.throttled as i64,
        throttle_wait_ms: s.http.throttle_wait_ms as i64,
        error: s.error.clone(),
    }
}

struct StreamJob {
    lake: Lake,
    source: String,
    start_date: Option<DateTime<Utc>>,
    stream: Arc<dyn Stream>,
    full_refresh: bool,
    backfill_from: Option<DateTime<Utc>>,
    run_id: String,
    settings: WriterSettings,
    commit_bytes: usize,
    commit_interval: Duration,
    progress: Arc<dyn Progress>,
    fence: Fence,
    cancel: CancellationToken,
}

#[derive(Default)]
struct Counters {
    records: u64,
    pages: u64,
    commits: u64,
    nulled: u64,
}

/// How a load ended without an error.
enum Ending {
    Complete,
    Cancelled,
}

impl StreamJob {
    async fn run(self) -> StreamReport {
        let start = Instant::now();
        let started_at = Utc::now();
        let name = self.stream.descriptor().name.clone();
        let mut counters = Counters::default();
        let mut mode_label = String::from("-");
        let result = self.load(&mut counters, &mut mode_label).await;
        let (status, error, kind) = match &result {
            Ok(Ending::Complete) => (StreamStatus::Succeeded, None, None),
            Ok(Ending::Cancelled) => (StreamStatus::Cancelled, None, None),
            Err(e) if e.kind() == ErrorKind::QuotaExhausted => (
                StreamStatus::Partial,
                Some(e.to_string()),
                Some(e.kind().as_str().to_string()),
            ),
            Err(e) => (
                StreamStatus::Failed,
                Some(e.to_string()),
                Some(e.kind().as_str().to_string()),
            ),
        };
        let secs = start.elapsed().as_secs_f64();
        let summary = match &status {
            StreamStatus::Succeeded => format!(
                "done: {} records, {} pages, {} commits in {:.1}s",
                counters.records, counters.pages, counters.commits, secs
            ),
            StreamStatus::Partial => format!(
                "stopped (quota reserve reached, resume later): {} records committed",
                counters.records
            ),
            StreamStatus::Cancelled => format!(
                "stopped by shutdown after committing the page in flight: {} records committed",
                counters.records
            ),
            StreamStatus::Failed => format!("FAILED: {}", error.as_deref().unwrap_or_default()),
        };
        if status == StreamStatus::Failed {
            tracing::error!("{summary}");
        }
        self.progress.finished(&self.source, &name, &summary);
        StreamReport {
            source: self.source.clone(),
            stream: name,
            mode: mode_label,
            status,
            records: counters.records,
            pages: counters.pages,
            commits: counters.commits,
            nulled_values: counters.nulled,
            http: HttpStatsSnapshot::default(),
            started_at,
            seconds: secs,
            error,
            error_kind: kind,
        }
    }

    /// Commits (after checking this run still holds the source lock).
    async fn commit(
        &self,
        w: &mut TableWriter,
        checkpoint: &serde_json::Value,
        c: &mut Counters,
    ) -> Result<(), Error> {
        self.fence.check().await?;
        w.commit(checkpoint).await?;
        c.commits += 1;
        Ok(())
    }

    async fn load(&self, c: &mut Counters, mode_label: &mut String) -> Result<Ending, Error> {
        let d = self.stream.descriptor().clone();
        let schema = self.stream.resolve_schema().await?;
        let table_schema = with_system_columns(&schema.arrow_schema());
        let prior = if self.full_refresh {
            None
        } else {
            self.lake
                .read_state(&self.source, &d.name)
                .await?
                .map(|m| m.state)
        };
        let has_cursor = prior
            .as_ref()
            .is_some_and(|s| s.get("cursor").is_some_and(|c| !c.is_null()));
        let (mode, write_mode, state) = if let Some(from) = self.backfill_from {
            // Re-pull from `from` and merge; other streams are untouched.
            let cursor =
                serde_json::Value::String(from.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            (
                SyncMode::Incremental,
                self.merge_mode(&d),
                Some(serde_json::json!({ "cursor": cursor })),
            )
        } else if let Some(m) = state_in_progress(prior.as_ref()) {
            // Continue an interrupted sync: its pages so far are committed.
            let wm = if m == SyncMode::Incremental && has_cursor {
                self.merge_mode(&d)
            } else {
                WriteMode::Append
            };
            (m, wm, prior.clone())
        } else if self.full_refresh || !d.supports(SyncMode::Incremental) {
            (SyncMode::FullRefresh, WriteMode::Replace, None)
        } else if has_cursor {
            (SyncMode::Incremental, self.merge_mode(&d), prior.clone())
        } else {
            // First sync of an incremental stream: read everything, replace any leftovers.
            (SyncMode::Incremental, WriteMode::Replace, prior.clone())
        };
        *mode_label = if self.backfill_from.is_some() {
            "backfill".to_string()
        } else {
            mode.to_string()
        };
        self.progress.started(&self.source, &d.name, mode_label);
        tracing::debug!(?write_mode, "starting");

        let mut pages = self.stream.read(ReadRequest {
            mode,
            state: state.clone(),
            start_date: self.start_date,
            schema: Arc::new(schema),
        });
        // The table is opened (created, or its schema evolved) only when the first page
        // arrives, so a stream that fails before any data leaves the lake untouched.
        let mut writer: Option<TableWriter> = None;
        let mut checkpoint: Option<serde_json::Value> = None;
        let mut last_commit = Instant::now();
        let mut committed_rows = 0u64;
        let mut cancelled = false;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) if e.kind() == ErrorKind::QuotaExhausted => {
                    // Stop gracefully: keep what was read, with its checkpoint.
                    if let (Some(w), Some(cp)) = (writer.as_mut(), &checkpoint) {
                        self.commit(w, cp, c).await?;
                    }
                    return Err(e);
                }
                Err(e) => {
                    if let Some(w) = writer.as_mut() {
                        w.abort();
                    }
                    c.records = committed_rows;
                    return Err(e);
                }
            };
            if writer.is_none() {
                writer = Some(
                    TableWriter::open(
                        &self.lake,
                        &self.source,
                        &d.name,
                        table_schema.clone(),
                        write_mode.clone(),
                        &self.run_id,
                        self.settings.clone(),
                    )
                    .await?,
                );
            }
            let w = writer.as_mut().expect("opened above");
            c.pages += 1;
            if page.nulled_values > 0 && c.nulled == 0 {
                tracing::warn!(
                    "values that do not fit their column are stored as null (on_bad_value = \"null\")"
                );
            }
            c.nulled += page.nulled_values;
            let rows = page.batch.num_rows();
            if rows > 0 {
                let batch =
                    add_system_columns(&page.batch, &table_schema, &self.source, page.fetched_at)?;
                w.write(batch).await?;
            }
            c.records += rows as u64;
            checkpoint = Some(page.checkpoint);
            self.progress
                .page(&self.source, &d.name, c.records, c.pages);
            if self.cancel.is_cancelled() {
                cancelled = true;
                break;
            }
            if w.pending_bytes() >= self.commit_bytes
                || last_commit.elapsed() >= self.commit_interval
            {
                let cp = checkpoint.clone().expect("set above");
                self.commit(w, &cp, c).await?;
                committed_rows = c.records;
                last_commit = Instant::now();
            }
        }
        let (Some(mut writer), Some(cp)) = (writer, checkpoint) else {
            return Err(Error::internal(format!(
                "stream `{}` ended without a page",
                d.name
            )));
        };
        // Nothing new and the state did not move: leave the table as it is (no new version).
        let unchanged = c.records == 0
            && c.commits == 0
            && write_mode != WriteMode::Replace
            && state.as_ref() == Some(&cp);
        if unchanged {
            return Ok(if cancelled {
                Ending::Cancelled
            } else {
                Ending::Complete
            });
        }
        self.commit(&mut writer, &cp, c).await?;
        if cancelled {
            tracing::info!("shutdown requested: committed the page in flight and stopped");
            return Ok(Ending::Cancelled);
        }
        let compacted = writer.compact_if_needed(&cp).await?;
        if compacted > 0 {
            tracing::info!(files = compacted, "compacted small files");
        }
        Ok(Ending::Complete)
    }

    fn merge_mode(&self, d: &revline_core::StreamDescriptor) -> WriteMode {
        WriteMode::Merge {
            keys: d.primary_key.clone(),
            cursor: d.cursor_field.clone(),
        }
    }
}

/// Appends `_source` and `_extracted_at` to a page's batch.
fn add_system_columns(
    batch: &RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
    source: &str,
    fetched_at: DateTime<Utc>,
) -> Result<RecordBatch, Error> {
    let n = batch.num_rows();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec![source; n])));
    cols.push(Arc::new(
        TimestampMicrosecondArray::from(vec![fetched_at.timestamp_micros(); n])
            .with_timezone("UTC"),
    ));
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// Calls each selected source's `check()`.
pub async fn check(config: &Config, source: Option<&str>) -> Vec<(String, Result<(), Error>)> {
    let mut out = Vec::new();
    for src in config
        .sources
        .values()
        .filter(|s| source.is_none_or(|n| n == s.name))
    {
        let r = match build_connector(config, src, Arc::new(HttpStats::default())) {
            Ok(c) => c.check().await,
            Err(e) => Err(e),
        };
        out.push((src.name.clone(), r));
    }
    out
}
