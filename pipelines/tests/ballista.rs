//! The bundled models on Apache Ballista give the same marts as on DataFusion: once on an
//! in-process (standalone) cluster, once on a scheduler and two executors started from
//! `revline-ballista` on 127.0.0.1. Both load a lake from the sandbox's emulated APIs (every
//! connector), build all models with DataFusion, rebuild them with Ballista, and compare all eight
//! marts row by row (sorted; floats to 6 decimals, as distributed sums add in another order).

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, Float32Array, Float64Array};
use arrow::datatypes::DataType;
use arrow::util::display::array_value_to_string;
use common::{revline, text, write_config};
use revline::config::Config;
use revline_sandbox::{Sandbox, SandboxConfig};

const MARTS: [&str; 9] = [
    "customer_health",
    "landing_page_performance",
    "marketing_attribution",
    "mrr_movements",
    "revenue_funnel",
    "revops_bottlenecks",
    "revops_kpis",
    "sales_pipeline",
    "unified_accounts",
];

/// A lake in `dir` loaded from the sandbox's emulated APIs (the demo's sources: every
/// connector); returns its config file.
fn model_lake(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let sb = Sandbox::start(SandboxConfig::default()).unwrap();
    let sources: Vec<_> = revline_sandbox::demo::vendor_sources(&sb, dir)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(sources.len(), 11, "every connector feeds the models");
    let cfg = write_config(
        dir,
        &format!(
            "[lake]\npath = \"lake\"\n\n[models]\nrun_after_load = false\n\n{}",
            revline_sandbox::demo::sources_toml(&sources)
        ),
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "load failed: {}", text(&out));
    cfg
}

/// The config at `path` with an `[engine]` section appended (a new file next to it).
fn with_engine(path: &Path, engine: &str) -> Config {
    let original = std::fs::read_to_string(path).unwrap();
    let other = path.with_file_name("revline-ballista.toml");
    std::fs::write(&other, format!("{original}\n[engine]\n{engine}\n")).unwrap();
    Config::load(&other).unwrap()
}

/// Every row of a mart, rendered and sorted.
async fn mart_rows(config: &Config, mart: &str) -> Vec<String> {
    let lake = config.lake.open().unwrap();
    let batches = revline::query::query(config, &lake, &format!("SELECT * FROM models.{mart}"))
        .await
        .unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        return "∅".to_string();
                    }
                    match c.data_type() {
                        DataType::Float64 => {
                            let v = c.as_any().downcast_ref::<Float64Array>().unwrap().value(r);
                            format!("{v:.6}")
                        }
                        DataType::Float32 => {
                            let v = c.as_any().downcast_ref::<Float32Array>().unwrap().value(r);
                            format!("{v:.4}")
                        }
                        _ => array_value_to_string(c, r).unwrap(),
                    }
                })
                .collect();
            rows.push(cells.join(" | "));
        }
    }
    rows.sort();
    rows
}

async fn all_marts(config: &Config) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for m in MARTS {
        out.push((m.to_string(), mart_rows(config, m).await));
    }
    out
}

async fn mart_versions(config: &Config) -> Vec<u64> {
    let lake = config.lake.open().unwrap();
    let mut v = Vec::new();
    for m in MARTS {
        let t = lake.load(&format!("models/{m}")).await.unwrap().unwrap();
        v.push(t.version().unwrap());
    }
    v
}

