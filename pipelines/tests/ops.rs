//! Operations: locks against overlapping runs, stale-lock takeover, graceful shutdown,
//! run history, backfill, state reset, and `revline serve` with metrics.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{hubspot_config, revline, text, write_config};
use revline_sandbox::{Fault, FaultPlan, FaultRule, Sandbox, SandboxConfig, Schedule, WorldConfig};

fn slow_sandbox(people: usize, latency_ms: u64) -> Sandbox {
    Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people,
            ..WorldConfig::default()
        },
        faults: FaultPlan::single(FaultRule::new(
            Fault::Latency { ms: latency_ms },
            Some("/crm/v3/objects/contacts"),
            Schedule::Always,
        )),
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn config_for(sb: &Sandbox, dir: &Path, extra: &str, streams: &str) -> PathBuf {
    write_config(
        dir,
        &hubspot_config(
            &sb.hubspot_url(),
            &format!("token = \"{}\"\n{streams}", sb.hubspot_token()),
            extra,
        ),
    )
}

fn query_csv(cfg: &Path, sql: &str) -> String {
    let out = revline()
        .arg("--config")
        .arg(cfg)
        .args(["query", sql, "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for(what: &str, secs: u64, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lock_files(lake: &Path, source: &str) -> usize {
    std::fs::read_dir(lake.join("_revline/locks").join(source))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Whether the newest lock file of `source` is held (not marked released).
fn lock_held(lake: &Path, source: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(lake.join("_revline/locks").join(source)) else {
        return false;
    };
    let newest = dir.flatten().map(|e| e.path()).max();
    newest.is_some_and(|p| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_default();
        !v.get("released")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    })
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn overlapping_run_is_refused_and_a_killed_runs_lock_is_taken_over() {
    let sb = slow_sandbox(3_000, 20);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(&sb, dir.path(), "", "streams = [\"contacts\"]");
    let lake = dir.path().join("lake");
    let mut first = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first run's lock", 30, || {
        lock_files(&lake, "hubspot") >= 1
    });

    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("source `hubspot` is being loaded by run"),
        "{msg}"
    );
    assert!(msg.contains("not starting an overlapping run"), "{msg}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run is unaffected"
    );

    first.kill().unwrap(); // SIGKILL: the lock stays behind
    first.wait().unwrap();
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("took over a stale lock left by an interrupted run"),
        "{}",
        text(&out)
    );
    assert_eq!(
        query_csv(&cfg, "SELECT COUNT(DISTINCT id) AS n FROM hubspot.contacts"),
        "n\n3000\n"
    );
}

#[test]
fn sigterm_commits_the_page_in_flight_and_the_next_run_resumes() {
    let sb = slow_sandbox(3_000, 30);
    let dir = tempfile::tempdir().unwrap();
    // Commits only at the end (or on shutdown): nothing is committed before the signal.
    let cfg = config_for(
        &sb,
        dir.path(),
        "[run]\ncommit_interval_secs = 3600\n",
        "streams = [\"contacts\"]",
    );
    let mut child = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a few pages", 30, || {
        sb.stats().route("hubspot.contacts.list") >= 5
    });
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("hubspot.contacts: stopped by shutdown, resume later"),
        "{err}"
    );
    let committed: u64 = query_csv(&cfg, "SELECT COUNT(*) AS n FROM hubspot.contacts")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((500..3_000).contains(&committed), "committed {committed}");
    assert_eq!(committed % 100, 0, "whole pages are committed");
    let history = query_csv(&cfg, "SELECT status, records FROM _revline.runs");
    assert_eq!(history, format!("status,records\ncancelled,{committed}\n"));

    sb.reset_stats();
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sb.stats().records("hubspot.contacts.list"),
        3_000 - committed,
        "resumed where it stopped"
    );
    assert_eq!(
        query_csv(
            &cfg,
            "SELECT COUNT(DISTINCT id) AS n, COUNT(*) AS r FROM hubspot.contacts"
        ),
        "n,r\n3000,3000\n"
    );
}

