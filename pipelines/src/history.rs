//! Run history as data: every run appends one row per stream (and per state change) to the
//! lake table `_revline.runs`, queryable next to the business tables.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use revline_core::lake::{Lake, TableWriter, WriteMode, WriterSettings};
use revline_core::schema::timestamp_type;
use revline_core::{Error, Result};
use serde::Serialize;

/// Schema (source) name of Revline's own tables.
pub const SYSTEM_SCHEMA: &str = "_revline";
/// Table name of the run history.
pub const RUNS: &str = "runs";

/// One row of `_revline.runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Pipeline name (`[pipeline] name`).
    pub pipeline: String,
    /// What happened: `load`, `backfill`, `state_reset`.
    pub kind: String,
    /// Source name.
    pub source: String,
    /// Stream name (empty for a source-level row).
    pub stream: String,
    /// Sync mode used (`incremental`, `full_refresh`, or `-`).
    pub mode: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// `succeeded`, `partial`, `cancelled`, `failed`.
    pub status: String,
    /// Records committed.
    pub records: i64,
    /// Pages read.
    pub pages: i64,
    /// Delta commits made.
    pub commits: i64,
    /// Response bytes received for this stream.
    pub bytes: i64,
    /// API requests sent for this stream.
    pub api_requests: i64,
    /// Retries.
    pub retries: i64,
    /// Throttling responses.
    pub throttled: i64,
    /// Milliseconds waited on rate limits and throttling.
    pub throttle_wait_ms: i64,
    /// Error message, if any.
    pub error: Option<String>,
}

/// The table's schema.
pub fn schema() -> SchemaRef {
    let s = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    let i = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        s("run_id", false),
        s("pipeline", false),
        s("kind", false),
        s("source", false),
        s("stream", false),
        s("mode", false),
        Field::new("started_at", timestamp_type(), false),
        Field::new("finished_at", timestamp_type(), false),
        s("status", false),
        i("records"),
        i("pages"),
        i("commits"),
        i("bytes"),
        i("api_requests"),
        i("retries"),
        i("throttled"),
        i("throttle_wait_ms"),
        s("error", true),
    ]))
}

fn to_batch(rows: &[RunRow]) -> Result<RecordBatch> {
    let text = |f: fn(&RunRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let num = |f: fn(&RunRow) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let ts = |f: fn(&RunRow) -> DateTime<Utc>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.iter()
                    .map(|r| f(r).timestamp_micros())
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        )
    };
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            text(|r| &r.run_id),
            text(|r| &r.pipeline),
            text(|r| &r.kind),
            text(|r| &r.source),
            text(|r| &r.stream),
            text(|r| &r.mode),
            ts(|r| r.started_at),
            ts(|r| r.finished_at),
            text(|r| &r.status),
            num(|r| r.records),
            num(|r| r.pages),
            num(|r| r.commits),
            num(|r| r.bytes),
            num(|r| r.api_requests),
            num(|r| r.retries),
            num(|r| r.throttled),
            num(|r| r.throttle_wait_ms),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>(),
            )),
        ],
    )?)
}

/// Appends rows to `_revline.runs` in one commit, retrying when concurrent runs (shards on
/// one lake) commit to the table at the same time.
pub async fn append(lake: &Lake, rows: &[RunRow]) -> Result<()> {
    let mut attempt = 0;
    loop {
        match append_once(lake, rows).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "run history commit conflicted; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(
                    50 * attempt + rand::random_range(0..50),
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn append_once(lake: &Lake, rows: &[RunRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let run_id = rows[0].run_id.clone();
    let mut w = TableWriter::open(
        lake,
        SYSTEM_SCHEMA,
        RUNS,
        schema(),
        WriteMode::Append,
        &run_id,
        WriterSettings::default(),
    )
    .await
    .map_err(|e| Error::lake(format!("cannot record the run history: {e}")))?;
    w.write(to_batch(rows)?).await?;
    w.commit(&serde_json::Value::Null).await?;
    w.compact_if_needed(&serde_json::Value::Null).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_convert_to_the_declared_schema() {
        let now = Utc::now();
        let row = RunRow {
            run_id: "r".into(),
            pipeline: "p".into(),
            kind: "load".into(),
            source: "hubspot".into(),
            stream: "contacts".into(),
            mode: "incremental".into(),
            started_at: now,
            finished_at: now,
            status: "failed".into(),
            records: 1,
            pages: 2,
            commits: 3,
            bytes: 4,
            api_requests: 5,
            retries: 6,
            throttled: 7,
            throttle_wait_ms: 8,
            error: Some("boom".into()),
        };
        let b = to_batch(&[row]).unwrap();
        assert_eq!(b.schema(), schema());
        assert_eq!(b.num_rows(), 1);
    }
}
