//! Helpers for tests that drive the `revline` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `revline` binary.
pub fn revline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_revline"))
}

/// Writes `revline.toml` in `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("revline.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A HubSpot source section for a sandbox.
pub fn hubspot_config(url: &str, token_line: &str, extra: &str) -> String {
    format!(
        "[lake]\npath = \"lake\"\n{extra}\n[sources.hubspot]\nconnector = \"hubspot\"\nbase_url = \"{url}\"\n{token_line}\n\
         [sources.hubspot.http]\nbackoff_initial_ms = 5\nbackoff_max_ms = 40\nmax_retries = 4\n"
    )
}

/// stdout + stderr as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
