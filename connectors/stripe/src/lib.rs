//! # revline-stripe
//!
//! Stripe connector: `customers`, `products`, `prices`, `subscriptions` (every status, with
//! items), `invoices` (with line items), `charges` and `refunds`. Lists are paged with
//! `starting_after` (100 per page); first syncs split `created` into windows read
//! concurrently; incremental syncs read new objects by `created[gte]` and changes to older
//! ones from the event log, so updates and deletions are not missed. Amounts stay in integer
//! minor units next to their currency and get an exact `<amount>_decimal` companion.
//! See this crate's README for streams, keys, cursors, limits and quirks.

mod config;
pub mod money;
mod read;
pub mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HeaderMap, HttpClient, HttpClientConfig, RateLimit, ResponseClassifier,
    StatusCode, Verdict, body_hint, default_verdict, retry_after,
};
use revline_core::{
    Connector, ConnectorFactory, Error, ErrorKind, Result, SourceContext, Stream, StreamDescriptor,
};

pub use config::{KeyAuth, StripeOptions};
pub use read::{Boundary, Position, ReadSettings, StripeStream};

/// Stripe's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";
/// The API version whose shapes the streams declare.
pub const API_VERSION: &str = "2024-06-20";
/// Live-mode limit: 100 read requests per second.
pub const LIVE_REQUESTS_PER_SECOND: u32 = 100;
/// Test-mode (and sandbox) limit: 25 requests per second.
pub const TEST_REQUESTS_PER_SECOND: u32 = 25;

/// The factory registered under `connector = "stripe"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StripeFactory;

impl ConnectorFactory for StripeFactory {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn description(&self) -> &'static str {
        "Stripe: customers, products, prices, subscriptions, invoices, charges and refunds"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::all().iter().map(|d| d.descriptor()).collect()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Stripe::new(ctx)?))
    }
}

/// Classifies Stripe's answers: `Stripe-Should-Retry` overrides the status; 429s
/// (`rate_limit`, and `lock_timeout` on a busy object) are retried; a 409 idempotency
/// conflict never is.
#[derive(Debug, Default, Clone)]
pub struct StripeClassifier;

impl ResponseClassifier for StripeClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Accept;
        }
        let should_retry = headers
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().eq_ignore_ascii_case("true"));
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.pointer("/error/code")?.as_str().map(String::from));
        if status == StatusCode::CONFLICT || should_retry == Some(false) {
            return Verdict::Fail(
                Error::new(
                    ErrorKind::Api,
                    format!(
                        "Stripe said not to retry (HTTP {}){}",
                        status.as_u16(),
                        body_hint(body)
                    ),
                )
                .with_context("status", status.as_u16()),
            );
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let lock = code.as_deref() == Some("lock_timeout");
            let reason = headers
                .get("stripe-rate-limited-reason")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(if lock { "lock_timeout" } else { "rate_limit" });
            return Verdict::Retry {
                after: retry_after(headers),
                // A lock on one object does not slow the other requests down.
                throttled: !lock,
                reason: format!("429 {reason}"),
            };
        }
        if should_retry == Some(true) {
            return Verdict::Retry {
                after: retry_after(headers),
                throttled: false,
                reason: format!("HTTP {} (Stripe-Should-Retry)", status.as_u16()),
            };
        }
        default_verdict(status, headers, body)
    }
}

/// A configured Stripe source.
pub struct Stripe {
    client: HttpClient,
    settings: Arc<ReadSettings>,
    streams: Vec<Arc<dyn Stream>>,
}

