//! # revline-google-ads
//!
//! Google Ads API connector: `campaigns`, `ad_groups`, `campaign_performance_daily`,
//! `ad_group_performance_daily` and `click_view`, read with GAQL through
//! `POST /v{N}/customers/{id}/googleAds:searchStream`. A manager account fans out over its
//! client accounts; daily reports re-read a trailing look-back window (conversions are
//! restated) and merge on their grain. Auth: OAuth2 refresh token or a service-account key.
//! See this crate's README for streams, keys, cursors, limits and quirks.

mod classify;
mod config;
mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{HttpClient, HttpClientConfig, RateLimit};
use revline_core::{Connector, ConnectorFactory, Result, SourceContext, Stream, StreamDescriptor};
use tokio::sync::OnceCell;

pub use classify::{GoogleAdsClassifier, GoogleAdsError, parse_error};
pub use config::{GoogleAdsOptions, customer_id};
pub use streams::{DEFS, Def, Kind};

/// The Google Ads API host.
pub const DEFAULT_BASE_URL: &str = "https://googleads.googleapis.com";
/// The API version used unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v26";
/// The OAuth scope.
pub const SCOPE: &str = "https://www.googleapis.com/auth/adwords";
/// Default budget: 10 requests per second (Google publishes no fixed QPS; its token buckets
/// throttle bursts with `RESOURCE_EXHAUSTED`).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(10, 1.0);

/// The factory registered under `connector = "google_ads"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct GoogleAdsFactory;

impl ConnectorFactory for GoogleAdsFactory {
    fn name(&self) -> &'static str {
        "google_ads"
    }

    fn description(&self) -> &'static str {
        "Google Ads API: campaigns, ad groups, daily campaign and ad-group performance (restated), click_view gclids"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        DEFS.iter().map(Def::descriptor).collect()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(GoogleAds::new(ctx)?))
    }
}

/// A configured Google Ads source.
pub struct GoogleAds {
    accounts: Arc<streams::Accounts>,
    streams: Vec<Arc<dyn Stream>>,
}

impl GoogleAds {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: GoogleAdsOptions = ctx.options()?;
        let auth = opts.auth(&ctx.source)?;
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut cfg = HttpClientConfig::new(
            "google_ads",
            &ctx.source,
            &base_url,
            auth,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.classifier = Arc::new(GoogleAdsClassifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let login = opts
            .login_customer_id
            .as_deref()
            .map(|l| customer_id(l, "login_customer_id"))
            .transpose()?;
        let configured = opts
            .customer_ids
            .iter()
            .map(|c| customer_id(c, "customer_ids"))
            .collect::<Result<Vec<_>>>()?;
        if login.is_none() && configured.is_empty() {
            return Err(revline_core::Error::config(format!(
                "[sources.{}] set `customer_ids`, or `login_customer_id` (a manager) to load all of its client accounts",
                ctx.source
            )));
        }
        let version = opts
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        if !(version.starts_with('v') && version[1..].parse::<u32>().is_ok()) {
            return Err(revline_core::Error::config(format!(
                "[sources.{}] `api_version` must look like `v26`, got `{version}`",
                ctx.source
            )));
        }
        let accounts = Arc::new(streams::Accounts {
            client,
            version,
            login,
            configured,
            developer_token: opts.developer_token()?,
            listed: OnceCell::new(),
        });
        let settings = opts.report_settings()?;
        let streams = DEFS
            .iter()
            .map(|d| {
                Arc::new(streams::GaqlStream::new(
                    d,
                    accounts.clone(),
                    settings.clone(),
                    opts.click_view_days.unwrap_or(90),
                    ctx.on_bad_value,
                )) as Arc<dyn Stream>
            })
            .collect();
        Ok(GoogleAds { accounts, streams })
    }
}

#[async_trait]
impl Connector for GoogleAds {
    fn name(&self) -> &'static str {
        "google_ads"
    }

    async fn check(&self) -> Result<()> {
        // One small query: the manager's client list, or the first account itself.
        self.accounts.check().await
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}
