//! Prometheus text metrics for `revline serve --metrics ADDR`: records, requests, throttling,
//! run durations and status per source and stream, last success time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::runner::{RunReport, StreamStatus};

#[derive(Default, Clone)]
struct StreamMetrics {
    records: u64,
    pages: u64,
    requests: u64,
    bytes: u64,
    retries: u64,
    throttled: u64,
    throttle_wait_ms: u64,
    runs: BTreeMap<&'static str, u64>,
    last_duration: f64,
    last_status: &'static str,
    last_success: Option<i64>,
}

/// Metrics shared by the scheduler and the HTTP endpoint.
#[derive(Default)]
pub struct Metrics {
    streams: Mutex<BTreeMap<(String, String), StreamMetrics>>,
    jobs_running: Mutex<BTreeMap<String, u64>>,
    job_errors: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Counts a job start.
    pub fn job_started(&self, job: &str) {
        *self
            .jobs_running
            .lock()
            .expect("metrics lock")
            .entry(job.to_string())
            .or_default() = 1;
    }

    /// Counts a job end.
    pub fn job_finished(&self, job: &str) {
        *self
            .jobs_running
            .lock()
            .expect("metrics lock")
            .entry(job.to_string())
            .or_default() = 0;
    }

    /// Counts a run that could not start (config, lock).
    pub fn job_error(&self, job: &str) {
        *self
            .job_errors
            .lock()
            .expect("metrics lock")
            .entry(job.to_string())
            .or_default() += 1;
    }

