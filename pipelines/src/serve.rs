//! `revline serve`: a built-in scheduler. Each job (the pipeline's schedule, or a source's own)
//! runs on its cron expression in the configured time zone, never overlapping itself; runs
//! missed while the scheduler was down run once at start (not once per missed slot); starts are
//! jittered; a shutdown signal lets running loads commit the page in flight, then exits.
//! Prometheus metrics are served on request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use revline_core::lake::Lake;
use revline_core::{Error, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, parse_cron};
use crate::progress::LogLines;
use crate::runner::{RunOptions, RunReport, StreamStatus};

/// A time source the scheduler sleeps on; tests use [`TestClock`].
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Returns at (or after) `t`.
    async fn sleep_until(&self, t: DateTime<Utc>);
}

/// The system clock.
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    async fn sleep_until(&self, t: DateTime<Utc>) {
        let d = (t - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(d).await;
    }
}

/// A manually advanced clock for tests: sleepers wake when [`TestClock::advance`] passes them.
pub struct TestClock {
    now: Mutex<DateTime<Utc>>,
    tick: Notify,
}

impl TestClock {
    /// A clock at `start`.
    pub fn new(start: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock {
            now: Mutex::new(start),
            tick: Notify::new(),
        })
    }

    /// Moves time forward and wakes sleepers.
    pub fn advance(&self, d: chrono::Duration) {
        *self.now.lock().expect("clock lock") += d;
        self.tick.notify_waiters();
    }
}

#[async_trait]
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
    async fn sleep_until(&self, t: DateTime<Utc>) {
        loop {
            let notified = self.tick.notified();
            if self.now() >= t {
                return;
            }
            notified.await;
        }
    }
}

/// One scheduled job.
#[derive(Debug, Clone)]
pub struct Job {
    /// `pipeline` for the pipeline schedule, else `source:<name>`.
    pub name: String,
    /// Sources it runs.
    pub sources: Vec<String>,
    /// Its cron expression (text).
    pub cron_text: String,
    cron: croner::Cron,
    tz: Tz,
}

impl Job {
    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last slot at or before `t`.
    pub fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }
}

/// The jobs of a config: the pipeline schedule (for sources without their own) and one per
/// source with a `schedule`.
pub fn jobs(config: &Config) -> Result<Vec<Job>> {
    let tz: Tz =
        config.pipeline.timezone.parse().map_err(|_| {
            Error::config(format!("unknown time zone `{}`", config.pipeline.timezone))
        })?;
    let mut out = Vec::new();
    let unscheduled: Vec<String> = config
        .sources
        .values()
        .filter(|s| s.schedule.is_none())
        .map(|s| s.name.clone())
        .collect();
    if let Some(expr) = &config.pipeline.schedule
        && !unscheduled.is_empty()
    {
        out.push(Job {
            name: "pipeline".into(),
            sources: unscheduled,
            cron_text: expr.clone(),
            cron: parse_cron(expr).map_err(Error::config)?,
            tz,
        });
    }
    for s in config.sources.values() {
        if let Some(expr) = &s.schedule {
            out.push(Job {
                name: format!("source:{}", s.name),
                sources: vec![s.name.clone()],
                cron_text: expr.clone(),
                cron: parse_cron(expr).map_err(Error::config)?,
                tz,
            });
        }
    }
    if out.is_empty() {
        return Err(Error::config(format!(
            "nothing to schedule in {}: set `[pipeline] schedule = \"0 */6 * * *\"` or a source's `schedule`",
            config.file.display()
        )));
    }
    Ok(out)
}

/// Runs a job (the real one calls the runner; tests substitute their own).
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Runs `job` once; must stop gracefully when `cancel` fires.
    async fn run(&self, job: &Job, cancel: CancellationToken) -> Result<RunReport>;
}

/// Runs jobs with [`crate::runner::run`].
pub struct ConfigRunner {
    /// The config.
    pub config: Config,
}

#[async_trait]
impl JobRunner for ConfigRunner {
    async fn run(&self, job: &Job, cancel: CancellationToken) -> Result<RunReport> {
        let opts = RunOptions {
            sources: Some(job.sources.clone()),
            cancel: Some(cancel),
            ..RunOptions::default()
        };
        crate::runner::run(&self.config, &opts, Arc::new(LogLines::new())).await
    }
}

