//! # revline-salesforce
//!
//! Salesforce connector: `accounts`, `contacts`, `leads`, `opportunities`,
//! `opportunity_history`, `users` and `campaigns` through SOQL `queryAll` (deleted rows are
//! marked in `_deleted`), typed from `describe` (custom `__c` fields included), incremental on
//! `SystemModstamp`. OAuth2 refresh-token or client-credentials flow; the API host is the
//! token's `instance_url`; an expired session is refreshed once. The daily API allocation is
//! read from `Sforce-Limit-Info` on every response and the run stops gracefully at the
//! configured reserve. See this crate's README.

mod config;
mod read;
pub mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HeaderMap, HttpClient, HttpClientConfig, OAuth2, OAuth2Grant, RateLimit,
    ResponseClassifier, StatusCode, Verdict, default_verdict, retry_after,
};
use revline_core::{
    Connector, ConnectorFactory, Error, ErrorKind, Result, SourceContext, Stream, StreamDescriptor,
};

pub use config::SalesforceOptions;
pub use read::{FieldInfo, LOCATOR_EXPIRED, Shared, SoqlStream, column_type};

/// Salesforce's login host (production orgs; `https://test.salesforce.com` for sandboxes).
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// Default request pacing: Salesforce limits requests per day and concurrent long requests,
/// not per second; 25 per second keeps a run polite.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(25, 1.0);

/// The factory registered under `connector = "salesforce"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SalesforceFactory;

impl ConnectorFactory for SalesforceFactory {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn description(&self) -> &'static str {
        "Salesforce: accounts, contacts, leads, opportunities and their stage history, users and campaigns"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::STREAMS.iter().map(|d| d.descriptor()).collect()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Salesforce::new(ctx)?))
    }
}

/// `(remaining, limit)` from `Sforce-Limit-Info: api-usage=10018/100000[; api-bursts=…]`.
pub fn read_limit_info(headers: &HeaderMap) -> Option<(u64, u64)> {
    let v = headers.get("sforce-limit-info")?.to_str().ok()?;
    let usage = v
        .split(';')
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    let (used, max): (u64, u64) = (used.trim().parse().ok()?, max.trim().parse().ok()?);
    Some((max.saturating_sub(used), max))
}

/// The first `{errorCode, message}` of a Salesforce error body (a JSON array).
fn sf_error(body: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = v.as_array()?.first()?;
    Some((
        first.get("errorCode")?.as_str()?.to_string(),
        first
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Classifies Salesforce's answers: 403 `REQUEST_LIMIT_EXCEEDED` for the daily total is quota
/// exhaustion (the run stops gracefully), the same code for another limit (concurrent long
/// requests) is throttling; 401 `INVALID_SESSION_ID` refreshes the session once; errors carry
/// Salesforce's `errorCode` and message.
#[derive(Debug, Default, Clone)]
pub struct SalesforceClassifier;

impl ResponseClassifier for SalesforceClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Accept;
        }
        let err = sf_error(body);
        let code = err.as_ref().map(|(c, _)| c.as_str()).unwrap_or("");
        let message = err.as_ref().map(|(_, m)| m.as_str()).unwrap_or("");
        match (status.as_u16(), code) {
            (403, "REQUEST_LIMIT_EXCEEDED") if message.starts_with("TotalRequests") => {
                Verdict::QuotaExhausted(format!(
                    "the org's daily API allocation is spent (REQUEST_LIMIT_EXCEEDED: {message}); \
                     resume later"
                ))
            }
            (403, "REQUEST_LIMIT_EXCEEDED") => Verdict::Retry {
                after: retry_after(headers),
                throttled: true,
                reason: format!("REQUEST_LIMIT_EXCEEDED: {message}"),
            },
            (401, _) => Verdict::RefreshAuth,
            (403, _) => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!("access denied (HTTP 403 {code}): {message}"),
                )
                .with_context("status", 403),
            ),
            (400..=499, c) if !c.is_empty() => Verdict::Fail(
                Error::new(
                    ErrorKind::Api,
                    format!(
                        "Salesforce rejected the request (HTTP {} {c}): {message}",
                        status.as_u16()
                    ),
                )
                .with_context("status", status.as_u16()),
            ),
            _ => default_verdict(status, headers, body),
        }
    }
}

