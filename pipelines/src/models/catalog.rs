//! The SQL catalog every query and model sees:
//! - `<source>.<stream>`: each configured source's own tables;
//! - `<connector>.<stream>`: the union of every configured source of that connector, with the
//!   declared columns first (absent ones are null) and `_source` naming the instance; a
//!   connector that is not configured (or a stream never loaded) is an empty table with the
//!   declared schema, so models run on whatever subset of sources a company uses;
//! - `_revline.runs`; and every built model by its bare name (also `models.<name>`).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use revline_core::lake::Lake;
use revline_core::schema::with_system_columns;
use revline_core::{Error, Result};

use super::{KnownTables, MODELS_SCHEMA};
use crate::config::Config;
use crate::history::SYSTEM_SCHEMA;
use crate::registry;

fn df_err(what: &str) -> impl Fn(datafusion::error::DataFusionError) -> Error + '_ {
    move |e| Error::internal(format!("{what}: {e}"))
}

/// Every `schema.table` a model may read under `config`.
pub fn known_tables(config: &Config) -> KnownTables {
    let mut names = std::collections::BTreeSet::new();
    for f in registry::factories() {
        for s in f.streams() {
            names.insert(format!("{}.{}", f.name(), s.name));
        }
    }
    for src in config.sources.values() {
        if let Some(f) = registry::find(&src.connector) {
            for s in f.streams() {
                names.insert(format!("{}.{}", src.name, s.name));
            }
        }
    }
    names.insert(format!("{SYSTEM_SCHEMA}.runs"));
    KnownTables { names }
}

/// Registers the SQL functions models may use beyond DataFusion's own: the JSON functions
/// (`json_get_str`, `json_get_int`, `json_get_array`, ...) for raw JSON columns.
pub fn register_functions(ctx: &mut SessionContext) -> Result<()> {
    crate::engine::register_functions(ctx)
}

/// A session context on the configured engine (`[engine]`) with the catalog above registered.
pub async fn session(config: &Config, lake: &Lake) -> Result<SessionContext> {
    let ctx = crate::engine::context(config, lake).await?;
    let mut loaded: BTreeMap<(String, String), Arc<dyn TableProvider>> = BTreeMap::new();
    for (source, stream) in lake.list_tables().await? {
        if let Some(table) = lake.load(&format!("{source}/{stream}")).await? {
            loaded.insert((source, stream), provider(&ctx, &table).await?);
        }
    }
    // Each source's own tables (and Revline's).
    for ((source, stream), p) in &loaded {
        if source == MODELS_SCHEMA {
            continue;
        }
        if config.sources.contains_key(source) || source == SYSTEM_SCHEMA {
            register(&ctx, source, stream, p.clone())?;
        }
    }
    // Connector unions (or empty declared tables).
    for f in registry::factories() {
        let sources: Vec<&str> = config
            .sources
            .values()
            .filter(|s| s.connector == f.name())
            .map(|s| s.name.as_str())
            .collect();
        for d in f.streams() {
            let declared = with_system_columns(&d.schema.arrow_schema());
            let parts: Vec<(&str, Arc<dyn TableProvider>)> = sources
                .iter()
                .filter_map(|s| {
                    loaded
                        .get(&(s.to_string(), d.name.clone()))
                        .map(|p| (*s, p.clone()))
                })
                .collect();
            let union = union_of(&ctx, &declared, &parts)?;
            register(&ctx, f.name(), &d.name, union)?;
        }
    }
    // Built models.
    for ((source, name), p) in &loaded {
        if source == MODELS_SCHEMA {
            register(&ctx, MODELS_SCHEMA, name, p.clone())?;
            register_bare(&ctx, name, p.clone())?;
        }
    }
    Ok(ctx)
}

async fn provider(ctx: &SessionContext, table: &DeltaTable) -> Result<Arc<dyn TableProvider>> {
    if crate::engine::is_distributed(ctx) {
        return snapshot_files(table);
    }
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| Error::lake("cannot prepare a table for queries").with_source(e))?;
    table
        .table_provider()
        .await
        .map_err(|e| Error::lake("cannot read a table").with_source(e))
}

