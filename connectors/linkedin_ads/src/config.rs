//! LinkedIn source options.

use std::path::PathBuf;

use revline_core::http::{OAuth2, RefreshTokenOptions};
use revline_core::report::{ReportSettings, parse_day};
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "linkedin_ads"`.
///
/// ```toml
/// [sources.linkedin_ads]
/// connector = "linkedin_ads"
/// access_token = "${LINKEDIN_ACCESS_TOKEN}"   # or access_token_file; scope r_ads_reporting
/// ad_account_ids = ["512345678"]
/// start_date = "2024-01-01"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedinOptions {
    /// A three-legged OAuth access token with `r_ads_reporting` (and `r_ads` for the
    /// account and campaign lists). LinkedIn access tokens last about 60 days.
    pub access_token: Option<Secret>,
    /// File holding the access token (re-read on every run, so a rotated token is picked up).
    pub access_token_file: Option<PathBuf>,
    /// Instead of an access token: refresh-token credentials of a LinkedIn app (`[oauth]`),
    /// so that a scheduled pipeline outlives the 60-day access tokens.
    pub oauth: Option<RefreshTokenOptions>,
    /// Sponsored ad accounts, `512345678` or `urn:li:sponsoredAccount:512345678`.
    pub ad_account_ids: Vec<String>,
    /// `LinkedIn-Version` header, `YYYYMM` (default `202510`). LinkedIn retires versions after
    /// about a year: a retired one fails with a message naming it.
    pub api_version: Option<String>,
    /// Metrics of `campaign_analytics_daily` (API names; default: the 22 of the README).
    /// More than fit one request (`max_fields` minus `dateRange` and `pivotValues`) are
    /// asked for in several requests and joined on the grain.
    pub metrics: Option<Vec<String>>,
    /// Last day to load, `YYYY-MM-DD` (default: today, UTC).
    pub end_date: Option<String>,
    /// Days re-read up to the last loaded date on incremental runs (default 14: conversions
    /// are restated).
    pub lookback_days: Option<u32>,
    /// Days per analytics window (default 30); a window over the row cap is halved until
    /// each response is under it.
    pub window_days: Option<u32>,
    /// Windows read at once (default 2).
    pub concurrency: Option<usize>,
    /// `adAnalytics` row cap (default 15,000): a response with this many elements may have
    /// been cut, so its date range is split.
    pub row_cap: Option<u32>,
    /// Most `fields` per `adAnalytics` request (default 20).
    pub max_fields: Option<u32>,
    /// Records per page of the account, campaign group and campaign searches (default 100).
    pub page_size: Option<u32>,
}

/// LinkedIn's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://www.linkedin.com/oauth/v2/accessToken";

/// The credential of a LinkedIn source.
#[derive(Debug)]
pub enum Credential {
    /// A fixed access token.
    AccessToken(Secret),
    /// An OAuth2 client exchanging the refresh token for access tokens.
    Refresh(OAuth2),
}

/// The metrics read by default.
pub const DEFAULT_METRICS: &[&str] = &[
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "externalWebsitePostClickConversions",
    "externalWebsitePostViewConversions",
    "conversionValueInLocalCurrency",
    "oneClickLeads",
    "oneClickLeadFormOpens",
    "likes",
    "comments",
    "shares",
    "follows",
    "reactions",
    "totalEngagements",
    "otherEngagements",
    "videoViews",
    "videoCompletions",
    "viralImpressions",
    "viralClicks",
];

impl LinkedinOptions {
    /// The access token.
    pub fn token(&self) -> Result<Option<Secret>> {
        Secret::from_value_or_file(&self.access_token, &self.access_token_file, "access_token")
    }

    /// The configured credential: an access token or `[oauth]` refresh credentials, exactly
    /// one. `base_url` is the source's override, if any.
    pub fn credential(&self, base_url: Option<&str>) -> Result<Credential> {
        match (self.token()?, &self.oauth) {
            (Some(token), None) => Ok(Credential::AccessToken(token)),
            (None, Some(o)) => {
                let default_url = match base_url {
                    Some(b) => format!("{}/oauth/v2/accessToken", b.trim_end_matches('/')),
                    None => DEFAULT_TOKEN_URL.to_string(),
                };
                Ok(Credential::Refresh(o.oauth2(&default_url)?))
            }
            (Some(_), Some(_)) => Err(Error::config(
                "set either `access_token` (or `access_token_file`) or `[oauth]`, not both",
            )),
            (None, None) => Err(Error::config(
                "missing credentials: set `access_token = \"${LINKEDIN_ACCESS_TOKEN}\"`, \
                 `access_token_file`, or an `[oauth]` table with a refresh token",
            )),
        }
    }

    /// The ad account ids (digits).
    pub fn accounts(&self) -> Result<Vec<u64>> {
        if self.ad_account_ids.is_empty() {
            return Err(Error::config("`ad_account_ids` lists no account"));
        }
        self.ad_account_ids
            .iter()
            .map(|a| {
                a.trim()
                    .trim_start_matches("urn:li:sponsoredAccount:")
                    .parse::<u64>()
                    .map_err(|_| {
                        Error::config(format!(
                            "`ad_account_ids`: `{a}` is not a sponsored ad account id (digits or urn:li:sponsoredAccount:…)"
                        ))
                    })
            })
            .collect()
    }

    /// The `LinkedIn-Version`.
    pub fn version(&self) -> Result<String> {
        let v = self.api_version.clone().unwrap_or_else(|| "202510".into());
        if v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()) {
            Ok(v)
        } else {
            Err(Error::config(format!(
                "`api_version` must be a LinkedIn-Version like `202510` (YYYYMM), got `{v}`"
            )))
        }
    }

    /// The metrics, checked: distinct, non-empty.
    pub fn metric_list(&self) -> Result<Vec<String>> {
        let list: Vec<String> = match &self.metrics {
            Some(m) => m.iter().map(|s| s.trim().to_string()).collect(),
            None => DEFAULT_METRICS.iter().map(|s| s.to_string()).collect(),
        };
        if list.is_empty() {
            return Err(Error::config("`metrics` lists no metric"));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &list {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::config(format!(
                    "`metrics`: `{m}` is not an adAnalytics field name"
                )));
            }
            if matches!(m.as_str(), "dateRange" | "pivotValues" | "pivot") {
                return Err(Error::config(format!(
                    "`metrics`: `{m}` is always read; list metrics only"
                )));
            }
            if !seen.insert(m.clone()) {
                return Err(Error::config(format!("`metrics` lists `{m}` twice")));
            }
        }
        Ok(list)
    }

    /// How the analytics choose and split their dates.
    pub fn report_settings(&self) -> Result<ReportSettings> {
        Ok(ReportSettings {
            lookback_days: self.lookback_days.unwrap_or(14),
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
