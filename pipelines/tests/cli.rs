//! The `revline` command line: exit codes, error messages, output formats.

mod common;

use common::{hubspot_config, revline, text, write_config};
use revline_sandbox::{Fault, FaultPlan, FaultRule, Sandbox, SandboxConfig, Schedule, WorldConfig};

fn sandbox(people: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap()
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[lake]\npath = \"lake\"\n\n[sources.hubspot]\nconnector = \"hubspot\"\ntoken = \"${REVLINE_TEST_UNSET_VAR}\"\n",
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env_remove("REVLINE_TEST_UNSET_VAR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = text(&out);
    assert!(
        msg.contains(&format!(
            "{}:6: `sources.hubspot.token`: environment variable `REVLINE_TEST_UNSET_VAR` is not set",
            cfg.display()
        )),
        "{msg}"
    );
    assert!(
        !dir.path().join("lake").exists(),
        "nothing written on bad config"
    );

    // A connector option the connector does not know.
    let cfg = write_config(
        dir.path(),
        "[lake]\npath = \"lake\"\n[sources.hubspot]\nconnector = \"hubspot\"\ntoken = \"x\"\nsearch_page_sise = 100\n",
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = text(&out);
    assert!(
        msg.contains(":6: `sources.hubspot.search_page_sise`: unknown field `search_page_sise`"),
        "{msg}"
    );

    // A missing file.
    let out = revline()
        .args(["--config", "/nonexistent/revline.toml", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/nonexistent/revline.toml: cannot read the config file"));
}

#[test]
fn connectors_lists_streams_with_keys_and_cursors() {
    let out = revline().arg("connectors").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with("hubspot: HubSpot CRM v3"), "{s}");
    assert!(s.contains("  contacts         key: id                     cursor: updated_at   modes: incremental, full_refresh"), "{s}");
    assert!(s.contains("  deal_pipelines   key: pipeline_id, stage_id  cursor: -            modes: full_refresh"), "{s}");
}

#[test]
fn run_then_query_in_every_format() {
    let sb = sandbox(120);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &hubspot_config(
            &sb.hubspot_url(),
            &format!("token = \"{}\"", sb.hubspot_token()),
            "",
        ),
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains("hubspot.contacts: 120 records (incremental)"),
        "{log}"
    );

    let q = |format: &str| {
        let out = revline()
            .arg("--config")
            .arg(&cfg)
            .args([
                "query",
                "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM hubspot.contacts",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(q("csv"), "n,ids\n120,120\n");
    assert_eq!(q("json"), "{\"n\":120,\"ids\":120}\n");
    assert!(q("table").contains("| 120 | 120 |"));

    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["query", "SELECT * FROM hubspot.contactz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("hubspot.contactz"), "{}", text(&out));

    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hubspot: ok"));

    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--source", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no source named `nope`"),
        "{}",
        text(&out)
    );
}

#[test]
fn failing_stream_exits_1_and_quota_stop_exits_3_with_work_committed() {
    // Every contacts page after the first is answered "wait a day": quota spent.
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 350,
            ..WorldConfig::default()
        },
        faults: FaultPlan::single(FaultRule::new(
            Fault::TooManyRequests {
                retry_after: Some(86_400),
            },
            Some("/crm/v3/objects/contacts"),
            Schedule::Nth(vec![3]),
        )),
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &hubspot_config(
            &sb.hubspot_url(),
            &format!(
                "token = \"{}\"\nstreams = [\"contacts\"]",
                sb.hubspot_token()
            ),
            "",
        ),
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(
            "hubspot.contacts: quota reserve reached, resume later (200 records committed)"
        ),
        "{}",
        text(&out)
    );
    let count = revline()
        .arg("--config")
        .arg(&cfg)
        .args([
            "query",
            "SELECT COUNT(*) FROM hubspot.contacts",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&count.stdout).ends_with("\n200\n"));
    // The next run continues from the checkpoint.
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("hubspot.contacts: 150 records"),
        "{}",
        text(&out)
    );

    // A wrong token: failure, exit 1.
    let cfg = write_config(
        dir.path(),
        &hubspot_config(&sb.hubspot_url(), "token = \"pat-wrong\"", ""),
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("authentication failed (HTTP 401)"),
        "{}",
        text(&out)
    );
}

#[test]
fn daily_quota_reserve_stops_gracefully_with_work_committed() {
    // A portal with 40 requests a day: below the 10% reserve (4 left) the run stops.
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 6_000,
            ..WorldConfig::default()
        },
        hubspot: revline_sandbox::HubspotConfig {
            daily_limit: 40,
            ..Default::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &hubspot_config(
            &sb.hubspot_url(),
            &format!(
                "token = \"{}\"\nstreams = [\"contacts\"]",
                sb.hubspot_token()
            ),
            "",
        ),
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    // Request 37 left 3 of 40 (< 10%): its page (the 36th list page) is the last one read.
    assert!(
        t.contains(
            "hubspot.contacts: quota reserve reached, resume later (3600 records committed)"
        ),
        "{t}"
    );
    assert_eq!(
        sb.stats().total_requests,
        37,
        "no request is sent past the reserve"
    );
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args([
            "query",
            "SELECT COUNT(DISTINCT id) FROM hubspot.contacts",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("\n3600\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn bench_loads_each_profile_and_checks_the_world_count() {
    use revline_sandbox::demo::{bench_expected_records, bench_profiles};
    use revline_sandbox::world::World;

    let dir = tempfile::tempdir().unwrap();
    let out = revline()
        .args([
            "bench",
            "--connector",
            "stripe,ga4,hubspot",
            "--records",
            "3000",
        ])
        .arg("--work")
        .arg(dir.path())
        .output()
        .unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(0), "{msg}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    for (row, connector) in rows.iter().zip(["stripe", "ga4", "hubspot"]) {
        let profile = bench_profiles()
            .into_iter()
            .find(|p| p.connector == connector)
            .unwrap();
        // Stripe's and GA4's worlds cannot hit 3000 exactly: the sandbox child says what to
        // expect, and the benchmark fails unless every one of those records was loaded.
        let world = World::new((profile.world)(3000));
        let expected = bench_expected_records(connector, &world).unwrap_or(3000);
        assert_eq!(
            row[0],
            format!("{connector}.{}", profile.stream),
            "{stdout}"
        );
        assert_eq!(row[1], expected.to_string(), "{stdout}");
        let rss_mb: f64 = row[6].parse().unwrap();
        assert!(rss_mb > 1.0, "peak RSS is measured: {stdout}");
        assert!(row[7].parse::<u64>().unwrap() >= 1, "{stdout}");
    }
    assert_ne!(rows[0][1], "3000", "Stripe's world has a count of its own");
}
