//! The RevOps dashboard in a real browser: `revline demo` loads every emulated API, builds the
//! models and writes the dashboard; headless Chromium renders it, and the page's own render
//! check (marks per chart, KPI tiles) must agree with the mart tables read by `revline query`.
//! A screenshot is kept as a test artifact in `target/tmp/dashboard/`.
//!
//! Needs Debian's `chromium` (installed by `.ci/run`). Without it the test fails, naming what is
//! missing, unless `REVLINE_SKIP_BROWSER_TESTS=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{revline, text};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn browser(exe: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// Rows of a `revline query` as CSV records (header dropped).
fn query(config: &Path, dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out_file = dir.join("q.csv");
    let out = revline()
        .arg("--config")
        .arg(config)
        .args(["query", sql, "--output"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "query failed: {}", text(&out));
    let body = std::fs::read_to_string(&out_file).unwrap();
    body.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn count(config: &Path, dir: &Path, sql: &str) -> u64 {
    query(config, dir, sql)[0][0].parse().unwrap()
}

#[test]
fn dashboard_renders_in_chromium_and_matches_the_marts() {
    let Some(exe) = chromium() else {
        if std::env::var("REVLINE_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: no chromium and REVLINE_SKIP_BROWSER_TESTS=1");
            return;
        }
        panic!("headless Chromium is needed (apt-get install chromium; .ci/run installs it)");
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = revline()
        .arg("demo")
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "demo failed: {said}");
    let page = dir.join("revline-dashboard.html");
    assert!(
        said.contains(&format!("RevOps dashboard: {}", page.display())),
        "demo names the dashboard it wrote: {said}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script src"),
        "the page is self-contained"
    );
    let config = dir.join("revline.toml");

    // Render it and read the page's own check.
    let profile = tmp.path().join("chromium-profile");
    let url = format!("file://{}", page.display());
    let dom = browser(&exe, &profile, &["--dump-dom", &url]);
    assert!(dom.status.success(), "chromium failed: {}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    let start = dom
        .find("id=\"render-check\"")
        .expect("render check present");
    let body = &dom[start..];
    let json = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    let check: serde_json::Value = serde_json::from_str(&json.replace("&amp;", "&"))
        .unwrap_or_else(|e| panic!("render check is JSON ({e}): {json}"));
    assert_eq!(check["unsized"], 0, "every mark has a size: {check}");
    let marks = |chart: &str| check["marks"][chart].as_u64().unwrap_or(0);

    // Marks per chart, from the same marts.
    let mrr = count(
        &config,
        tmp.path(),
        "SELECT COUNT(*) FROM (SELECT month, movement FROM mrr_movements \
         WHERE movement <> 'unchanged' AND month > (SELECT max(month) FROM mrr_movements) - INTERVAL '12 months' \
         GROUP BY 1, 2 HAVING SUM(amount) <> 0)",
    );
    assert!(mrr > 0, "the demo has MRR movements");
    assert_eq!(marks("mrr"), mrr, "MRR movement bars");
    assert_eq!(marks("funnel"), 6, "funnel steps");
    let platforms = count(
        &config,
        tmp.path(),
        "SELECT COUNT(DISTINCT platform) FROM marketing_attribution WHERE attribution_model = 'first_touch' \
         AND month > (SELECT max(month) FROM marketing_attribution) - INTERVAL '12 months'",
    );
    assert!(platforms >= 2, "ads and unpaid campaigns");
    assert_eq!(marks("spend"), 2 * platforms, "spend and won bars");
    let stages = count(
        &config,
        tmp.path(),
        "SELECT COUNT(DISTINCT stage) FROM sales_pipeline WHERE NOT is_closed",
    );
    assert!(stages > 0);
    assert_eq!(marks("pipeline"), stages, "open pipeline stages");
    let paying = count(
        &config,
        tmp.path(),
        "SELECT COUNT(*) FROM customer_health \
         WHERE month = (SELECT max(month) FROM customer_health) AND mrr > 0",
    );
    assert!(paying > 0);
    assert_eq!(marks("support"), paying, "one dot per paying account");

    // KPI tiles equal the latest revops_kpis row.
    let kpi = query(
        &config,
        tmp.path(),
        "SELECT arr, nrr, grr, win_rate, blended_cac, ltv_to_cac, cac_payback_months \
         FROM revops_kpis ORDER BY month DESC LIMIT 1",
    )
    .remove(0);
    let tiles: Vec<(String, String)> = check["kpis"]
        .as_array()
        .expect("kpi tiles")
        .iter()
        .map(|t| {
            (
                t[0].as_str().unwrap().to_string(),
                t[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let keys = [
        "arr",
        "nrr",
        "grr",
        "win_rate",
        "cac",
        "ltv_to_cac",
        "payback",
    ];
    assert_eq!(
        tiles.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        keys,
        "tiles in order"
    );
    for ((key, shown), expected) in tiles.iter().zip(&kpi) {
        match (shown.parse::<f64>(), expected.parse::<f64>()) {
            (Ok(a), Ok(b)) => assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "tile {key}: {a} vs revops_kpis {b}"
            ),
            _ => assert_eq!(shown, expected, "tile {key} (empty when null)"),
        }
    }
    assert!(kpi[0].parse::<f64>().unwrap() > 0.0, "ARR is known");

    // The bottleneck callout names the mart's top-ranked handoff, and calls it a bottleneck
    // only if its metric got worse.
    let top = query(
        &config,
        tmp.path(),
        "SELECT handoff, CAST(severity > 0 AS VARCHAR) FROM revops_bottlenecks \
         WHERE month = (SELECT max(month) FROM revops_bottlenecks) ORDER BY rank LIMIT 1",
    );
    let worse = top[0][1] == "true";
    assert!(
        dom.contains(&format!(
            "data-handoff=\"{}\" data-worse=\"{worse}\"",
            top[0][0]
        )),
        "bottleneck {:?}",
        top[0]
    );
    let headline = if worse {
        "Top bottleneck in "
    } else {
        "No handoff got worse in "
    };
    assert!(dom.contains(headline), "{headline}");

    // The top landing pages: the latest month's pages of landing_page_performance, most
    // sessions first, at most 8.
    let pages = query(
        &config,
        tmp.path(),
        "SELECT landing_page FROM landing_page_performance \
         WHERE month = (SELECT max(month) FROM landing_page_performance) \
         ORDER BY sessions DESC, landing_page LIMIT 8",
    );
    assert!(!pages.is_empty(), "the demo has landing pages");
    let shown: Vec<&str> = dom
        .split("<tr class=\"page\" data-page=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    let want: Vec<&str> = pages.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(shown, want, "landing pages in the mart's order");

    // A screenshot for people (kept in target/tmp/dashboard/).
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("revops-dashboard.png");
    let _ = std::fs::remove_file(&png);
    let shot = browser(
        &exe,
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,2200",
            &url,
        ],
    );
    assert!(shot.status.success(), "screenshot: {}", text(&shot));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "screenshot written ({size} bytes)");
}
