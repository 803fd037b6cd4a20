//! `revline bench`: loads one stream of a connector from its emulator, running in a separate
//! process (`revline sandbox`), over loopback into a fresh lake, and reports records/s, MB/s of
//! JSON and peak RSS. Each size runs in its own process so peak RSS is measured per size.
//! Connectors and streams come from [`revline_sandbox::demo::bench_profiles`].

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use revline_sandbox::demo::{BenchProfile, bench_profiles};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::progress::Silent;
use crate::runner::{RunOptions, run};

/// One benchmark result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    /// Connector.
    pub connector: String,
    /// Stream loaded.
    pub stream: String,
    /// Records loaded.
    pub records: u64,
    /// Wall time of the load, seconds.
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// Response JSON megabytes per second.
    pub json_mb_per_sec: f64,
    /// JSON bytes received.
    pub json_bytes: u64,
    /// Peak resident set of the loading process, megabytes.
    pub peak_rss_mb: f64,
    /// Delta commits made.
    pub commits: u64,
}

/// Peak resident set size of this process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn profile(connector: &str) -> anyhow::Result<BenchProfile> {
    bench_profiles()
        .into_iter()
        .find(|p| p.connector == connector)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no benchmark profile for `{connector}` (available: {})",
                bench_profiles()
                    .iter()
                    .map(|p| p.connector)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Starts `revline sandbox` as a child serving `sandbox_cfg`, and waits until its emulators
/// listen and it has written `sources.toml` (and, for `expected_records_of`, the record count
/// that connector's benchmarked stream has) into `work`. It exits when its stdin closes.
fn start_sandbox(
    exe: &Path,
    sandbox_cfg: &Path,
    work: &Path,
    expected_records_of: Option<&str>,
) -> anyhow::Result<std::process::Child> {
    let mut cmd = Command::new(exe);
    cmd.arg("sandbox")
        .arg("--sandbox-config")
        .arg(sandbox_cfg)
        .arg("--write-sources")
        .arg(work);
    if let Some(connector) = expected_records_of {
        cmd.arg("--expected-records-of").arg(connector);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    anyhow::ensure!(!line.is_empty(), "the sandbox did not start");
    Ok(child)
}

/// Runs one size in this process against a sandbox child process. `exe` is the revline binary.
pub async fn bench_one(
    exe: &Path,
    connector: &str,
    records: u64,
    work: &Path,
) -> anyhow::Result<BenchResult> {
    let p = profile(connector)?;
    std::fs::create_dir_all(work)?;
    let lake = work.join("lake");
    if lake.exists() {
        std::fs::remove_dir_all(&lake)?;
    }
    let sandbox_cfg = work.join("sandbox.toml");
    let world = (p.world)(records);
    std::fs::write(
        &sandbox_cfg,
        toml::to_string(&revline_sandbox::SandboxConfig {
            world,
            ..Default::default()
        })?,
    )?;
    let mut child = start_sandbox(exe, &sandbox_cfg, work, Some(connector))?;
    // Daily reports (entities × days) cannot hit every count: the sandbox, which holds the
    // world, says what to expect (empty means exactly the requested count).
    let expected_text = std::fs::read_to_string(work.join("expected_records"))?;
    let expected = match expected_text.trim() {
        "" => records,
        n => n.parse::<u64>()?,
    };

    // Keep only the benchmarked source and stream, with the rate limit lifted.
    let sources: toml::Table = std::fs::read_to_string(work.join("sources.toml"))?.parse()?;
    let toml::Value::Table(mut src) = sources
        .get("sources")
        .and_then(|s| s.get(connector))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the sandbox wrote no source for `{connector}`"))?
    else {
        anyhow::bail!("bad sources.toml");
    };
    src.insert(
        "streams".into(),
        toml::Value::Array(vec![toml::Value::String(p.stream.into())]),
    );
    let mut limit = toml::Table::new();
    limit.insert("requests".into(), toml::Value::Integer(1_000_000));
    limit.insert("per_seconds".into(), toml::Value::Integer(1));
    // Sub-budgets a connector declares in its source (Zendesk's `export_rate_limit`) too.
    let sub_budgets: Vec<String> = src
        .keys()
        .filter(|k| k.ends_with("_rate_limit"))
        .cloned()
        .collect();
    for k in sub_budgets {
        src.insert(k, toml::Value::Table(limit.clone()));
    }
    src.insert("rate_limit".into(), toml::Value::Table(limit));
    let mut sources_out = toml::Table::new();
    sources_out.insert(connector.to_string(), toml::Value::Table(src));
    let mut root = toml::Table::new();
    let mut lake_t = toml::Table::new();
    lake_t.insert("path".into(), toml::Value::String("lake".into()));
    root.insert("lake".into(), toml::Value::Table(lake_t));
    root.insert("sources".into(), toml::Value::Table(sources_out));
    let cfg_path = work.join("revline.toml");
    std::fs::write(&cfg_path, toml::to_string(&root)?)?;

    let config = Config::load(&cfg_path)?;
    let start = Instant::now();
    let report = run(&config, &RunOptions::default(), Arc::new(Silent)).await?;
    let seconds = start.elapsed().as_secs_f64();
    drop(child.stdin.take()); // the sandbox exits when its stdin closes
    let _ = child.wait();
    anyhow::ensure!(
        report.succeeded(),
        "bench load failed: {:?}",
        report.streams().find_map(|s| s.error.clone())
    );
    let loaded = report.records();
    anyhow::ensure!(
        loaded == expected,
        "loaded {loaded} records, expected {expected}"
    );
    let json_bytes: u64 = report.sources.iter().map(|s| s.http.bytes_received).sum();
    Ok(BenchResult {
        connector: connector.to_string(),
        stream: p.stream.to_string(),
        records: loaded,
        seconds,
        records_per_sec: loaded as f64 / seconds,
        json_mb_per_sec: json_bytes as f64 / 1e6 / seconds,
        json_bytes,
        peak_rss_mb: peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0),
        commits: report.streams().map(|s| s.commits).sum(),
    })
}