/// Builds every model with `engine`, then checks the marts equal DataFusion's.
async fn models_match_datafusion(config_path: &Path, engine: &str) {
    let df = Config::load(config_path).unwrap();
    let t = Instant::now();
    let reports = revline::models::run_models(&df, &[], "datafusion-build")
        .await
        .unwrap();
    let df_secs = t.elapsed().as_secs_f64();
    assert!(
        reports.iter().all(|r| r.status == "succeeded"),
        "{reports:?}"
    );
    let models = reports.len();
    let expected = all_marts(&df).await;
    let before = mart_versions(&df).await;

    let on_ballista = with_engine(config_path, engine);
    let t = Instant::now();
    let reports = revline::models::run_models(&on_ballista, &[], "ballista-build")
        .await
        .unwrap();
    let ballista_secs = t.elapsed().as_secs_f64();
    let failed: Vec<_> = reports.iter().filter(|r| r.status != "succeeded").collect();
    assert!(failed.is_empty(), "models failed on Ballista: {failed:#?}");
    assert_eq!(reports.len(), models, "every model ran on Ballista");
    // Every mart was rebuilt (a new Delta version) by the Ballista run.
    let after = mart_versions(&df).await;
    for ((m, b), a) in MARTS.iter().zip(&before).zip(&after) {
        assert!(a > b, "{m} was not rebuilt on Ballista ({b} -> {a})");
    }
    let actual = all_marts(&df).await;
    let mut total = 0;
    for ((mart, want), (_, got)) in expected.iter().zip(&actual) {
        assert_eq!(
            want.len(),
            got.len(),
            "{mart}: {} rows on DataFusion, {} on Ballista",
            want.len(),
            got.len()
        );
        for (i, (w, g)) in want.iter().zip(got).enumerate() {
            assert_eq!(w, g, "{mart}: sorted row {i} differs");
        }
        total += want.len();
        eprintln!("{mart}: {} rows equal", want.len());
    }
    assert!(
        expected.iter().all(|(_, rows)| !rows.is_empty()),
        "every mart has rows on the demo lake"
    );
    eprintln!(
        "{} models, {total} mart rows equal; DataFusion {df_secs:.1}s, Ballista ({engine}) {ballista_secs:.1}s",
        reports.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_ballista_builds_the_same_marts_as_datafusion() {
    let tmp = tempfile::tempdir().unwrap();
    let config = model_lake(&tmp.path().join("lake-dir"));
    models_match_datafusion(&config, "kind = \"ballista\"\nurl = \"standalone\"").await;
}

/// A process stopped when the test ends, pass or fail.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ballista(args: &[&str]) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_revline-ballista"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_listening(port: u16, p: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            p.0.try_wait().unwrap().is_none(),
            "a Ballista process exited before listening on {port}"
        );
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduler_and_two_executors_build_the_same_marts_as_datafusion() {
    let tmp = tempfile::tempdir().unwrap();
    let config = model_lake(&tmp.path().join("lake-dir"));

    let port = free_port();
    let mut scheduler = ballista(&[
        "scheduler",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]);
    wait_listening(port, &mut scheduler);
    let mut executors = Vec::new();
    let mut work_dirs = Vec::new();
    for i in 0..2 {
        let (flight, grpc) = (free_port(), free_port());
        let work = tmp.path().join(format!("executor-{i}"));
        std::fs::create_dir_all(&work).unwrap();
        let mut e = ballista(&[
            "executor",
            "--bind",
            "127.0.0.1",
            "--port",
            &flight.to_string(),
            "--grpc-port",
            &grpc.to_string(),
            "--scheduler-host",
            "127.0.0.1",
            "--scheduler-port",
            &port.to_string(),
            "--vcores",
            "2",
            "--work-dir",
            work.to_str().unwrap(),
        ]);
        wait_listening(flight, &mut e);
        executors.push(e);
        work_dirs.push(work);
    }

    models_match_datafusion(
        &config,
        &format!("kind = \"ballista\"\nurl = \"df://127.0.0.1:{port}\""),
    )
    .await;

    // Both executors ran tasks: each wrote shuffle output in its work folder.
    for w in &work_dirs {
        assert!(files_under(w) > 0, "executor {} ran no task", w.display());
    }
    for e in executors.iter_mut().chain(std::iter::once(&mut scheduler)) {
        assert!(e.0.try_wait().unwrap().is_none(), "a Ballista process died");
    }
}
