//! The lake: one Delta Lake table per `<source>/<stream>`, written as Parquet files and made
//! visible by one atomic commit that also carries the stream state that produced the data.
//!
//! * Data before metadata: pages stream into Parquet files as they arrive; nothing is visible
//!   until [`TableWriter::commit`] writes the Delta log entry. A crash before that leaves only
//!   unreferenced files, which readers never see.
//! * State with data: each commit's `commitInfo` holds `{"revline": {"state": …}}`, and a
//!   `txn` action (`revline:<source>.<stream>`) advances, so state can never run ahead of data.
//! * Modes: [`WriteMode::Replace`] (full refresh: the first commit of the run removes every
//!   existing file), [`WriteMode::Append`], and [`WriteMode::Merge`] (incremental: MERGE on
//!   the primary key, the row with the latest cursor wins).

pub mod cloud;
mod conform;
pub mod lock;
mod merge;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, MetadataExt, StructType, Transaction};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use url::Url;

pub use conform::conform_batch;

use crate::error::{Error, ErrorKind, Result};

/// Key of Revline's entry in a commit's `commitInfo`.
pub const COMMIT_METADATA_KEY: &str = "revline";

/// What Revline stores in each commit it makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitMeta {
    /// The stream state valid for the data as of this commit.
    pub state: serde_json::Value,
    /// The run that made the commit.
    pub run_id: String,
    /// Source (instance) name.
    pub source: String,
    /// Stream name.
    pub stream: String,
}

/// A lake rooted at a local folder (object stores come later through the same URLs).
#[derive(Debug, Clone)]
pub struct Lake {
    root: Url,
    store: Arc<dyn object_store::ObjectStore>,
    options: HashMap<String, String>,
}

impl Lake {
    /// Opens (creating if needed) a lake at `path`: a local folder or a `file://` URL.
    pub fn open(path: &str) -> Result<Self> {
        Self::open_with(path, HashMap::new())
    }

    /// Opens a lake at a local folder or an object-store URL (`s3://bucket/prefix`, `gs://…`,
    /// `az://…`) with storage `options` (endpoint, region, credentials, `allow_http`, …).
    pub fn open_with(path: &str, options: HashMap<String, String>) -> Result<Self> {
        if let Some((scheme, _)) = path.split_once("://")
            && cloud::CLOUD_SCHEMES.contains(&scheme)
        {
            cloud::register();
            let mut root = Url::parse(path).map_err(|e| {
                Error::config(format!("lake.path `{path}` is not a valid URL")).with_source(e)
            })?;
            if !root.path().ends_with('/') {
                root.set_path(&format!("{}/", root.path()));
            }
            let (store, prefix) = cloud::build_store(&root, &options)?;
            let store: Arc<dyn object_store::ObjectStore> = if prefix.as_ref().is_empty() {
                store
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            return Ok(Lake {
                root,
                store,
                options,
            });
        }
        let root = if path.contains("://") {
            let mut u = Url::parse(path).map_err(|e| {
                Error::config(format!("lake.path `{path}` is not a valid URL")).with_source(e)
            })?;
            if u.scheme() != "file" {
                return Err(Error::config(format!(
                    "lake.path `{path}`: use a local folder, file://, s3://, gs:// or az://"
                )));
            }
            if !u.path().ends_with('/') {
                u.set_path(&format!("{}/", u.path()));
            }
            std::fs::create_dir_all(u.path()).map_err(|e| {
                Error::lake(format!("cannot create the lake folder {}", u.path())).with_source(e)
            })?;
            u
        } else {
            std::fs::create_dir_all(path).map_err(|e| {
                Error::lake(format!("cannot create the lake folder `{path}`")).with_source(e)
            })?;
            let abs = std::fs::canonicalize(path).map_err(|e| {
                Error::lake(format!("cannot resolve the lake folder `{path}`")).with_source(e)
            })?;
            Url::from_directory_path(&abs).map_err(|_| {
                Error::lake(format!("lake folder `{}` is not absolute", abs.display()))
            })?
        };
        let dir = root
            .to_file_path()
            .map_err(|_| Error::lake(format!("lake root {root} is not a local folder")))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| {
            Error::lake(format!("cannot open the lake folder {}", dir.display())).with_source(e)
        })?;
        Ok(Lake {
            root,
            store: Arc::new(store),
            options,
        })
    }

