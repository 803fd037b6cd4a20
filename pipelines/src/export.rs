//! Writing query results and whole tables as plain files: `revline query --output FILE`
//! (CSV, JSON lines or Parquet by extension) and `revline export --format parquet`, one
//! single-snapshot Parquet file per table for tools without Delta support. Files appear
//! atomically: written under a temporary name, then renamed into place.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use revline_core::{Error, ErrorKind, Result};

/// File formats for exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// CSV with a header.
    Csv,
    /// JSON lines.
    Json,
    /// Parquet (Snappy).
    Parquet,
}

impl FileFormat {
    /// The format named by a file's extension.
    pub fn from_path(path: &Path) -> Result<FileFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => Ok(FileFormat::Csv),
            Some("json" | "jsonl" | "ndjson") => Ok(FileFormat::Json),
            Some("parquet") => Ok(FileFormat::Parquet),
            _ => Err(Error::config(format!(
                "--output {}: the extension must be .csv, .json or .parquet",
                path.display()
            ))),
        }
    }
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::new(ErrorKind::Internal, what).with_source(e)
}

/// Writes batches to `path` in `format`, atomically.
pub fn write_batches(batches: &[RecordBatch], path: &Path, format: FileFormat) -> Result<()> {
    let tmp = temp_beside(path);
    let file =
        std::fs::File::create(&tmp).map_err(io_err(format!("cannot create {}", tmp.display())))?;
    let result: Result<()> = (|| {
        match format {
            FileFormat::Csv => {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(file);
                for b in batches {
                    w.write(b)?;
                }
            }
            FileFormat::Json => {
                let mut w = arrow::json::LineDelimitedWriter::new(file);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            FileFormat::Parquet => {
                let schema = batches
                    .first()
                    .map(|b| b.schema())
                    .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                let mut w = ArrowWriter::try_new(file, schema, Some(props))
                    .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
                for b in batches {
                    w.write(b)
                        .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
                }
                w.close()
                    .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(io_err(format!(
        "cannot move the output to {}",
        path.display()
    )))
}

/// Exports `tables` (`schema.table` or a model name; all tables if empty) from `ctx` as one
/// Parquet file each under `out` (`<schema>.<table>.parquet`, models as `<name>.parquet`).
/// All files are written to a temporary folder first and moved in at the end, so a failed
/// export leaves an earlier one untouched. Returns the files with their row counts.
pub async fn export_parquet(
    ctx: &SessionContext,
    tables: &[String],
    out: &Path,
) -> Result<Vec<(PathBuf, u64)>> {
    let names: Vec<String> = if tables.is_empty() {
        let list = |e: datafusion::error::DataFusionError| {
            Error::internal(format!("cannot list tables: {e}"))
        };
        let batches = ctx
            .sql(
                "SELECT table_schema, table_name FROM information_schema.tables \
                 WHERE table_schema NOT IN ('information_schema', 'models') ORDER BY 1, 2",
            )
            .await
            .map_err(list)?
            .collect()
            .await
            .map_err(list)?;
        let mut names = Vec::new();
        for b in &batches {
            let s = arrow::array::cast::as_string_array(b.column(0));
            let t = arrow::array::cast::as_string_array(b.column(1));
            for i in 0..b.num_rows() {
                names.push(if s.value(i) == "public" {
                    t.value(i).to_string()
                } else {
                    format!("{}.{}", s.value(i), t.value(i))
                });
            }
        }
        names
    } else {
        tables.to_vec()
    };
    std::fs::create_dir_all(out).map_err(io_err(format!("cannot create {}", out.display())))?;
    let staging = out.join(format!(".export-{}", std::process::id()));
    std::fs::create_dir_all(&staging)
        .map_err(io_err(format!("cannot create {}", staging.display())))?;
    let mut written = Vec::new();
    for name in &names {
        let df = match ctx.table(name.as_str()).await {
            Ok(df) => df,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(Error::config(format!("cannot export `{name}`: {e}")));
            }
        };
        let file = staging.join(format!("{name}.parquet"));
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let f = std::fs::File::create(&file)
            .map_err(io_err(format!("cannot create {}", file.display())))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut w = ArrowWriter::try_new(f, schema, Some(props))
            .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
        let mut rows = 0u64;
        let mut stream = df
            .execute_stream()
            .await
            .map_err(|e| Error::internal(format!("cannot read `{name}`: {e}")))?;
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| Error::internal(format!("cannot read `{name}`: {e}")))?;
            rows += b.num_rows() as u64;
            w.write(&b)
                .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
        }
        w.close()
            .map_err(|e| Error::internal("cannot write Parquet").with_source(e))?;
        written.push((name.clone(), rows));
    }
    let mut out_files = Vec::new();
    for (name, rows) in written {
        let from = staging.join(format!("{name}.parquet"));
        let to = out.join(format!("{name}.parquet"));
        std::fs::rename(&from, &to)
            .map_err(io_err(format!("cannot move {} into place", to.display())))?;
        out_files.push((to, rows));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(out_files)
}
