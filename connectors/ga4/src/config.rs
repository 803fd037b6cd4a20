//! GA4 source options.

use std::path::PathBuf;

use revline_core::http::auth::ServiceAccountKey;
use revline_core::http::{Auth, RefreshTokenOptions};
use revline_core::report::{ReportSettings, parse_day};
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

use crate::SCOPE;

/// Google's OAuth2 token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Options under `[sources.<name>]` with `connector = "ga4"`.
///
/// ```toml
/// [sources.ga4]
/// connector = "ga4"
/// property_id = "345678901"
/// service_account_key_file = "secrets/ga4-sa.json"
/// start_date = "2024-01-01"
///
/// [[sources.ga4.custom_reports]]
/// name = "devices_daily"
/// dimensions = ["date", "deviceCategory"]
/// metrics = ["sessions", "engagementRate"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ga4Options {
    /// The GA4 property (numeric id, as in `properties/345678901`).
    pub property_id: String,
    /// OAuth2 user credentials (refresh token).
    pub oauth: Option<RefreshTokenOptions>,
    /// A service-account JSON key file (the account needs Viewer access to the property).
    pub service_account_key_file: Option<PathBuf>,
    /// The JSON text of a service-account key.
    pub service_account_key: Option<Secret>,
    /// Token endpoint for the service account (default: the key's `token_uri`).
    pub token_url: Option<String>,
    /// Last day to load, `YYYY-MM-DD` (default: today, UTC).
    pub end_date: Option<String>,
    /// Days re-read up to the last loaded date on incremental runs (default 3: GA4 data
    /// settles within 24–48 hours).
    pub lookback_days: Option<u32>,
    /// Days per request window (default 30).
    pub window_days: Option<u32>,
    /// Windows read at once per stream (default 2; a property allows 10 concurrent requests).
    pub concurrency: Option<usize>,
    /// Rows per request (`limit`; default 10,000, at most 250,000).
    pub page_size: Option<u64>,
    /// Daily token budget of the property (default 200,000; Analytics 360: 2,000,000), for
    /// the reserve check against `propertyQuota`.
    pub tokens_per_day: Option<u64>,
    /// Hourly token budget of the property (default 40,000; Analytics 360: 400,000).
    pub tokens_per_hour: Option<u64>,
    /// Extra reports, each a stream of its own.
    #[serde(default)]
    pub custom_reports: Vec<CustomReport>,
}

/// A report declared in config: its dimensions and metrics become typed columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomReport {
    /// Stream (and table) name: lowercase letters, digits and `_`.
    pub name: String,
    /// Dimension API names (at most 9, `date` included; it is added first if missing).
    pub dimensions: Vec<String>,
    /// Metric API names (at most 10).
    pub metrics: Vec<String>,
}

impl Ga4Options {
    /// The property id, digits only.
    pub fn property(&self) -> Result<String> {
        let p = self.property_id.trim().trim_start_matches("properties/");
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::config(format!(
                "`property_id` must be the numeric GA4 property id, got `{}`",
                self.property_id
            )));
        }
        Ok(p.to_string())
    }

    /// The auth scheme: OAuth2 with a refresh token or a service account's JWT grant.
    pub fn auth(&self, source: &str) -> Result<Auth> {
        let key = match (&self.service_account_key, &self.service_account_key_file) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set `service_account_key` or `service_account_key_file`, not both",
                ));
            }
            (Some(t), None) => Some(ServiceAccountKey::from_json(t.expose())?),
            (None, Some(p)) => Some(ServiceAccountKey::from_file(p)?),
            (None, None) => None,
        };
        match (&self.oauth, key) {
            (Some(_), Some(_)) => Err(Error::config(format!(
                "[sources.{source}] set either `oauth` or a service-account key, not both"
            ))),
            (None, None) => Err(Error::config(format!(
                "[sources.{source}] missing credentials: set `service_account_key_file` or \
                 `oauth = {{ client_id, client_secret, refresh_token }}`"
            ))),
            (Some(o), None) => Ok(Auth::OAuth2(o.oauth2(GOOGLE_TOKEN_URL)?)),
            (None, Some(key)) => Ok(Auth::OAuth2(key.oauth2(SCOPE, self.token_url.as_deref())?)),
        }
    }

    /// How the reports choose and split their dates.
    pub fn report_settings(&self) -> Result<ReportSettings> {
        Ok(ReportSettings {
            lookback_days: self.lookback_days.unwrap_or(3),
            window_days: self.window_days.unwrap_or(30).max(1),
            concurrency: self.concurrency.unwrap_or(2).max(1),
            default_history_days: 730,
            end_date: self
                .end_date
                .as_deref()
                .map(|d| parse_day(d, "end_date"))
                .transpose()?,
        })
    }
}