/// The current snapshot of `table` as a Parquet listing table over exactly its active files:
/// a plan Ballista can serialise and every executor can read (Delta's own provider cannot be
/// shipped). Revline's tables use no partition columns, deletion vectors or column mapping,
/// so the active files are the table; a table using them is refused rather than misread.
fn snapshot_files(table: &DeltaTable) -> Result<Arc<dyn TableProvider>> {
    use datafusion::datasource::empty::EmptyTable;
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let schema = revline_core::lake::arrow_schema_of(table)?;
    let snapshot = table
        .snapshot()
        .map_err(|e| Error::lake("cannot read the table snapshot").with_source(e))?;
    let uri = table.table_url().to_string();
    if !snapshot.metadata().partition_columns().is_empty() {
        return Err(Error::lake(format!(
            "{uri} is partitioned; the Ballista engine reads unpartitioned tables only"
        )));
    }
    let protocol = snapshot.protocol();
    if protocol.reader_features().is_some_and(|f| !f.is_empty()) {
        return Err(Error::lake(format!(
            "{uri} uses Delta reader features the Ballista engine does not read"
        )));
    }
    let files: Vec<ListingTableUrl> = table
        .get_file_uris()
        .map_err(|e| Error::lake("cannot list the table's files").with_source(e))?
        .map(|f| ListingTableUrl::parse(&f))
        .collect::<std::result::Result<_, _>>()
        .map_err(df_err("cannot address a table file"))?;
    if files.is_empty() {
        return Ok(Arc::new(EmptyTable::new(schema)));
    }
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(files)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(
        ListingTable::try_new(config).map_err(df_err("cannot read a table's files"))?,
    ))
}

fn ensure_schema(ctx: &SessionContext, schema: &str) -> Result<()> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::internal("no default catalog"))?;
    if catalog.schema(schema).is_none() {
        catalog
            .register_schema(schema, Arc::new(MemorySchemaProvider::new()))
            .map_err(df_err("cannot register a schema"))?;
    }
    Ok(())
}

fn register(
    ctx: &SessionContext,
    schema: &str,
    table: &str,
    p: Arc<dyn TableProvider>,
) -> Result<()> {
    ensure_schema(ctx, schema)?;
    let r = TableReference::partial(schema, table);
    ctx.deregister_table(r.clone())
        .map_err(df_err("cannot replace a table"))?;
    ctx.register_table(r, p)
        .map_err(df_err("cannot register a table"))?;
    Ok(())
}

fn register_bare(ctx: &SessionContext, table: &str, p: Arc<dyn TableProvider>) -> Result<()> {
    let r = TableReference::bare(table);
    ctx.deregister_table(r.clone())
        .map_err(df_err("cannot replace a table"))?;
    ctx.register_table(r, p)
        .map_err(df_err("cannot register a table"))?;
    Ok(())
}

/// Registers a freshly built model under `<name>` and `models.<name>`.
pub async fn register_model(ctx: &SessionContext, name: &str, table: &DeltaTable) -> Result<()> {
    let p = provider(ctx, table).await?;
    register(ctx, MODELS_SCHEMA, name, p.clone())?;
    register_bare(ctx, name, p)
}

/// The union of `parts` conformed to `declared` (declared columns first, typed as declared;
/// then any extra columns of the parts; missing values null); empty if there are no parts.
pub fn union_of(
    ctx: &SessionContext,
    declared: &Schema,
    parts: &[(&str, Arc<dyn TableProvider>)],
) -> Result<Arc<dyn TableProvider>> {
    let mut fields: Vec<Field> = declared
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    for (_, p) in parts {
        for f in p.schema().fields() {
            if !fields.iter().any(|x| x.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields.clone()));
    if parts.is_empty() {
        return Ok(Arc::new(datafusion::datasource::empty::EmptyTable::new(
            schema,
        )));
    }
    let mut union: Option<DataFrame> = None;
    for (_, p) in parts {
        let df = ctx
            .read_table(p.clone())
            .map_err(df_err("cannot read a source table"))?;
        let exprs: Vec<Expr> = fields
            .iter()
            .map(|f| {
                let e = if df.schema().has_column_with_unqualified_name(f.name()) {
                    Expr::Column(Column::new_unqualified(f.name()))
                } else {
                    lit(ScalarValue::try_from(f.data_type()).unwrap_or(ScalarValue::Null))
                };
                cast(e, f.data_type().clone()).alias(f.name())
            })
            .collect();
        let df = df
            .select(exprs)
            .map_err(df_err("cannot conform a source table"))?;
        union = Some(match union {
            None => df,
            Some(u) => u.union(df).map_err(df_err("cannot union source tables"))?,
        });
    }
    Ok(union.expect("at least one part").into_view())
}

/// Parses a seed's CSV into a table (header `name:type`).
pub fn seed_table(seed: &super::Seed) -> Result<MemTable> {
    let batch = seed_batch(seed)?;
    MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| Error::config(format!("{}: {e}", seed.file)))
}

