//! The one HTTP client every connector uses: rustls, rate limiting per quota scope,
//! adaptive slow-down from rate-limit headers, retries with exponential backoff and jitter
//! honouring `Retry-After`, auth (including OAuth2 refresh on expiry and on 401), a
//! per-request timeout, and request/response accounting.

pub mod auth;
pub mod limit;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
pub use http::{HeaderMap, Method, StatusCode};
use rand::Rng;
use serde::{Deserialize, Serialize};

pub use auth::{Auth, OAuth2, OAuth2Grant, RefreshTokenOptions};
pub use limit::{QuotaScope, RateLimit, RateLimitHeaders, ResetFormat, shared_scope};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// Retry, backoff and timeout settings (configurable per source under `[sources.X.http]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Per-request timeout, seconds (connect + send + whole body).
    pub timeout_secs: f64,
    /// Retries after the first attempt for throttling, 5xx, timeouts, resets, cut-off bodies.
    pub max_retries: u32,
    /// First backoff delay, milliseconds; doubles per retry, with full jitter.
    pub backoff_initial_ms: u64,
    /// Largest backoff delay, milliseconds.
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this (seconds) means the quota is spent: the run stops
    /// gracefully (committing what it has) instead of sleeping.
    pub max_retry_after_secs: u64,
    /// For APIs that report a daily (or period) budget in headers: stop gracefully once less
    /// than this percentage of it remains, keeping a reserve for other users of the account.
    pub quota_reserve_percent: f64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_secs: 60.0,
            max_retries: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            max_retry_after_secs: 900,
            quota_reserve_percent: 10.0,
        }
    }
}

impl HttpSettings {
    /// The delay before retry number `attempt` (0-based): full jitter over an exponential cap.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .backoff_initial_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(self.backoff_max_ms);
        let jittered = if cap == 0 {
            0
        } else {
            rand::rng().random_range(cap / 2..=cap)
        };
        Duration::from_millis(jittered)
    }
}

/// A request, independent of auth (credentials are added when it is sent, so a request can
/// be stored in a checkpoint without leaking a key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiRequest {
    /// HTTP method.
    #[serde(with = "method_serde")]
    pub method: Method,
    /// Absolute URL without the query parameters listed in `query`.
    pub url: String,
    /// Query parameters, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
    /// JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Non-secret extra headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Quota scope name within the client (`None`: the client's default scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

mod method_serde {
    use super::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        let s = String::deserialize(d)?;
        Method::from_bytes(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

impl ApiRequest {
    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        ApiRequest {
            method: Method::GET,
            url: url.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            scope: None,
        }
    }

    /// A POST of `body` as JSON to `url`.
    pub fn post_json(url: impl Into<String>, body: serde_json::Value) -> Self {
        ApiRequest {
            method: Method::POST,
            body: Some(body),
            ..Self::get(url)
        }
    }

    /// Sets (replacing) a query parameter.
    pub fn with_query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_query(name, value);
        self
    }

    /// Sets (replacing) a query parameter in place.
    pub fn set_query(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self.query.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value;
        } else {
            self.query.push((name.to_string(), value));
        }
    }

    /// A query parameter's value.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Uses quota scope `scope` of the client.
    pub fn in_scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_string());
        self
    }

    /// `METHOD path` for messages: no host, no query (it may carry keys).
    pub fn describe(&self) -> String {
        let path = url::Url::parse(&self.url)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| auth::redact_url(&self.url));
        format!("{} {}", self.method, path)
    }
}

/// A response that passed classification.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Whole body.
    pub body: Bytes,
}

/// What to do with a response.
#[derive(Debug)]
pub enum Verdict {
    /// Use it.
    Accept,
    /// Try again after `after` (or the backoff); `throttled` marks rate limiting, which also
    /// pauses every other user of the quota scope.
    Retry {
        /// Server-requested delay.
        after: Option<Duration>,
        /// Whether this was rate limiting (vs. a transient server error).
        throttled: bool,
        /// Short reason for logs.
        reason: String,
    },
    /// The credentials expired: refresh them once and retry.
    RefreshAuth,
    /// The period's quota is spent: stop gracefully and resume later.
    QuotaExhausted(String),
    /// Give up with this error.
    Fail(Error),
}

