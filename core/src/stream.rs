//! The connector contract: a [`Connector`] lists [`Stream`]s; a stream declares its schema,
//! primary key, cursor field and sync modes, and yields [`Page`]s: Arrow batches plus the
//! checkpoint that becomes valid once the page is durably written.

use std::fmt;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;

use crate::decode::BadValuePolicy;
use crate::error::{Error, Result};
use crate::http::{HttpSettings, HttpStats, RateLimit};
use crate::schema::StreamSchema;

/// How a stream is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Read everything; the table is replaced.
    FullRefresh,
    /// Read what changed since the stored cursor; rows are merged on the primary key.
    Incremental,
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncMode::FullRefresh => "full_refresh",
            SyncMode::Incremental => "incremental",
        })
    }
}

/// What a stream declares about itself.
#[derive(Debug, Clone)]
pub struct StreamDescriptor {
    /// Stream name (`contacts`); the table is `<source>.<name>`.
    pub name: String,
    /// One line on what the stream holds.
    pub description: String,
    /// Declared columns (a stream may refine them at run time, see [`Stream::resolve_schema`]).
    pub schema: StreamSchema,
    /// Primary-key column names.
    pub primary_key: Vec<String>,
    /// Cursor column for incremental sync.
    pub cursor_field: Option<String>,
    /// Supported modes; the first is the default.
    pub sync_modes: Vec<SyncMode>,
}

impl StreamDescriptor {
    /// The mode used when the run does not force one.
    pub fn default_mode(&self) -> SyncMode {
        self.sync_modes
            .first()
            .copied()
            .unwrap_or(SyncMode::FullRefresh)
    }

    /// Whether `mode` is supported.
    pub fn supports(&self, mode: SyncMode) -> bool {
        self.sync_modes.contains(&mode)
    }
}

/// What the runner asks of a stream.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// Mode for this run.
    pub mode: SyncMode,
    /// The checkpoint committed with the table's last data, if any (the stream's own format).
    pub state: Option<serde_json::Value>,
    /// Configured lower bound for the first sync.
    pub start_date: Option<DateTime<Utc>>,
    /// Schema to decode into (from [`Stream::resolve_schema`]).
    pub schema: Arc<StreamSchema>,
}

/// One page of records and the checkpoint valid once it (and every page before it) is written.
#[derive(Debug, Clone)]
pub struct Page {
    /// Records in the stream's schema.
    pub batch: RecordBatch,
    /// Stream state after this page.
    pub checkpoint: serde_json::Value,
    /// When the page was fetched.
    pub fetched_at: DateTime<Utc>,
    /// Values nulled under [`BadValuePolicy::Null`].
    pub nulled_values: u64,
}

/// Pages of a stream, in commit order.
pub type PageStream = BoxStream<'static, Result<Page>>;

/// A stream of one source.
#[async_trait]
pub trait Stream: Send + Sync {
    /// The declaration.
    fn descriptor(&self) -> &StreamDescriptor;

    /// The schema for this run; defaults to the declared one. HubSpot reads its property
    /// metadata here.
    async fn resolve_schema(&self) -> Result<StreamSchema> {
        Ok(self.descriptor().schema.clone())
    }

    /// Reads pages. The stream may split work into partitions that run concurrently
    /// (see [`crate::partition::merge_partitions`]); pages arrive in an order in which each
    /// checkpoint covers every page before it.
    fn read(&self, request: ReadRequest) -> PageStream;
}

/// A configured source system.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Connector name (`hubspot`).
    fn name(&self) -> &'static str;
    /// Verifies the credentials cheaply (one small request).
    async fn check(&self) -> Result<()>;
    /// The streams this source offers.
    fn streams(&self) -> Vec<Arc<dyn Stream>>;
}

/// Everything a connector is built from: its options plus settings the runner owns.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// Source (instance) name from the config; the table schema name.
    pub source: String,
    /// Connector-specific options (the source's config table without the common keys).
    pub options: serde_json::Value,
    /// API base URL override.
    pub base_url: Option<String>,
    /// Lower bound for first syncs.
    pub start_date: Option<DateTime<Utc>>,
    /// Override of the connector's declared rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Retry and timeout settings.
    pub http: HttpSettings,
    /// Where request counts go.
    pub stats: Arc<HttpStats>,
    /// What to do with values that do not fit their column.
    pub on_bad_value: BadValuePolicy,
}

impl SourceContext {
    /// A context with defaults, for tests and embedding.
    pub fn new(source: &str, options: serde_json::Value) -> Self {
        SourceContext {
            source: source.to_string(),
            options,
            base_url: None,
            start_date: None,
            rate_limit: None,
            http: HttpSettings::default(),
            stats: Arc::new(HttpStats::default()),
            on_bad_value: BadValuePolicy::Fail,
        }
    }

    /// Deserializes the connector's typed options; errors name the source and the key.
    pub fn options<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.options.clone())
            .map_err(|e| Error::config(format!("[sources.{}] {e}", self.source)))
    }
}

/// A connector type: its name, its declared streams, and how to build it from config.
pub trait ConnectorFactory: Send + Sync {
    /// Connector name used in config (`connector = "hubspot"`).
    fn name(&self) -> &'static str;
    /// One line on what it connects to.
    fn description(&self) -> &'static str;
    /// The declared streams (before any run-time schema discovery).
    fn streams(&self) -> Vec<StreamDescriptor>;
    /// Builds a connector for one source.
    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>>;
}
