//! # revline-zendesk
//!
//! Zendesk Support connector: `tickets` (cursor-based incremental export, deleted tickets
//! kept and marked), `ticket_metrics` (reply and resolution times, reopens),
//! `satisfaction_ratings`, `users` (incremental export), `organizations` (with domain names)
//! and `groups`. The incremental exports have their own quota scope (10 requests per minute)
//! next to the account limit. See this crate's README for streams, keys, cursors, limits and
//! quirks.

mod config;
pub mod export;
pub mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HeaderMap, HttpClient, HttpClientConfig, RateLimit, RateLimitHeaders,
    ResetFormat, ResponseClassifier, StatusCode, Verdict, default_verdict,
};
use revline_core::{
    Connector, ConnectorFactory, Error, ErrorKind, Result, SourceContext, Stream, StreamDescriptor,
};

pub use config::{Credential, ZendeskOptions};
pub use export::{AFTER_CURSOR, ExportStream};

/// Default account budget: 700 requests per minute (Enterprise; Team 200, Growth and
/// Professional 400, Enterprise Plus 2,500: set `rate_limit` to your plan's).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(700, 60.0);
/// Default incremental-export budget: 10 requests per minute.
pub const DEFAULT_EXPORT_RATE_LIMIT: RateLimit = RateLimit::new(10, 60.0);
/// Name of the incremental-export quota scope.
pub const EXPORT_SCOPE: &str = "export";
/// Largest export page.
pub const MAX_EXPORT_PAGE: u32 = 1000;
/// Largest list page.
pub const MAX_LIST_PAGE: u32 = 100;

/// A budget stated as "at most `requests` per `per_seconds`" turned into a token bucket that
/// never lets more than `requests - 1` into any sliding window of `per_seconds` (one request
/// of margin for network jitter): a burst of a fifth of the limit, the rest spread evenly.
/// A plain bucket of `requests` refilling over the window could admit twice the limit.
pub fn window_budget(limit: RateLimit) -> RateLimit {
    let max = limit.requests;
    if max < 3 {
        return RateLimit::new(1, limit.per_seconds);
    }
    let burst = (max / 5).max(1);
    let refill = max - 1 - burst;
    RateLimit::new(
        burst,
        limit.per_seconds * f64::from(burst) / f64::from(refill),
    )
}

/// The factory registered under `connector = "zendesk"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZendeskFactory;

impl ConnectorFactory for ZendeskFactory {
    fn name(&self) -> &'static str {
        "zendesk"
    }

    fn description(&self) -> &'static str {
        "Zendesk Support: tickets, ticket metrics, satisfaction ratings, users, organizations and groups"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::all()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Zendesk::new(ctx)?))
    }
}

/// Zendesk's error bodies are `{"error": …, "description": …}`: both go into the message.
#[derive(Debug, Default, Clone)]
pub struct ZendeskClassifier;

fn error_text(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            String::new()
        } else {
            format!(": {}", text.chars().take(200).collect::<String>())
        };
    };
    let error = v.get("error").and_then(|e| {
        e.as_str()
            .map(String::from)
            .or_else(|| e.get("title").and_then(|t| t.as_str()).map(String::from))
    });
    let description = v
        .get("description")
        .and_then(|d| d.as_str())
        .or_else(|| v.pointer("/error/message").and_then(|m| m.as_str()));
    match (error, description) {
        (Some(e), Some(d)) => format!(": {e}: {d}"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

impl ResponseClassifier for ZendeskClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        match status.as_u16() {
            403 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "access denied (HTTP 403){}: the API token's agent (or OAuth scope) cannot read this",
                        error_text(body)
                    ),
                )
                .with_context("status", 403),
            ),
            code @ (400 | 404 | 409 | 422) => Verdict::Fail(
                Error::new(
                    ErrorKind::Api,
                    format!("Zendesk refused the request (HTTP {code}){}", error_text(body)),
                )
                .with_context("status", code),
            ),
            _ => default_verdict(status, headers, body),
        }
    }
}

/// A configured Zendesk source.
pub struct Zendesk {
    client: HttpClient,
    streams: Vec<Arc<dyn Stream>>,
}

