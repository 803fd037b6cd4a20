//! `revline query`: DataFusion over the lake, every table registered as `<source>.<stream>`.

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use revline_core::lake::Lake;

use crate::config::Config;
use revline_core::{Error, ErrorKind};

/// Output formats of `revline query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// JSON lines, one object per row.
    Json,
}

/// A session over the lake: `<source>.<stream>`, `<connector>.<stream>` unions, `_revline.runs`
/// and the built models (see [`crate::models::catalog`]).
pub async fn session(config: &Config, lake: &Lake) -> Result<SessionContext, Error> {
    crate::models::catalog::session(config, lake).await
}

/// Runs `sql` and returns the result batches.
pub async fn query(config: &Config, lake: &Lake, sql: &str) -> Result<Vec<RecordBatch>, Error> {
    let ctx = session(config, lake).await?;
    let df = ctx.sql(sql).await.map_err(|e| sql_error(e, sql))?;
    df.collect().await.map_err(|e| sql_error(e, sql))
}

fn sql_error(e: datafusion::error::DataFusionError, _sql: &str) -> Error {
    let msg = e.to_string();
    let hint = if msg.contains("not found") {
        " (tables are named <source>.<stream>; list them with `SHOW TABLES`)"
    } else {
        ""
    };
    Error::new(ErrorKind::Config, format!("query failed: {msg}{hint}"))
}

/// Renders batches in `format`.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String, Error> {
    match format {
        OutputFormat::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string()),
        OutputFormat::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(String::from_utf8(buf).expect("CSV is UTF-8"))
        }
        OutputFormat::Json => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            Ok(String::from_utf8(buf).expect("JSON is UTF-8"))
        }
    }
}
