//! The credential never appears in logs (any level, any format), errors, state or lake files.

mod common;

use std::path::Path;

use common::{hubspot_config, revline, text, write_config};
use revline_sandbox::{HubspotConfig, Sandbox, SandboxConfig, WorldConfig};

const CANARY: &str = "pat-na1-CANARY-7f3e9a21-secret";

fn scan(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            hits.extend(scan(&p, needle));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn the_token_never_leaks() {
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 150,
            ..WorldConfig::default()
        },
        hubspot: HubspotConfig {
            token: CANARY.to_string(),
            ..HubspotConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &hubspot_config(&sb.hubspot_url(), "token = \"${HS_TOKEN}\"", ""),
    );

    // A successful run at the most verbose level, in both log formats.
    for format in ["human", "json"] {
        let out = revline()
            .arg("--config")
            .arg(&cfg)
            .args(["-vv", "--log-format", format, "run"])
            .env("HS_TOKEN", CANARY)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let t = text(&out);
        assert!(t.len() > 1000, "trace logging produced output");
        assert!(!t.contains(CANARY), "token in {format} logs");
        assert!(!t.contains("CANARY"), "part of the token in {format} logs");
    }
    // Errors: the same token rejected by a sandbox that expects another.
    let other = Sandbox::start(SandboxConfig::default()).unwrap();
    let cfg_bad = write_config(
        dir.path(),
        &hubspot_config(&other.hubspot_url(), "token = \"${HS_TOKEN}\"", ""),
    );
    for cmd in ["run", "check"] {
        let out = revline()
            .arg("--config")
            .arg(&cfg_bad)
            .args(["-vv", cmd])
            .env("HS_TOKEN", CANARY)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let t = text(&out);
        assert!(t.contains("authentication failed (HTTP 401)"), "{t}");
        assert!(!t.contains("CANARY"), "token in `{cmd}` error output");
    }
    // State and data files.
    let lake = dir.path().join("lake");
    assert!(lake.join("hubspot/contacts/_delta_log").is_dir());
    assert_eq!(scan(&lake, CANARY.as_bytes()), Vec::<String>::new());
    assert_eq!(scan(&lake, b"CANARY"), Vec::<String>::new());
}