    /// The object store at the lake's root (paths are relative to it).
    pub fn store(&self) -> Arc<dyn object_store::ObjectStore> {
        self.store.clone()
    }

    /// Storage options passed to every table (endpoint, region, credentials).
    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// Takes the run lock of `source` (see [`lock`]).
    pub async fn lock_source(
        &self,
        source: &str,
        run_id: &str,
        pipeline: &str,
        stale_after: std::time::Duration,
    ) -> Result<lock::SourceLock> {
        lock::SourceLock::acquire(self.store(), source, run_id, pipeline, stale_after).await
    }

    /// The lake's root URL.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The local folder of the lake, if it is local.
    pub fn local_path(&self) -> Option<std::path::PathBuf> {
        (self.root.scheme() == "file")
            .then(|| self.root.to_file_path().ok())
            .flatten()
    }

    /// URL of table `<source>/<stream>` (or any relative path such as `models/funnel`).
    pub fn table_url(&self, relative: &str) -> Result<Url> {
        self.root
            .join(&format!("{}/", relative.trim_matches('/')))
            .map_err(|e| Error::internal(format!("bad table path `{relative}`")).with_source(e))
    }

    /// A table handle (not loaded) with the lake's storage options.
    fn builder(&self, url: Url, relative: &str) -> Result<DeltaTable> {
        deltalake::DeltaTableBuilder::from_url(url)
            .map(|b| b.with_storage_options(self.options.clone()))
            .and_then(|b| b.build())
            .map_err(|e| lake_error("cannot open table", relative, e))
    }

    /// Loads a table, or `None` if it does not exist yet.
    pub async fn load(&self, relative: &str) -> Result<Option<DeltaTable>> {
        let url = self.table_url(relative)?;
        let log =
            object_store::path::Path::from(format!("{}/_delta_log", relative.trim_matches('/')));
        let has_log = self
            .store
            .list_with_delimiter(Some(&log))
            .await
            .map(|l| !l.objects.is_empty())
            .unwrap_or(false);
        if !has_log {
            return Ok(None);
        }
        let mut table = self.builder(url, relative)?;
        match table.load().await {
            Ok(()) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(lake_error("cannot load table", relative, e)),
        }
    }

    /// Every table under `<source>/` folders: `(source, stream)` pairs with a Delta log.
    pub async fn list_tables(&self) -> Result<Vec<(String, String)>> {
        let list_err = |e: object_store::Error| Error::lake("cannot list the lake").with_source(e);
        let mut out = Vec::new();
        let top = self
            .store
            .list_with_delimiter(None)
            .await
            .map_err(list_err)?;
        for source in top.common_prefixes {
            let Some(src) = source.filename().map(str::to_string) else {
                continue;
            };
            let tables = self
                .store
                .list_with_delimiter(Some(&source))
                .await
                .map_err(list_err)?;
            for t in tables.common_prefixes {
                let Some(name) = t.filename().map(str::to_string) else {
                    continue;
                };
                let inner = self
                    .store
                    .list_with_delimiter(Some(&t))
                    .await
                    .map_err(list_err)?;
                if inner
                    .common_prefixes
                    .iter()
                    .any(|p| p.filename() == Some("_delta_log"))
                {
                    out.push((src.clone(), name));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The state committed with `<source>/<stream>`'s latest Revline commit.
    pub async fn read_state(&self, source: &str, stream: &str) -> Result<Option<CommitMeta>> {
        match self.load(&format!("{source}/{stream}")).await? {
            Some(t) => latest_meta(&t).await,
            None => Ok(None),
        }
    }
}

fn lake_error(what: &str, table: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Lake, format!("{what} `{table}`")).with_source(e)
}

/// The Revline metadata of the newest commit that has it.
pub async fn latest_meta(table: &DeltaTable) -> Result<Option<CommitMeta>> {
    let infos: Vec<_> = table
        .history(Some(50))
        .try_collect()
        .await
        .map_err(|e| Error::lake("cannot read table history").with_source(e))?;
    for info in infos {
        if let Some(v) = info.info.get(COMMIT_METADATA_KEY) {
            let meta: CommitMeta = serde_json::from_value(v.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::State,
                    "the table's commit metadata is not readable",
                )
                .with_source(e)
            })?;
            return Ok(Some(meta));
        }
    }
    Ok(None)
}

/// How a [`TableWriter`] commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// The first commit replaces all existing rows; later commits of the same writer append.
    Replace,
    /// Like [`WriteMode::Replace`], and the table's schema becomes exactly the writer's
    /// (columns removed or retyped), in the same atomic commit. For derived tables (SQL models).
    Rebuild,
    /// Rows are added.
    Append,
    /// Rows are merged on `keys`: a matching row is replaced when the new row's `cursor` is
    /// not older; new keys are inserted; within one commit the latest cursor wins.
    Merge {
        /// Primary-key columns.
        keys: Vec<String>,
        /// Cursor column deciding which version of a row wins.
        cursor: Option<String>,
    },
}

