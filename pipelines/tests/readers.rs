//! Open formats, proven: the lake's Delta tables read with the `deltalake` Python package,
//! Polars, pyarrow and pandas, and `revline export` files read with pyarrow and DuckDB, agree
//! with `revline query` on counts and sums. Python comes from `.ci/python-env`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{hubspot_config, revline, text, write_config};
use revline_sandbox::{Sandbox, SandboxConfig, WorldConfig};

fn python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join(".ci/python-env"))
        .output()
        .expect("run .ci/python-env");
    assert!(
        out.status.success(),
        ".ci/python-env failed (it installs deltalake, polars, pyarrow, pandas, duckdb from PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn scalar(cfg: &Path, sql: &str) -> String {
    let out = revline()
        .arg("--config")
        .arg(cfg)
        .args(["query", sql, "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn third_party_readers_agree_with_revline_query() {
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 1_200,
            deals: 300,
            ..WorldConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
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
    assert!(out.status.success(), "{}", text(&out));
    // Change some rows so the tables have several versions (merges, removed files).
    sb.world().write().touch_people(40);
    sb.world().write().touch_deals(30);
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let export = dir.path().join("export");
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["export", "--format", "parquet", "--out"])
        .arg(&export)
        .arg("hubspot.deals")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hubspot.deals.parquet: 300 rows"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers.py");
    let out = Command::new(python())
        .arg(script)
        .arg(dir.path().join("lake"))
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "readers.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let contacts: u64 = scalar(&cfg, "SELECT COUNT(*) FROM hubspot.contacts")
        .parse()
        .unwrap();
    let deals: u64 = scalar(&cfg, "SELECT COUNT(*) FROM hubspot.deals")
        .parse()
        .unwrap();
    let amount: f64 = scalar(&cfg, "SELECT SUM(amount) FROM hubspot.deals")
        .parse()
        .unwrap();
    assert_eq!((contacts, deals), (1_200, 300));
    for (table, n) in [("contacts", contacts), ("deals", deals)] {
        let t = &seen[table];
        for reader in [
            "deltalake_rows",
            "polars_rows",
            "pandas_rows",
            "distinct_ids",
        ] {
            assert_eq!(t[reader].as_u64(), Some(n), "{table} {reader}: {t}");
        }
        assert!(t["version"].as_u64().unwrap() >= 2, "{t}");
        assert_eq!(
            t["state_in_history"], true,
            "the Python reader sees Revline's commit metadata: {t}"
        );
    }
    for reader in ["pyarrow_amount", "polars_amount", "pandas_amount"] {
        let v = seen["deals"][reader].as_f64().unwrap();
        assert!((v - amount).abs() < 1e-6, "{reader}: {v} vs {amount}");
    }
    assert_eq!(seen["export"]["pyarrow_rows"].as_u64(), Some(300));
    assert_eq!(seen["export"]["duckdb_rows"].as_u64(), Some(300));
    assert!((seen["export"]["duckdb_amount"].as_f64().unwrap() - amount).abs() < 1e-6);
}
