//! # revline-pipedrive
//!
//! Pipedrive connector: `deals`, `persons`, `organizations` and `activities` from the v2 API
//! (cursor paging with `additional_data.next_cursor`, incremental on `update_time` with
//! `updated_since`, sorted by `update_time`), `pipelines` and `stages` from v1 (`start` /
//! `limit` paging with `more_items_in_collection`). Auth with an API token (`x-api-token`
//! header) or an OAuth access token (bearer). Requests are paced under the 2-second burst
//! limit, slow down as `x-ratelimit-remaining` runs low, and a 429 waits for
//! `x-ratelimit-reset`. See this crate's README.

mod config;
pub mod streams;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, HeaderMap, HttpClient, HttpClientConfig, RateLimit, RateLimitHeaders, ResetFormat,
    ResponseClassifier, StatusCode, Verdict, default_verdict, retry_after,
};
use revline_core::rest::RestStream;
use revline_core::{
    Connector, ConnectorFactory, Error, Result, SourceContext, Stream, StreamDescriptor,
};

pub use config::PipedriveOptions;

/// Pipedrive's API host (company domains, `https://<company>.pipedrive.com`, work too).
pub const DEFAULT_BASE_URL: &str = "https://api.pipedrive.com";
/// Default burst limit: 80 requests per 2 seconds (the Professional plan's API-token limit;
/// set `rate_limit` for your plan: 20 Essential … 120 Enterprise, 4× that with OAuth).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(80, 2.0);
/// Records per page (v2 and v1 allow up to 500).
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// The factory registered under `connector = "pipedrive"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PipedriveFactory;

impl ConnectorFactory for PipedriveFactory {
    fn name(&self) -> &'static str {
        "pipedrive"
    }

    fn description(&self) -> &'static str {
        "Pipedrive: deals, persons, organizations, activities, pipelines and stages"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::STREAMS.iter().map(|d| d.descriptor()).collect()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Pipedrive::new(ctx)?))
    }
}

/// Pipedrive's 2-second burst window as reported in `x-ratelimit-*` headers.
pub fn rate_limit_headers() -> RateLimitHeaders {
    RateLimitHeaders {
        remaining: "x-ratelimit-remaining",
        reset: Some(("x-ratelimit-reset", ResetFormat::SecondsFromNow)),
        window_millis: None,
        window: Duration::from_secs(2),
        low_water: 2,
    }
}

/// Classifies Pipedrive's answers: a 429 waits for `x-ratelimit-reset` (Pipedrive sends no
/// `Retry-After`); everything else as usual, with Pipedrive's `error` text in messages.
#[derive(Debug, Default, Clone)]
pub struct PipedriveClassifier;

impl ResponseClassifier for PipedriveClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            return Verdict::Retry {
                after: reset.or_else(|| retry_after(headers)),
                throttled: true,
                reason: "429 Request over limit".into(),
            };
        }
        default_verdict(status, headers, body)
    }
}

/// A configured Pipedrive source.
pub struct Pipedrive {
    client: HttpClient,
    base_url: String,
    streams: Vec<Arc<dyn Stream>>,
}

impl Pipedrive {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: PipedriveOptions = ctx.options()?;
        let located = |e: Error| Error::config(format!("[sources.{}] {}", ctx.source, e.message()));
        let auth = opts.auth().map_err(located)?;
        let page_size = opts.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=500).contains(&page_size) {
            return Err(located(Error::config(format!(
                "`page_size` must be between 1 and 500 (got {page_size})"
            ))));
        }
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let mut cfg = HttpClientConfig::new(
            "pipedrive",
            &ctx.source,
            &base_url,
            auth,
            // Never more than the limit in any sliding window (Pipedrive counts a rolling one).
            {
                let r = ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
                RateLimit::within_window(r.requests, r.per_seconds)
            },
        );
        cfg.classifier = Arc::new(PipedriveClassifier);
        cfg.rate_limit_headers = Some(rate_limit_headers());
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let streams = streams::STREAMS
            .iter()
            .map(|d| {
                Arc::new(RestStream::new(
                    d.spec(&base_url, page_size),
                    client.clone(),
                    ctx.on_bad_value,
                )) as Arc<dyn Stream>
            })
            .collect();
        Ok(Pipedrive {
            client,
            base_url,
            streams,
        })
    }
}

#[async_trait]
impl Connector for Pipedrive {
    fn name(&self) -> &'static str {
        "pipedrive"
    }

    async fn check(&self) -> Result<()> {
        let req =
            ApiRequest::get(format!("{}/api/v1/pipelines", self.base_url)).with_query("limit", "1");
        self.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revline_core::ErrorKind;

    #[test]
    fn a_429_waits_for_the_reset_header() {
        let c = PipedriveClassifier;
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "2".parse().unwrap());
        let body = br#"{"success":false,"error":"Request over limit","errorCode":429}"#;
        match c.classify(StatusCode::TOO_MANY_REQUESTS, &h, body) {
            Verdict::Retry {
                after, throttled, ..
            } => {
                assert_eq!(after, Some(Duration::from_secs(2)));
                assert!(throttled);
            }
            v => panic!("{v:?}"),
        }
        match c.classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), body) {
            Verdict::Retry { after, .. } => assert_eq!(after, None),
            v => panic!("{v:?}"),
        }
        let denied = br#"{"success":false,"error":"You do not have permissions to do this.","errorCode":403}"#;
        match c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), denied) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Auth);
                assert!(e.message().contains("You do not have permissions"), "{e}");
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn burst_headers_slow_down_near_the_floor() {
        let spec = rate_limit_headers();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "40".parse().unwrap());
        h.insert("x-ratelimit-reset", "2".parse().unwrap());
        assert_eq!(spec.pause_for(&h), None);
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        assert_eq!(spec.pause_for(&h), Some(Duration::from_secs(2)));
    }

    #[test]
    fn options_need_exactly_one_credential() {
        let err = Pipedrive::new(SourceContext::new("pd", serde_json::json!({})))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("api_token"), "{err}");
        let err = Pipedrive::new(SourceContext::new(
            "pd",
            serde_json::json!({"api_token": "a", "access_token": "b"}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("not both"), "{err}");
        let err = Pipedrive::new(SourceContext::new(
            "pd",
            serde_json::json!({"api_token": "a", "page_size": 501}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("page_size"), "{err}");
        assert!(
            Pipedrive::new(SourceContext::new(
                "pd",
                serde_json::json!({"api_token": "a"})
            ))
            .is_ok()
        );
    }
}