/// Classifies responses by status, headers and body. Vendors that throttle with 403 or 400
/// plus an error code (Salesforce, Meta) supply their own.
pub trait ResponseClassifier: Send + Sync + fmt::Debug {
    /// The verdict for a response.
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict;

    /// How long every user of the quota scope should hold back after this response, for
    /// APIs whose usage headers do not fit [`RateLimitHeaders`] (Meta's JSON usage
    /// percentages). Called for every response; `None` (the default) never pauses.
    fn pause(&self, headers: &HeaderMap) -> Option<Duration> {
        let _ = headers;
        None
    }
}

/// The standard rules: 2xx accept; 429 retry (honouring `Retry-After`); 408, 5xx retry;
/// 401 refresh once then fail; 403 fail; other 4xx fail with the body's message.
#[derive(Debug, Default, Clone)]
pub struct DefaultClassifier;

impl ResponseClassifier for DefaultClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        default_verdict(status, headers, body)
    }
}

/// The [`DefaultClassifier`]'s rules, for vendor classifiers to fall back on.
pub fn default_verdict(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Accept,
        429 => Verdict::Retry {
            after: retry_after(headers),
            throttled: true,
            reason: "429 Too Many Requests".into(),
        },
        408 | 500..=599 => Verdict::Retry {
            after: retry_after(headers),
            throttled: false,
            reason: format!("HTTP {}", status.as_u16()),
        },
        401 => Verdict::RefreshAuth,
        403 => Verdict::Fail(
            Error::new(
                ErrorKind::Auth,
                format!(
                    "access denied (HTTP 403): the credential lacks a permission or scope{}",
                    body_hint(body)
                ),
            )
            .with_context("status", 403),
        ),
        code => Verdict::Fail(
            Error::new(
                ErrorKind::Api,
                format!("API error HTTP {code}{}", body_hint(body)),
            )
            .with_context("status", code),
        ),
    }
}

/// `: <message>` from a JSON error body (`message`, `error.message`, `error`), or a snippet.
pub fn body_hint(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let msg = v
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| v.pointer("/error/message").and_then(|m| m.as_str()))
            .or_else(|| v.get("error").and_then(|m| m.as_str()))
            .or_else(|| v.get("description").and_then(|m| m.as_str()));
        if let Some(m) = msg {
            return format!(": {}", clip(m, 300));
        }
    }
    let text = String::from_utf8_lossy(body);
    format!(": {}", clip(text.trim(), 200))
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Headers reporting a period (daily) request budget: total and remaining.
#[derive(Debug, Clone, Copy)]
pub struct QuotaHeaders {
    /// Header with the period's allocation (`X-HubSpot-RateLimit-Daily`).
    pub limit: &'static str,
    /// Header with what remains of it (`X-HubSpot-RateLimit-Daily-Remaining`).
    pub remaining: &'static str,
}

/// Reads a period budget an API packs into one header, as `(remaining, limit)` (Salesforce's
/// `Sforce-Limit-Info: api-usage=10018/100000`). The alternative to [`QuotaHeaders`].
pub type QuotaReader = fn(&HeaderMap) -> Option<(u64, u64)>;

impl QuotaHeaders {
    /// `(remaining, limit)` if both headers are present and numeric.
    pub fn read(&self, headers: &HeaderMap) -> Option<(u64, u64)> {
        let num = |n: &str| headers.get(n)?.to_str().ok()?.trim().parse::<u64>().ok();
        Some((num(self.remaining)?, num(self.limit)?))
    }
}

/// Request accounting for one source; readable while a run is in progress.
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: AtomicU64,
    responses: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    throttle_wait_ms: AtomicU64,
    auth_refreshes: AtomicU64,
}