#[test]
fn run_history_records_successes_and_failures() {
    let sb = slow_sandbox(250, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(&sb, dir.path(), "", "");
    assert!(
        revline()
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .status()
            .unwrap()
            .success()
    );
    // Same lake, rejected credentials.
    let bad = write_config(
        dir.path(),
        &hubspot_config(&sb.hubspot_url(), "token = \"pat-wrong\"", ""),
    );
    let out = revline()
        .arg("--config")
        .arg(&bad)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rows = query_csv(
        &cfg,
        "SELECT stream, status, records, api_requests > 0 AS called, error LIKE '%authentication failed (HTTP 401)%' AS auth \
         FROM _revline.runs ORDER BY started_at, stream",
    );
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 11, "{rows}");
    let ok: Vec<&str> = lines[1..6].to_vec();
    let mut ok_sorted = ok.clone();
    ok_sorted.sort();
    assert_eq!(
        ok_sorted,
        vec![
            "companies,succeeded,40,true,",
            "contacts,succeeded,250,true,",
            "deal_pipelines,succeeded,7,true,",
            "deals,succeeded,120,true,",
            "owners,succeeded,5,true,",
        ]
    );
    for l in &lines[6..] {
        assert!(l.ends_with(",failed,0,true,true"), "{l}");
    }
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["runs", "--limit", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(t.matches("| failed ").count(), 3, "{t}");
}

#[test]
fn backfill_touches_only_its_stream_and_state_reset_rereads() {
    let sb = slow_sandbox(250, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(&sb, dir.path(), "", "");
    assert!(
        revline()
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .status()
            .unwrap()
            .success()
    );
    let versions = |d: &Path| -> Vec<(String, usize)> {
        ["companies", "contacts", "deal_pipelines", "deals", "owners"]
            .iter()
            .map(|t| {
                let n = std::fs::read_dir(d.join("lake/hubspot").join(t).join("_delta_log"))
                    .unwrap()
                    .filter(|e| {
                        e.as_ref()
                            .unwrap()
                            .file_name()
                            .to_string_lossy()
                            .ends_with(".json")
                    })
                    .count();
                (t.to_string(), n)
            })
            .collect()
    };
    let before = versions(dir.path());
    sb.world().write().touch_people(10);
    sb.reset_stats();
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args([
            "run",
            "--backfill-from",
            "2024-07-01",
            "--stream",
            "contacts",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let after = versions(dir.path());
    for ((t, b), (_, a)) in before.iter().zip(&after) {
        if t == "contacts" {
            assert_eq!(*a, b + 1, "the backfill is one commit");
        } else {
            assert_eq!(a, b, "{t} untouched");
        }
    }
    let stats = sb.stats();
    let expected = {
        let w = sb.world();
        let since = chrono::DateTime::parse_from_rfc3339("2024-07-01T00:00:00Z")
            .unwrap()
            .timestamp_millis()
            - 30_000;
        w.read().people().filter(|p| p.modified_ms >= since).count() as u64
    };
    assert_eq!(stats.records("hubspot.contacts.search"), expected);
    assert_eq!(
        stats.route("hubspot.deals.list") + stats.route("hubspot.deals.search"),
        0
    );
    assert_eq!(
        query_csv(
            &cfg,
            "SELECT kind, stream, mode FROM _revline.runs WHERE kind = 'backfill'"
        ),
        "kind,stream,mode\nbackfill,contacts,backfill\n"
    );
    assert_eq!(
        query_csv(&cfg, "SELECT COUNT(*) AS n FROM hubspot.contacts"),
        "n\n250\n"
    );

    // Without --stream, a backfill is refused.
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--backfill-from", "2024-07-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Reset one stream's state: the next run reads it all again, the others stay incremental.
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["state", "reset", "--source", "hubspot", "--stream", "deals"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("hubspot.deals: state cleared"),
        "{}",
        text(&out)
    );
    let shown = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["state", "show", "--source", "hubspot"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        shown.contains("hubspot.deals  version") && shown.contains("\n  null"),
        "{shown}"
    );
    sb.reset_stats();
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("hubspot.deals: 120 records (incremental)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        sb.stats().records("hubspot.deals.list"),
        120,
        "deals re-read in full"
    );
    assert_eq!(
        sb.stats().route("hubspot.contacts.list"),
        0,
        "contacts stayed incremental"
    );
    assert_eq!(
        query_csv(
            &cfg,
            "SELECT COUNT(*) AS n FROM _revline.runs WHERE kind = 'state_reset' AND stream = 'deals'"
        ),
        "n\n1\n"
    );
}

#[test]
fn serve_runs_on_schedule_exposes_metrics_and_stops_on_sigterm() {
    let sb = slow_sandbox(150, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(
        &sb,
        dir.path(),
        "[pipeline]\nname = \"every-second\"\nschedule = \"*/2 * * * * *\"\n",
        "streams = [\"contacts\", \"owners\"]",
    );
    let mut child = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--metrics", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "serve exited early");
        if let Some(rest) = line.trim().strip_prefix("revline: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    let runs = |dir: &Path| -> usize {
        let out = revline()
            .arg("--config")
            .arg(dir.join("revline.toml"))
            .args([
                "query",
                "SELECT COUNT(DISTINCT run_id) FROM _revline.runs",
                "--format",
                "csv",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0)
    };
    wait_for("three scheduled runs", 60, || runs(dir.path()) >= 3);

    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).unwrap();
    assert!(
        body.contains(
            "revline_runs_total{source=\"hubspot\",stream=\"contacts\",status=\"succeeded\"}"
        ),
        "{body}"
    );
    assert!(
        body.contains(
            "revline_last_success_timestamp_seconds{source=\"hubspot\",stream=\"owners\"}"
        ),
        "{body}"
    );

    signal(&child, "-TERM");
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", drain.join().unwrap());
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = drain.join().unwrap();
    assert!(log.contains("scheduler stopped"), "{log}");
    assert_eq!(
        query_csv(&cfg, "SELECT DISTINCT pipeline FROM _revline.runs"),
        "pipeline\nevery-second\n"
    );
}

#[test]
fn json_log_lines_of_a_run_carry_run_id_source_and_stream() {
    let sb = slow_sandbox(150, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(&sb, dir.path(), "", "streams = [\"contacts\", \"owners\"]");
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["--log-format", "json", "-v", "run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut stream_lines = 0;
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(spans) = v.get("spans").and_then(|s| s.as_array()) else {
            continue;
        };
        let field = |k: &str| {
            spans
                .iter()
                .find_map(|s| s.get(k).and_then(|x| x.as_str()).map(str::to_string))
        };
        assert!(field("run_id").is_some_and(|r| !r.is_empty()), "{line}");
        if spans
            .iter()
            .any(|s| s.get("name").and_then(|n| n.as_str()) == Some("stream"))
        {
            stream_lines += 1;
            assert_eq!(field("source").as_deref(), Some("hubspot"), "{line}");
            assert!(
                matches!(field("stream").as_deref(), Some("contacts" | "owners")),
                "{line}"
            );
        }
    }
    assert!(
        stream_lines >= 4,
        "expected per-stream log lines, got {stream_lines}:\n{stderr}"
    );
}

/// One pipeline sharded in two: shard A and shard B are two configs with different sources,
/// run at the same time as two `revline run`s writing to ONE lake. Each takes only its own
/// sources' locks, so the slow shard B (HubSpot contacts answer slowly) never blocks shard A;
/// every table and both runs' history land complete (the same rows as one unsharded load into
/// another lake); and the models are built once, by a separate `revline models` job over the
/// whole pipeline, not by each shard.
#[test]
fn two_shards_load_one_lake_at_once_and_the_models_build_once() {
    let sb = Sandbox::start(SandboxConfig {
        faults: FaultPlan::single(FaultRule::new(
            Fault::Latency { ms: 4_000 },
            Some("/crm/v3/objects/contacts"),
            Schedule::Always,
        )),
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sources = revline_sandbox::demo::vendor_sources(&sb, dir.path()).unwrap();
    let pick = |names: &[&str]| -> Vec<_> {
        sources
            .iter()
            .filter(|s| names.contains(&s.connector))
            .cloned()
            .collect()
    };
    // (Meta is left out: its async report jobs poll for seconds, which would make shard A
    // the slow one.)
    let shard_a = pick(&["salesforce", "stripe", "google_ads", "ga4"]);
    let shard_b = pick(&["hubspot", "zendesk"]);
    let all = pick(&[
        "salesforce",
        "stripe",
        "google_ads",
        "ga4",
        "hubspot",
        "zendesk",
    ]);
    assert_eq!((shard_a.len(), shard_b.len(), all.len()), (4, 2, 6));
    let write = |file: &str, lake: &str, srcs: &[revline_sandbox::demo::DemoSource]| {
        let p = dir.path().join(file);
        std::fs::write(
            &p,
            format!(
                "[lake]\npath = \"{lake}\"\n\n[pipeline]\nname = \"{}\"\n\n[models]\nrun_after_load = false\n\n{}",
                file.trim_end_matches(".toml"),
                revline_sandbox::demo::sources_toml(srcs)
            ),
        )
        .unwrap();
        p
    };
    let a_cfg = write("shard-a.toml", "lake", &shard_a);
    let b_cfg = write("shard-b.toml", "lake", &shard_b);
    let all_cfg = write("all.toml", "lake", &all);
    let reference_cfg = write("reference.toml", "reference-lake", &all);
    let lake = dir.path().join("lake");
    let run = |cfg: &Path| {
        revline()
            .arg("--config")
            .arg(cfg)
            .arg("run")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // Shard B starts (and an unsharded reference load into another lake, at the same time).
    let started = Instant::now();
    let mut b = run(&b_cfg);
    let reference = run(&reference_cfg);
    wait_for("shard B's lock", 30, || lock_files(&lake, "hubspot") >= 1);
    // Shard A runs start to finish while shard B holds its locks.
    let a = run(&a_cfg).wait_with_output().unwrap();
    let a_secs = started.elapsed().as_secs_f64();
    assert!(a.status.success(), "shard A: {}", text(&a));
    assert!(
        b.try_wait().unwrap().is_none(),
        "shard B is still loading when shard A is done: B's locks did not block A"
    );
    assert!(lock_held(&lake, "hubspot"), "B still holds its lock");
    for s in &shard_a {
        assert!(!lock_held(&lake, s.name), "A released `{}`", s.name);
    }
    let b = b.wait_with_output().unwrap();
    let b_secs = started.elapsed().as_secs_f64();
    let reference = reference.wait_with_output().unwrap();
    assert!(b.status.success(), "shard B: {}", text(&b));
    assert!(
        reference.status.success(),
        "reference: {}",
        text(&reference)
    );
    eprintln!("shard A done after {a_secs:.1}s, shard B after {b_secs:.1}s");

    // Every table of both shards, with exactly the rows of the unsharded load.
    let counts = |cfg: &Path| -> Vec<String> {
        let tables = query_csv(
            cfg,
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_catalog = 'datafusion' ORDER BY 1, 2",
        );
        let mut out = Vec::new();
        for line in tables.lines().skip(1) {
            let (schema, table) = line.split_once(',').unwrap();
            if !all.iter().any(|s| s.name == schema) {
                continue; // connector unions, run history, information_schema
            }
            let n = query_csv(cfg, &format!("SELECT COUNT(*) AS n FROM {schema}.{table}"));
            out.push(format!("{schema}.{table}={}", n.lines().nth(1).unwrap()));
        }
        out
    };
    let sharded = counts(&all_cfg);
    let unsharded = counts(&reference_cfg);
    assert!(sharded.len() >= 20, "{sharded:?}");
    assert_eq!(
        sharded, unsharded,
        "the sharded lake holds every table in full"
    );
    for s in &all {
        assert!(
            sharded
                .iter()
                .any(|t| t.starts_with(&format!("{}.", s.name))),
            "tables of `{}`",
            s.name
        );
    }

    // Both shards' run history: one run per shard, every stream succeeded, each source in
    // exactly one shard's run.
    let history = query_csv(
        &all_cfg,
        "SELECT pipeline, source, COUNT(*) AS streams, COUNT(DISTINCT run_id) AS runs, \
         SUM(CASE WHEN status = 'succeeded' THEN 0 ELSE 1 END) AS not_ok \
         FROM _revline.runs GROUP BY 1, 2 ORDER BY 2",
    );
    let reference_history = query_csv(
        &reference_cfg,
        "SELECT source, COUNT(*) AS streams FROM _revline.runs GROUP BY 1 ORDER BY 1",
    );
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{history}");
    for (row, want) in rows.iter().zip(reference_history.lines().skip(1)) {
        let f: Vec<&str> = row.split(',').collect();
        let (source, streams) = want.split_once(',').unwrap();
        assert_eq!(f[1], source);
        let shard = if shard_a.iter().any(|s| s.name == source) {
            "shard-a"
        } else {
            "shard-b"
        };
        assert_eq!(f[0], shard, "{row}");
        assert_eq!(
            f[2], streams,
            "every stream of `{source}` has its history row"
        );
        assert_eq!((f[3], f[4]), ("1", "0"), "{row}");
    }
    let run_ids = query_csv(
        &all_cfg,
        "SELECT COUNT(DISTINCT run_id) AS n FROM _revline.runs",
    );
    assert_eq!(run_ids, "n\n2\n");

    // No shard built the models; the models job builds them once over both shards' tables.
    assert!(
        !lake.join("models").exists(),
        "shards leave the models alone"
    );
    let out = revline()
        .arg("--config")
        .arg(&all_cfg)
        .arg("models")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        query_csv(&all_cfg, "SELECT COUNT(*) AS n FROM stg_hubspot_contacts"),
        query_csv(&all_cfg, "SELECT COUNT(*) AS n FROM hubspot.contacts"),
    );
    assert_eq!(
        query_csv(&all_cfg, "SELECT COUNT(*) AS n FROM stg_stripe_customers"),
        query_csv(&all_cfg, "SELECT COUNT(*) AS n FROM stripe.customers"),
    );
    let models = std::fs::read_dir(lake.join("models")).unwrap().count();
    assert!(models >= 30, "{models} models built");
}
