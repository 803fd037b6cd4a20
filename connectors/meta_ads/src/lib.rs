//! # revline-meta-ads
//!
//! Meta Marketing API connector: `campaigns`, `adsets`, `ads` (with the utm tags of their
//! creatives), and daily insights at `level=campaign` and `level=ad` (`time_increment=1`;
//! spend, impressions, clicks, `actions` / `action_values` kept as JSON plus derived `leads`,
//! `purchases` and `purchase_value`). Insights are restated within the attribution window:
//! incremental runs re-read 28 days and merge on the grain. Long windows run as async report
//! jobs. Throttling arrives as HTTP 400 with codes in the body; the usage headers slow
//! requests down before a limit is reached. See this crate's README.

mod classify;
mod config;
mod streams;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use revline_core::http::{ApiRequest, Auth, HttpClient, HttpClientConfig, RateLimit};
use revline_core::{Connector, ConnectorFactory, Result, SourceContext, Stream, StreamDescriptor};

pub use classify::{MetaClassifier, MetaError, is_throttle, parse_error, usage};
pub use config::MetaOptions;
pub use streams::{Level, Object, action_total};

/// The Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version used unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// Default budget: 5 requests per second; the business-use-case budgets (per hour, reported
/// in the usage headers) are the real limit.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(5, 1.0);

/// The factory registered under `connector = "meta_ads"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetaFactory;

impl ConnectorFactory for MetaFactory {
    fn name(&self) -> &'static str {
        "meta_ads"
    }

    fn description(&self) -> &'static str {
        "Meta Marketing API: campaigns, ad sets, ads with utm tags, daily campaign and ad insights (restated)"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        let mut out: Vec<StreamDescriptor> = Object::ALL.iter().map(|o| o.descriptor()).collect();
        out.extend(Level::ALL.iter().map(|l| l.descriptor()));
        out
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(MetaAds::new(ctx)?))
    }
}

/// A configured Meta source.
pub struct MetaAds {
    shared: Arc<streams::Shared>,
    streams: Vec<Arc<dyn Stream>>,
}

impl MetaAds {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: MetaOptions = ctx.options()?;
        let token = opts.token().map_err(|e| {
            revline_core::Error::config(format!("[sources.{}] {}", ctx.source, e.message()))
        })?;
        let accounts = opts.accounts()?;
        let version = opts
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        let valid = version
            .strip_prefix('v')
            .and_then(|v| v.split_once('.'))
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
        if !valid {
            return Err(revline_core::Error::config(format!(
                "[sources.{}] `api_version` must look like `v24.0`, got `{version}`",
                ctx.source
            )));
        }
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut cfg = HttpClientConfig::new(
            "meta_ads",
            &ctx.source,
            &base_url,
            Auth::Bearer(token),
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.classifier = Arc::new(MetaClassifier {
            pause_percent: opts.usage_pause_percent.unwrap_or(75.0),
            pause: Duration::from_secs_f64(opts.usage_pause_secs.unwrap_or(60.0).max(0.0)),
        });
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let page_size = opts.page_size.unwrap_or(500);
        if !(1..=5_000).contains(&page_size) {
            return Err(revline_core::Error::config(format!(
                "[sources.{}] `page_size` must be between 1 and 5000",
                ctx.source
            )));
        }
        let shared = Arc::new(streams::Shared {
            client,
            version,
            accounts,
            page_size,
            async_min_days: opts.async_min_days.unwrap_or(14),
            async_poll: Duration::from_millis(opts.async_poll_ms.unwrap_or(2_000).max(1)),
            async_timeout: Duration::from_secs(opts.async_timeout_secs.unwrap_or(3_600)),
            attribution: opts
                .action_attribution_windows
                .clone()
                .unwrap_or_else(|| vec!["7d_click".into(), "1d_view".into()]),
            settings: opts.report_settings()?,
            policy: ctx.on_bad_value,
        });
        let mut streams: Vec<Arc<dyn Stream>> = Object::ALL
            .iter()
            .map(|o| Arc::new(streams::ObjectStream::new(*o, shared.clone())) as Arc<dyn Stream>)
            .collect();
        streams.extend(Level::ALL.iter().map(|l| {
            Arc::new(streams::InsightsStream::new(*l, shared.clone())) as Arc<dyn Stream>
        }));
        Ok(MetaAds { shared, streams })
    }
}

#[async_trait]
impl Connector for MetaAds {
    fn name(&self) -> &'static str {
        "meta_ads"
    }

    async fn check(&self) -> Result<()> {
        // The first account's campaigns, one record.
        let account = &self.shared.accounts[0];
        let req = ApiRequest::get(
            self.shared
                .client
                .url(&format!("/{}/act_{account}/campaigns", self.shared.version)),
        )
        .with_query("fields", "id")
        .with_query("limit", "1");
        self.shared.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}