/// Runs every connector and size, each in a fresh `revline bench-one` process.
pub fn bench(
    exe: &Path,
    connectors: &[String],
    sizes: &[u64],
    work: &Path,
) -> anyhow::Result<Vec<BenchResult>> {
    let names: Vec<String> = if connectors.iter().any(|c| c == "all") {
        bench_profiles()
            .iter()
            .map(|p| p.connector.to_string())
            .collect()
    } else {
        connectors.to_vec()
    };
    let mut out = Vec::new();
    for c in &names {
        profile(c)?;
        for &n in sizes {
            let output = Command::new(exe)
                .args([
                    "bench-one",
                    "--connector",
                    c,
                    "--records",
                    &n.to_string(),
                    "--work",
                ])
                .arg(work.join(format!("{c}-{n}")))
                .stderr(Stdio::inherit())
                .output()?;
            anyhow::ensure!(
                output.status.success(),
                "benchmark of {c} with {n} records failed"
            );
            let text = String::from_utf8(output.stdout)?;
            let last = text.lines().last().unwrap_or_default();
            out.push(serde_json::from_str(last)?);
        }
    }
    Ok(out)
}

/// A table of results.
pub fn format_results(results: &[BenchResult]) -> String {
    let mut s = String::from(
        "connector.stream            records   seconds  records/s  JSON MB/s  JSON MB  peak RSS MB  commits\n",
    );
    for r in results {
        s.push_str(&format!(
            "{:<26} {:>9} {:>9.2} {:>10.0} {:>10.1} {:>8.1} {:>12.1} {:>8}\n",
            format!("{}.{}", r.connector, r.stream),
            r.records,
            r.seconds,
            r.records_per_sec,
            r.json_mb_per_sec,
            r.json_bytes as f64 / 1e6,
            r.peak_rss_mb,
            r.commits
        ));
    }
    s
}

// ----- `revline bench --models` ----------------------------------------------------------

/// One model's share of a models benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelTiming {
    /// Model name.
    pub name: String,
    /// `succeeded`, `failed` or `skipped`.
    pub status: String,
    /// Rows written.
    pub rows: u64,
    /// Wall time of the model's build, seconds.
    pub seconds: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// The model DAG's run in its own process (`revline bench-models-one`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelsRun {
    /// Wall time of the whole DAG, seconds.
    pub seconds: f64,
    /// Peak resident set of the process that ran the models, megabytes.
    pub peak_rss_mb: f64,
    /// Every model, in completion order.
    pub models: Vec<ModelTiming>,
}

/// Result of `revline bench --models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelsBenchResult {
    /// People in the generated world (the scale knob).
    pub people: u64,
    /// Raw rows loaded into the lake (every stream of every demo source).
    pub raw_rows: u64,
    /// Raw rows per table (`source.stream`), largest first.
    pub tables: Vec<(String, u64)>,
    /// Streams that failed to load (the models then read what was committed).
    pub failed_streams: Vec<String>,
    /// Wall time of the load, seconds.
    pub load_seconds: f64,
    /// The models' run.
    pub run: ModelsRun,
}

