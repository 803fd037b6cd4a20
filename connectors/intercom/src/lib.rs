//! # revline-intercom
//!
//! Intercom connector: `conversations` (the search endpoint with `updated_at > cursor`,
//! `starting_after` paging, conversation statistics for first-response and close times, the
//! rating), `contacts`, `companies`, `admins` and `teams`. Bearer access token with a pinned
//! `Intercom-Version`. Intercom enforces its limits in 10-second windows and reports them in
//! `X-RateLimit-Remaining` / `X-RateLimit-Reset`: the client slows down as a window runs low
//! and waits for its reset instead of running into 429s. See this crate's README.

pub mod search;
pub mod streams;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use revline_core::http::{
    ApiRequest, Auth, HeaderMap, HttpClient, HttpClientConfig, RateLimit, RateLimitHeaders,
    ResetFormat, ResponseClassifier, StatusCode, Verdict, default_verdict,
};
use revline_core::{
    Connector, ConnectorFactory, Error, ErrorKind, Result, Secret, SourceContext, Stream,
    StreamDescriptor,
};
use serde::Deserialize;

pub use search::{ConversationsStream, SearchPaginator};

/// The pinned API version (`Intercom-Version` on every request).
pub const VERSION: &str = "2.11";
/// Default budget: 1,666 requests per 10-second window (10,000 per minute per app).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::new(1666, 10.0);
/// Largest search page.
pub const MAX_SEARCH_PAGE: u32 = 150;

/// Options under `[sources.<name>]` with `connector = "intercom"`.
///
/// ```toml
/// [sources.intercom]
/// connector = "intercom"
/// access_token = "${INTERCOM_ACCESS_TOKEN}"   # or access_token_file
/// region = "us"                               # us (default), eu or au
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntercomOptions {
    /// Access token of a private app (or an OAuth token), sent as a bearer token.
    pub access_token: Option<Secret>,
    /// File holding the access token.
    pub access_token_file: Option<PathBuf>,
    /// Data region: `us` (api.intercom.io, default), `eu` or `au`. Ignored with `base_url`.
    pub region: Option<String>,
    /// Conversations per search page (default and maximum 150).
    pub page_size: Option<u32>,
}

impl IntercomOptions {
    fn token(&self) -> Result<Secret> {
        Secret::from_value_or_file(&self.access_token, &self.access_token_file, "access_token")?
            .ok_or_else(|| {
                Error::config(
                "missing credentials: set `access_token = \"${INTERCOM_ACCESS_TOKEN}\"` (or `access_token_file`)",
            )
            })
    }

    fn base_url(&self) -> Result<String> {
        match self.region.as_deref().map(str::trim) {
            None | Some("") | Some("us") => Ok("https://api.intercom.io".into()),
            Some("eu") => Ok("https://api.eu.intercom.io".into()),
            Some("au") => Ok("https://api.au.intercom.io".into()),
            Some(other) => Err(Error::config(format!(
                "`region` is us, eu or au, not `{other}`"
            ))),
        }
    }
}

/// The factory registered under `connector = "intercom"`.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntercomFactory;

impl ConnectorFactory for IntercomFactory {
    fn name(&self) -> &'static str {
        "intercom"
    }

    fn description(&self) -> &'static str {
        "Intercom: conversations (with statistics and ratings), contacts, companies, admins and teams"
    }

    fn streams(&self) -> Vec<StreamDescriptor> {
        streams::all()
    }

    fn build(&self, ctx: SourceContext) -> Result<Arc<dyn Connector>> {
        Ok(Arc::new(Intercom::new(ctx)?))
    }
}

/// Intercom's error bodies are `error.list`s: every `code: message` goes into the message.
#[derive(Debug, Default, Clone)]
pub struct IntercomClassifier;

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
    let parts: Vec<String> = v
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("error");
            match e.get("message").and_then(|m| m.as_str()) {
                Some(m) => format!("{code}: {m}"),
                None => code.to_string(),
            }
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

impl ResponseClassifier for IntercomClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        match status.as_u16() {
            403 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "access denied (HTTP 403){}: the token's app lacks the permission (or the plan)",
                        error_text(body)
                    ),
                )
                .with_context("status", 403),
            ),
            code @ (400 | 404 | 409 | 422) => Verdict::Fail(
                Error::new(
                    ErrorKind::Api,
                    format!("Intercom refused the request (HTTP {code}){}", error_text(body)),
                )
                .with_context("status", code),
            ),
            _ => default_verdict(status, headers, body),
        }
    }
}

