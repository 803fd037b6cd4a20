//! `revline shell` (piped input) and `revline query --output`.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{hubspot_config, revline, text, write_config};
use revline_sandbox::{Sandbox, SandboxConfig, WorldConfig};

fn loaded_lake() -> (Sandbox, tempfile::TempDir, std::path::PathBuf) {
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 150,
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
    (sb, dir, cfg)
}

#[test]
fn shell_runs_multiline_statements_and_describes_tables() {
    let (_sb, _dir, cfg) = loaded_lake();
    let mut child = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"\\d\nSELECT COUNT(*) AS n,\n       COUNT(DISTINCT id) AS ids\n  FROM hubspot.contacts;\n\\d hubspot.deals\n\\d nope\nSELECT * FROM nowhere;\n\\timing\nSELECT 1 AS one;\n\\q\nSELECT 2;\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8(out.stdout).unwrap();
    let listed = |schema: &str, table: &str| {
        s.lines()
            .any(|l| l.starts_with(&format!("| {schema} ")) && l.contains(&format!("| {table} ")))
    };
    assert!(listed("hubspot", "contacts"), "tables listed:\n{s}");
    assert!(listed("_revline", "runs"), "run history listed:\n{s}");
    assert!(
        listed("stripe", "invoices"),
        "connectors not configured are empty tables:\n{s}"
    );
    assert!(
        s.contains("| 150 | 150 |"),
        "multi-line statement ran:\n{s}"
    );
    assert!(s.contains("(1 row) in "), "timing shown:\n{s}");
    assert!(
        s.contains("| amount ") && s.contains("| Float64 "),
        "columns described:\n{s}"
    );
    assert!(s.contains("no table named `nope`"), "{s}");
    assert!(
        s.contains("error: ") && s.contains("nowhere"),
        "errors are printed and the shell goes on:\n{s}"
    );
    assert!(s.contains("timing is off"));
    assert!(
        s.contains("| one |\n+-----+\n| 1   |\n+-----+\n(1 row)\n"),
        "timing off:\n{s}"
    );
    assert!(!s.contains("| 2 "), "\\q stops reading");
}

#[test]
fn query_output_files_by_extension() {
    let (_sb, dir, cfg) = loaded_lake();
    let sql = "SELECT id, email, amount FROM (SELECT id, email, CAST(NULL AS DOUBLE) AS amount FROM hubspot.contacts) ORDER BY id LIMIT 3";
    for ext in ["csv", "json", "parquet"] {
        let path = dir.path().join(format!("out.{ext}"));
        let out = revline()
            .arg("--config")
            .arg(&cfg)
            .args(["query", sql, "--output"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("wrote 3 rows to"));
        let bytes = std::fs::read(&path).unwrap();
        match ext {
            "csv" => {
                let t = String::from_utf8(bytes).unwrap();
                assert_eq!(t.lines().count(), 4, "{t}");
                assert!(t.starts_with("id,email,amount\n"));
            }
            "json" => {
                let t = String::from_utf8(bytes).unwrap();
                assert_eq!(t.lines().count(), 3);
                let first: serde_json::Value =
                    serde_json::from_str(t.lines().next().unwrap()).unwrap();
                assert!(first["email"].as_str().unwrap().contains('@'));
            }
            _ => assert_eq!(&bytes[..4], b"PAR1"),
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary files left");
    }
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["query", "SELECT 1", "--output"])
        .arg(dir.path().join("out.xlsx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("the extension must be .csv, .json or .parquet"));
}