/// Parquet and commit tuning.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Roll to a new Parquet file at about this many bytes.
    pub target_file_size: u64,
    /// Rows per row group (bounds the writer's memory).
    pub row_group_rows: usize,
    /// Compact when a table has at least this many files smaller than a quarter of the target.
    pub compact_min_small_files: usize,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            target_file_size: 128 * 1024 * 1024,
            row_group_rows: 65_536,
            compact_min_small_files: 16,
        }
    }
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// New table version.
    pub version: i64,
    /// Rows written by this commit (before merge de-duplication).
    pub rows: u64,
    /// Data files added.
    pub files_added: usize,
    /// Data files removed (replace and merge).
    pub files_removed: usize,
}

/// Writes one table: streams batches to Parquet and commits them with the stream state.
pub struct TableWriter {
    name: String,
    source: String,
    stream: String,
    run_id: String,
    table: DeltaTable,
    schema: SchemaRef,
    mode: WriteMode,
    settings: WriterSettings,
    writer: RecordBatchWriter,
    pending_rows: u64,
    pending_bytes: usize,
    replaced: bool,
    /// For [`WriteMode::Rebuild`]: the new schema, committed with the first data.
    new_metadata: Option<deltalake::kernel::Metadata>,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("table", &self.name)
            .field("mode", &self.mode)
            .finish()
    }
}

fn app_id(source: &str, stream: &str) -> String {
    format!("revline:{source}.{stream}")
}

fn writer_properties(settings: &WriterSettings) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(settings.row_group_rows))
        .build()
}

impl TableWriter {
    /// Opens `<source>/<stream>` for writing rows of `schema`, creating the table or adding
    /// new columns as needed (columns are never dropped: old ones are filled with nulls).
    pub async fn open(
        lake: &Lake,
        source: &str,
        stream: &str,
        schema: SchemaRef,
        mode: WriteMode,
        run_id: &str,
        settings: WriterSettings,
    ) -> Result<Self> {
        let name = format!("{source}.{stream}");
        let rel = format!("{source}/{stream}");
        if mode == WriteMode::Rebuild {
            return Self::open_rebuild(lake, source, stream, schema, run_id, settings).await;
        }
        let table = match lake.load(&rel).await? {
            Some(t) => match evolve_schema(t, &schema, &name).await {
                // A full refresh rebuilds a table whose column types changed.
                Err(e)
                    if mode == WriteMode::Replace
                        && e.context_value("schema") == Some("incompatible") =>
                {
                    tracing::warn!(table = %name, "column types changed; the full refresh recreates the table: {e}");
                    recreate_table(lake, &rel, &schema, &name).await?
                }
                other => other?,
            },
            None => create_table(lake, &rel, &schema, &name).await?,
        };
        let table_schema = arrow_schema_of(&table)?;
        let writer = RecordBatchWriter::for_table(&table)
            .map_err(|e| lake_error("cannot start writing", &name, e))?
            .with_target_file_size(settings.target_file_size)
            .with_writer_properties(writer_properties(&settings));
        Ok(TableWriter {
            name,
            source: source.to_string(),
            stream: stream.to_string(),
            run_id: run_id.to_string(),
            table,
            schema: table_schema,
            mode,
            settings,
            writer,
            pending_rows: 0,
            pending_bytes: 0,
            replaced: false,
            new_metadata: None,
        })
    }

