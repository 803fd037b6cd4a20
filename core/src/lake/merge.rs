//! MERGE of staged Parquet files into a table on its primary key. The staged files were
//! written by the table writer but never committed; they are read back with DataFusion,
//! de-duplicated (latest cursor wins), merged in one commit that carries the stream state,
//! and then deleted.

use arrow::datatypes::SchemaRef;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use deltalake::DeltaTable;
use deltalake::Path;
use deltalake::kernel::Add;
use deltalake::kernel::transaction::CommitProperties;
use object_store::ObjectStoreExt;

use super::{CommitOutcome, lake_error};
use crate::error::{Error, Result};
use crate::schema::EXTRACTED_AT_COLUMN as EXTRACTED_AT;

/// Quotes an identifier for DataFusion SQL.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

pub(super) async fn merge_files(
    table: DeltaTable,
    adds: &[Add],
    keys: &[String],
    cursor: Option<&str>,
    schema: &SchemaRef,
    props: CommitProperties,
    name: &str,
) -> Result<(DeltaTable, CommitOutcome)> {
    if keys.is_empty() {
        return Err(Error::internal(format!(
            "cannot merge into `{name}`: no primary key declared"
        )));
    }
    let ctx = SessionContext::new();
    let store = table.object_store();
    let base = table.table_url().clone();
    ctx.register_object_store(&base, store.clone());
    let paths: Vec<String> = adds
        .iter()
        .map(|a| base.join(&a.path).map(|u| u.to_string()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::internal("bad staged file path").with_source(e))?;
    let staged = ctx
        .read_parquet(paths, ParquetReadOptions::default().schema(schema))
        .await
        .map_err(|e| lake_error("cannot read staged files of", name, e))?;
    ctx.register_table("staged", staged.into_view())
        .map_err(|e| lake_error("cannot stage", name, e))?;
    let cols: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    let partition = keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ");
    // Within one commit the latest cursor wins; among equal cursors, the latest extraction
    // (a restated report row re-read later in the same run).
    let mut order_by = Vec::new();
    if let Some(c) = cursor {
        order_by.push(format!("{} DESC NULLS LAST", quote(c)));
    }
    if schema.field_with_name(EXTRACTED_AT).is_ok() {
        order_by.push(format!("{} DESC NULLS LAST", quote(EXTRACTED_AT)));
    }
    let order = if order_by.is_empty() {
        "1".to_string()
    } else {
        order_by.join(", ")
    };
    let sql = format!(
        "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {order}) AS __rn FROM staged) WHERE __rn = 1",
        cols = cols.join(", ")
    );
    let source = ctx
        .sql(&sql)
        .await
        .map_err(|e| lake_error("cannot de-duplicate staged rows of", name, e))?;

    let predicate = keys
        .iter()
        .map(|k| format!("target.{q} = source.{q}", q = quote(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let update_names = names.clone();
    let cursor_owned = cursor.map(|c| c.to_string());
    // At an equal cursor, a row whose values changed replaces the stored one: daily reports
    // are restated (late conversions) without their date, the cursor, moving.
    let changed = schema
        .fields()
        .iter()
        .filter(|f| f.name() != EXTRACTED_AT && !f.data_type().is_nested())
        .map(|f| {
            format!(
                "(source.{q} IS DISTINCT FROM target.{q})",
                q = quote(f.name())
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let (table, metrics) = table
        .merge(source, predicate.as_str())
        .with_source_alias("source")
        .with_target_alias("target")
        .with_commit_properties(props)
        .when_matched_update(move |mut u| {
            if let Some(c) = &cursor_owned {
                let q = quote(c);
                // A newer version replaces a row, and so does a changed row at the same
                // cursor (a restated day); re-reading unchanged rows (look-back windows,
                // retried pages) rewrites nothing, and an older version never wins.
                let same_but_changed = if changed.is_empty() {
                    String::new()
                } else {
                    format!(" OR (source.{q} = target.{q} AND ({changed}))")
                };
                u = u.predicate(format!(
                    "source.{q} > target.{q} OR target.{q} IS NULL OR source.{q} IS NULL{same_but_changed}"
                ));
            }
            for n in &update_names {
                u = u.update(
                    format!("target.{}", quote(n)),
                    format!("source.{}", quote(n)),
                );
            }
            u
        })
        .map_err(|e| lake_error("cannot plan the merge into", name, e))?
        .when_not_matched_insert(move |mut i| {
            for n in &names {
                i = i.set(
                    format!("target.{}", quote(n)),
                    format!("source.{}", quote(n)),
                );
            }
            i
        })
        .map_err(|e| lake_error("cannot plan the merge into", name, e))?
        .await
        .map_err(|e| lake_error("cannot merge into", name, e))?;

    // The staged files were never part of the table; remove them.
    for a in adds {
        if let Err(e) = store.delete(&Path::from(a.path.as_str())).await {
            tracing::debug!(table = name, file = %a.path, error = %e, "could not delete a staged file");
        }
    }
    let version = table.version().unwrap_or_default() as i64;
    Ok((
        table,
        CommitOutcome {
            version,
            rows: 0,
            files_added: metrics.num_target_files_added,
            files_removed: metrics.num_target_files_removed,
        },
    ))
}