impl Stripe {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: StripeOptions = ctx.options()?;
        let key = opts
            .key()
            .map_err(|e| Error::config(format!("[sources.{}] {}", ctx.source, e.message())))?;
        let live = key.expose().starts_with("sk_live_") || key.expose().starts_with("rk_live_");
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let auth = match opts.auth {
            KeyAuth::Bearer => Auth::Bearer(key),
            KeyAuth::Basic => Auth::Basic {
                user: key,
                password: None,
            },
        };
        // Stripe states its limit per second; pace so that no second ever exceeds it.
        let limit = match ctx.rate_limit {
            Some(r) => RateLimit::within_window(r.requests, r.per_seconds),
            None => RateLimit::within_window(
                if live {
                    LIVE_REQUESTS_PER_SECOND
                } else {
                    TEST_REQUESTS_PER_SECOND
                },
                1.0,
            ),
        };
        let mut cfg = HttpClientConfig::new("stripe", &ctx.source, &base_url, auth, limit);
        cfg.classifier = Arc::new(StripeClassifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let mut headers = vec![(
            "Stripe-Version".to_string(),
            opts.api_version
                .clone()
                .unwrap_or_else(|| API_VERSION.to_string()),
        )];
        if let Some(a) = &opts.account {
            headers.push(("Stripe-Account".to_string(), a.clone()));
        }
        let settings = Arc::new(ReadSettings {
            windows: opts.windows.unwrap_or(8).clamp(1, 1000),
            concurrency: opts.concurrency.unwrap_or(4).clamp(1, 64),
            headers,
            default_start: read::stripe_epoch(),
        });
        let streams = streams::all()
            .into_iter()
            .map(|def| {
                Arc::new(StripeStream::new(
                    def,
                    client.clone(),
                    settings.clone(),
                    ctx.on_bad_value,
                )) as Arc<dyn Stream>
            })
            .collect();
        Ok(Stripe {
            client,
            settings,
            streams,
        })
    }
}

#[async_trait]
impl Connector for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn check(&self) -> Result<()> {
        let mut req = ApiRequest::get(self.client.url("/v1/customers")).with_query("limit", "1");
        for (k, v) in &self.settings.headers {
            req = req.with_header(k, v.clone());
        }
        self.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn classifier_follows_stripe_should_retry_and_429_kinds() {
        let c = StripeClassifier;
        let rate = br#"{"error":{"code":"rate_limit","message":"Request rate limit exceeded.","type":"invalid_request_error"}}"#;
        match c.classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("stripe-rate-limited-reason", "global-rate")]),
            rate,
        ) {
            Verdict::Retry {
                throttled, reason, ..
            } => {
                assert!(throttled);
                assert_eq!(reason, "429 global-rate");
            }
            v => panic!("{v:?}"),
        }
        let lock =
            br#"{"error":{"code":"lock_timeout","message":"busy","type":"invalid_request_error"}}"#;
        assert!(matches!(
            c.classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), lock),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
        // Stripe-Should-Retry: false wins over a retryable status.
        match c.classify(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers(&[("stripe-should-retry", "false")]),
            br#"{"error":{"message":"An unknown error occurred","type":"api_error"}}"#,
        ) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Api);
                assert!(e.message().contains("An unknown error occurred"), "{e}");
            }
            v => panic!("{v:?}"),
        }
        // ... and true makes a 400 retryable; a 409 is never retried.
        assert!(matches!(
            c.classify(
                StatusCode::BAD_REQUEST,
                &headers(&[("stripe-should-retry", "true")]),
                b"{}"
            ),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
        assert!(matches!(
            c.classify(
                StatusCode::CONFLICT,
                &headers(&[("stripe-should-retry", "true")]),
                b"{}"
            ),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            c.classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"{}"),
            Verdict::RefreshAuth
        ));
        assert!(matches!(
            c.classify(StatusCode::OK, &HeaderMap::new(), b"{}"),
            Verdict::Accept
        ));
    }

    #[test]
    fn options_need_exactly_one_key() {
        let ctx = |v: serde_json::Value| SourceContext::new("stripe", v);
        let err = Stripe::new(ctx(serde_json::json!({}))).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("secret_key"), "{err}");
        let err = Stripe::new(ctx(
            serde_json::json!({"secret_key": "sk_test_x", "windowz": 3}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("windowz"), "{err}");
        assert!(
            Stripe::new(ctx(
                serde_json::json!({"secret_key": "sk_test_x", "auth": "basic"})
            ))
            .is_ok()
        );
    }
}