/// A copy of [`HttpStats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HttpStatsSnapshot {
    /// Requests sent (each attempt counts).
    pub requests: u64,
    /// Responses received (any status).
    pub responses: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Retries made.
    pub retries: u64,
    /// Throttling responses (429 or vendor equivalents).
    pub throttled: u64,
    /// Milliseconds spent waiting on rate limits and throttling.
    pub throttle_wait_ms: u64,
    /// OAuth2 token refreshes forced by 401s.
    pub auth_refreshes: u64,
}

impl HttpStats {
    /// Current values.
    pub fn snapshot(&self) -> HttpStatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HttpStatsSnapshot {
            requests: l(&self.requests),
            responses: l(&self.responses),
            bytes_received: l(&self.bytes_received),
            bytes_sent: l(&self.bytes_sent),
            retries: l(&self.retries),
            throttled: l(&self.throttled),
            throttle_wait_ms: l(&self.throttle_wait_ms),
            auth_refreshes: l(&self.auth_refreshes),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

tokio::task_local! {
    /// Accounting for the stream whose task is running (set by the runner).
    static STREAM_STATS: Arc<HttpStats>;
}

/// Runs `fut` with every request it makes also counted in `stats` (per-stream accounting on
/// top of the client's per-source counters). Tasks spawned with [`crate::task::spawn_scoped`]
/// inherit the scope.
pub async fn with_stream_stats<F: std::future::Future>(stats: Arc<HttpStats>, fut: F) -> F::Output {
    STREAM_STATS.scope(stats, fut).await
}

/// The per-stream accounting of the current task, if any.
pub fn current_stream_stats() -> Option<Arc<HttpStats>> {
    STREAM_STATS.try_with(|s| s.clone()).ok()
}

fn count(source: &HttpStats, field: impl Fn(&HttpStats) -> &AtomicU64, n: u64) {
    HttpStats::add(field(source), n);
    let _ = STREAM_STATS.try_with(|s| HttpStats::add(field(s), n));
}

/// A body check run inside the retry loop: a cut-off or garbled body is retried like a 5xx.
pub type BodyCheck<'a, T> = &'a (dyn Fn(&ApiResponse) -> Result<T> + Send + Sync);

/// Everything needed to build an [`HttpClient`].
#[derive(Debug)]
pub struct HttpClientConfig {
    /// Connector name, for scope keys and the user agent.
    pub connector: String,
    /// Source name, for messages.
    pub source: String,
    /// API base URL; relative paths are joined to it.
    pub base_url: String,
    /// Authentication.
    pub auth: Auth,
    /// The default scope's budget.
    pub rate_limit: RateLimit,
    /// Extra scopes (name, budget), e.g. HubSpot `search`.
    pub extra_scopes: Vec<(String, RateLimit)>,
    /// Rate-limit headers to adapt to.
    pub rate_limit_headers: Option<RateLimitHeaders>,
    /// Period-budget headers; the run stops at the configured reserve.
    pub quota_headers: Option<QuotaHeaders>,
    /// Reads the period budget from headers that pack it in one value (instead of
    /// `quota_headers`); the run stops at the configured reserve.
    pub quota_reader: Option<QuotaReader>,
    /// Retry and timeout settings.
    pub settings: HttpSettings,
    /// Response classification.
    pub classifier: Arc<dyn ResponseClassifier>,
    /// Where to count requests (shared with the runner).
    pub stats: Arc<HttpStats>,
}

impl HttpClientConfig {
    /// A config with default settings, the default classifier and fresh stats.
    pub fn new(
        connector: &str,
        source: &str,
        base_url: &str,
        auth: Auth,
        rate_limit: RateLimit,
    ) -> Self {
        HttpClientConfig {
            connector: connector.to_string(),
            source: source.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            auth,
            rate_limit,
            extra_scopes: Vec::new(),
            rate_limit_headers: None,
            quota_headers: None,
            quota_reader: None,
            settings: HttpSettings::default(),
            classifier: Arc::new(DefaultClassifier),
            stats: Arc::new(HttpStats::default()),
        }
    }
}

/// The HTTP client. Cheap to clone; clones share limiter, auth cache and stats.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    connector: String,
    source: String,
    base_url: String,
    auth: Auth,
    secrets: Vec<Secret>,
    default_scope: Arc<QuotaScope>,
    scopes: Vec<(String, Arc<QuotaScope>)>,
    rate_limit_headers: Option<RateLimitHeaders>,
    quota_headers: Option<QuotaHeaders>,
    quota_reader: Option<QuotaReader>,
    /// Set once the period budget fell under the reserve: `(remaining, limit)`.
    reserve_reached: std::sync::Mutex<Option<(u64, u64)>>,
    settings: HttpSettings,
    classifier: Arc<dyn ResponseClassifier>,
    stats: Arc<HttpStats>,
}

impl HttpClient {
    /// Builds the client. Scopes are shared process-wide by connector, API host, scope name
    /// and credential fingerprint.
    pub fn new(config: HttpClientConfig) -> Result<Self> {
        #[allow(clippy::disallowed_methods)] // the one place a reqwest client is built
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs_f64(
                config.settings.timeout_secs.max(0.001),
            ))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("revline/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| Error::internal("cannot build the HTTP client").with_source(e))?;
        let host = url::Url::parse(&config.base_url)
            .map_err(|e| {
                Error::config(format!("base_url `{}` is not a valid URL", config.base_url))
                    .with_source(e)
            })?
            .host_str()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let origin_key = format!(
            "{}|{}|{}",
            config.connector,
            auth::redact_url(&config.base_url).replace(&host, &host.to_lowercase()),
            config.auth.fingerprint()
        );
        let default_scope = shared_scope(&format!("{origin_key}|default"), config.rate_limit)?;
        let scopes = config
            .extra_scopes
            .iter()
            .map(|(name, limit)| {
                Ok((
                    name.clone(),
                    shared_scope(&format!("{origin_key}|{name}"), *limit)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                client,
                secrets: config.auth.secrets(),
                connector: config.connector,
                source: config.source,
                base_url: config.base_url,
                auth: config.auth,
                default_scope,
                scopes,
                rate_limit_headers: config.rate_limit_headers,
                quota_headers: config.quota_headers,
                quota_reader: config.quota_reader,
                reserve_reached: std::sync::Mutex::new(None),
                settings: config.settings,
                classifier: config.classifier,
                stats: config.stats,
            }),
        })
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base_url, path)
    }