    async fn open_rebuild(
        lake: &Lake,
        source: &str,
        stream: &str,
        schema: SchemaRef,
        run_id: &str,
        settings: WriterSettings,
    ) -> Result<Self> {
        let name = format!("{source}.{stream}");
        let rel = format!("{source}/{stream}");
        let schema = normalize_schema(&schema);
        let (table, new_metadata) = match lake.load(&rel).await? {
            None => (create_table(lake, &rel, &schema, &name).await?, None),
            Some(t) if arrow_schema_of(&t)?.fields() == schema.fields() => (t, None),
            Some(t) => {
                let kernel = kernel_schema(&schema, &name)?;
                let meta = t
                    .snapshot()
                    .map_err(|e| lake_error("cannot read", &name, e))?
                    .metadata()
                    .clone()
                    .with_schema(&kernel)
                    .map_err(|e| lake_error("cannot change the schema of", &name, e))?;
                (t, Some(meta))
            }
        };
        let writer = RecordBatchWriter::try_new(
            table.table_url().as_str(),
            schema.clone(),
            None,
            Some(lake.storage_options().clone()),
        )
        .map_err(|e| lake_error("cannot start writing", &name, e))?
        .with_target_file_size(settings.target_file_size)
        .with_writer_properties(writer_properties(&settings));
        Ok(TableWriter {
            name,
            source: source.to_string(),
            stream: stream.to_string(),
            run_id: run_id.to_string(),
            table,
            schema,
            mode: WriteMode::Rebuild,
            settings,
            writer,
            pending_rows: 0,
            pending_bytes: 0,
            replaced: false,
            new_metadata,
        })
    }

    /// The table's Arrow schema (batches are conformed to it).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written since the last commit.
    pub fn pending_rows(&self) -> u64 {
        self.pending_rows
    }

    /// In-memory Arrow bytes written since the last commit (the commit-size trigger).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Streams a batch into Parquet files (not yet visible).
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch =
            conform_batch(&batch, &self.schema).map_err(|e| e.with_context("table", &self.name))?;
        self.pending_rows += batch.num_rows() as u64;
        self.pending_bytes += batch.get_array_memory_size();
        self.writer
            .write(batch)
            .await
            .map_err(|e| lake_error("cannot write data files for", &self.name, e))
    }

    /// Makes everything written so far visible, in one Delta commit that also records `state`.
    pub async fn commit(&mut self, state: &serde_json::Value) -> Result<CommitOutcome> {
        let adds = self
            .writer
            .flush()
            .await
            .map_err(|e| lake_error("cannot finish data files for", &self.name, e))?;
        let rows = self.pending_rows;
        self.pending_rows = 0;
        self.pending_bytes = 0;
        let meta = CommitMeta {
            state: state.clone(),
            run_id: self.run_id.clone(),
            source: self.source.clone(),
            stream: self.stream.clone(),
        };
        let txn = next_txn(&self.table, &self.source, &self.stream, &self.name).await?;
        let meta_map: HashMap<String, serde_json::Value> = HashMap::from([(
            COMMIT_METADATA_KEY.to_string(),
            serde_json::to_value(&meta).expect("meta serializes"),
        )]);

        // MERGE when there is data to merge; a merge that changed nothing makes no commit, so
        // the state then goes in a state-only commit below.
        let mut adds = adds;
        let mut merged: Option<CommitOutcome> = None;
        if let WriteMode::Merge { keys, cursor } = self.mode.clone()
            && !adds.is_empty()
        {
            let before = self.table.version();
            let (table, outcome) = merge::merge_files(
                self.table.clone(),
                &adds,
                &keys,
                cursor.as_deref(),
                &self.schema,
                CommitProperties::default()
                    .with_metadata(meta_map.clone())
                    .with_application_transaction(txn.clone()),
                &self.name,
            )
            .await?;
            self.table = table;
            if self.table.version() != before {
                merged = Some(CommitOutcome { rows, ..outcome });
            }
            adds = Vec::new();
        }
        let outcome = match merged {
            Some(outcome) => outcome,
            None => {
                let mode = self.mode.clone();
                let replace =
                    matches!(mode, WriteMode::Replace | WriteMode::Rebuild) && !self.replaced;
                let mut actions: Vec<Action> = Vec::with_capacity(adds.len() + 2);
                if let Some(meta) = self.new_metadata.take() {
                    actions.push(Action::Metadata(meta));
                }
                let mut removed = 0;
                if replace {
                    let snapshot = self
                        .table
                        .snapshot()
                        .map_err(|e| lake_error("cannot read", &self.name, e))?;
                    let files: Vec<_> = snapshot
                        .log_data()
                        .into_iter()
                        .map(|f| Action::Remove(f.remove_action(true)))
                        .collect();
                    removed = files.len();
                    actions.extend(files);
                }
                let added = adds.len();
                actions.extend(adds.into_iter().map(Action::Add));
                actions.push(Action::Txn(txn));
                let operation = DeltaOperation::Write {
                    mode: if replace {
                        SaveMode::Overwrite
                    } else {
                        SaveMode::Append
                    },
                    partition_by: None,
                    predicate: None,
                };
                let snapshot = self
                    .table
                    .snapshot()
                    .map_err(|e| lake_error("cannot read", &self.name, e))?;
                let finalized = CommitBuilder::default()
                    .with_actions(actions)
                    .with_app_metadata(meta_map)
                    .build(Some(snapshot), self.table.log_store(), operation)
                    .await
                    .map_err(|e| lake_error("cannot commit to", &self.name, e))?;
                let version = finalized.version() as i64;
                self.table
                    .update_state()
                    .await
                    .map_err(|e| lake_error("cannot reload", &self.name, e))?;
                CommitOutcome {
                    version,
                    rows,
                    files_added: added,
                    files_removed: removed,
                }
            }
        };
        self.replaced = true;
        Ok(outcome)
    }

    /// Rewrites small files into large ones when there are many; the commit carries `state`
    /// forward so the table's latest commit always holds it. Returns files compacted.
    pub async fn compact_if_needed(&mut self, state: &serde_json::Value) -> Result<usize> {
        let snapshot = self
            .table
            .snapshot()
            .map_err(|e| lake_error("cannot read", &self.name, e))?;
        let small = snapshot
            .log_data()
            .into_iter()
            .filter(|f| (f.size() as u64) < self.settings.target_file_size / 4)
            .count();
        if small < self.settings.compact_min_small_files {
            return Ok(0);
        }
        let meta = CommitMeta {
            state: state.clone(),
            run_id: self.run_id.clone(),
            source: self.source.clone(),
            stream: self.stream.clone(),
        };
        let props = CommitProperties::default().with_metadata([(
            COMMIT_METADATA_KEY.to_string(),
            serde_json::to_value(&meta).expect("meta serializes"),
        )]);
        let (table, metrics) = self
            .table
            .clone()
            .optimize()
            .with_target_size(
                std::num::NonZeroU64::new(self.settings.target_file_size).expect("non-zero"),
            )
            .with_writer_properties(writer_properties(&self.settings))
            .with_commit_properties(props)
            // One output file at a time: each holds up to `target_file_size` of Parquet in
            // memory while it is written, so concurrent bins would multiply the peak.
            .with_max_concurrent_tasks(1)
            .await
            .map_err(|e| lake_error("cannot compact", &self.name, e))?;
        self.table = table;
        Ok(metrics.num_files_removed as usize)
    }

    /// The table as last committed.
    pub fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// Discards files written since the last commit (they stay unreferenced).
    pub fn abort(&mut self) {
        self.writer.reset();
        self.pending_rows = 0;
        self.pending_bytes = 0;
    }
}