impl Zendesk {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: ZendeskOptions = ctx.options()?;
        let in_source =
            |e: Error| Error::config(format!("[sources.{}] {}", ctx.source, e.message()));
        let base_url = match (&ctx.base_url, &opts.subdomain) {
            (Some(url), _) => url.clone(),
            (None, Some(sub)) if !sub.trim().is_empty() => {
                format!("https://{}.zendesk.com", sub.trim())
            }
            _ => {
                return Err(in_source(Error::config(
                    "set `subdomain` (your account is https://<subdomain>.zendesk.com) or `base_url`",
                )));
            }
        };
        let auth = match opts.credential().map_err(in_source)? {
            Credential::ApiToken { email, token } => Auth::Basic {
                user: revline_core::Secret::new(format!("{email}/token")),
                password: Some(token),
            },
            Credential::OAuth(t) => Auth::Bearer(t),
        };
        let export_page = opts.export_page_size.unwrap_or(MAX_EXPORT_PAGE);
        let list_page = opts.page_size.unwrap_or(MAX_LIST_PAGE);
        if !(1..=MAX_EXPORT_PAGE).contains(&export_page)
            || !(1..=MAX_LIST_PAGE).contains(&list_page)
        {
            return Err(in_source(Error::config(
                "`export_page_size` must be 1–1000 and `page_size` 1–100",
            )));
        }
        let mut cfg = HttpClientConfig::new(
            "zendesk",
            &ctx.source,
            &base_url,
            auth,
            window_budget(ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)),
        );
        cfg.extra_scopes = vec![(
            EXPORT_SCOPE.to_string(),
            window_budget(opts.export_rate_limit.unwrap_or(DEFAULT_EXPORT_RATE_LIMIT)),
        )];
        cfg.rate_limit_headers = Some(RateLimitHeaders {
            remaining: "x-rate-limit-remaining",
            reset: Some(("ratelimit-reset", ResetFormat::SecondsFromNow)),
            window_millis: None,
            window: std::time::Duration::from_secs(60),
            low_water: 10,
        });
        cfg.classifier = Arc::new(ZendeskClassifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let policy = ctx.on_bad_value;
        let streams: Vec<Arc<dyn Stream>> = vec![
            Arc::new(ExportStream::new(
                streams::tickets(),
                client.clone(),
                "/api/v2/incremental/tickets/cursor.json",
                "tickets",
                export_page,
                opts.exclude_deleted,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::ticket_metrics(),
                &client,
                "/api/v2/ticket_metrics",
                "ticket_metrics",
                list_page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::satisfaction_ratings(),
                &client,
                "/api/v2/satisfaction_ratings",
                "satisfaction_ratings",
                list_page,
                policy,
            )),
            Arc::new(ExportStream::new(
                streams::users(),
                client.clone(),
                "/api/v2/incremental/users/cursor.json",
                "users",
                export_page,
                false,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::organizations(),
                &client,
                "/api/v2/organizations",
                "organizations",
                list_page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::groups(),
                &client,
                "/api/v2/groups",
                "groups",
                list_page,
                policy,
            )),
        ];
        Ok(Zendesk { client, streams })
    }
}

#[async_trait]
impl Connector for Zendesk {
    fn name(&self) -> &'static str {
        "zendesk"
    }

    async fn check(&self) -> Result<()> {
        let req = ApiRequest::get(self.client.url("/api/v2/users/me.json"));
        self.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_budgets_keep_every_window_under_the_limit() {
        // 10 per minute: a burst of 2, then one every 60/7 s: at most 9 in any minute.
        let b = window_budget(DEFAULT_EXPORT_RATE_LIMIT);
        assert_eq!(b.requests, 2);
        assert!((b.per_seconds - 120.0 / 7.0).abs() < 1e-9);
        for (max, window) in [
            (10u32, 60.0f64),
            (30, 60.0),
            (700, 60.0),
            (3, 1.0),
            (2, 1.0),
            (1, 5.0),
        ] {
            let b = window_budget(RateLimit::new(max, window));
            let period = b.per_seconds / f64::from(b.requests);
            // Worst case: a full burst, then one per period for the rest of the window.
            let in_window = f64::from(b.requests) + ((window - 1e-9) / period).floor();
            assert!(
                in_window <= f64::from(max.saturating_sub(1).max(1)),
                "{max}/{window}: {in_window}"
            );
        }
    }

    #[test]
    fn classifier_names_error_and_description() {
        let c = ZendeskClassifier;
        match c.classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":"InvalidValue","description":"Too recent start_time"}"#,
        ) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Api);
                assert!(
                    e.message().contains("InvalidValue: Too recent start_time"),
                    "{e}"
                );
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), br#"{"error":"Forbidden"}"#),
            Verdict::Fail(e) if e.kind() == ErrorKind::Auth
        ));
        assert!(matches!(
            c.classify(
                StatusCode::TOO_MANY_REQUESTS,
                &HeaderMap::new(),
                b"Too Many Requests"
            ),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
        assert!(matches!(
            c.classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"{}"),
            Verdict::RefreshAuth
        ));
    }

    #[test]
    fn options_need_one_credential_and_a_host() {
        let ctx = |v: serde_json::Value| SourceContext::new("zd", v);
        let err = Zendesk::new(ctx(serde_json::json!({"subdomain": "acme"})))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("missing credentials"), "{err}");
        let err = Zendesk::new(ctx(
            serde_json::json!({"subdomain": "acme", "api_token": "t"}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("needs `email`"), "{err}");
        let err = Zendesk::new(ctx(serde_json::json!({"email": "a@b.c", "api_token": "t"})))
            .err()
            .unwrap();
        assert!(err.message().contains("subdomain"), "{err}");
        let err = Zendesk::new(ctx(
            serde_json::json!({"subdomain": "acme", "oauth_token": "t", "typo": 1}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("typo"), "{err}");
        assert!(
            Zendesk::new(ctx(
                serde_json::json!({"subdomain": "acme", "oauth_token": "t"})
            ))
            .is_ok()
        );
        assert!(
            Zendesk::new(ctx(
                serde_json::json!({"subdomain": "acme", "email": "a@b.c", "api_token": "t"})
            ))
            .is_ok()
        );
    }
}