    /// Adds a finished run.
    pub fn record(&self, report: &RunReport) {
        let mut map = self.streams.lock().expect("metrics lock");
        for s in report.streams() {
            let m = map.entry((s.source.clone(), s.stream.clone())).or_default();
            m.records += s.records;
            m.pages += s.pages;
            m.requests += s.http.requests;
            m.bytes += s.http.bytes_received;
            m.retries += s.http.retries;
            m.throttled += s.http.throttled;
            m.throttle_wait_ms += s.http.throttle_wait_ms;
            *m.runs.entry(s.status.as_str()).or_default() += 1;
            m.last_duration = s.seconds;
            m.last_status = s.status.as_str();
            if s.status == StreamStatus::Succeeded {
                let end =
                    s.started_at + chrono::Duration::milliseconds((s.seconds * 1000.0) as i64);
                m.last_success = Some(end.timestamp());
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let map = self.streams.lock().expect("metrics lock").clone();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        let labels = |(src, stream): &(String, String)| {
            format!("source=\"{}\",stream=\"{}\"", esc(src), esc(stream))
        };
        let each = |f: &dyn Fn(&StreamMetrics) -> String| -> Vec<(String, String)> {
            map.iter().map(|(k, m)| (labels(k), f(m))).collect()
        };
        family(
            "revline_records_total",
            "counter",
            "Records committed.",
            each(&|m| m.records.to_string()),
        );
        family(
            "revline_pages_total",
            "counter",
            "Pages read.",
            each(&|m| m.pages.to_string()),
        );
        family(
            "revline_api_requests_total",
            "counter",
            "API requests sent.",
            each(&|m| m.requests.to_string()),
        );
        family(
            "revline_response_bytes_total",
            "counter",
            "Response bytes received.",
            each(&|m| m.bytes.to_string()),
        );
        family(
            "revline_retries_total",
            "counter",
            "Requests retried.",
            each(&|m| m.retries.to_string()),
        );
        family(
            "revline_throttled_total",
            "counter",
            "Throttling responses.",
            each(&|m| m.throttled.to_string()),
        );
        family(
            "revline_throttle_wait_seconds_total",
            "counter",
            "Time spent waiting on rate limits and throttling.",
            each(&|m| format!("{:.3}", m.throttle_wait_ms as f64 / 1000.0)),
        );
        let mut runs = Vec::new();
        for (k, m) in &map {
            for (status, n) in &m.runs {
                runs.push((format!("{},status=\"{status}\"", labels(k)), n.to_string()));
            }
        }
        family(
            "revline_runs_total",
            "counter",
            "Stream loads by outcome.",
            runs,
        );
        family(
            "revline_last_run_duration_seconds",
            "gauge",
            "Duration of the last load.",
            each(&|m| format!("{:.3}", m.last_duration)),
        );
        family(
            "revline_last_run_success",
            "gauge",
            "1 if the last load succeeded, else 0.",
            each(&|m| {
                if m.last_status == "succeeded" {
                    "1"
                } else {
                    "0"
                }
                .to_string()
            }),
        );
        let success: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, m)| m.last_success.map(|t| (labels(k), t.to_string())))
            .collect();
        family(
            "revline_last_success_timestamp_seconds",
            "gauge",
            "Unix time the last successful load finished.",
            success,
        );
        let jobs: Vec<(String, String)> = self
            .jobs_running
            .lock()
            .expect("metrics lock")
            .iter()
            .map(|(j, n)| (format!("job=\"{}\"", esc(j)), n.to_string()))
            .collect();
        family(
            "revline_job_running",
            "gauge",
            "1 while a scheduled job runs.",
            jobs,
        );
        let errors: Vec<(String, String)> = self
            .job_errors
            .lock()
            .expect("metrics lock")
            .iter()
            .map(|(j, n)| (format!("job=\"{}\"", esc(j)), n.to_string()))
            .collect();
        family(
            "revline_job_errors_total",
            "counter",
            "Scheduled runs that could not start.",
            errors,
        );
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` on `addr` until `shutdown` fires; returns the bound address.
pub async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    m.render(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::runner::{SourceReport, StreamReport};

    fn report() -> RunReport {
        let stream = |name: &str, status: StreamStatus, records: u64| StreamReport {
            source: "hubspot".into(),
            stream: name.into(),
            mode: "incremental".into(),
            status,
            records,
            pages: 2,
            commits: 1,
            nulled_values: 0,
            http: revline_core::http::HttpStatsSnapshot {
                requests: 3,
                throttled: 1,
                throttle_wait_ms: 1500,
                ..Default::default()
            },
            started_at: Utc::now(),
            seconds: 2.5,
            error: None,
            error_kind: None,
        };
        RunReport {
            run_id: "r".into(),
            started_at: Utc::now(),
            seconds: 3.0,
            sources: vec![SourceReport {
                source: "hubspot".into(),
                http: Default::default(),
                streams: vec![
                    stream("contacts", StreamStatus::Succeeded, 120),
                    stream("deals", StreamStatus::Failed, 0),
                ],
                error: None,
            }],
        }
    }

    #[tokio::test]
    async fn metrics_are_scraped_over_http() {
        let m = Arc::new(Metrics::default());
        m.record(&report());
        m.record(&report());
        m.job_started("pipeline");
        let stop = tokio_util::sync::CancellationToken::new();
        let addr = serve_metrics("127.0.0.1:0".parse().unwrap(), m, stop.clone())
            .await
            .unwrap();
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).await.unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains("text/plain; version=0.0.4"));
        for line in [
            "revline_records_total{source=\"hubspot\",stream=\"contacts\"} 240",
            "revline_api_requests_total{source=\"hubspot\",stream=\"deals\"} 6",
            "revline_throttled_total{source=\"hubspot\",stream=\"contacts\"} 2",
            "revline_throttle_wait_seconds_total{source=\"hubspot\",stream=\"contacts\"} 3.000",
            "revline_runs_total{source=\"hubspot\",stream=\"deals\",status=\"failed\"} 2",
            "revline_last_run_success{source=\"hubspot\",stream=\"contacts\"} 1",
            "revline_last_run_success{source=\"hubspot\",stream=\"deals\"} 0",
            "revline_job_running{job=\"pipeline\"} 1",
            "# TYPE revline_records_total counter",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
        assert!(text.contains(
            "revline_last_success_timestamp_seconds{source=\"hubspot\",stream=\"contacts\"} "
        ));
        assert!(!text.contains(
            "revline_last_success_timestamp_seconds{source=\"hubspot\",stream=\"deals\"}"
        ));
        stop.cancel();
    }
}
