//! Crash safety: a `revline run` killed with SIGKILL in the middle of a load, then rerun,
//! leaves exactly the table a clean run produces: same rows, no duplicates, nothing lost.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{hubspot_config, revline, text, write_config};
use revline_core::lake::Lake;
use revline_sandbox::{Fault, FaultPlan, FaultRule, Sandbox, SandboxConfig, Schedule, WorldConfig};

fn commits(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

async fn rows(lake_dir: &Path) -> Vec<String> {
    let lake = Lake::open(lake_dir.to_str().unwrap()).unwrap();
    let config =
        revline::config::Config::load(&lake_dir.parent().unwrap().join("revline.toml")).unwrap();
    let batches = revline::query::query(
        &config,
        &lake,
        "SELECT * EXCLUDE (_extracted_at) FROM hubspot.contacts ORDER BY id",
    )
    .await
    .unwrap();
    let text = revline::query::render(&batches, revline::query::OutputFormat::Csv).unwrap();
    text.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_then_rerun_equals_a_clean_run() {
    // 6,000 contacts = 60 pages; each page is slowed down and committed on its own, so the
    // kill lands between commits, while files are being written.
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 6_000,
            ..WorldConfig::default()
        },
        faults: FaultPlan::single(FaultRule::new(
            Fault::Latency { ms: 15 },
            Some("/crm/v3/objects/contacts"),
            Schedule::Always,
        )),
        ..SandboxConfig::default()
    })
    .unwrap();
    let token = format!(
        "token = \"{}\"\nstreams = [\"contacts\"]",
        sb.hubspot_token()
    );

    let crashed = tempfile::tempdir().unwrap();
    let cfg = write_config(
        crashed.path(),
        &hubspot_config(
            &sb.hubspot_url(),
            &token,
            "[run]\ncommit_interval_secs = 0\n",
        ),
    );
    let table = crashed.path().join("lake/hubspot/contacts");
    let mut child = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while commits(&table) < 8 {
        assert!(Instant::now() < deadline, "the load never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the load finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let partial = rows(&crashed.path().join("lake")).await.len() - 1;
    assert!(
        partial > 0 && partial < 6_000,
        "killed mid-load with {partial} rows committed"
    );

    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let clean = tempfile::tempdir().unwrap();
    let cfg_clean = write_config(clean.path(), &hubspot_config(&sb.hubspot_url(), &token, ""));
    let out = revline()
        .arg("--config")
        .arg(&cfg_clean)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let after_crash = rows(&crashed.path().join("lake")).await;
    let clean_rows = rows(&clean.path().join("lake")).await;
    assert_eq!(after_crash.len(), 6_001, "header + every contact once");
    assert_eq!(
        after_crash, clean_rows,
        "the recovered table equals a clean run's"
    );

    let a = Lake::open(crashed.path().join("lake").to_str().unwrap()).unwrap();
    let b = Lake::open(clean.path().join("lake").to_str().unwrap()).unwrap();
    let sa = a
        .read_state("hubspot", "contacts")
        .await
        .unwrap()
        .unwrap()
        .state;
    let sb_ = b
        .read_state("hubspot", "contacts")
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(sa, sb_, "same final state");
}
