//! # revline-freshdesk
//!
//! Freshdesk connector: `tickets` (the `updated_since` listing ordered by `updated_at`,
//! restarted from the last `updated_at` seen when it reaches its page-300 ceiling, with the
//! overlap dropped), `conversations` (a child stream over the tickets changed since its
//! last sync: replies and notes, for first-response times), `contacts`, `companies` (with
//! domains), `agents`, `groups` and `satisfaction_ratings`. `Link` header paging; the
//! `X-RateLimit-Remaining` header slows requests down before the account's per-minute budget
//! runs out; 429s wait on `Retry-After`. See this crate's README for streams, keys, cursors,
//! limits and quirks.

mod config;
pub mod conversations;
pub mod streams;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HeaderMap, HttpClient, HttpClientConfig, RateLimit, RateLimitHeaders,
    ResponseClassifier, StatusCode, Verdict, default_verdict,
};
use revline_core::{
    Connector, ConnectorFactory, Error, ErrorKind, Result, Secret, SourceContext, Stream,
    StreamDescriptor,
};

pub use config::FreshdeskOptions;
pub use conversations::ConversationsStream;
pub use tickets::{BOUNDARY, Boundary, TicketPaginator, TicketsStream};

/// Default budget: 200 requests per minute (Growth; Pro about 400, Enterprise about 700:
/// set `rate_limit` to your plan's).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(200, 60.0);
/// Largest (and default) page.
pub const MAX_PAGE: u32 = 100;
/// The ticket listing's last page.
pub const MAX_PAGES: u32 = 300;

/// The factory registered under `connector = "freshdesk"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FreshdeskFactory;

impl ConnectorFactory for FreshdeskFactory {
    fn name(&self) -> &'static str {
        "freshdesk"
    }

    fn description(&self) -> &'static str {
        "Freshdesk: tickets (with SLA stats), conversations, contacts, companies, agents, groups and satisfaction ratings"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::all()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Freshdesk::new(ctx)?))
    }
}

/// Freshdesk's error bodies: `{"code","message"}` or `{"description","errors":[{field,
/// message,code}]}`; both go into the message.
#[derive(Debug, Default, Clone)]
pub struct FreshdeskClassifier;

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
    let mut parts: Vec<String> = Vec::new();
    if let Some(c) = v.get("code").and_then(|c| c.as_str()) {
        parts.push(c.to_string());
    }
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        parts.push(m.to_string());
    }
    if let Some(d) = v.get("description").and_then(|d| d.as_str()) {
        parts.push(d.to_string());
    }
    for e in v
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        let field = e.get("field").and_then(|f| f.as_str()).unwrap_or("?");
        let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
        parts.push(format!("{field}: {msg}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(": "))
    }
}

impl ResponseClassifier for FreshdeskClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        match status.as_u16() {
            403 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "access denied (HTTP 403){}: the API key's agent cannot read this (check its role and the plan)",
                        error_text(body)
                    ),
                )
                .with_context("status", 403),
            ),
            code @ (400 | 404 | 409 | 422) => Verdict::Fail(
                Error::new(
                    ErrorKind::Api,
                    format!("Freshdesk refused the request (HTTP {code}){}", error_text(body)),
                )
                .with_context("status", code),
            ),
            _ => default_verdict(status, headers, body),
        }
    }
}

/// A configured Freshdesk source.
pub struct Freshdesk {
    client: HttpClient,
    streams: Vec<Arc<dyn Stream>>,
}

