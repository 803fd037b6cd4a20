//! # revline-linkedin-ads
//!
//! LinkedIn Marketing API connector: `ad_accounts`, `campaign_groups`, `campaigns` and
//! `campaign_analytics_daily` (`adAnalytics` with `pivot=CAMPAIGN`, `timeGranularity=DAILY`).
//! Every request carries `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`; queries
//! use Rest.li 2.0 syntax. `adAnalytics` has no paging and cuts responses silently at 15,000
//! rows, so a date range whose response reaches the cap is halved until each is under it; at
//! most 20 fields go in one request, so more metrics are read in several requests and joined
//! on the grain. Conversions are restated: incremental runs re-read 14 days and merge on
//! (date, campaign). See this crate's README.

mod classify;
mod config;
mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{Auth, HttpClient, HttpClientConfig, RateLimit};
use revline_core::{Connector, ConnectorFactory, Result, SourceContext, Stream, StreamDescriptor};

pub use classify::{LinkedinClassifier, LinkedinError, is_daily_quota, parse_error};
pub use config::{Credential, DEFAULT_METRICS, DEFAULT_TOKEN_URL, LinkedinOptions};
pub use streams::{Object, analytics_descriptor, chunks, metric_type, restli_range, urn_id};

/// The API host.
pub const DEFAULT_BASE_URL: &str = "https://api.linkedin.com";
/// Default budget: 10 requests per second. LinkedIn publishes no per-second limit and sends
/// no rate-limit headers; its quotas are daily (see the README).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(10, 1.0);

/// The factory registered under `connector = "linkedin_ads"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkedinFactory;

impl ConnectorFactory for LinkedinFactory {
    fn name(&self) -> &'static str {
        "linkedin_ads"
    }

    fn description(&self) -> &'static str {
        "LinkedIn Marketing API: ad accounts, campaign groups, campaigns, daily campaign adAnalytics (restated)"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        let mut out: Vec<StreamDescriptor> = Object::ALL.iter().map(|o| o.descriptor()).collect();
        let metrics: Vec<String> = DEFAULT_METRICS.iter().map(|s| s.to_string()).collect();
        out.push(analytics_descriptor(&metrics));
        out
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(LinkedinAds::new(ctx)?))
    }
}

/// A configured LinkedIn source.
pub struct LinkedinAds {
    shared: Arc<streams::Shared>,
    streams: Vec<Arc<dyn Stream>>,
}

impl LinkedinAds {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: LinkedinOptions = ctx.options()?;
        let err = |e: revline_core::Error| {
            revline_core::Error::config(format!("[sources.{}] {}", ctx.source, e.message()))
        };
        let credential = opts.credential(ctx.base_url.as_deref()).map_err(err)?;
        let accounts = opts.accounts().map_err(err)?;
        let version = opts.version().map_err(err)?;
        let metrics = opts.metric_list().map_err(err)?;
        let max_fields = opts.max_fields.unwrap_or(20);
        if max_fields < 3 {
            return Err(err(revline_core::Error::config(
                "`max_fields` must be at least 3 (dateRange, pivotValues and one metric)",
            )));
        }
        let row_cap = opts.row_cap.unwrap_or(15_000).max(1);
        let page_size = opts.page_size.unwrap_or(100);
        if !(1..=1000).contains(&page_size) {
            return Err(err(revline_core::Error::config(
                "`page_size` must be between 1 and 1000",
            )));
        }
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut cfg = HttpClientConfig::new(
            "linkedin_ads",
            &ctx.source,
            &base_url,
            match credential {
                Credential::AccessToken(token) => Auth::Bearer(token),
                Credential::Refresh(oauth) => Auth::OAuth2(oauth),
            },
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.classifier = Arc::new(LinkedinClassifier {
            version: version.clone(),
        });
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let shared = Arc::new(streams::Shared {
            client,
            version,
            accounts,
            metrics,
            row_cap,
            max_fields,
            page_size,
            settings: opts.report_settings().map_err(err)?,
            policy: ctx.on_bad_value,
        });
        let mut streams: Vec<Arc<dyn Stream>> = Object::ALL
            .iter()
            .map(|o| Arc::new(streams::ObjectStream::new(*o, shared.clone())) as Arc<dyn Stream>)
            .collect();
        streams.push(Arc::new(streams::AnalyticsStream::new(shared.clone())));
        Ok(LinkedinAds { shared, streams })
    }
}

#[async_trait]
impl Connector for LinkedinAds {
    fn name(&self) -> &'static str {
        "linkedin_ads"
    }

    async fn check(&self) -> Result<()> {
        let req = self.shared.get("adAccounts?q=search&pageSize=1");
        self.shared.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}
