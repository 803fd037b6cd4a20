//! `revline demo`: start the sandbox's emulated APIs, write a config pointing at them, load
//! everything into a local lake, change some records, load again incrementally, and show
//! what was loaded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use revline_sandbox::{Sandbox, SandboxConfig};

use crate::config::Config;
use crate::progress::Progress;
use crate::query::{OutputFormat, query, render};
use crate::runner::{RunOptions, RunReport, run};

/// What the demo did.
#[derive(Debug)]
pub struct DemoOutcome {
    /// The config it wrote.
    pub config_path: PathBuf,
    /// First (full) load.
    pub first: RunReport,
    /// Second (incremental) load after the world changed.
    pub second: RunReport,
    /// Human-readable summary.
    pub summary: String,
    /// The RevOps dashboard it wrote.
    pub dashboard: PathBuf,
}

/// Runs the demo in `dir` (created; its old lake is removed first).
pub async fn demo(dir: &Path, progress: Arc<dyn Progress>) -> anyhow::Result<DemoOutcome> {
    std::fs::create_dir_all(dir)?;
    let lake_dir = dir.join("lake");
    if lake_dir.exists() {
        std::fs::remove_dir_all(&lake_dir)?;
    }
    let sandbox = Sandbox::start(SandboxConfig {
        world: revline_sandbox::demo::demo_world(),
        ..SandboxConfig::default()
    })?;
    let sources = revline_sandbox::demo::vendor_sources(&sandbox, dir)?;
    let config_path = dir.join("revline.toml");
    std::fs::write(
        &config_path,
        format!(
            "# Written by `revline demo`: every emulated API of the sandbox on this machine.\n\
             [lake]\npath = \"lake\"\n\n{}",
            revline_sandbox::demo::sources_toml(&sources)
        ),
    )?;
    let config = Config::load(&config_path)?;

    let first = run(&config, &RunOptions::default(), progress.clone()).await?;
    anyhow::ensure!(
        first.succeeded(),
        "the first demo load failed: {}",
        failures(&first)
    );

    // The world moves on: some contacts and deals change, new people sign up.
    let (touched, added, deals) = {
        let world = sandbox.world();
        let mut w = world.write();
        let touched = w.touch_people(25).len();
        let added = w.add_people(10).len();
        let deals = w.touch_deals(5).len();
        (touched, added, deals)
    };
    let second = run(&config, &RunOptions::default(), progress).await?;
    anyhow::ensure!(
        second.succeeded(),
        "the incremental demo load failed: {}",
        failures(&second)
    );

    // Then the models: the unified revenue tables the dashboard reads.
    let models = crate::models::run_models(&config, &[], &crate::runner::new_run_id()).await?;
    let failed: Vec<String> = models
        .iter()
        .filter(|r| r.status != "succeeded")
        .map(|r| format!("{}: {}", r.name, r.error.as_deref().unwrap_or(&r.status)))
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "the demo models failed: {}",
        failed.join("; ")
    );

    let lake = config.lake.open()?;
    let mut summary = String::new();
    writeln!(
        summary,
        "\nRevline demo: {} emulated APIs ({}) → Delta lake at {}",
        sources.len(),
        sources
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", "),
        lake_dir.display()
    )?;
    writeln!(
        summary,
        "\nFirst load (full): {} records in {:.1}s, {} API requests.",
        first.records(),
        first.seconds,
        first.sources.iter().map(|s| s.http.requests).sum::<u64>()
    )?;
    writeln!(
        summary,
        "Then {touched} contacts changed, {added} signed up and {deals} deals moved; \
         the incremental load read {} records with {} API requests and merged them.\n",
        second.records(),
        second.sources.iter().map(|s| s.http.requests).sum::<u64>()
    )?;
    writeln!(
        summary,
        "Models: {} built in {:.1}s (staging, intermediate and the nine marts).",
        models.len(),
        models.iter().map(|r| r.seconds).sum::<f64>()
    )?;
    let mut counts = Vec::new();
    for (source, stream) in lake.list_tables().await? {
        let n = query(
            &config,
            &lake,
            &format!("SELECT COUNT(*) AS n FROM {source}.{stream}"),
        )
        .await?;
        let rows =
            arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(n[0].column(0))
                .value(0);
        counts.push(format!("{:<36} {rows:>8}", format!("{source}.{stream}")));
    }
    writeln!(summary, "Tables (rows):\n  {}", counts.join("\n  "))?;
    let funnel = query(&config, &lake,
        "SELECT lifecyclestage, COUNT(*) AS contacts FROM hubspot.contacts GROUP BY 1 ORDER BY 2 DESC",
    )
    .await?;
    writeln!(
        summary,
        "\nContacts by lifecycle stage:\n{}",
        render(&funnel, OutputFormat::Table)?
    )?;
    let pipeline = query(
        &config,
        &lake,
        "SELECT p.stage_label AS stage, COUNT(*) AS deals, CAST(SUM(d.amount) AS BIGINT) AS amount
         FROM hubspot.deals d JOIN hubspot.deal_pipelines p
           ON d.pipeline = p.pipeline_id AND d.dealstage = p.stage_id
         GROUP BY p.stage_label, p.stage_display_order ORDER BY p.stage_display_order",
    )
    .await?;
    writeln!(
        summary,
        "\nPipeline by stage:\n{}",
        render(&pipeline, OutputFormat::Table)?
    )?;
    let kpis = query(
        &config,
        &lake,
        "SELECT CAST(month AS VARCHAR) AS month, round(ending_mrr, 2) AS mrr, round(arr, 2) AS arr, \
                round(nrr, 3) AS nrr, round(grr, 3) AS grr, round(win_rate, 3) AS win_rate, \
                round(blended_cac, 2) AS cac, round(ltv_to_cac, 2) AS ltv_to_cac, \
                round(cac_payback_months, 1) AS payback_months \
         FROM revops_kpis ORDER BY month DESC LIMIT 3",
    )
    .await?;
    writeln!(
        summary,
        "\nRevOps KPIs, latest months (models: revops_kpis):\n{}",
        render(&kpis, OutputFormat::Table)?
    )?;
    let dashboard = dir.join("revline-dashboard.html");
    let ctx = crate::query::session(&config, &lake).await?;
    crate::dashboard::write(&ctx, &dashboard).await?;
    writeln!(
        summary,
        "\nExplore it yourself:\n  revline --config {} query \"SELECT * FROM sales_pipeline LIMIT 5\"\n  \
         revline --config {} shell",
        config_path.display(),
        config_path.display()
    )?;
    writeln!(summary, "\nRevOps dashboard: {}", dashboard.display())?;
    drop(sandbox);
    Ok(DemoOutcome {
        config_path,
        first,
        second,
        summary,
        dashboard,
    })
}

fn failures(r: &RunReport) -> String {
    r.streams()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{}.{}: {e}", s.source, s.stream))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
