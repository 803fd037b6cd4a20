//! State control: show the stored state of each stream, reset it (one atomic commit per
//! table, recorded in `_revline.runs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use revline_core::lake::{
    Lake, TableWriter, WriteMode, WriterSettings, arrow_schema_of, latest_meta,
};
use revline_core::{Error, ErrorKind, Result};

use crate::config::Config;
use crate::history::{self, RunRow, SYSTEM_SCHEMA};
use crate::runner::new_run_id;

/// The stored state of one table.
#[derive(Debug, Clone)]
pub struct StateRow {
    /// Source.
    pub source: String,
    /// Stream.
    pub stream: String,
    /// Table version.
    pub version: i64,
    /// The run that made the newest Revline commit.
    pub run_id: Option<String>,
    /// The stored state (`null` after a reset or for full-refresh streams).
    pub state: serde_json::Value,
}

/// The state of every table (optionally of one source), sorted by source and stream.
pub async fn show(lake: &Lake, source: Option<&str>) -> Result<Vec<StateRow>> {
    let mut out = Vec::new();
    for (src, stream) in lake.list_tables().await? {
        if src == SYSTEM_SCHEMA || src == "models" || source.is_some_and(|s| s != src) {
            continue;
        }
        let Some(table) = lake.load(&format!("{src}/{stream}")).await? else {
            continue;
        };
        let meta = latest_meta(&table).await?;
        out.push(StateRow {
            source: src,
            stream,
            version: table.version().unwrap_or_default() as i64,
            run_id: meta.as_ref().map(|m| m.run_id.clone()),
            state: meta.map(|m| m.state).unwrap_or(serde_json::Value::Null),
        });
    }
    Ok(out)
}

/// Clears the state of `source` (all its tables, or `stream`): the next run reads everything
/// again and replaces the table. Takes the source's lock; each reset is its own commit.
pub async fn reset(
    config: &Config,
    source: &str,
    stream: Option<&str>,
) -> Result<Vec<(String, i64)>> {
    if !config.sources.contains_key(source) {
        return Err(Error::config(format!(
            "no source named `{source}` in {}",
            config.file.display()
        )));
    }
    let lake = config.lake.open()?;
    let tables: Vec<String> = lake
        .list_tables()
        .await?
        .into_iter()
        .filter(|(s, t)| s == source && stream.is_none_or(|x| x == t))
        .map(|(_, t)| t)
        .collect();
    if let Some(t) = stream
        && tables.is_empty()
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!("`{source}.{t}` has no table in the lake yet; nothing to reset"),
        ));
    }
    let run_id = new_run_id();
    let mut lock = lake
        .lock_source(
            source,
            &run_id,
            &config.pipeline.name,
            Duration::from_secs(config.pipeline.lock_stale_secs),
        )
        .await?;
    let mut done = Vec::new();
    let mut rows = Vec::new();
    for t in tables {
        let started: DateTime<Utc> = Utc::now();
        let table = lake.load(&format!("{source}/{t}")).await?.expect("listed");
        let schema = arrow_schema_of(&table)?;
        let mut w = TableWriter::open(
            &lake,
            source,
            &t,
            schema,
            WriteMode::Append,
            &run_id,
            WriterSettings::default(),
        )
        .await?;
        lock.check().await?;
        let out = w.commit(&serde_json::Value::Null).await?;
        done.push((t.clone(), out.version));
        rows.push(RunRow {
            run_id: run_id.clone(),
            pipeline: config.pipeline.name.clone(),
            kind: "state_reset".into(),
            source: source.to_string(),
            stream: t,
            mode: "-".into(),
            started_at: started,
            finished_at: Utc::now(),
            status: "succeeded".into(),
            records: 0,
            pages: 0,
            commits: 1,
            bytes: 0,
            api_requests: 0,
            retries: 0,
            throttled: 0,
            throttle_wait_ms: 0,
            error: None,
        });
    }
    history::append(&lake, &rows).await?;
    lock.release().await?;
    Ok(done)
}
