//! The `revline` binary: parses arguments, calls the library, maps outcomes to exit codes.

use std::io::IsTerminal;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use revline::config::Config;
use revline::exit;
use revline::progress::{Bars, LogLines, Progress};
use revline::query::OutputFormat;
use revline::runner::{RunOptions, StreamStatus};
use revline::{bench, demo, query, registry, runner};
use revline_core::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

/// Revline: pull RevOps data out of SaaS APIs into a Delta lake, and query it.
#[derive(Parser)]
#[command(name = "revline", version, about)]
struct Cli {
    /// Config file.
    #[arg(long, global = true, default_value = "revline.toml")]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    /// More logging (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Parquet,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum StateAction {
    /// Print each table's stored state.
    Show {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
    /// Clear the state of a source (or one stream): the next run re-reads everything.
    Reset {
        /// The source.
        #[arg(long)]
        source: String,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Extract and load: every configured source and stream, or a selection.
    Run {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
        /// Ignore stored state: re-read everything and replace the tables.
        #[arg(long)]
        full_refresh: bool,
        /// Re-pull one stream (`--stream`) from this date (YYYY-MM-DD or RFC 3339) and merge
        /// it, without touching other streams.
        #[arg(long, requires = "stream")]
        backfill_from: Option<String>,
    },
    /// Run the pipeline on its schedule(s) until SIGTERM/SIGINT.
    Serve {
        /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
        #[arg(long)]
        metrics: Option<std::net::SocketAddr>,
        /// Serve the RevOps dashboard at http://ADDR/ (e.g. 127.0.0.1:8080).
        #[arg(long)]
        dashboard: Option<std::net::SocketAddr>,
    },
    /// Render the RevOps dashboard (one self-contained HTML file) from the mart tables.
    Dashboard {
        /// Output file.
        #[arg(long, default_value = "revline-dashboard.html")]
        out: PathBuf,
    },
    /// Build the SQL models (all, or `--select a,b+` where `+` adds descendants).
    Models {
        /// Models to build; `name+` includes every model downstream of it.
        #[arg(long, value_delimiter = ',')]
        select: Vec<String>,
    },
    /// Run the data tests of the built models (column tests and `sql/tests/*.sql`).
    Test,
    /// Show the most recent runs from `_revline.runs`.
    Runs {
        /// How many rows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show or reset stored stream state.
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Run SQL over the lake; tables are named `<source>.<stream>`.
    Query {
        /// The SQL statement.
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Write the result to this file instead (.csv, .json or .parquet).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// An interactive SQL prompt over the lake.
    Shell,
    /// Write tables as plain single-snapshot Parquet files (for tools without Delta support).
    Export {
        /// File format.
        #[arg(long, value_enum, default_value = "parquet")]
        format: ExportFormat,
        /// Destination folder.
        #[arg(long)]
        out: PathBuf,
        /// Tables (`schema.table`, or a model name); default: all.
        tables: Vec<String>,
    },
    /// List connectors and their streams.
    Connectors,
    /// Validate the config and check each source's credentials.
    Check {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
    /// Start local emulated APIs, load them into ./revline-demo/lake, and show the result.
    Demo {
        /// Where to put the demo's config and lake.
        #[arg(long, default_value = "revline-demo")]
        dir: PathBuf,
    },
    /// Measure load throughput and memory against the emulated APIs over loopback.
    Bench {
        /// Record counts to load (each in a fresh process).
        #[arg(long, value_delimiter = ',', default_value = "200000,1000000")]
        records: Vec<u64>,
        /// Connectors to benchmark (default: hubspot); `all` for every one with a profile.
        #[arg(long, value_delimiter = ',', default_value = "hubspot")]
        connector: Vec<String>,
        /// Scratch folder.
        #[arg(long, default_value = "target/revline-bench")]
        work: PathBuf,
        /// Benchmark the SQL models instead: load a world from every emulated API, then run
        /// the whole model DAG and report wall time, peak RSS and each model's time.
        #[arg(long)]
        models: bool,
        /// People in the models benchmark's world (about 17 raw rows each).
        #[arg(long, default_value = "600000")]
        people: u64,
    },
    /// Serve the sandbox's emulated APIs until stdin closes (for development and benchmarks).
    Sandbox {
        /// People in the world (overrides the config file's `world.people`).
        #[arg(long)]
        people: Option<u64>,
        /// A sandbox config (TOML: `[world]`, `[hubspot]`, `[[faults.rules]]`).
        #[arg(long = "sandbox-config")]
        sandbox_config: Option<PathBuf>,
        /// Write `sources.toml` (a `[sources.*]` section per emulated API) and credential files
        /// into this folder once the emulators listen.
        #[arg(long)]
        write_sources: Option<PathBuf>,
        /// With `--write-sources`: also write `expected_records`, the record count this
        /// connector's benchmarked stream has in the world (computed here, so that the
        /// benchmarked process never holds the world).
        #[arg(long, hide = true, requires = "write_sources")]
        expected_records_of: Option<String>,
    },
    #[command(hide = true)]
    BenchModelsOne,
    #[command(hide = true)]
    BenchOne {
        #[arg(long)]
        connector: String,
        #[arg(long)]
        records: u64,
        #[arg(long)]
        work: PathBuf,
    },
}

fn init_logging(format: LogFormat, verbose: u8, quiet_default: bool) {
    let default = match verbose {
        0 if quiet_default => "warn",
        0 => {
            "warn,deltalake_core=error,buoyant_kernel=error,revline=info,revline_core=info,revline_hubspot=info,revline_sandbox=info"
        }
        1 => {
            "info,deltalake_core=warn,buoyant_kernel=warn,datafusion=warn,revline=debug,revline_core=debug,revline_hubspot=debug,revline_sandbox=debug"
        }
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REVLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn progress_for(format: LogFormat) -> Arc<dyn Progress> {
    if matches!(format, LogFormat::Human) && std::io::stderr().is_terminal() {
        Arc::new(Bars::new())
    } else {
        Arc::new(LogLines::new())
    }
}

/// Fixes glibc's mmap threshold at 1 MiB. By default glibc raises it (up to 32 MiB) each time a
/// large block is freed, after which Arrow and Parquet buffers come from the heap and stay
/// resident once freed: a 3M-record Stripe load with compaction had 163 MB of live heap and
/// 479 MB resident; with the threshold fixed, 297 MB resident (1M records: 196 → 130 MB).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once, before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn main() {
    tune_allocator();
    let cli = Cli::parse();
    let bars = matches!(cli.log_format, LogFormat::Human) && std::io::stderr().is_terminal();
    let quiet = bars && matches!(cli.command, Command::Run { .. } | Command::Demo { .. });
    init_logging(
        cli.log_format,
        cli.verbose,
        quiet
            || matches!(
                cli.command,
                Command::BenchOne { .. } | Command::BenchModelsOne | Command::Sandbox { .. }
            ),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILURE);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}

fn fail(e: &dyn std::fmt::Display, code: i32) -> i32 {
    eprintln!("error: {e}");
    code
}

/// Prints to stdout; a closed pipe (`revline query … | head`) is not an error.
fn print_out(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()).and_then(|_| out.flush()) {
        Ok(()) => exit::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(e) => fail(&e, exit::FAILURE),
    }
}

/// Parses `YYYY-MM-DD` or RFC 3339.
fn parse_when(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"))
}

/// First SIGINT/SIGTERM: finish the page in flight, commit, stop. Second: exit at once.
async fn graceful_on_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    eprintln!(
        "revline: shutting down: finishing the pages in flight and committing (signal again to abort)"
    );
    cancel.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    eprintln!(
        "revline: aborted; uncommitted pages are discarded, committed data and state are intact"
    );
    std::process::exit(130);
}

async fn run_models_and_report(config: &Config, select: &[String]) -> i32 {
    let run_id = runner::new_run_id();
    let span = tracing::info_span!("models", run_id = %run_id, pipeline = %config.pipeline.name);
    match tracing::Instrument::instrument(
        revline::models::run_models(config, select, &run_id),
        span,
    )
    .await
    {
        Ok(reports) => {
            for r in &reports {
                match r.status.as_str() {
                    "succeeded" => {
                        eprintln!("model {}: {} rows, {:.2}s", r.name, r.rows, r.seconds)
                    }
                    status => eprintln!(
                        "model {}: {status}: {}",
                        r.name,
                        r.error.as_deref().unwrap_or_default()
                    ),
                }
            }
            if reports.iter().all(|r| r.status == "succeeded") {
                exit::SUCCESS
            } else {
                exit::FAILURE
            }
        }
        Err(e) => fail(&e, code_for(&e)),
    }
}

fn code_for(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::Config => exit::BAD_CONFIG,
        ErrorKind::Locked => exit::LOCKED,
        ErrorKind::QuotaExhausted => exit::PARTIAL,
        _ => exit::FAILURE,
    }
}

fn load_config(path: &Path) -> Result<Config, i32> {
    Config::load(path).map_err(|e| fail(&e, exit::BAD_CONFIG))
}

async fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Run {
            source,
            stream,
            full_refresh,
            backfill_from,
        } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let backfill_from = match backfill_from.as_deref().map(parse_when).transpose() {
                Ok(b) => b,
                Err(e) => return fail(&e, exit::BAD_CONFIG),
            };
            let cancel = CancellationToken::new();
            let signals = tokio::spawn(graceful_on_signals(cancel.clone()));
            let opts = RunOptions {
                source,
                stream,
                full_refresh,
                backfill_from,
                cancel: Some(cancel),
                ..RunOptions::default()
            };
            let result = runner::run(&config, &opts, progress_for(cli.log_format)).await;
            signals.abort();
            match result {
                Ok(report) => {
                    for s in report.streams() {
                        let line = match s.status {
                            StreamStatus::Succeeded => format!(
                                "{}.{}: {} records ({}), {} pages, {} commits, {:.1}s",
                                s.source,
                                s.stream,
                                s.records,
                                s.mode,
                                s.pages,
                                s.commits,
                                s.seconds
                            ),
                            StreamStatus::Partial => format!(
                                "{}.{}: quota reserve reached, resume later ({} records committed)",
                                s.source, s.stream, s.records
                            ),
                            StreamStatus::Cancelled => format!(
                                "{}.{}: stopped by shutdown, resume later ({} records committed)",
                                s.source, s.stream, s.records
                            ),
                            StreamStatus::Failed => format!(
                                "{}.{}: FAILED: {}",
                                s.source,
                                s.stream,
                                s.error.as_deref().unwrap_or_default()
                            ),
                        };
                        eprintln!("{line}");
                    }
                    for src in &report.sources {
                        eprintln!(
                            "{}: {} API requests, {:.1} MB received, {} retries, {} throttled",
                            src.source,
                            src.http.requests,
                            src.http.bytes_received as f64 / 1e6,
                            src.http.retries,
                            src.http.throttled
                        );
                    }
                    let load_code = if report.succeeded() {
                        exit::SUCCESS
                    } else if report.partial() {
                        exit::PARTIAL
                    } else if report.failed_only_on_config() {
                        exit::BAD_CONFIG
                    } else {
                        exit::FAILURE
                    };
                    // Then the models, on whatever the load committed (not after a failure).
                    if config.models.run_after_load
                        && load_code != exit::FAILURE
                        && load_code != exit::BAD_CONFIG
                        && opts.backfill_from.is_none()
                    {
                        let code = run_models_and_report(&config, &[]).await;
                        // Another shard building the models is fine: they see this load too.
                        if code != exit::SUCCESS && code != exit::LOCKED {
                            return code;
                        }
                        if code == exit::LOCKED {
                            eprintln!("models: another run is building them; skipped here");
                        }
                    }
                    load_code
                }
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::Shell => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let ctx = match async { revline::query::session(&config, &config.lake.open()?).await }
                .await
            {
                Ok(c) => c,
                Err(e) => return fail(&e, code_for(&e)),
            };
            let history =
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".revline_history"));
            revline::shell::run_interactive(revline::shell::Shell::new(ctx), history).await
        }
        Command::Export {
            format: _,
            out,
            tables,
        } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let result = async {
                let ctx = revline::query::session(&config, &config.lake.open()?).await?;
                revline::export::export_parquet(&ctx, &tables, &out).await
            }
            .await;
            match result {
                Ok(files) => {
                    for (f, rows) in files {
                        println!("{}: {rows} rows", f.display());
                    }
                    exit::SUCCESS
                }
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::Query {
            sql,
            format,
            output,
        } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let result = async {
                let lake = config.lake.open()?;
                let batches = query::query(&config, &lake, &sql).await?;
                match &output {
                    Some(path) => {
                        let fmt = revline::export::FileFormat::from_path(path)?;
                        revline::export::write_batches(&batches, path, fmt)?;
                        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                        Ok(format!("wrote {rows} rows to {}", path.display()))
                    }
                    None => query::render(&batches, format),
                }
            }
            .await;
            match result {
                Ok(text) => print_out(&text),
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::Serve { metrics, dashboard } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let jobs = match revline::serve::jobs(&config) {
                Ok(j) => j,
                Err(e) => return fail(&e, code_for(&e)),
            };
            let lake = match config.lake.open() {
                Ok(l) => l,
                Err(e) => return fail(&e, code_for(&e)),
            };
            let last_runs = match revline::serve::last_runs(&config, &lake).await {
                Ok(r) => r,
                Err(e) => return fail(&e, code_for(&e)),
            };
            let shutdown = CancellationToken::new();
            let registry = Arc::new(revline::metrics::Metrics::default());
            if let Some(addr) = metrics {
                match revline::metrics::serve_metrics(addr, registry.clone(), shutdown.clone())
                    .await
                {
                    Ok(bound) => eprintln!("revline: metrics at http://{bound}/metrics"),
                    Err(e) => {
                        return fail(&format!("cannot listen on {addr}: {e}"), exit::BAD_CONFIG);
                    }
                }
            }
            if let Some(addr) = dashboard {
                match revline::dashboard::serve(addr, config.clone(), shutdown.clone()).await {
                    Ok(bound) => eprintln!("revline: dashboard at http://{bound}/"),
                    Err(e) => {
                        return fail(&format!("cannot listen on {addr}: {e}"), exit::BAD_CONFIG);
                    }
                }
            }
            for j in &jobs {
                eprintln!(
                    "revline: job {} ({}) on \"{}\" in {}",
                    j.name,
                    j.sources.join(", "),
                    j.cron_text,
                    config.pipeline.timezone
                );
            }
            let signals = tokio::spawn(graceful_on_signals(shutdown.clone()));
            let opts = revline::serve::ServeOptions {
                jitter: std::time::Duration::from_secs(config.pipeline.jitter_secs),
                last_runs,
            };
            let runner = Arc::new(revline::serve::ConfigRunner { config });
            revline::serve::serve(
                jobs,
                Arc::new(revline::serve::SystemClock),
                runner,
                registry,
                opts,
                shutdown,
            )
            .await;
            signals.abort();
            eprintln!("revline: scheduler stopped");
            exit::SUCCESS
        }
        Command::Dashboard { out } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let result = async {
                let ctx = revline::query::session(&config, &config.lake.open()?).await?;
                revline::dashboard::write(&ctx, &out).await
            }
            .await;
            match result {
                Ok(_) => {
                    println!("dashboard written to {}", out.display());
                    exit::SUCCESS
                }
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::Models { select } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run_models_and_report(&config, &select).await
        }
        Command::Test => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match revline::models::run_data_tests(&config).await {
                Ok(results) => {
                    let failed: Vec<_> = results.iter().filter(|r| !r.passed()).collect();
                    for f in &failed {
                        eprintln!("{}", revline::models::tests::describe_failure(f));
                    }
                    eprintln!(
                        "{} tests, {} passed, {} failed",
                        results.len(),
                        results.len() - failed.len(),
                        failed.len()
                    );
                    if failed.is_empty() {
                        exit::SUCCESS
                    } else {
                        exit::FAILURE
                    }
                }
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::Runs { limit } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let result = async {
                let lake = config.lake.open()?;
                if lake.load("_revline/runs").await?.is_none() {
                    return Ok("no runs recorded yet".to_string());
                }
                let sql = format!(
                    "SELECT run_id, kind, source, stream, mode, status, records, pages, api_requests, retries, \
                     started_at, round(CAST(finished_at - started_at AS DOUBLE) / 1000000, 1) AS seconds, error \
                     FROM _revline.runs ORDER BY started_at DESC, source, stream LIMIT {limit}"
                );
                let batches = query::query(&config, &lake, &sql).await?;
                query::render(&batches, OutputFormat::Table)
            }
            .await;
            match result {
                Ok(text) => print_out(&text),
                Err(e) => fail(&e, code_for(&e)),
            }
        }
        Command::State { action } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match action {
                StateAction::Show { source } => {
                    let result = async {
                        let lake = config.lake.open()?;
                        revline::state::show(&lake, source.as_deref()).await
                    }
                    .await;
                    match result {
                        Ok(rows) if rows.is_empty() => print_out("no tables in the lake yet"),
                        Ok(rows) => {
                            let text = rows
                                .iter()
                                .map(|r| {
                                    format!(
                                        "{}.{}  version {}  run {}\n  {}",
                                        r.source,
                                        r.stream,
                                        r.version,
                                        r.run_id.as_deref().unwrap_or("-"),
                                        r.state
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("\n");
                            print_out(&text)
                        }
                        Err(e) => fail(&e, code_for(&e)),
                    }
                }
                StateAction::Reset { source, stream } => {
                    match revline::state::reset(&config, &source, stream.as_deref()).await {
                        Ok(done) => {
                            for (t, v) in &done {
                                println!(
                                    "{source}.{t}: state cleared (table version {v}); the next run re-reads it"
                                );
                            }
                            exit::SUCCESS
                        }
                        Err(e) => fail(&e, code_for(&e)),
                    }
                }
            }
        }
        Command::Connectors => {
            for f in registry::factories() {
                println!("{}: {}", f.name(), f.description());
                for s in f.streams() {
                    println!(
                        "  {:<16} key: {:<22} cursor: {:<12} modes: {}",
                        s.name,
                        s.primary_key.join(", "),
                        s.cursor_field.as_deref().unwrap_or("-"),
                        s.sync_modes
                            .iter()
                            .map(|m| m.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            exit::SUCCESS
        }
        Command::Check { source } => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Some(s) = &source
                && !config.sources.contains_key(s)
            {
                return fail(
                    &format!("no source named `{s}` in {}", config.file.display()),
                    exit::BAD_CONFIG,
                );
            }
            // Build every selected connector first: option errors are configuration errors.
            for src in config
                .sources
                .values()
                .filter(|s| source.as_deref().is_none_or(|n| n == s.name))
            {
                if let Err(e) = runner::build_connector(&config, src, Default::default()) {
                    return fail(&e, code_for(&e));
                }
            }
            println!("{}: configuration is valid", config.file.display());
            let mut code = exit::SUCCESS;
            for (name, result) in runner::check(&config, source.as_deref()).await {
                match result {
                    Ok(()) => println!("{name}: ok"),
                    Err(e) => {
                        println!("{name}: FAILED: {e}");
                        code = code.max(code_for(&e));
                    }
                }
            }
            code
        }
        Command::Demo { dir } => match demo::demo(&dir, progress_for(cli.log_format)).await {
            Ok(outcome) => {
                println!("{}", outcome.summary);
                exit::SUCCESS
            }
            Err(e) => fail(&format!("{e:#}"), exit::FAILURE),
        },
        Command::Bench {
            records,
            connector,
            work,
            models,
            people,
        } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return fail(&e, exit::FAILURE),
            };
            if models {
                return match bench::bench_models(&exe, people, &work.join("models")).await {
                    Ok(r) => {
                        print!("{}", bench::format_models_result(&r));
                        exit::SUCCESS
                    }
                    Err(e) => fail(&format!("{e:#}"), exit::FAILURE),
                };
            }
            let result = tokio::task::spawn_blocking(move || {
                bench::bench(&exe, &connector, &records, &work)
            })
            .await;
            match result {
                Ok(Ok(results)) => {
                    print!("{}", bench::format_results(&results));
                    exit::SUCCESS
                }
                Ok(Err(e)) => fail(&format!("{e:#}"), exit::FAILURE),
                Err(e) => fail(&e, exit::FAILURE),
            }
        }
        Command::BenchModelsOne => {
            let config = match load_config(&cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match bench::bench_models_one(&config).await {
                Ok(r) => {
                    println!("{}", serde_json::to_string(&r).expect("serializes"));
                    exit::SUCCESS
                }
                Err(e) => fail(&format!("{e:#}"), exit::FAILURE),
            }
        }
        Command::BenchOne {
            connector,
            records,
            work,
        } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => return fail(&e, exit::FAILURE),
            };
            match bench::bench_one(&exe, &connector, records, &work).await {
                Ok(r) => {
                    println!("{}", serde_json::to_string(&r).expect("serializes"));
                    exit::SUCCESS
                }
                Err(e) => fail(&format!("{e:#}"), exit::FAILURE),
            }
        }
        Command::Sandbox {
            people,
            sandbox_config,
            write_sources,
            expected_records_of,
        } => {
            let mut config: revline_sandbox::SandboxConfig = match &sandbox_config {
                Some(path) => {
                    let parsed = std::fs::read_to_string(path)
                        .map_err(|e| e.to_string())
                        .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()));
                    match parsed {
                        Ok(c) => c,
                        Err(e) => {
                            return fail(&format!("{}: {e}", path.display()), exit::BAD_CONFIG);
                        }
                    }
                }
                None => Default::default(),
            };
            if let Some(p) = people {
                config.world.people = p as usize;
            }
            let sandbox = match revline_sandbox::Sandbox::start(config) {
                Ok(s) => s,
                Err(e) => return fail(&e, exit::FAILURE),
            };
            if let Some(dir) = &write_sources {
                let written = std::fs::create_dir_all(dir)
                    .and_then(|_| revline_sandbox::demo::vendor_sources(&sandbox, dir))
                    .and_then(|s| {
                        std::fs::write(
                            dir.join("sources.toml"),
                            revline_sandbox::demo::sources_toml(&s),
                        )
                    })
                    .and_then(|()| match &expected_records_of {
                        Some(connector) => {
                            let world = sandbox.world();
                            let expected = revline_sandbox::demo::bench_expected_records(
                                connector,
                                &world.read(),
                            );
                            let text = expected.map(|n| n.to_string()).unwrap_or_default();
                            std::fs::write(dir.join("expected_records"), text)
                        }
                        None => Ok(()),
                    });
                if let Err(e) = written {
                    return fail(
                        &format!("cannot write sources into {}: {e}", dir.display()),
                        exit::FAILURE,
                    );
                }
            }
            println!(
                "hubspot {} {}",
                sandbox.hubspot_url(),
                sandbox.hubspot_token()
            );
            // Serve until stdin closes (the parent exits) or Ctrl-C.
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = String::new();
                while std::io::stdin()
                    .read_line(&mut sink)
                    .map(|n| n > 0)
                    .unwrap_or(false)
                {
                    sink.clear();
                }
            })
            .await;
            drop(sandbox);
            exit::SUCCESS
        }
    }
}
