//! `revline bench`: loads HubSpot-shaped contacts (100 per page, 14 properties, ~600 bytes per
//! record) from the sandbox, running in a separate process, over loopback into a fresh lake,
//! and reports records/s, MB/s of JSON and peak RSS. Each size runs in its own process so
//! peak RSS is measured per size.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::progress::Silent;
use crate::runner::{RunOptions, run};

/// One benchmark result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
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

/// Runs one size in this process against a sandbox child process. `exe` is the revline binary.
pub async fn bench_one(exe: &Path, records: u64, work: &Path) -> anyhow::Result<BenchResult> {
    let mut child = Command::new(exe)
        .args(["sandbox", "--people", &records.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    // "hubspot http://127.0.0.1:PORT pat-sandbox-token"
    let mut parts = line.split_whitespace();
    let (_, url, token) = (parts.next(), parts.next(), parts.next());
    let (url, token) = url
        .zip(token)
        .ok_or_else(|| anyhow::anyhow!("sandbox did not start: {line:?}"))?;
    std::fs::create_dir_all(work)?;
    let lake = work.join("lake");
    if lake.exists() {
        std::fs::remove_dir_all(&lake)?;
    }
    std::fs::write(work.join("token"), token)?;
    let cfg_path = work.join("revline.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[lake]\npath = \"lake\"\n\n[sources.hubspot]\nconnector = \"hubspot\"\nbase_url = \"{url}\"\n\
             token_file = \"token\"\nstreams = [\"contacts\"]\n\n[sources.hubspot.rate_limit]\n\
             requests = 1000000\nper_seconds = 1\n"
        ),
    )?;
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
        loaded == records,
        "loaded {loaded} records, expected {records}"
    );
    let json_bytes: u64 = report.sources.iter().map(|s| s.http.bytes_received).sum();
    Ok(BenchResult {
        records: loaded,
        seconds,
        records_per_sec: loaded as f64 / seconds,
        json_mb_per_sec: json_bytes as f64 / 1e6 / seconds,
        json_bytes,
        peak_rss_mb: peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0),
        commits: report.streams().map(|s| s.commits).sum(),
    })
}

/// Runs every size, each in a fresh `revline bench-one` process, and returns the results.
pub fn bench(exe: &Path, sizes: &[u64], work: &Path) -> anyhow::Result<Vec<BenchResult>> {
    let mut out = Vec::new();
    for &n in sizes {
        let output = Command::new(exe)
            .args(["bench-one", "--records", &n.to_string(), "--work"])
            .arg(work.join(format!("n{n}")))
            .stderr(Stdio::inherit())
            .output()?;
        anyhow::ensure!(output.status.success(), "benchmark of {n} records failed");
        let text = String::from_utf8(output.stdout)?;
        let last = text.lines().last().unwrap_or_default();
        out.push(serde_json::from_str(last)?);
    }
    Ok(out)
}

/// A table of results.
pub fn format_results(results: &[BenchResult]) -> String {
    let mut s =
        String::from("records     seconds  records/s  JSON MB/s  JSON MB  peak RSS MB  commits\n");
    for r in results {
        s.push_str(&format!(
            "{:<10} {:>8.2} {:>10.0} {:>10.1} {:>8.1} {:>12.1} {:>8}\n",
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