/// Parses a seed's CSV into one batch (header `name:type`).
fn seed_batch(seed: &super::Seed) -> Result<arrow::record_batch::RecordBatch> {
    use arrow::array::{
        ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    };
    use arrow::datatypes::DataType;
    let bad = |line: usize, msg: String| Error::config(format!("{}:{line}: {msg}", seed.file));
    let mut lines = seed
        .csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad(1, "empty seed".into()))?;
    let cols: Vec<(String, DataType)> = header
        .split(',')
        .map(|h| {
            let (name, ty) = h.trim().split_once(':').unwrap_or((h.trim(), "text"));
            let ty = match ty {
                "text" => Ok(DataType::Utf8),
                "int" => Ok(DataType::Int64),
                "double" => Ok(DataType::Float64),
                "bool" => Ok(DataType::Boolean),
                "date" => Ok(DataType::Date32),
                other => Err(bad(
                    1,
                    format!("unknown column type `{other}` (text, int, double, bool, date)"),
                )),
            }?;
            Ok((name.to_string(), ty))
        })
        .collect::<Result<_>>()?;
    enum B {
        T(StringBuilder),
        I(Int64Builder),
        F(Float64Builder),
        Bo(BooleanBuilder),
        D(Date32Builder),
    }
    let mut builders: Vec<B> = cols
        .iter()
        .map(|(_, t)| match t {
            DataType::Int64 => B::I(Int64Builder::new()),
            DataType::Float64 => B::F(Float64Builder::new()),
            DataType::Boolean => B::Bo(BooleanBuilder::new()),
            DataType::Date32 => B::D(Date32Builder::new()),
            _ => B::T(StringBuilder::new()),
        })
        .collect();
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != cols.len() {
            return Err(bad(
                i + 1,
                format!("{} values for {} columns", cells.len(), cols.len()),
            ));
        }
        for ((b, cell), (name, _)) in builders.iter_mut().zip(&cells).zip(&cols) {
            let fail = || {
                bad(
                    i + 1,
                    format!("`{cell}` is not a valid value for column `{name}`"),
                )
            };
            let null = cell.is_empty();
            match b {
                B::T(b) => {
                    if null {
                        b.append_null()
                    } else {
                        b.append_value(cell)
                    }
                }
                B::I(b) => {
                    if null {
                        b.append_null()
                    } else {
                        b.append_value(cell.parse().map_err(|_| fail())?)
                    }
                }
                B::F(b) => {
                    if null {
                        b.append_null()
                    } else {
                        b.append_value(cell.parse().map_err(|_| fail())?)
                    }
                }
                B::Bo(b) => {
                    if null {
                        b.append_null()
                    } else {
                        b.append_value(cell.parse().map_err(|_| fail())?)
                    }
                }
                B::D(b) => {
                    if null {
                        b.append_null()
                    } else {
                        let days =
                            revline_core::decode::coerce::parse_date_days(cell).ok_or_else(fail)?;
                        b.append_value(days as i32)
                    }
                }
            }
        }
    }
    let arrays: Vec<ArrayRef> = builders
        .into_iter()
        .map(|b| -> ArrayRef {
            match b {
                B::T(mut b) => Arc::new(b.finish()),
                B::I(mut b) => Arc::new(b.finish()),
                B::F(mut b) => Arc::new(b.finish()),
                B::Bo(mut b) => Arc::new(b.finish()),
                B::D(mut b) => Arc::new(b.finish()),
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, t)| Field::new(n, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    arrow::record_batch::RecordBatch::try_new(schema, arrays).map_err(|e| bad(1, e.to_string()))
}

/// Registers every seed under its bare name (on Ballista as a `VALUES` view, which travels
/// inside the plan).
pub fn register_seeds(ctx: &SessionContext, set: &super::ModelSet) -> Result<()> {
    for seed in set.seeds.values() {
        let p: Arc<dyn TableProvider> = if crate::engine::is_distributed(ctx) {
            values_view(&seed_batch(seed)?)?
        } else {
            Arc::new(seed_table(seed)?)
        };
        register_bare(ctx, &seed.name, p)?;
    }
    Ok(())
}

/// The rows of a (small) in-memory table as a view over a `VALUES` plan.
fn values_view(batch: &arrow::record_batch::RecordBatch) -> Result<Arc<dyn TableProvider>> {
    use datafusion::catalog::view::ViewTable;
    use datafusion::logical_expr::LogicalPlanBuilder;
    let schema = batch.schema();
    let rows: Vec<Vec<Expr>> = (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, row).map(lit))
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(df_err("cannot read a seed value"))?;
    if rows.is_empty() {
        return Ok(Arc::new(datafusion::datasource::empty::EmptyTable::new(
            schema,
        )));
    }
    // `VALUES` names its columns column1, column2, …: cast and rename them to the seed's.
    let columns: Vec<Expr> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            cast(
                Expr::Column(Column::from_name(format!("column{}", i + 1))),
                f.data_type().clone(),
            )
            .alias(f.name())
        })
        .collect();
    let plan = LogicalPlanBuilder::values(rows)
        .and_then(|b| b.project(columns))
        .and_then(|b| b.build())
        .map_err(df_err("cannot build a seed's rows"))?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}