/// When each source last started a load, from `_revline.runs`.
pub async fn last_runs(config: &Config, lake: &Lake) -> Result<BTreeMap<String, DateTime<Utc>>> {
    let mut out = BTreeMap::new();
    if lake.load("_revline/runs").await?.is_none() {
        return Ok(out);
    }
    let batches = crate::query::query(config, lake,
        "SELECT source, max(started_at) AS last FROM _revline.runs WHERE kind = 'load' GROUP BY source",
    )
    .await?;
    for b in batches {
        let src = arrow::array::cast::as_string_array(b.column(0));
        let last = b
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .expect("timestamp column");
        for i in 0..b.num_rows() {
            if let Some(t) = DateTime::from_timestamp_micros(last.value(i)) {
                out.insert(src.value(i).to_string(), t);
            }
        }
    }
    Ok(out)
}

/// Scheduler settings.
#[derive(Clone)]
pub struct ServeOptions {
    /// Maximum random delay added to each start.
    pub jitter: Duration,
    /// When each source last ran (from history), for missed-run catch-up.
    pub last_runs: BTreeMap<String, DateTime<Utc>>,
}

/// Runs every job until `shutdown` fires; then waits for running loads to stop gracefully.
pub async fn serve(
    jobs: Vec<Job>,
    clock: Arc<dyn Clock>,
    runner: Arc<dyn JobRunner>,
    metrics: Arc<crate::metrics::Metrics>,
    opts: ServeOptions,
    shutdown: CancellationToken,
) {
    let mut tasks = Vec::new();
    for job in jobs {
        let clock = clock.clone();
        let runner = runner.clone();
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        let opts = opts.clone();
        tasks.push(tokio::spawn(async move {
            job_loop(job, clock, runner, metrics, opts, shutdown).await
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn job_loop(
    job: Job,
    clock: Arc<dyn Clock>,
    runner: Arc<dyn JobRunner>,
    metrics: Arc<crate::metrics::Metrics>,
    opts: ServeOptions,
    shutdown: CancellationToken,
) {
    // Missed-run catch-up: if the latest slot passed since this job's sources last ran (or they
    // never ran), run once now; the slots missed during downtime are not replayed one by one.
    let now = clock.now();
    let last = job
        .sources
        .iter()
        .filter_map(|s| opts.last_runs.get(s))
        .min()
        .copied();
    let missed = match (job.previous_at_or_before(now), last) {
        (Some(prev), Some(last)) => last < prev,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    let mut due = if missed {
        tracing::info!(job = %job.name, "a scheduled run was missed (or never ran): running once now");
        Some(now)
    } else {
        job.next_after(now)
    };
    while let Some(slot) = due {
        let jitter = if opts.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::random_range(0..=opts.jitter.as_millis() as u64))
        };
        let start = slot + chrono::Duration::from_std(jitter).unwrap_or_default();
        tracing::info!(job = %job.name, at = %start, "next run");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = clock.sleep_until(start) => {}
        }
        metrics.job_started(&job.name);
        let result = runner.run(&job, shutdown.child_token()).await;
        metrics.job_finished(&job.name);
        match result {
            Ok(report) => {
                metrics.record(&report);
                let failed = report
                    .streams()
                    .filter(|s| s.status == StreamStatus::Failed)
                    .count();
                tracing::info!(job = %job.name, run_id = %report.run_id, records = report.records(), failed, "scheduled run finished");
            }
            Err(e) => {
                metrics.job_error(&job.name);
                tracing::error!(job = %job.name, error = %e, "scheduled run could not start");
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        // No overlap and no backlog: the next slot after the run ended.
        due = job.next_after(clock.now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use chrono::TimeZone;

    use super::*;
    use crate::metrics::Metrics;

    /// Records each run's start time on the test clock; optionally blocks until released.
    struct FakeRunner {
        clock: Arc<TestClock>,
        starts: Mutex<Vec<(String, DateTime<Utc>)>>,
        gate: tokio::sync::Semaphore,
        blocking: AtomicBool,
        running: std::sync::atomic::AtomicUsize,
        max_running: std::sync::atomic::AtomicUsize,
        saw_cancel: AtomicBool,
    }

    impl FakeRunner {
        fn new(clock: Arc<TestClock>, blocking: bool) -> Arc<FakeRunner> {
            Arc::new(FakeRunner {
                clock,
                starts: Mutex::new(Vec::new()),
                gate: tokio::sync::Semaphore::new(0),
                blocking: AtomicBool::new(blocking),
                running: Default::default(),
                max_running: Default::default(),
                saw_cancel: AtomicBool::new(false),
            })
        }
        fn starts(&self) -> Vec<DateTime<Utc>> {
            self.starts
                .lock()
                .unwrap()
                .iter()
                .map(|(_, t)| *t)
                .collect()
        }
    }

    #[async_trait]
    impl JobRunner for FakeRunner {
        async fn run(&self, job: &Job, cancel: CancellationToken) -> Result<RunReport> {
            self.starts
                .lock()
                .unwrap()
                .push((job.name.clone(), self.clock.now()));
            let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(n, Ordering::SeqCst);
            if self.blocking.load(Ordering::SeqCst) {
                tokio::select! {
                    p = self.gate.acquire() => { p.unwrap().forget(); }
                    _ = cancel.cancelled() => { self.saw_cancel.store(true, Ordering::SeqCst); }
                }
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(RunReport {
                run_id: "fake".into(),
                started_at: self.clock.now(),
                seconds: 0.0,
                sources: vec![],
            })
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn hourly(sources: &[&str]) -> Job {
        Job {
            name: "pipeline".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            cron_text: "0 * * * *".into(),
            cron: parse_cron("0 * * * *").unwrap(),
            tz: chrono_tz::UTC,
        }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..2000 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    /// Lets the scheduler task reach its next sleep.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn start(
        jobs: Vec<Job>,
        clock: Arc<TestClock>,
        runner: Arc<FakeRunner>,
        last: &[(&str, DateTime<Utc>)],
        jitter: Duration,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let opts = ServeOptions {
            jitter,
            last_runs: last.iter().map(|(s, t)| (s.to_string(), *t)).collect(),
        };
        let handle = tokio::spawn(serve(
            jobs,
            clock,
            runner,
            Arc::new(Metrics::default()),
            opts,
            shutdown.clone(),
        ));
        (shutdown, handle)
    }

    #[tokio::test]
    async fn runs_at_each_slot_of_its_cron() {
        let clock = TestClock::new(at(10, 30));
        let runner = FakeRunner::new(clock.clone(), false);
        let (stop, handle) = start(
            vec![hourly(&["crm"])],
            clock.clone(),
            runner.clone(),
            &[("crm", at(10, 0))],
            Duration::ZERO,
        );
        settle().await;
        assert!(
            runner.starts().is_empty(),
            "10:00 already ran; nothing is due at 10:30"
        );
        clock.advance(chrono::Duration::minutes(30));
        until("the 11:00 run", || runner.starts().len() == 1).await;
        settle().await;
        clock.advance(chrono::Duration::minutes(59));
        settle().await;
        assert_eq!(runner.starts().len(), 1, "12:00 is not due at 11:59");
        clock.advance(chrono::Duration::minutes(1));
        until("the 12:00 run", || runner.starts().len() == 2).await;
        assert_eq!(runner.starts(), vec![at(11, 0), at(12, 0)]);
        stop.cancel();
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn runs_missed_during_downtime_run_once_at_start() {
        let clock = TestClock::new(at(10, 30));
        let runner = FakeRunner::new(clock.clone(), false);
        // Down since 02:00: eight hourly slots were missed.
        let (stop, handle) = start(
            vec![hourly(&["crm"])],
            clock.clone(),
            runner.clone(),
            &[("crm", at(2, 0))],
            Duration::ZERO,
        );
        until("the catch-up run", || runner.starts().len() == 1).await;
        settle().await;
        assert_eq!(
            runner.starts(),
            vec![at(10, 30)],
            "one catch-up run, not eight"
        );
        clock.advance(chrono::Duration::minutes(30));
        until("the 11:00 run", || runner.starts().len() == 2).await;
        stop.cancel();
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn a_job_never_overlaps_itself_and_builds_no_backlog() {
        let clock = TestClock::new(at(10, 59));
        let runner = FakeRunner::new(clock.clone(), true);
        let (stop, handle) = start(
            vec![hourly(&["crm"])],
            clock.clone(),
            runner.clone(),
            &[("crm", at(10, 0))],
            Duration::ZERO,
        );
        settle().await;
        clock.advance(chrono::Duration::minutes(1));
        until("the 11:00 run starts", || runner.starts().len() == 1).await;
        // The run takes three hours: the 12:00, 13:00 and 14:00 slots pass meanwhile.
        for _ in 0..3 {
            clock.advance(chrono::Duration::hours(1));
            settle().await;
        }
        assert_eq!(runner.starts().len(), 1);
        assert_eq!(runner.max_running.load(Ordering::SeqCst), 1);
        runner.gate.add_permits(1);
        settle().await;
        assert_eq!(
            runner.starts().len(),
            1,
            "no backlog of missed slots after a long run"
        );
        runner.blocking.store(false, Ordering::SeqCst);
        clock.advance(chrono::Duration::hours(1));
        until("the 15:00 run", || runner.starts().len() == 2).await;
        assert_eq!(runner.starts()[1], at(15, 0));
        stop.cancel();
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn starts_are_jittered_within_the_bound() {
        let clock = TestClock::new(at(10, 59));
        let runner = FakeRunner::new(clock.clone(), false);
        let (stop, handle) = start(
            vec![hourly(&["crm"])],
            clock.clone(),
            runner.clone(),
            &[("crm", at(10, 0))],
            Duration::from_secs(600),
        );
        settle().await;
        for _ in 0..12 {
            clock.advance(chrono::Duration::minutes(1));
            settle().await;
        }
        until("the jittered 11:00 run", || runner.starts().len() == 1).await;
        let s = runner.starts()[0];
        assert!(s >= at(11, 0) && s <= at(11, 11), "{s}");
        stop.cancel();
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_cancels_a_running_load_gracefully_and_returns() {
        let clock = TestClock::new(at(10, 30));
        let runner = FakeRunner::new(clock.clone(), true);
        let (stop, handle) = start(
            vec![hourly(&["crm"])],
            clock.clone(),
            runner.clone(),
            &[],
            Duration::ZERO,
        );
        until("the first run starts", || runner.starts().len() == 1).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .expect("serve returns")
            .unwrap();
        assert!(
            runner.saw_cancel.load(Ordering::SeqCst),
            "the run was asked to stop"
        );
    }

    #[test]
    fn jobs_follow_pipeline_and_source_schedules() {
        let text = "[lake]\npath = \"l\"\n[pipeline]\nschedule = \"0 */6 * * *\"\ntimezone = \"Europe/Berlin\"\n\
                    [sources.a]\nconnector = \"hubspot\"\ntoken = \"x\"\n\
                    [sources.b]\nconnector = \"hubspot\"\ntoken = \"x\"\nschedule = \"*/15 * * * *\"\n";
        let config = Config::parse(std::path::Path::new("r.toml"), text, &|_| None).unwrap();
        let jobs = jobs(&config).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(
            (jobs[0].name.as_str(), jobs[0].sources.clone()),
            ("pipeline", vec!["a".to_string()])
        );
        assert_eq!(
            (jobs[1].name.as_str(), jobs[1].sources.clone()),
            ("source:b", vec!["b".to_string()])
        );
        // Schedules are read in the pipeline's time zone: 06:00 Berlin is 05:00 UTC in winter.
        let next = jobs[0]
            .next_after(Utc.with_ymd_and_hms(2026, 1, 10, 4, 0, 0).unwrap())
            .unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 10, 5, 0, 0).unwrap());

        let none = Config::parse(
            std::path::Path::new("r.toml"),
            "[lake]\npath = \"l\"\n",
            &|_| None,
        )
        .unwrap();
        assert!(
            super::jobs(&none)
                .unwrap_err()
                .to_string()
                .contains("nothing to schedule")
        );
    }
}
