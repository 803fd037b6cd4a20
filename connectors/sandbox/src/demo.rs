//! What `revline demo` and `revline bench` need from the sandbox: a `[sources.*]` section for
//! every emulated vendor pointing at a running sandbox (credentials written to files), and a
//! benchmark profile per vendor. Each vendor adds one entry to [`vendor_sources`] and
//! [`bench_profiles`].

use std::io;
use std::path::Path;

use crate::server::{Sandbox, Vendor};
use crate::world::WorldConfig;

/// One source section: the source name and its TOML body (without the `[sources.NAME]` header).
#[derive(Debug, Clone)]
pub struct DemoSource {
    /// Source name (also the table schema).
    pub name: &'static str,
    /// Connector name.
    pub connector: &'static str,
    /// `key = value` lines for the section.
    pub body: String,
}

/// The source sections for every vendor the sandbox emulates. Secrets are written to files in
/// `dir` and referenced with `*_file` keys, as a real deployment would.
pub fn vendor_sources(sandbox: &Sandbox, dir: &Path) -> io::Result<Vec<DemoSource>> {
    let mut out = Vec::new();
    for &vendor in Vendor::ALL {
        match vendor {
            Vendor::Hubspot => {
                std::fs::write(
                    dir.join("hubspot.token"),
                    format!("{}\n", sandbox.hubspot_token()),
                )?;
                out.push(DemoSource {
                    name: "hubspot",
                    connector: "hubspot",
                    body: format!(
                        "base_url = \"{}\"\ntoken_file = \"hubspot.token\"\n",
                        sandbox.hubspot_url()
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Renders source sections as TOML.
pub fn sources_toml(sources: &[DemoSource]) -> String {
    sources
        .iter()
        .map(|s| {
            format!(
                "[sources.{}]\nconnector = \"{}\"\n{}\n",
                s.name, s.connector, s.body
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How to benchmark one connector against its emulator: the stream to load, and the world
/// that gives it a requested number of records.
#[derive(Debug, Clone, Copy)]
pub struct BenchProfile {
    /// Connector (and demo source) name.
    pub connector: &'static str,
    /// Stream to load.
    pub stream: &'static str,
    /// What one record looks like, for the report.
    pub shape: &'static str,
    /// A world in which `stream` has exactly `records` records.
    pub world: fn(u64) -> WorldConfig,
}

/// Every benchmark profile, one per vendor.
pub fn bench_profiles() -> Vec<BenchProfile> {
    vec![BenchProfile {
        connector: "hubspot",
        stream: "contacts",
        shape: "HubSpot contacts: 100 per page, 14 properties, ~600 bytes each",
        world: |n| WorldConfig {
            people: n as usize,
            ..WorldConfig::default()
        },
    }]
}
