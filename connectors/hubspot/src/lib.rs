//! # revline-hubspot
//!
//! HubSpot CRM v3 connector: `contacts`, `companies`, `deals` (typed from the portal's
//! property metadata, initial sync by the list endpoint, incremental by the search endpoint
//! with the 10,000-result restart), `deal_pipelines` (one row per stage) and `owners`.
//! See this crate's README for streams, keys, cursors, limits and quirks.

mod config;
mod objects;
mod properties;
mod simple;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HttpClient, HttpClientConfig, QuotaHeaders, RateLimit, RateLimitHeaders,
};
use revline_core::{Connector, ConnectorFactory, Result, SourceContext, Stream, StreamDescriptor};

pub use config::HubspotOptions;
pub use objects::ObjectType;

/// HubSpot's public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Default general budget: 100 requests per 10 seconds (Free/Starter burst).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(100, 10.0);
/// Default search budget: 4 requests per second per token.
pub const DEFAULT_SEARCH_RATE_LIMIT: RateLimit = RateLimit::new(4, 1.0);
/// Name of the search quota scope.
pub const SEARCH_SCOPE: &str = "search";

/// The factory registered under `connector = "hubspot"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HubspotFactory;

impl ConnectorFactory for HubspotFactory {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn description(&self) -> &'static str {
        "HubSpot CRM v3: contacts, companies, deals, deal pipelines and owners"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        let mut out: Vec<StreamDescriptor> = ObjectType::ALL
            .iter()
            .map(|o| objects::descriptor(*o, None))
            .collect();
        out.push(simple::pipelines_descriptor());
        out.push(simple::owners_descriptor());
        out
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Hubspot::new(ctx)?))
    }
}

/// A configured HubSpot source.
pub struct Hubspot {
    client: HttpClient,
    streams: Vec<Arc<dyn Stream>>,
}

impl Hubspot {
    /// Builds the connector from its source context (options, base URL, limits).
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: HubspotOptions = ctx.options()?;
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let auth = match (opts.token()?, &opts.oauth) {
            (Some(token), None) => Auth::Bearer(token),
            (None, Some(o)) => Auth::OAuth2(o.oauth2(&format!("{base_url}/oauth/v1/token"))?),
            (Some(_), Some(_)) => {
                return Err(revline_core::Error::config(format!(
                    "[sources.{}] set either `token` (or `token_file`) or `[oauth]`, not both",
                    ctx.source
                )));
            }
            (None, None) => {
                return Err(revline_core::Error::config(format!(
                    "[sources.{}] missing credentials: set `token = \"${{HUBSPOT_TOKEN}}\"`, `token_file`, or an `[oauth]` table",
                    ctx.source
                )));
            }
        };
        let mut cfg = HttpClientConfig::new(
            "hubspot",
            &ctx.source,
            &base_url,
            auth,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.extra_scopes = vec![(
            SEARCH_SCOPE.to_string(),
            opts.search_rate_limit.unwrap_or(DEFAULT_SEARCH_RATE_LIMIT),
        )];
        cfg.rate_limit_headers = Some(RateLimitHeaders {
            remaining: "x-hubspot-ratelimit-remaining",
            reset: None,
            window_millis: Some("x-hubspot-ratelimit-interval-milliseconds"),
            window: std::time::Duration::from_secs(10),
            low_water: 2,
        });
        // Private-app tokens report the portal's daily allocation; the run stops at the reserve.
        cfg.quota_headers = Some(QuotaHeaders {
            limit: "x-hubspot-ratelimit-daily",
            remaining: "x-hubspot-ratelimit-daily-remaining",
        });
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let opts = Arc::new(opts);
        let mut streams: Vec<Arc<dyn Stream>> = ObjectType::ALL
            .iter()
            .map(|o| {
                Arc::new(objects::ObjectStream::new(
                    *o,
                    client.clone(),
                    opts.clone(),
                    ctx.on_bad_value,
                )) as Arc<dyn Stream>
            })
            .collect();
        streams.push(Arc::new(simple::pipelines_stream(
            client.clone(),
            ctx.on_bad_value,
        )));
        streams.push(Arc::new(simple::owners_stream(
            client.clone(),
            ctx.on_bad_value,
        )));
        Ok(Hubspot { client, streams })
    }
}

#[async_trait]
impl Connector for Hubspot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    async fn check(&self) -> Result<()> {
        let req =
            ApiRequest::get(self.client.url("/crm/v3/objects/contacts")).with_query("limit", "1");
        self.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}