/// The world of the models benchmark: `people` people, one company per 100 people, one deal
/// per 10 (billing follows the won deals) and one GA4 landing page per 40 people
/// (`landing_pages_daily` has a row per page and day over the world's 501 days, so web
/// sessions are the largest raw table, as in a real company). About 17 raw rows per person
/// (12.5 of them sessions): 600,000 people give about 10.4 million raw rows.
pub fn models_bench_world(people: u64) -> revline_sandbox::WorldConfig {
    revline_sandbox::WorldConfig {
        people: people as usize,
        companies: (people / 100).max(40) as usize,
        deals: (people / 10).max(120) as usize,
        marketing: revline_sandbox::world::marketing::MarketingConfig {
            landing_pages: (people / 40).max(6) as u32,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Loads a world of `people` people from every emulated API (rate limits and quotas lifted)
/// into a fresh lake under `work`, then runs every model in a separate process and reports
/// wall time, peak RSS and each model's time.
pub async fn bench_models(
    exe: &Path,
    people: u64,
    work: &Path,
) -> anyhow::Result<ModelsBenchResult> {
    std::fs::create_dir_all(work)?;
    let lake = work.join("lake");
    if lake.exists() {
        std::fs::remove_dir_all(&lake)?;
    }
    let mut sandbox = revline_sandbox::SandboxConfig {
        world: models_bench_world(people),
        ..Default::default()
    };
    sandbox.ga4.tokens_per_day = u64::MAX / 4;
    sandbox.ga4.tokens_per_hour = u64::MAX / 4;
    sandbox.salesforce.daily_limit = u64::MAX / 4;
    let sandbox_cfg = work.join("sandbox.toml");
    std::fs::write(&sandbox_cfg, toml::to_string(&sandbox)?)?;
    let mut child = start_sandbox(exe, &sandbox_cfg, work, None)?;

    // Every source, with its rate limits lifted; the models run later, in their own process.
    let mut sources: toml::Table = std::fs::read_to_string(work.join("sources.toml"))?.parse()?;
    let mut limit = toml::Table::new();
    limit.insert("requests".into(), toml::Value::Integer(1_000_000));
    limit.insert("per_seconds".into(), toml::Value::Integer(1));
    if let Some(toml::Value::Table(all)) = sources.get_mut("sources") {
        for (_, src) in all.iter_mut() {
            if let toml::Value::Table(src) = src {
                let budgets: Vec<String> = src
                    .keys()
                    .filter(|k| k.ends_with("rate_limit"))
                    .cloned()
                    .collect();
                for k in budgets {
                    src.insert(k, toml::Value::Table(limit.clone()));
                }
                src.insert("rate_limit".into(), toml::Value::Table(limit.clone()));
            }
        }
    }
    let mut lake_t = toml::Table::new();
    lake_t.insert("path".into(), toml::Value::String("lake".into()));
    sources.insert("lake".into(), toml::Value::Table(lake_t));
    let cfg_path = work.join("revline.toml");
    std::fs::write(&cfg_path, toml::to_string(&sources)?)?;

    let config = Config::load(&cfg_path)?;
    let start = Instant::now();
    let report = run(&config, &RunOptions::default(), Arc::new(Silent)).await;
    let load_seconds = start.elapsed().as_secs_f64();
    drop(child.stdin.take()); // the sandbox exits when its stdin closes
    let _ = child.wait();
    let report = report?;
    let mut tables: Vec<(String, u64)> = report
        .streams()
        .map(|s| (format!("{}.{}", s.source, s.stream), s.records))
        .collect();
    tables.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let failed_streams = report
        .streams()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{}.{}: {e}", s.source, s.stream))
        })
        .collect();

    let output = Command::new(exe)
        .args(["bench-models-one", "--config"])
        .arg(&cfg_path)
        .stderr(Stdio::inherit())
        .output()?;
    anyhow::ensure!(output.status.success(), "the models run failed");
    let text = String::from_utf8(output.stdout)?;
    let run: ModelsRun = serde_json::from_str(text.lines().last().unwrap_or_default())?;
    Ok(ModelsBenchResult {
        people,
        raw_rows: report.records(),
        tables,
        failed_streams,
        load_seconds,
        run,
    })
}

/// Runs every model of `config` in this process (for `revline bench-models-one`).
pub async fn bench_models_one(config: &Config) -> anyhow::Result<ModelsRun> {
    let start = Instant::now();
    let reports = crate::models::run_models(config, &[], &crate::runner::new_run_id()).await?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(ModelsRun {
        seconds,
        peak_rss_mb: peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0),
        models: reports
            .into_iter()
            .map(|r| ModelTiming {
                name: r.name,
                status: r.status,
                rows: r.rows,
                seconds: r.seconds,
                error: r.error,
            })
            .collect(),
    })
}

/// The models benchmark as text: the load, the DAG's wall time and peak RSS, and each model's
/// time and share of the summed model time (models run concurrently, so shares are of the
/// summed build time, not of the wall time).
pub fn format_models_result(r: &ModelsBenchResult) -> String {
    let mut s = format!(
        "world: {} people; raw rows loaded: {} in {} tables, {:.1}s\n",
        r.people,
        r.raw_rows,
        r.tables.len(),
        r.load_seconds
    );
    for (t, n) in r.tables.iter().take(8) {
        s.push_str(&format!("  {t:<44} {n:>10}\n"));
    }
    for f in &r.failed_streams {
        s.push_str(&format!("  FAILED {f}\n"));
    }
    s.push_str(&format!(
        "models: {} in {:.2}s wall, peak RSS {:.0} MB\n",
        r.run.models.len(),
        r.run.seconds,
        r.run.peak_rss_mb
    ));
    let total: f64 = r.run.models.iter().map(|m| m.seconds).sum();
    let mut models = r.run.models.clone();
    models.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    s.push_str("model                                 rows   seconds   share  status\n");
    for m in &models {
        s.push_str(&format!(
            "{:<32} {:>10} {:>9.2} {:>6.1}%  {}{}\n",
            m.name,
            m.rows,
            m.seconds,
            if total > 0.0 {
                100.0 * m.seconds / total
            } else {
                0.0
            },
            m.status,
            m.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    s
}
