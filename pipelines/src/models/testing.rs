//! SQL behaviour tests for models: an isolated session per test file with every connector's
//! streams as empty tables of their declared schema, fixture rows loaded with
//! `FIXTURE schema.table (col, …) VALUES (…), …` (other columns null, values cast to the
//! declared types), and every model available as a view over the fixtures. Used by the
//! sqllogictest files under `sql/tests/logic/`.

use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::Schema;
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::prelude::{SessionConfig, SessionContext};
use revline_core::schema::with_system_columns;
use revline_core::{Error, Result};

use super::{KnownTables, ModelSet, catalog};
use crate::registry;

/// An isolated session for model tests.
pub struct TestSession {
    ctx: SessionContext,
    set: ModelSet,
}

impl TestSession {
    /// A session with the bundled models (and seeds) over empty raw tables.
    pub async fn new() -> Result<TestSession> {
        let mut ctx = SessionContext::new_with_config(
            SessionConfig::new()
                .with_information_schema(true)
                .with_default_catalog_and_schema("datafusion", "public")
                .with_target_partitions(2),
        );
        catalog::register_functions(&mut ctx)?;
        let mut names = std::collections::BTreeSet::new();
        for f in registry::factories() {
            for d in f.streams() {
                let schema = with_system_columns(&d.schema.arrow_schema());
                let empty = catalog::union_of(&ctx, &schema, &[])?;
                register(&ctx, f.name(), &d.name, empty)?;
                names.insert(format!("{}.{}", f.name(), d.name));
            }
        }
        names.insert("_revline.runs".to_string());
        let runs = MemTable::try_new(crate::history::schema(), vec![vec![]])
            .map_err(|e| Error::internal(e.to_string()))?;
        register(&ctx, "_revline", "runs", Arc::new(runs))?;
        let set = ModelSet::from_files(super::bundled_files(), &KnownTables { names })?;
        catalog::register_seeds(&ctx, &set)?;
        let s = TestSession { ctx, set };
        s.refresh_models().await?;
        Ok(s)
    }

    /// The session.
    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// Re-creates every model as a view over the current fixtures, in dependency order.
    async fn refresh_models(&self) -> Result<()> {
        for name in &self.set.order {
            let m = &self.set.models[name];
            let view = self
                .ctx
                .sql(&m.sql)
                .await
                .map_err(|e| Error::config(format!("{}: {e}", m.file)))?
                .into_view();
            let r = datafusion::common::TableReference::bare(name.as_str());
            self.ctx
                .deregister_table(r.clone())
                .map_err(|e| Error::internal(e.to_string()))?;
            self.ctx
                .register_table(r, view)
                .map_err(|e| Error::internal(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs a statement (or a `FIXTURE`); returns rows rendered as strings.
    pub async fn run(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        let trimmed = sql.trim();
        if trimmed.len() >= 7 && trimmed[..7].eq_ignore_ascii_case("FIXTURE") {
            self.fixture(&trimmed[7..]).await?;
            return Ok(Vec::new());
        }
        let batches = self
            .ctx
            .sql(trimmed)
            .await
            .map_err(|e| Error::config(e.to_string()))?
            .collect()
            .await
            .map_err(|e| Error::config(e.to_string()))?;
        let mut rows = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| {
                            if c.is_null(r) {
                                "NULL".to_string()
                            } else {
                                let v = arrow::util::display::array_value_to_string(c, r)
                                    .unwrap_or_default();
                                if v.is_empty() {
                                    "(empty)".to_string()
                                } else {
                                    v
                                }
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(rows)
    }

    /// `schema.table (a, b) VALUES (…), (…)`: replaces the table with these rows.
    async fn fixture(&mut self, spec: &str) -> Result<()> {
        let spec = spec.trim();
        let open = spec
            .find('(')
            .ok_or_else(|| Error::config("FIXTURE needs `table (columns) VALUES …`"))?;
        let table = spec[..open].trim();
        let close = spec[open..]
            .find(')')
            .map(|i| i + open)
            .ok_or_else(|| Error::config("FIXTURE: unclosed column list"))?;
        let cols: Vec<String> = spec[open + 1..close]
            .split(',')
            .map(|c| c.trim().to_string())
            .collect();
        let values = spec[close + 1..].trim();
        if !values[..6.min(values.len())].eq_ignore_ascii_case("VALUES") {
            return Err(Error::config(format!(
                "FIXTURE {table}: expected VALUES after the column list"
            )));
        }
        let (schema_name, table_name) = table
            .split_once('.')
            .ok_or_else(|| Error::config(format!("FIXTURE `{table}`: use schema.table")))?;
        let existing = self
            .ctx
            .table_provider(datafusion::common::TableReference::partial(
                schema_name,
                table_name,
            ))
            .await
            .map_err(|e| Error::config(format!("FIXTURE `{table}`: {e}")))?;
        let declared: Arc<Schema> = existing.schema();
        for c in &cols {
            if declared.field_with_name(c).is_err() {
                return Err(Error::config(format!("FIXTURE `{table}`: no column `{c}`")));
            }
        }
        let df = self
            .ctx
            .sql(values)
            .await
            .map_err(|e| Error::config(format!("FIXTURE {table}: {e}")))?;
        let exprs: Vec<Expr> = declared
            .fields()
            .iter()
            .map(|f| {
                let e = match cols.iter().position(|c| c == f.name()) {
                    Some(i) => Expr::Column(Column::new_unqualified(format!("column{}", i + 1))),
                    None => lit(ScalarValue::try_from(f.data_type()).unwrap_or(ScalarValue::Null)),
                };
                cast(e, f.data_type().clone()).alias(f.name())
            })
            .collect();
        let batches = df
            .select(exprs)
            .map_err(|e| Error::config(format!("FIXTURE {table}: {e}")))?
            .collect()
            .await
            .map_err(|e| Error::config(format!("FIXTURE {table}: {e}")))?;
        let mem =
            MemTable::try_new(declared, vec![batches]).map_err(|e| Error::config(e.to_string()))?;
        register(&self.ctx, schema_name, table_name, Arc::new(mem))?;
        self.refresh_models().await
    }
}

fn register(
    ctx: &SessionContext,
    schema: &str,
    table: &str,
    p: Arc<dyn TableProvider>,
) -> Result<()> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::internal("no catalog"))?;
    if catalog.schema(schema).is_none() {
        catalog
            .register_schema(
                schema,
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .map_err(|e| Error::internal(e.to_string()))?;
    }
    let r = datafusion::common::TableReference::partial(schema, table);
    ctx.deregister_table(r.clone())
        .map_err(|e| Error::internal(e.to_string()))?;
    ctx.register_table(r, p)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(())
}