    /// The request counters.
    pub fn stats(&self) -> &Arc<HttpStats> {
        &self.inner.stats
    }

    /// The auth scheme (e.g. to read OAuth2 token extras).
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The retry settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// For OAuth2 credentials: a field of the token response other than the token itself
    /// (Salesforce's `instance_url`, the API host to use), fetching a token first if none is
    /// cached. `None` for other auth schemes or when the response has no such field. A
    /// refused token request is an `Auth` error naming the source.
    pub async fn auth_extra(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let Auth::OAuth2(o) = &self.inner.auth else {
            return Ok(None);
        };
        o.access_token(&self.inner.client, false)
            .await
            .map_err(|e| {
                let mut token_request = ApiRequest::get(o.token_url.clone());
                token_request.method = Method::POST;
                self.fail(e, &token_request)
            })?;
        Ok(o.token_extra(key).await)
    }

    fn scope(&self, name: Option<&str>) -> Result<&Arc<QuotaScope>> {
        match name {
            None => Ok(&self.inner.default_scope),
            Some(n) => self
                .inner
                .scopes
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, s)| s)
                .ok_or_else(|| Error::internal(format!("unknown quota scope `{n}`"))),
        }
    }

    /// Replaces every secret in `text` with `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.inner.secrets {
            if !s.is_empty() {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }

    /// Sends `req` until it is accepted, retrying per the settings.
    pub async fn execute(&self, req: &ApiRequest) -> Result<ApiResponse> {
        self.execute_checked(req, &|r: &ApiResponse| Ok(r.clone()))
            .await
    }

    /// Sends `req` and runs `check` on the accepted response inside the retry loop: if the
    /// check fails with a retryable error (a truncated body), the request is sent again.
    pub async fn execute_checked<T>(&self, req: &ApiRequest, check: BodyCheck<'_, T>) -> Result<T> {
        let inner = &*self.inner;
        let scope = self.scope(req.scope.as_deref())?;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            if let Some((remaining, limit)) = *inner.reserve_reached.lock().expect("reserve lock") {
                return Err(self.fail(
                    Error::new(
                        ErrorKind::QuotaExhausted,
                        format!(
                            "quota reserve reached: {remaining} of {limit} requests left for the period \
                             (reserve {}%); resume later",
                            inner.settings.quota_reserve_percent
                        ),
                    ),
                    req,
                ));
            }
            let waited = scope.acquire().await;
            if waited > Duration::from_millis(5) {
                count(
                    &inner.stats,
                    |s| &s.throttle_wait_ms,
                    waited.as_millis() as u64,
                );
            }
            let outcome = self.send_once(req, refreshed).await;
            let retry_reason: String;
            let mut delay: Option<Duration> = None;
            match outcome {
                Err(e) if e.is_retryable() => {
                    retry_reason = e.to_string();
                }
                Err(e) => return Err(self.fail(e, req)),
                Ok(resp) => {
                    let budget = inner
                        .quota_headers
                        .as_ref()
                        .and_then(|q| q.read(&resp.headers))
                        .or_else(|| inner.quota_reader.and_then(|r| r(&resp.headers)));
                    if let Some((remaining, limit)) = budget
                        && limit > 0
                        && (remaining as f64) * 100.0
                            < inner.settings.quota_reserve_percent * limit as f64
                    {
                        tracing::warn!(source = %inner.source, remaining, limit, "period quota under the reserve: stopping after this response");
                        *inner.reserve_reached.lock().expect("reserve lock") =
                            Some((remaining, limit));
                    }
                    if let Some(spec) = &inner.rate_limit_headers
                        && let Some(pause) = spec.pause_for(&resp.headers)
                    {
                        tracing::debug!(source = %inner.source, pause_ms = pause.as_millis() as u64, "rate-limit headers low: slowing down");
                        scope.pause_for(pause);
                    }
                    if let Some(pause) = inner.classifier.pause(&resp.headers) {
                        tracing::debug!(source = %inner.source, pause_ms = pause.as_millis() as u64, "usage headers high: slowing down");
                        scope.pause_for(pause);
                    }
                    match inner
                        .classifier
                        .classify(resp.status, &resp.headers, &resp.body)
                    {
                        Verdict::Accept => match check(&resp) {
                            Ok(v) => return Ok(v),
                            Err(e) if e.is_retryable() => retry_reason = e.to_string(),
                            Err(e) => return Err(self.fail(e, req)),
                        },
                        Verdict::Retry {
                            after,
                            throttled,
                            reason,
                        } => {
                            if let Some(a) = after
                                && a > Duration::from_secs(inner.settings.max_retry_after_secs)
                            {
                                return Err(self.fail(
                                    Error::new(
                                        ErrorKind::QuotaExhausted,
                                        format!(
                                            "the API asked to wait {}s ({reason}); quota spent, resume later",
                                            a.as_secs()
                                        ),
                                    ),
                                    req,
                                ));
                            }
                            if throttled {
                                count(&inner.stats, |s| &s.throttled, 1);
                                let pause =
                                    after.unwrap_or_else(|| inner.settings.backoff(attempt));
                                scope.pause_for(pause);
                                count(
                                    &inner.stats,
                                    |s| &s.throttle_wait_ms,
                                    pause.as_millis() as u64,
                                );
                            }
                            delay = after;
                            retry_reason = reason;
                        }
                        Verdict::RefreshAuth => {
                            if !refreshed && matches!(inner.auth, Auth::OAuth2(_)) {
                                refreshed = true;
                                count(&inner.stats, |s| &s.auth_refreshes, 1);
                                tracing::info!(source = %inner.source, "access token rejected; refreshing it once");
                                continue;
                            }
                            return Err(self.fail(
                                Error::new(
                                    ErrorKind::Auth,
                                    format!(
                                        "authentication failed (HTTP 401){}: check the credential configured for source `{}`",
                                        body_hint(&resp.body),
                                        inner.source
                                    ),
                                )
                                .with_context("status", 401),
                                req,
                            ));
                        }
                        Verdict::QuotaExhausted(msg) => {
                            return Err(self.fail(Error::new(ErrorKind::QuotaExhausted, msg), req));
                        }
                        Verdict::Fail(e) => return Err(self.fail(e, req)),
                    }
                }
            }
            if attempt >= inner.settings.max_retries {
                let kind = if retry_reason.contains("429")
                    || retry_reason.to_lowercase().contains("limit")
                {
                    ErrorKind::Throttled
                } else {
                    ErrorKind::Network
                };
                return Err(self.fail(
                    Error::new(
                        kind,
                        format!(
                            "gave up after {} attempts; last error: {retry_reason}",
                            attempt + 1
                        ),
                    ),
                    req,
                ));
            }
            let wait = delay.unwrap_or_else(|| inner.settings.backoff(attempt));
            attempt += 1;
            count(&inner.stats, |s| &s.retries, 1);
            tracing::warn!(
                source = %inner.source,
                request = %req.describe(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                reason = %self.scrub(&retry_reason),
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn fail(&self, e: Error, req: &ApiRequest) -> Error {
        let scrubbed_msg = self.scrub(e.message());
        let mut out = Error::new(e.kind(), scrubbed_msg).with_retryable(e.is_retryable());
        for (k, v) in e.context() {
            out = out.with_context(k, self.scrub(v));
        }
        out.with_context("source", &self.inner.source)
            .with_context("request", req.describe())
    }

    async fn send_once(&self, req: &ApiRequest, force_refresh: bool) -> Result<ApiResponse> {
        let inner = &*self.inner;
        let mut builder = inner.client.request(req.method.clone(), &req.url);
        let mut query: Vec<(&str, &str)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let token;
        match &inner.auth {
            Auth::None => {}
            Auth::Bearer(t) => builder = builder.bearer_auth(t.expose()),
            Auth::Header { name, value } => builder = builder.header(name.as_str(), value.expose()),
            Auth::Query { name, value } => query.push((name.as_str(), value.expose())),
            Auth::Basic { user, password } => {
                builder = builder.basic_auth(user.expose(), password.as_ref().map(|p| p.expose()))
            }
            Auth::OAuth2(o) => {
                token = o.access_token(&inner.client, force_refresh).await?;
                builder = builder.bearer_auth(token.expose());
            }
        }
        if !query.is_empty() {
            builder = builder.query(&query);
        }
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &req.body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| Error::internal("cannot encode request body").with_source(e))?;
            count(&inner.stats, |s| &s.bytes_sent, bytes.len() as u64);
            builder = builder
                .header("content-type", "application/json")
                .body(bytes);
        }
        count(&inner.stats, |s| &s.requests, 1);
        let resp = builder
            .send()
            .await
            .map_err(|e| network_error(e, "request failed"))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| network_error(e, "response body was cut off"))?;
        count(&inner.stats, |s| &s.responses, 1);
        count(&inner.stats, |s| &s.bytes_received, body.len() as u64);
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    /// The connector name this client was built for.
    pub fn connector(&self) -> &str {
        &self.inner.connector
    }
}

fn network_error(e: reqwest::Error, what: &str) -> Error {
    let detail = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection error"
    };
    Error::new(ErrorKind::Network, format!("{what}: {detail}"))
        .with_retryable(true)
        .with_source(auth::strip_url(e))
}

#[cfg(test)]
mod tests;
