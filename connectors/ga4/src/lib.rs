//! # revline-ga4
//!
//! Google Analytics 4 Data API connector: `traffic_daily` (sessions by day and session
//! source / medium / campaign), `landing_pages_daily`, and custom reports declared in config,
//! through `POST /v1beta/properties/{id}:runReport`. Reports are restated while data settles:
//! incremental runs re-read a trailing look-back window (3 days by default) and merge on the
//! report grain. Quota is read from `propertyQuota` in each response; the run stops (commits,
//! resume later) before the property's budget runs out. Auth: service-account key or OAuth2
//! refresh token. See this crate's README.

mod classify;
mod config;
mod streams;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{HttpClient, HttpClientConfig, RateLimit};
use revline_core::{Connector, ConnectorFactory, Result, SourceContext, Stream, StreamDescriptor};
use tokio::sync::OnceCell;

pub use classify::{Ga4Classifier, Ga4Error, parse_error};
pub use config::{CustomReport, Ga4Options};
pub use streams::{QuotaGuard, ReportDef, metric_type};

/// The Data API host.
pub const DEFAULT_BASE_URL: &str = "https://analyticsdata.googleapis.com";
/// The OAuth scope.
pub const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";
/// Default budget: 5 requests per second (the property's token budgets are the real limit).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(5, 1.0);

/// The factory registered under `connector = "ga4"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ga4Factory;

impl ConnectorFactory for Ga4Factory {
    fn name(&self) -> &'static str {
        "ga4"
    }

    fn description(&self) -> &'static str {
        "Google Analytics 4 Data API: daily traffic by source/medium/campaign, landing pages, custom reports (restated)"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        vec![
            ReportDef::traffic().descriptor(),
            ReportDef::landing_pages().descriptor(),
        ]
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Ga4::new(ctx)?))
    }
}

/// A configured GA4 source.
pub struct Ga4 {
    shared: Arc<streams::Shared>,
    streams: Vec<Arc<dyn Stream>>,
}

impl Ga4 {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: Ga4Options = ctx.options()?;
        let property = opts.property()?;
        let auth = opts.auth(&ctx.source)?;
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut cfg = HttpClientConfig::new(
            "ga4",
            &ctx.source,
            &base_url,
            auth,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.classifier = Arc::new(Ga4Classifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let page_size = opts.page_size.unwrap_or(10_000);
        if !(1..=250_000).contains(&page_size) {
            return Err(revline_core::Error::config(format!(
                "[sources.{}] `page_size` must be between 1 and 250000, got {page_size}",
                ctx.source
            )));
        }
        let shared = Arc::new(streams::Shared {
            client,
            property,
            page_size,
            quota: QuotaGuard::new(
                ctx.http.quota_reserve_percent,
                opts.tokens_per_day.unwrap_or(200_000),
                opts.tokens_per_hour.unwrap_or(40_000),
            ),
            metadata: OnceCell::new(),
        });
        let settings = opts.report_settings()?;
        let mut defs = vec![
            (ReportDef::traffic(), false),
            (ReportDef::landing_pages(), false),
        ];
        let mut names: HashSet<String> = defs.iter().map(|(d, _)| d.name.clone()).collect();
        for c in &opts.custom_reports {
            let def = ReportDef::custom(&c.name, &c.dimensions, &c.metrics).map_err(|e| {
                revline_core::Error::config(format!("[sources.{}] {}", ctx.source, e.message()))
            })?;
            if !names.insert(def.name.clone()) {
                return Err(revline_core::Error::config(format!(
                    "[sources.{}] custom report `{}` is declared twice",
                    ctx.source, def.name
                )));
            }
            defs.push((def, true));
        }
        let streams = defs
            .into_iter()
            .map(|(def, custom)| {
                Arc::new(streams::ReportStream::new(
                    def,
                    custom,
                    shared.clone(),
                    settings.clone(),
                    ctx.on_bad_value,
                )) as Arc<dyn Stream>
            })
            .collect();
        Ok(Ga4 { shared, streams })
    }
}

#[async_trait]
impl Connector for Ga4 {
    fn name(&self) -> &'static str {
        "ga4"
    }

    async fn check(&self) -> Result<()> {
        // The property's metadata: proves the credentials and the access to the property.
        self.shared.metric_types().await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}