/// A configured Salesforce source.
pub struct Salesforce {
    shared: Arc<Shared>,
    streams: Vec<Arc<dyn Stream>>,
}

impl Salesforce {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: SalesforceOptions = ctx.options()?;
        let located = |e: Error| Error::config(format!("[sources.{}] {}", ctx.source, e.message()));
        let login = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_LOGIN_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let client_id = opts.client_id.clone().ok_or_else(|| {
            located(Error::config(
                "missing credentials: set `client_id` and `client_secret` (and `refresh_token`, \
                 or use the client-credentials flow)",
            ))
        })?;
        let secret = opts.client_secret().map_err(located)?;
        let grant = match opts.refresh_token().map_err(located)? {
            Some(refresh_token) => OAuth2Grant::RefreshToken { refresh_token },
            None => OAuth2Grant::ClientCredentials,
        };
        let token_url = opts
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{login}/services/oauth2/token"));
        let auth = Auth::OAuth2(OAuth2::new(token_url, client_id, secret, grant));
        let mut cfg = HttpClientConfig::new(
            "salesforce",
            &ctx.source,
            &login,
            auth,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        );
        cfg.classifier = Arc::new(SalesforceClassifier);
        cfg.quota_reader = Some(read_limit_info);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let shared = Arc::new(Shared::new(client, opts));
        for name in shared.options.fields.keys() {
            if !streams::STREAMS.iter().any(|s| s.name == name) {
                return Err(located(Error::config(format!(
                    "`fields.{name}`: no such stream (streams: {})",
                    streams::STREAMS
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))));
            }
        }
        let streams = streams::STREAMS
            .iter()
            .map(|d| {
                Arc::new(SoqlStream::new(*d, shared.clone(), ctx.on_bad_value)) as Arc<dyn Stream>
            })
            .collect();
        Ok(Salesforce { shared, streams })
    }
}

#[async_trait]
impl Connector for Salesforce {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    async fn check(&self) -> Result<()> {
        let instance = self.shared.instance().await?;
        let req = ApiRequest::get(format!(
            "{instance}/services/data/v{}/limits",
            self.shared.version
        ));
        self.shared.client.execute(&req).await.map(|_| ())
    }

    fn streams(&self) -> Vec<Arc<dyn Stream>> {
        self.streams.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("sforce-limit-info", v.parse().unwrap());
        h
    }

    #[test]
    fn limit_info_is_read() {
        assert_eq!(
            read_limit_info(&headers("api-usage=10018/100000")),
            Some((89_982, 100_000))
        );
        assert_eq!(
            read_limit_info(&headers("api-usage=25/15000; api-bursts=1/750")),
            Some((14_975, 15_000))
        );
        assert_eq!(read_limit_info(&headers("per-app-api-usage=1/2")), None);
        assert_eq!(read_limit_info(&HeaderMap::new()), None);
    }

    #[test]
    fn request_limit_exceeded_is_quota_or_throttling_by_message() {
        let c = SalesforceClassifier;
        let total = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        match c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), total) {
            Verdict::QuotaExhausted(m) => assert!(m.contains("daily API allocation"), "{m}"),
            v => panic!("{v:?}"),
        }
        let concurrent = br#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), concurrent),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
        let session =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(matches!(
            c.classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), session),
            Verdict::RefreshAuth
        ));
        let field =
            br#"[{"message":"No such column 'Foo' on entity 'Lead'","errorCode":"INVALID_FIELD"}]"#;
        match c.classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), field) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Api);
                assert!(e.message().contains("INVALID_FIELD") && e.message().contains("Foo"));
            }
            v => panic!("{v:?}"),
        }
        let denied = br#"[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS"}]"#;
        match c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), denied) {
            Verdict::Fail(e) => assert_eq!(e.kind(), ErrorKind::Auth),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(
                StatusCode::SERVICE_UNAVAILABLE,
                &HeaderMap::new(),
                b"<html>"
            ),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
    }

    #[test]
    fn options_need_a_client() {
        let err = Salesforce::new(SourceContext::new("sf", serde_json::json!({})))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("client_id"), "{err}");
        let err = Salesforce::new(SourceContext::new(
            "sf",
            serde_json::json!({"client_id": "x", "client_secret": "y", "fields": {"lead": ["Id"]}}),
        ))
        .err()
        .unwrap();
        assert!(
            err.message().contains("`fields.lead`: no such stream"),
            "{err}"
        );
    }
}
