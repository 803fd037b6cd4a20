//! Freshdesk's source options.

use std::path::PathBuf;

use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "freshdesk"`.
///
/// ```toml
/// [sources.freshdesk]
/// connector = "freshdesk"
/// domain = "acme"                          # https://acme.freshdesk.com (or set base_url)
/// api_key = "${FRESHDESK_API_KEY}"         # or api_key_file
/// rate_limit = { requests = 400, per_seconds = 60 }   # your plan's limit (Pro)
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshdeskOptions {
    /// Helpdesk domain: the API is `https://{domain}.freshdesk.com/api/v2` unless `base_url`
    /// is set. A full host (`acme.freshdesk.com`) is accepted too.
    pub domain: Option<String>,
    /// API key (Profile settings → View API key), sent as the basic-auth user.
    pub api_key: Option<Secret>,
    /// File holding the API key.
    pub api_key_file: Option<PathBuf>,
    /// Records per page (`per_page`, default and maximum 100).
    pub page_size: Option<u32>,
    /// What the ticket listing embeds (`include=`): each costs one more API credit per
    /// request. Default `["description", "requester", "stats"]`; `stats` carries the first
    /// response, resolution and closing times.
    pub ticket_include: Option<Vec<String>>,
    /// Last page the ticket listing serves before it must be restarted from the last
    /// `updated_at` seen (Freshdesk: 300).
    pub max_pages: Option<u32>,
    /// Tickets whose conversations are fetched at the same time (default 4).
    pub conversation_concurrency: Option<usize>,
}

impl FreshdeskOptions {
    /// The configured API key.
    pub fn api_key(&self) -> Result<Secret> {
        Secret::from_value_or_file(&self.api_key, &self.api_key_file, "api_key")?.ok_or_else(|| {
            Error::config(
                "missing credentials: set `api_key = \"${FRESHDESK_API_KEY}\"` (or `api_key_file`)",
            )
        })
    }

    /// The `include=` list of the ticket listing.
    pub fn ticket_include(&self) -> Result<Vec<String>> {
        let list = self.ticket_include.clone().unwrap_or_else(|| {
            ["description", "requester", "stats"]
                .map(String::from)
                .to_vec()
        });
        for i in &list {
            if !matches!(
                i.as_str(),
                "description" | "requester" | "stats" | "company"
            ) {
                return Err(Error::config(format!(
                    "`ticket_include` takes description, requester, stats and company, not `{i}`"
                )));
            }
        }
        Ok(list)
    }
}
