//! Meta source options.

use std::path::PathBuf;

use revline_core::report::{ReportSettings, parse_day};
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "meta_ads"`.
///
/// ```toml
/// [sources.meta_ads]
/// connector = "meta_ads"
/// access_token = "${META_SYSTEM_USER_TOKEN}"   # or access_token_file
/// ad_account_ids = ["act_1020304050"]
/// start_date = "2024-01-01"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaOptions {
    /// A system-user (or long-lived user) access token with `ads_read`.
    pub access_token: Option<Secret>,
    /// File holding the access token.
    pub access_token_file: Option<PathBuf>,
    /// Ad accounts to load, `act_123…` or `123…`.
    pub ad_account_ids: Vec<String>,
    /// Graph API version, e.g. `"v24.0"` (the default).
    pub api_version: Option<String>,
    /// Last day to load, `YYYY-MM-DD` (default: today, UTC).
    pub end_date: Option<String>,
    /// Days re-read up to the last loaded date on incremental runs (default 28, Meta's
    /// attribution window).
    pub lookback_days: Option<u32>,
    /// Days per insights window (default 30).
    pub window_days: Option<u32>,
    /// Windows (per account) read at once per stream (default 2).
    pub concurrency: Option<usize>,
    /// Windows of at least this many days run as async report jobs (default 14; 0 runs every
    /// window as a job, a large number none).
    pub async_min_days: Option<u32>,
    /// First wait between polls of an async job, milliseconds (default 2000; doubles up to 30 s).
    pub async_poll_ms: Option<u64>,
    /// Give up on an async job after this many seconds (default 3600).
    pub async_timeout_secs: Option<u64>,
    /// Records per page (`limit`, default 500).
    pub page_size: Option<u32>,
    /// Attribution windows of `actions` (default `["7d_click", "1d_view"]`).
    pub action_attribution_windows: Option<Vec<String>>,
    /// Slow down once a usage header reports this share of a budget used (default 75).
    pub usage_pause_percent: Option<f64>,
    /// How long to hold back, seconds, once usage is over `usage_pause_percent` (default 60).
    pub usage_pause_secs: Option<f64>,
}

impl MetaOptions {
    /// The access token.
    pub fn token(&self) -> Result<Secret> {
        Secret::from_value_or_file(&self.access_token, &self.access_token_file, "access_token")?
            .ok_or_else(|| {
                Error::config(
                "missing credentials: set `access_token = \"${META_ACCESS_TOKEN}\"` or `access_token_file`",
            )
            })
    }

    /// The ad account ids, digits only.
    pub fn accounts(&self) -> Result<Vec<String>> {
        if self.ad_account_ids.is_empty() {
            return Err(Error::config("`ad_account_ids` lists no account"));
        }
        self.ad_account_ids
            .iter()
            .map(|a| {
                let id = a.trim().trim_start_matches("act_");
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    Err(Error::config(format!(
                        "`ad_account_ids`: `{a}` is not an ad account id (act_ followed by digits)"
                    )))
                } else {
                    Ok(id.to_string())
                }
            })
            .collect()
    }

    /// How the insights choose and split their dates.
    pub fn report_settings(&self) -> Result<ReportSettings> {
        Ok(ReportSettings {
            lookback_days: self.lookback_days.unwrap_or(28),
            window_days: self.window_days.unwrap_or(30).max(1),
            concurrency: self.concurrency.unwrap_or(2).max(1),
            // Insights are kept for about 37 months.
            default_history_days: 730,
            end_date: self
                .end_date
                .as_deref()
                .map(|d| parse_day(d, "end_date"))
                .transpose()?,
        })
    }
}
