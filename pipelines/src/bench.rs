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
    // Daily reports (entities × days) cannot hit every count: their profile says what to expect.
    let expected =
        revline_sandbox::demo::bench_expected_records(connector, &world).unwrap_or(records);
    std::fs::write(
        &sandbox_cfg,
        toml::to_string(&revline_sandbox::SandboxConfig {
            world,
            ..Default::default()
        })?,
    )?;
    let mut child = Command::new(exe)
        .arg("sandbox")
        .arg("--sandbox-config")
        .arg(&sandbox_cfg)
        .arg("--write-sources")
        .arg(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    anyhow::ensure!(!line.is_empty(), "the sandbox did not start");

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