/// The next `txn` action of `<source>.<stream>`: the previous version plus one.
async fn next_txn(
    table: &DeltaTable,
    source: &str,
    stream: &str,
    name: &str,
) -> Result<Transaction> {
    let id = app_id(source, stream);
    let snapshot = table
        .snapshot()
        .map_err(|e| lake_error("cannot read", name, e))?;
    let current = snapshot
        .transaction_version(table.log_store().as_ref(), &id)
        .await
        .map_err(|e| lake_error("cannot read the transaction log of", name, e))?
        .unwrap_or(0);
    Ok(Transaction::new(id, current + 1))
}

/// A schema Delta can store as is: `Utf8View`/`LargeUtf8` become `Utf8`, every timestamp
/// becomes microseconds in UTC, and all fields are nullable.
pub fn normalize_schema(schema: &SchemaRef) -> SchemaRef {
    use arrow::datatypes::{DataType, Field, TimeUnit};
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::Timestamp(_, _) => {
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                }
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32 => DataType::Int64,
                DataType::Float16 | DataType::Float32 => DataType::Float64,
                other => other.clone(),
            };
            Field::new(f.name(), ty, true)
        })
        .collect();
    Arc::new(arrow::datatypes::Schema::new(fields))
}

/// The table's schema as Arrow.
pub fn arrow_schema_of(table: &DeltaTable) -> Result<SchemaRef> {
    let snapshot = table
        .snapshot()
        .map_err(|e| Error::lake("cannot read the table snapshot").with_source(e))?;
    let arrow: arrow::datatypes::Schema = snapshot
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e| Error::lake("cannot convert the table schema").with_source(e))?;
    Ok(Arc::new(arrow))
}

