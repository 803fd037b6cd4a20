//! Extract and load: for each selected source and stream, read pages, write them to the
//! stream's Delta table, and commit data with state in batches (by size or time, and at the end).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use revline_core::http::{HttpStats, HttpStatsSnapshot};
use revline_core::lake::{Lake, TableWriter, WriteMode, WriterSettings};
use revline_core::schema::with_system_columns;
use revline_core::state::state_in_progress;
use revline_core::{Connector, Error, ErrorKind, ReadRequest, SourceContext, Stream, SyncMode};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::config::{Config, SourceConfig};
use crate::progress::Progress;
use crate::registry;

/// Which sources and streams to run, and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only this source.
    pub source: Option<String>,
    /// Only this stream (of every selected source).
    pub stream: Option<String>,
    /// Ignore stored state: re-read everything and replace the tables.
    pub full_refresh: bool,
}

/// How a stream's load ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Everything was read and committed.
    Succeeded,
    /// The API's quota (or the configured reserve) ran out; what was read is committed and
    /// the next run resumes.
    Partial,
    /// The load failed; uncommitted pages were discarded, earlier commits stand.
    Failed,
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
    /// A source-level failure (connector could not be built).
    pub error: Option<String>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id (also in every commit's metadata).
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

    /// Whether the only problems were graceful quota stops.
    pub fn partial(&self) -> bool {
        self.sources.iter().all(|s| s.error.is_none())
            && self.streams().all(|s| s.status != StreamStatus::Failed)
            && self.streams().any(|s| s.status == StreamStatus::Partial)
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

/// Runs extract-and-load for the selected sources and streams.
pub async fn run(
    config: &Config,
    opts: &RunOptions,
    progress: Arc<dyn Progress>,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let started_at = Utc::now();
    let run_id = new_run_id();
    let lake = Lake::open(&config.lake.path)?;
    let selected: Vec<&SourceConfig> = config
        .sources
        .values()
        .filter(|s| opts.source.as_deref().is_none_or(|n| n == s.name))
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
        plans.push((src, connector, stats, streams));
    }
    if opts.stream.is_some() && plans.iter().all(|p| p.3.is_empty()) {
        return Err(Error::config(format!(
            "no configured source has a stream named `{}`",
            opts.stream.as_deref().unwrap_or_default()
        )));
    }

    let settings = WriterSettings {
        target_file_size: config.run.target_file_mb * 1024 * 1024,
        ..WriterSettings::default()
    };
    let mut source_tasks = Vec::new();
    for (src, _connector, stats, streams) in plans {
        let semaphore = Arc::new(Semaphore::new(config.run.stream_concurrency));
        let mut handles = Vec::new();
        for stream in streams {
            let job = StreamJob {
                lake: lake.clone(),
                source: src.name.clone(),
                start_date: src.start_date,
                stream,
                full_refresh: opts.full_refresh,
                run_id: run_id.clone(),
                settings: settings.clone(),
                commit_bytes: (config.run.commit_mb * 1024 * 1024) as usize,
                commit_interval: Duration::from_secs(config.run.commit_interval_secs),
                progress: progress.clone(),
            };
            let permit = semaphore.clone();
            handles.push(tokio::spawn(async move {
                let _permit = permit.acquire_owned().await.expect("semaphore open");
                job.run().await
            }));
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
    Ok(RunReport {
        run_id,
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        sources,
    })
}

struct StreamJob {
    lake: Lake,
    source: String,
    start_date: Option<DateTime<Utc>>,
    stream: Arc<dyn Stream>,
    full_refresh: bool,
    run_id: String,
    settings: WriterSettings,
    commit_bytes: usize,
    commit_interval: Duration,
    progress: Arc<dyn Progress>,
}

#[derive(Default)]
struct Counters {
    records: u64,
    pages: u64,
    commits: u64,
    nulled: u64,
}

impl StreamJob {
    async fn run(self) -> StreamReport {
        let start = Instant::now();
        let name = self.stream.descriptor().name.clone();
        let mut counters = Counters::default();
        let mut mode_label = String::from("-");
        let result = self.load(&mut counters, &mut mode_label).await;
        let (status, error, kind) = match &result {
            Ok(()) => (StreamStatus::Succeeded, None, None),
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
            StreamStatus::Failed => format!("FAILED: {}", error.as_deref().unwrap_or_default()),
        };
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
            seconds: secs,
            error,
            error_kind: kind,
        }
    }

    async fn load(&self, c: &mut Counters, mode_label: &mut String) -> Result<(), Error> {
        let d = self.stream.descriptor().clone();
        let schema = self
            .stream
            .resolve_schema()
            .await
            .map_err(|e| e.with_context("stream", &d.name))?;
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
        let (mode, write_mode, state) = if let Some(m) = state_in_progress(prior.as_ref()) {
            // Continue an interrupted sync: its pages so far are committed.
            let wm = if m == SyncMode::Incremental && has_cursor {
                self.merge_mode(&d)
            } else {
                WriteMode::Append
            };
            (m, wm, prior)
        } else if self.full_refresh || !d.supports(SyncMode::Incremental) {
            (SyncMode::FullRefresh, WriteMode::Replace, None)
        } else if has_cursor {
            (SyncMode::Incremental, self.merge_mode(&d), prior)
        } else {
            // First sync of an incremental stream: read everything, replace any leftovers.
            (SyncMode::Incremental, WriteMode::Replace, prior)
        };
        let prior_state = state.clone();
        *mode_label = mode.to_string();
        self.progress
            .started(&self.source, &d.name, &mode_label.clone());
        tracing::debug!(source = %self.source, stream = %d.name, ?write_mode, "starting");

        let mut pages = self.stream.read(ReadRequest {
            mode,
            state,
            start_date: self.start_date,
            schema: Arc::new(schema),
        });
        // The table is opened (created, or its schema evolved) only when the first page
        // arrives, so a stream that fails before any data leaves the lake untouched.
        let mut writer: Option<TableWriter> = None;
        let mut checkpoint: Option<serde_json::Value> = None;
        let mut last_commit = Instant::now();
        let mut committed_rows = 0u64;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) if e.kind() == ErrorKind::QuotaExhausted => {
                    // Stop gracefully: keep what was read, with its checkpoint.
                    if let (Some(w), Some(cp)) = (writer.as_mut(), &checkpoint) {
                        w.commit(cp).await?;
                        c.commits += 1;
                    }
                    return Err(e.with_context("stream", &d.name));
                }
                Err(e) => {
                    if let Some(w) = writer.as_mut() {
                        w.abort();
                    }
                    c.records = committed_rows;
                    return Err(e.with_context("stream", &d.name));
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
                tracing::warn!(source = %self.source, stream = %d.name, "values that do not fit their column are stored as null (on_bad_value = \"null\")");
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
            if w.pending_bytes() >= self.commit_bytes
                || last_commit.elapsed() >= self.commit_interval
            {
                w.commit(checkpoint.as_ref().expect("set above")).await?;
                c.commits += 1;
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
            && prior_state.as_ref() == Some(&cp);
        if unchanged {
            return Ok(());
        }
        writer.commit(&cp).await?;
        c.commits += 1;
        let compacted = writer.compact_if_needed(&cp).await?;
        if compacted > 0 {
            tracing::info!(source = %self.source, stream = %d.name, files = compacted, "compacted small files");
        }
        Ok(())
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