/// A configured Intercom source.
pub struct Intercom {
    client: HttpClient,
    streams: Vec<Arc<dyn Stream>>,
}

impl Intercom {
    /// Builds the connector from its source context.
    pub fn new(ctx: SourceContext) -> Result<Self> {
        let opts: IntercomOptions = ctx.options()?;
        let in_source =
            |e: Error| Error::config(format!("[sources.{}] {}", ctx.source, e.message()));
        let base_url = match &ctx.base_url {
            Some(url) => url.clone(),
            None => opts.base_url().map_err(in_source)?,
        };
        let token = opts.token().map_err(in_source)?;
        let page = opts.page_size.unwrap_or(MAX_SEARCH_PAGE);
        if !(1..=MAX_SEARCH_PAGE).contains(&page) {
            return Err(in_source(Error::config("`page_size` must be 1–150")));
        }
        let limit = ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        let mut cfg = HttpClientConfig::new(
            "intercom",
            &ctx.source,
            &base_url,
            Auth::Bearer(token),
            RateLimit::within_window(limit.requests, limit.per_seconds),
        );
        // The 10-second window: spread the last requests of a window over what is left of
        // it, and wait for X-RateLimit-Reset when none remain.
        cfg.rate_limit_headers = Some(RateLimitHeaders {
            remaining: "x-ratelimit-remaining",
            reset: Some(("x-ratelimit-reset", ResetFormat::UnixSeconds)),
            window_millis: None,
            window: Duration::from_secs(10),
            low_water: 10,
        });
        cfg.classifier = Arc::new(IntercomClassifier);
        cfg.settings = ctx.http.clone();
        cfg.stats = ctx.stats.clone();
        let client = HttpClient::new(cfg)?;
        let policy = ctx.on_bad_value;
        let streams: Vec<Arc<dyn Stream>> = vec![
            Arc::new(ConversationsStream::new(client.clone(), page, policy)),
            Arc::new(streams::list_stream(
                streams::contacts(),
                &client,
                "/contacts",
                "data",
                &[("per_page", "150".to_string())],
                streams::starting_after(),
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::companies(),
                &client,
                "/companies",
                "data",
                &[("per_page", "60".to_string())],
                streams::next_url(),
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::admins(),
                &client,
                "/admins",
                "admins",
                &[],
                streams::single(),
                policy,
            )),
            Arc::new(streams::list_stream(
                streams::teams(),
                &client,
                "/teams",
                "teams",
                &[],
                streams::single(),
                policy,
            )),
        ];
        Ok(Intercom { client, streams })
    }
}

#[async_trait]
impl Connector for Intercom {
    fn name(&self) -> &'static str {
        "intercom"
    }

    async fn check(&self) -> Result<()> {
        let req = ApiRequest::get(self.client.url("/me")).with_header("Intercom-Version", VERSION);
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
    fn classifier_lists_error_codes() {
        let c = IntercomClassifier;
        match c.classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"type":"error.list","request_id":"x","errors":[{"code":"parameter_invalid","message":"per_page must be between 1 and 150"}]}"#,
        ) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Api);
                assert!(
                    e.message()
                        .contains("parameter_invalid: per_page must be between 1 and 150"),
                    "{e}"
                );
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(StatusCode::FORBIDDEN, &HeaderMap::new(), br#"{"errors":[{"code":"api_plan_restricted"}]}"#),
            Verdict::Fail(e) if e.kind() == ErrorKind::Auth && e.message().contains("api_plan_restricted")
        ));
        assert!(matches!(
            c.classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b"{}"),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
    }

    #[test]
    fn options_need_a_token_and_a_known_region() {
        let ctx = |v: serde_json::Value| SourceContext::new("ic", v);
        let err = Intercom::new(ctx(serde_json::json!({}))).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("missing credentials"), "{err}");
        let err = Intercom::new(ctx(
            serde_json::json!({"access_token": "t", "region": "mars"}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("region"), "{err}");
        let eu = Intercom::new(ctx(
            serde_json::json!({"access_token": "t", "region": "eu"}),
        ))
        .unwrap();
        assert_eq!(eu.client.base_url(), "https://api.eu.intercom.io");
        let err = Intercom::new(ctx(
            serde_json::json!({"access_token": "t", "page_size": 151}),
        ))
        .err()
        .unwrap();
        assert!(err.message().contains("page_size"), "{err}");
    }
}