fn kernel_schema(schema: &SchemaRef, name: &str) -> Result<StructType> {
    schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| lake_error("unsupported column type for", name, e))
}

async fn create_table(
    lake: &Lake,
    rel: &str,
    schema: &SchemaRef,
    name: &str,
) -> Result<DeltaTable> {
    let url = lake.table_url(rel)?;
    if let Ok(dir) = url.to_file_path() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::lake(format!("cannot create the folder of table `{name}`")).with_source(e)
        })?;
    }
    let kernel = kernel_schema(schema, name)?;
    let table = deltalake::DeltaTableBuilder::from_url(url)
        .map(|b| b.with_storage_options(lake.storage_options().clone()))
        .and_then(|b| b.build())
        .map_err(|e| lake_error("cannot create table", name, e))?;
    let created = table
        .create()
        .with_columns(kernel.fields().cloned())
        .with_table_name(name)
        .with_save_mode(SaveMode::Ignore)
        .await;
    // Another process may have created the table at the same moment (run history, models on
    // a shared bucket): whoever won, continue from what is committed.
    match lake.load(rel).await? {
        Some(t) => Ok(t),
        None => created.map_err(|e| lake_error("cannot create table", name, e)),
    }
}

/// Replaces a table's schema (and empties it) for a full refresh whose column types changed.
async fn recreate_table(
    lake: &Lake,
    rel: &str,
    schema: &SchemaRef,
    name: &str,
) -> Result<DeltaTable> {
    let url = lake.table_url(rel)?;
    let kernel = kernel_schema(schema, name)?;
    let table = deltalake::DeltaTableBuilder::from_url(url)
        .map(|b| b.with_storage_options(lake.storage_options().clone()))
        .and_then(|b| b.build())
        .map_err(|e| lake_error("cannot recreate table", name, e))?;
    table
        .create()
        .with_columns(kernel.fields().cloned())
        .with_table_name(name)
        .with_save_mode(SaveMode::Overwrite)
        .await
        .map_err(|e| lake_error("cannot recreate table", name, e))
}

async fn evolve_schema(table: DeltaTable, wanted: &SchemaRef, name: &str) -> Result<DeltaTable> {
    let current = arrow_schema_of(&table)?;
    let mut new_fields = Vec::new();
    for f in wanted.fields() {
        match current.field_with_name(f.name()) {
            Ok(existing) => {
                if !conform::compatible(existing.data_type(), f.data_type()) {
                    return Err(Error::new(
                        ErrorKind::Lake,
                        format!(
                            "column `{}` of table `{name}` is {} in the lake but the stream now declares {}; \
                             run with --full-refresh to rebuild the table",
                            f.name(),
                            existing.data_type(),
                            f.data_type()
                        ),
                    )
                    .with_context("schema", "incompatible"));
                }
            }
            Err(_) => new_fields.push(f.as_ref().clone().with_nullable(true)),
        }
    }
    if new_fields.is_empty() {
        return Ok(table);
    }
    tracing::info!(
        table = name,
        added = new_fields.len(),
        "adding new columns to the table"
    );
    let extra = Arc::new(arrow::datatypes::Schema::new(new_fields));
    let kernel = kernel_schema(&extra, name)?;
    // Carry the current state forward so the newest commit always holds it.
    let props = match latest_meta(&table).await? {
        Some(meta) => CommitProperties::default().with_metadata([(
            COMMIT_METADATA_KEY.to_string(),
            serde_json::to_value(&meta).expect("meta serializes"),
        )]),
        None => CommitProperties::default(),
    };
    table
        .add_columns()
        .with_fields(kernel.fields().cloned().collect::<Vec<_>>())
        .with_commit_properties(props)
        .await
        .map_err(|e| lake_error("cannot add columns to", name, e))
}

#[cfg(test)]
mod tests;

/// Registers `table` in `ctx` under `name` (a `schema.table` reference), ready to query.
pub async fn register(
    ctx: &datafusion::prelude::SessionContext,
    name: &str,
    table: &DeltaTable,
) -> Result<()> {
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| lake_error("cannot prepare", name, e))?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| lake_error("cannot read", name, e))?;
    ctx.register_table(name, provider)
        .map_err(|e| lake_error("cannot register", name, e))?;
    Ok(())
}
