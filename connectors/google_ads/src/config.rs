//! Google Ads source options.

use std::path::PathBuf;

use revline_core::http::auth::ServiceAccountKey;
use revline_core::http::{Auth, OAuth2Grant, RefreshTokenOptions};
use revline_core::report::{ReportSettings, parse_day};
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

use crate::SCOPE;

/// Google's OAuth2 token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Options under `[sources.<name>]` with `connector = "google_ads"`.
///
/// ```toml
/// [sources.google_ads]
/// connector = "google_ads"
/// developer_token = "${GOOGLE_ADS_DEVELOPER_TOKEN}"
/// login_customer_id = "111-222-3334"      # the manager (MCC) account
/// start_date = "2024-01-01"
/// oauth = { client_id = "…apps.googleusercontent.com", client_secret_file = "secrets/client_secret",
///           refresh_token_file = "secrets/refresh_token" }
/// # or: service_account_key_file = "secrets/google-ads-sa.json"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleAdsOptions {
    /// API version in the path, e.g. `"v26"` (the default).
    pub api_version: Option<String>,
    /// The `developer-token` header (from the manager account's API Center).
    pub developer_token: Option<Secret>,
    /// File holding the developer token.
    pub developer_token_file: Option<PathBuf>,
    /// The manager account through which client accounts are reached (`login-customer-id`),
    /// digits with or without dashes.
    pub login_customer_id: Option<String>,
    /// Client accounts to load; default: every enabled, non-manager client of
    /// `login_customer_id` (listed with `customer_client`).
    #[serde(default)]
    pub customer_ids: Vec<String>,
    /// OAuth2 user credentials (refresh token).
    pub oauth: Option<RefreshTokenOptions>,
    /// A service-account JSON key file (JWT-bearer grant), instead of `oauth`.
    pub service_account_key_file: Option<PathBuf>,
    /// The JSON text of a service-account key (e.g. `"${GOOGLE_ADS_SA_JSON}"`).
    pub service_account_key: Option<Secret>,
    /// With a service account: the user to impersonate (domain-wide delegation, JWT `sub`).
    pub impersonate: Option<String>,
    /// Token endpoint for the service account (default: the key's `token_uri`).
    pub token_url: Option<String>,
    /// Last day to load, `YYYY-MM-DD` (default: today, UTC).
    pub end_date: Option<String>,
    /// Days re-read before the last loaded date on incremental runs (default 14): conversions
    /// are restated for weeks.
    pub lookback_days: Option<u32>,
    /// Days per request window (default 30).
    pub window_days: Option<u32>,
    /// Windows (and accounts) read at once per stream (default 4).
    pub concurrency: Option<usize>,
    /// Days of `click_view` to load, ending at `end_date` (default 90, what the API keeps).
    pub click_view_days: Option<u32>,
}

/// Digits only (`111-222-3334` → `1112223334`); anything else is an error.
pub fn customer_id(raw: &str, what: &str) -> Result<String> {
    let digits: String = raw
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::config(format!(
            "`{what}` must be a Google Ads customer id (10 digits, dashes allowed), got `{raw}`"
        )));
    }
    Ok(digits)
}

impl GoogleAdsOptions {
    /// The developer token, if configured.
    pub fn developer_token(&self) -> Result<Option<Secret>> {
        Secret::from_value_or_file(
            &self.developer_token,
            &self.developer_token_file,
            "developer_token",
        )
    }

    /// The auth scheme: OAuth2 with a refresh token or a service account's JWT grant.
    pub fn auth(&self, source: &str) -> Result<Auth> {
        let sa_text = match (&self.service_account_key, &self.service_account_key_file) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set `service_account_key` or `service_account_key_file`, not both",
                ));
            }
            (Some(t), None) => Some(ServiceAccountKey::from_json(t.expose())?),
            (None, Some(p)) => Some(ServiceAccountKey::from_file(p)?),
            (None, None) => None,
        };
        match (&self.oauth, sa_text) {
            (Some(_), Some(_)) => Err(Error::config(format!(
                "[sources.{source}] set either `oauth` or a service-account key, not both"
            ))),
            (None, None) => Err(Error::config(format!(
                "[sources.{source}] missing credentials: set `oauth = {{ client_id, client_secret, refresh_token }}` \
                 or `service_account_key_file`"
            ))),
            (Some(o), None) => Ok(Auth::OAuth2(o.oauth2(GOOGLE_TOKEN_URL)?)),
            (None, Some(key)) => {
                let mut o = key.oauth2(SCOPE, self.token_url.as_deref())?;
                if let OAuth2Grant::JwtBearer(g) = &mut o.grant {
                    g.subject = self.impersonate.clone();
                }
                Ok(Auth::OAuth2(o))
            }
        }
    }

    /// How report streams choose and split their dates.
    pub fn report_settings(&self) -> Result<ReportSettings> {
        Ok(ReportSettings {
            lookback_days: self.lookback_days.unwrap_or(14),
            window_days: self.window_days.unwrap_or(30).max(1),
            concurrency: self.concurrency.unwrap_or(4).max(1),
            default_history_days: 730,
            end_date: self
                .end_date
                .as_deref()
                .map(|d| parse_day(d, "end_date"))
                .transpose()?,
        })
    }
}