impl Freshdesk {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: FreshdeskOptions = ctx.options()?;
        let in_source =
            |e: Error| Error::config(format!("[sources.{}] {}", ctx.source, e.message()));
        let base_url = match (&ctx.base_url, &opts.domain) {
            (Some(url), _) => url.clone(),
            (None, Some(d)) if !d.trim().is_empty() => {
                let d = d
                    .trim()
                    .trim_start_matches("https://")
                    .trim_end_matches('/');
                if d.contains('.') {
                    format!("https://{d}")
                } else {
                    format!("https://{d}.freshdesk.com")
                }
            }
            _ => {
                return Err(in_source(Error::config(
                    "set `domain` (your helpdesk is https://<domain>.freshdesk.com) or `base_url`",
                )));
            }
        };
        let key = opts.api_key().map_err(in_source)?;
        let include = opts.ticket_include().map_err(in_source)?;
        let page = opts.page_size.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(in_source(Error::config("`page_size` must be 1–100")));
        }
        let max_pages = opts.max_pages.unwrap_or(MAX_PAGES);
        if max_pages == 0 {
            return Err(in_source(Error::config("`max_pages` must be at least 1")));
        }
        let limit = ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        let mut cfg = HttpClientConfig::new(
            "freshdesk",
            &ctx.source,
            &base_url,
            // The API key is the user; the password is ignored ("X" by convention).
            Auth::Basic {
                user: key,
                password: Some(Secret::new("X".to_string())),
            },
            RateLimit::within_window(limit.requests, limit.per_seconds),
        );
        // Credits left this minute (a ticket listing costs one per `include` more): slow
        // down when few remain instead of running into 429s.
        cfg.rate_limit_headers = Some(RateLimitHeaders {
            remaining: "x-ratelimit-remaining",
            reset: None,
            window_millis: None,
            window: Duration::from_secs(60),
            low_water: 10,
        });
        cfg.classifier = Arc::new(FreshdeskClassifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let policy = ctx.on_bad_value;
        let streams: Vec<Arc<dyn Stream>> = vec![
            Arc::new(TicketsStream::new(
                client.clone(),
                include,
                page,
                max_pages,
                policy,
            )),
            Arc::new(ConversationsStream::new(
                client.clone(),
                page,
                max_pages,
                opts.conversation_concurrency.unwrap_or(4),
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::contacts(),
                &client,
                "/api/v2/contacts",
                Some("_updated_since"),
                page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::companies(),
                &client,
                "/api/v2/companies",
                None,
                page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::agents(),
                &client,
                "/api/v2/agents",
                None,
                page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::groups(),
                &client,
                "/api/v2/groups",
                None,
                page,
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::satisfaction_ratings(),
                &client,
                "/api/v2/surveys/satisfaction_ratings",
                Some("created_since"),
                page,
                policy,
            )),
        ];
        Ok(Freshdesk { client, streams })
    }
}

#[async_trait]
impl Connector for Freshdesk {
    fn name(&self) -> &'static str {
        "freshdesk"
    }

    async fn check(&self) -> Result<()> {
        let req = ApiRequest::get(self.client.url("/api/v2/agents/me"));
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
    fn classifier_names_code_message_and_fields() {
        let c = FreshdeskClassifier;
        match c.classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"description":"Validation failed","errors":[{"field":"updated_since","message":"It should be in the 'valid date' format","code":"invalid_value"}]}"#,
        ) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Api);
                assert!(
                    e.message().contains(
                        "Validation failed: updated_since: It should be in the 'valid date' format"
                    ),
                    "{e}"
                );
                assert_eq!(e.context_value("status"), Some("400"));
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(
                StatusCode::FORBIDDEN,
                &HeaderMap::new(),
                br#"{"code":"access_denied","message":"You are not authorized to perform this action."}"#
            ),
            Verdict::Fail(e) if e.kind() == ErrorKind::Auth && e.message().contains("access_denied")
        ));
        assert!(matches!(
            c.classify(StatusCode::NOT_FOUND, &HeaderMap::new(), b""),
            Verdict::Fail(e) if e.context_value("status") == Some("404")
        ));
        assert!(matches!(
            c.classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
    }

    #[test]
    fn options_need_a_key_and_a_domain() {
        let ctx = |v: serde_json::Value| SourceContext::new("fd", v);
        let err = Freshdesk::new(ctx(serde_json::json!({"domain": "acme"})))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("missing credentials"), "{err}");
        let err = Freshdesk::new(ctx(serde_json::json!({"api_key": "k"})))
            .err()
            .unwrap();
        assert!(err.message().contains("domain"), "{err}");
        let err = Freshdesk::new(ctx(
            serde_json::json!({"domain": "acme", "api_key": "k", "ticket_include": ["notes"]}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("notes"), "{err}");
        let err = Freshdesk::new(ctx(
            serde_json::json!({"domain": "acme", "api_key": "k", "page_size": 101}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("page_size"), "{err}");
        let ok =
            Freshdesk::new(ctx(serde_json::json!({"domain": "acme", "api_key": "k"}))).unwrap();
        assert_eq!(ok.client.base_url(), "https://acme.freshdesk.com");
    }
}
