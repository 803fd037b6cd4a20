//! Google Ads API emulator (see `shared/reference/source-apis.md` §4): renders the world's
//! Google campaigns (utm_source `google`, paid search) under a manager account and its client
//! accounts, through `googleAds:searchStream` with GAQL.
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `POST /token` (Google's OAuth2 token endpoint) | `google_ads.oauth.refresh_token`, `google_ads.oauth.jwt_bearer` (issued), `google_ads.oauth.refused` |
//! | `POST /v{N}/customers/{id}/googleAds:searchStream`, `FROM customer_client` | `google_ads.customer_client.search_stream` |
//! | … `FROM customer` | `google_ads.customer.search_stream` |
//! | … `FROM campaign` (without / with `segments.date`) | `google_ads.campaign.search_stream` / `google_ads.campaign_daily.search_stream` |
//! | … `FROM ad_group` (without / with `segments.date`) | `google_ads.ad_group.search_stream` / `google_ads.ad_group_daily.search_stream` |
//! | … `FROM click_view` (one day per query, last 90 days) | `google_ads.click_view.search_stream` |
//!
//! Behaviour: `Authorization: Bearer` must carry a token issued by `/token`;
//! `developer-token` must match when configured; a client account is reachable only with
//! `login-customer-id` set to the manager; metrics on the manager fail with
//! `REQUESTED_METRICS_FOR_MANAGER`. The result is one JSON array of batches (10,000 rows each,
//! the last with `queryResourceConsumption`); int64 fields are strings, doubles numbers, zero
//! metrics are left out. Errors are Google's envelope wrapped in an array. An emulated daily
//! operation quota answers 429 `RESOURCE_EXHAUSTED` with a `retryDelay` of hours; an emulated
//! short-term limit with a `retryDelay` of seconds.

pub(crate) mod gaql;
pub(crate) mod render;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use chrono::Timelike;
use http::{HeaderMap, Method, Request, StatusCode};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::google::{self, GoogleOAuthConfig, TokenIssuer};
use crate::hubspot::RateLimitEmulation;
use crate::server::RouteInfo;
use crate::world::{Campaign, SharedWorld};
use gaql::{Op, Query};
use render::{Ctx, Customer, Metrics};

/// The OAuth scope of the Google Ads API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/adwords";

/// Rows per searchStream batch.
const BATCH_ROWS: usize = 10_000;

/// Days of click_view data the API keeps.
pub const CLICK_VIEW_DAYS: i64 = 90;

fn default_dev_token() -> Option<String> {
    Some("sandbox-developer-token".into())
}
fn default_manager() -> String {
    "1112223334".into()
}
fn default_clients() -> Vec<String> {
    vec!["1234567890".into(), "2345678901".into()]
}
fn default_versions() -> Vec<String> {
    ["v23", "v24", "v25", "v26"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_retry_delay() -> u64 {
    1
}

/// Settings of the Google Ads emulator (`[google_ads]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleAdsConfig {
    /// OAuth2 client, refresh token and token lifetime.
    pub oauth: GoogleOAuthConfig,
    /// The `developer-token` header required, if any.
    pub developer_token: Option<String>,
    /// The manager (MCC) account, digits only.
    pub manager_customer_id: String,
    /// Client accounts under the manager; the world's Google campaigns are spread over them.
    pub client_customer_ids: Vec<String>,
    /// API versions served (`v26`, …); others answer 404.
    pub api_versions: Vec<String>,
    /// Emulated daily operations quota (every searchStream call is one operation); `None`
    /// (the default) is unlimited. Past it: 429 with a `retryDelay` until midnight Pacific.
    pub daily_operations: Option<u64>,
    /// Emulated short-term limit (429 `RESOURCE_EXHAUSTED` when exceeded); `None` by default.
    pub rate_limit: Option<RateLimitEmulation>,
    /// `retryDelay` seconds of short-term 429s. Default `1`.
    pub retry_delay_secs: u64,
}

impl Default for GoogleAdsConfig {
    fn default() -> Self {
        GoogleAdsConfig {
            oauth: GoogleOAuthConfig::default(),
            developer_token: default_dev_token(),
            manager_customer_id: default_manager(),
            client_customer_ids: default_clients(),
            api_versions: default_versions(),
            daily_operations: None,
            rate_limit: None,
            retry_delay_secs: default_retry_delay(),
        }
    }
}

impl fmt::Debug for GoogleAdsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleAdsConfig")
            .field("oauth", &self.oauth)
            .field(
                "developer_token",
                &self.developer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("manager_customer_id", &self.manager_customer_id)
            .field("client_customer_ids", &self.client_customer_ids)
            .field("api_versions", &self.api_versions)
            .field("daily_operations", &self.daily_operations)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

struct Limits {
    window: VecDeque<Instant>,
    operations: u64,
}

struct State {
    world: SharedWorld,
    config: GoogleAdsConfig,
    token_url: String,
    tokens: TokenIssuer,
    limits: Mutex<Limits>,
    requests: AtomicU64,
    seed: u64,
    version_hint: Mutex<String>,
}

/// One running Google Ads emulator.
pub(crate) struct GoogleAdsApp {
    state: Arc<State>,
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

impl GoogleAdsApp {
    /// Creates the emulator over `world`; `base_url` is its root (the token URL is `/token`).
    pub(crate) fn new(
        world: SharedWorld,
        config: GoogleAdsConfig,
        base_url: String,
    ) -> GoogleAdsApp {
        let seed = world.read().config().seed;
        GoogleAdsApp {
            state: Arc::new(State {
                tokens: TokenIssuer::new(config.oauth.clone(), SCOPE, seed),
                token_url: format!("{base_url}/token"),
                world,
                config,
                limits: Mutex::new(Limits {
                    window: VecDeque::new(),
                    operations: 0,
                }),
                requests: AtomicU64::new(0),
                seed,
                version_hint: Mutex::new("v26".into()),
            }),
        }
    }

    fn request_id(&self) -> String {
        let n = self.state.requests.fetch_add(1, Ordering::Relaxed);
        crate::world::rng::uuid_like(self.state.seed ^ 0x6761_6473, n)
            .replace('-', "")
            .chars()
            .take(22)
            .collect()
    }

    /// `[{"error":{…GoogleAdsFailure…}}]` with `status`.
    fn failure(
        &self,
        code: u16,
        status: &str,
        message: &str,
        error_code: serde_json::Value,
        extra: Option<serde_json::Value>,
    ) -> Response {
        let version = self
            .state
            .version_hint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut err = serde_json::json!({"errorCode": error_code, "message": message});
        if let Some(x) = extra {
            err["details"] = x;
        }
        let details = serde_json::json!([{
            "@type": format!("type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"),
            "errors": [err],
            "requestId": self.request_id(),
        }]);
        let body = serde_json::json!([google::error_body(code, status, message, Some(details))]);
        google::json_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
            body.to_string().into_bytes(),
        )
    }

    fn exhausted(&self, scope: &str, rate_name: &str, retry_secs: Option<u64>) -> Response {
        let message = match retry_secs {
            Some(s) => format!("Too many requests. Retry in {s} seconds."),
            None => "Too many requests.".to_string(),
        };
        let mut details =
            serde_json::json!({"quotaErrorDetails": {"rateScope": scope, "rateName": rate_name}});
        if let Some(s) = retry_secs {
            details["quotaErrorDetails"]["retryDelay"] = serde_json::json!(format!("{s}s"));
        }
        let version = self
            .state
            .version_hint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let body = serde_json::json!([{"error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{
                "@type": format!("type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"),
                "errors": [{"errorCode": {"quotaError": "RESOURCE_EXHAUSTED"}, "message": message, "details": details}],
                "requestId": self.request_id(),
            }]
        }}]);
        google::json_response(StatusCode::TOO_MANY_REQUESTS, body.to_string().into_bytes())
    }

    fn unauthenticated(&self, code: &str, message: &str) -> Response {
        self.failure(
            401,
            "UNAUTHENTICATED",
            message,
            serde_json::json!({ "authenticationError": code }),
            None,
        )
    }

    /// The response an injected fault produces (searchStream-shaped: errors in an array).
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        match fault {
            Fault::TooManyRequests { retry_after } => {
                Some(self.exhausted("ACCOUNT", "Requests per service per method", *retry_after))
            }
            Fault::Status { code: 500 } => Some(self.failure(
                500,
                "INTERNAL",
                "Internal error encountered.",
                serde_json::json!({"internalError": "INTERNAL_ERROR"}),
                None,
            )),
            Fault::Status { code: 503 } => Some(google::json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!([google::error_body(503, "UNAVAILABLE", "The service is currently unavailable.", None)])
                    .to_string()
                    .into_bytes(),
            )),
            Fault::Status { code } => Some(google::gateway_page(*code)),
            Fault::Unauthorized => Some(self.unauthenticated(
                "OAUTH_TOKEN_INVALID",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => None,
        }
    }

    /// Handles one request.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let path = parts.uri.path();
        if path == "/token" {
            if parts.method != Method::POST {
                return tagged(google::gateway_page(404), "google_ads.not_found", 0);
            }
            let outcome = self
                .state
                .tokens
                .token(&String::from_utf8_lossy(&body), &self.state.token_url);
            let kind = match outcome.granted {
                Some("jwt_bearer") => "google_ads.oauth.jwt_bearer",
                Some(_) => "google_ads.oauth.refresh_token",
                None => "google_ads.oauth.refused",
            };
            return tagged(outcome.response, kind, 0);
        }
        if !self.state.tokens.authorized(&parts.headers) {
            return self.unauthenticated(
                "OAUTH_TOKEN_INVALID",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            );
        }
        if let Some(dev) = &self.state.config.developer_token
            && header(&parts.headers, "developer-token") != Some(dev.as_str())
        {
            return self.unauthenticated(
                "DEVELOPER_TOKEN_INVALID",
                "The developer token is not valid.",
            );
        }
        // /v{N}/customers/{id}/googleAds:searchStream
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (version, customer_id) = match segs.as_slice() {
            [v, "customers", id, "googleAds:searchStream"] if parts.method == Method::POST => {
                (*v, *id)
            }
            _ => {
                return tagged(
                    google::json_response(
                        StatusCode::NOT_FOUND,
                        google::error_body(404, "NOT_FOUND", "Method not found.", None)
                            .to_string()
                            .into_bytes(),
                    ),
                    "google_ads.not_found",
                    0,
                );
            }
        };
        if !self.state.config.api_versions.iter().any(|v| v == version) {
            return tagged(
                google::json_response(
                    StatusCode::NOT_FOUND,
                    google::error_body(
                        404,
                        "NOT_FOUND",
                        &format!(
                            "Version {version} is not available (sunset or not yet released)."
                        ),
                        None,
                    )
                    .to_string()
                    .into_bytes(),
                ),
                "google_ads.not_found",
                0,
            );
        }
        *self
            .state
            .version_hint
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = version.to_string();
        if let Some(resp) = self.admit() {
            return resp;
        }
        let query_text = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("query").and_then(|q| q.as_str()).map(String::from));
        let Some(query_text) = query_text else {
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                serde_json::json!({"requestError": "INVALID_INPUT"}),
                None,
            );
        };
        let query = match gaql::parse(&query_text) {
            Ok(q) => q,
            Err(e) => {
                return self.failure(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Error in query: {e}"),
                    serde_json::json!({"queryError": "UNEXPECTED_INPUT"}),
                    None,
                );
            }
        };
        self.search_stream(customer_id, login_customer(&parts.headers), &query)
    }

    /// Short-term limit and daily operations; `Some` response when over either.
    fn admit(&self) -> Option<Response> {
        let mut l = self.state.limits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(max) = self.state.config.daily_operations
            && l.operations >= max
        {
            drop(l);
            // The basic-access quota resets at midnight Pacific time.
            let now = chrono::Utc::now() - chrono::Duration::hours(8);
            let secs = 86_400 - u64::from(now.num_seconds_from_midnight());
            return Some(self.exhausted(
                "DEVELOPER",
                "Number of operations for basic access",
                Some(secs.max(3_600)),
            ));
        }
        if let Some(r) = self.state.config.rate_limit {
            let now = Instant::now();
            let interval = Duration::from_millis(r.interval_ms);
            while l
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= interval)
            {
                l.window.pop_front();
            }
            if l.window.len() as u64 >= u64::from(r.max) {
                drop(l);
                return Some(self.exhausted(
                    "ACCOUNT",
                    "Requests per service per method",
                    Some(self.state.config.retry_delay_secs),
                ));
            }
            l.window.push_back(now);
        }
        l.operations += 1;
        None
    }

    fn customers(&self) -> (Customer, Vec<Customer>) {
        let c = &self.state.config;
        let manager = Customer {
            id: c.manager_customer_id.clone(),
            name: "Revline Demo (Manager)".into(),
            manager: true,
            currency: "USD",
            time_zone: "America/Los_Angeles",
        };
        let regions = ["US", "EMEA", "APAC", "LATAM"];
        let clients = c
            .client_customer_ids
            .iter()
            .enumerate()
            .map(|(i, id)| Customer {
                id: id.clone(),
                name: format!("Revline Demo – Search {}", regions[i % regions.len()]),
                manager: false,
                currency: "USD",
                time_zone: "America/New_York",
            })
            .collect();
        (manager, clients)
    }

    fn search_stream(&self, customer_id: &str, login: Option<String>, q: &Query) -> Response {
        let (manager, clients) = self.customers();
        let client_idx = clients.iter().position(|c| c.id == customer_id);
        let is_manager = customer_id == manager.id;
        let denied = match (is_manager, client_idx) {
            (true, _) => login.as_deref().is_some_and(|l| l != manager.id),
            (false, Some(_)) => login.as_deref() != Some(manager.id.as_str()),
            (false, None) => true,
        };
        if denied {
            return self.failure(
                403,
                "PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
                serde_json::json!({"authorizationError": "USER_PERMISSION_DENIED"}),
                None,
            );
        }
        for f in &q.fields {
            if !render::allowed(&q.resource, f) {
                return self.failure(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Unrecognized field in the query: '{f}'."),
                    serde_json::json!({"queryError": "UNRECOGNIZED_FIELD"}),
                    None,
                );
            }
        }
        let has_metrics = q.fields.iter().any(|f| f.starts_with("metrics."));
        let has_date = q.fields.iter().any(|f| f == "segments.date");
        if is_manager
            && (has_metrics || q.resource != "customer_client" && q.resource != "customer")
        {
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                "Metrics cannot be requested for a manager account. To retrieve metrics, issue separate requests against each client account under the manager account.",
                serde_json::json!({"queryError": "REQUESTED_METRICS_FOR_MANAGER"}),
                None,
            );
        }
        let world = self.state.world.read();
        let range = match gaql::date_range(q, world.today()) {
            Ok(r) => r,
            Err(e) => {
                return self.failure(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Error in WHERE clause: {e}"),
                    serde_json::json!({"queryError": "INVALID_VALUE_WITH_DURING_OPERATOR"}),
                    None,
                );
            }
        };
        if has_date && range.is_none() {
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                "Date segments require a finite date range: add a filter on segments.date.",
                serde_json::json!({"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"}),
                None,
            );
        }
        if q.resource == "click_view" && range.is_none_or(|(a, b)| a != b) {
            return self.failure(
                400,
                "INVALID_ARGUMENT",
                "click_view requires a filter on segments.date for a single day.",
                serde_json::json!({"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"}),
                None,
            );
        }
        let customer = if is_manager {
            &manager
        } else {
            &clients[client_idx.expect("checked")]
        };
        let campaigns: Vec<&Campaign> = match client_idx {
            Some(i) => world
                .paid_campaigns("google")
                .enumerate()
                .filter(|(p, _)| p % clients.len() == i)
                .map(|(_, c)| c)
                .collect(),
            None => Vec::new(),
        };
        let layout = render::layout(&q.fields);
        let mut rows: Vec<Vec<u8>> = Vec::new();
        let mut push = |ctx: &Ctx<'_>| {
            if matches(&q.conditions, ctx) && q.limit.is_none_or(|l| (rows.len() as u64) < l) {
                let mut row = Vec::with_capacity(256);
                render::write_row(&mut row, &layout, ctx);
                rows.push(row);
            }
        };
        let kind: &'static str = match (q.resource.as_str(), has_date) {
            ("customer_client", _) => {
                if is_manager {
                    push(&Ctx {
                        customer: Some(customer),
                        client: Some((&manager, 0)),
                        ..Ctx::default()
                    });
                    for c in &clients {
                        push(&Ctx {
                            customer: Some(customer),
                            client: Some((c, 1)),
                            ..Ctx::default()
                        });
                    }
                }
                "google_ads.customer_client.search_stream"
            }
            ("customer", false) => {
                push(&Ctx {
                    customer: Some(customer),
                    ..Ctx::default()
                });
                "google_ads.customer.search_stream"
            }
            ("campaign", false) | ("ad_group", false) => {
                let per_group = q.resource == "ad_group";
                for c in &campaigns {
                    let groups = if per_group {
                        world.ad_groups_of(c)
                    } else {
                        Vec::new()
                    };
                    let ctx = Ctx {
                        customer: Some(customer),
                        campaign: Some(c),
                        campaign_first_day: Some(world.campaign_first_day(c)),
                        ..Ctx::default()
                    };
                    if per_group {
                        for g in &groups {
                            push(&Ctx {
                                ad_group: Some(g),
                                ..ctx.clone()
                            });
                        }
                    } else {
                        push(&ctx);
                    }
                }
                if per_group {
                    "google_ads.ad_group.search_stream"
                } else {
                    "google_ads.campaign.search_stream"
                }
            }
            ("campaign", true) | ("ad_group", true) | ("customer", true) => {
                let (from, to) = range.expect("checked");
                let mut day = from.max(world.first_day());
                let last = to.min(world.today());
                let per_group = q.resource == "ad_group";
                let groups: Vec<Vec<crate::world::marketing::AdGroup>> =
                    campaigns.iter().map(|c| world.ad_groups_of(c)).collect();
                while day <= last {
                    let md = world.marketing_day(day);
                    let mut customer_total = Metrics::default();
                    for (ci, c) in campaigns.iter().enumerate() {
                        let mut by_group = vec![Metrics::default(); groups[ci].len()];
                        for a in md.ads.iter().filter(|a| a.key.campaign == c.index) {
                            by_group[a.key.ad_group as usize].add(&Metrics {
                                impressions: a.impressions,
                                clicks: a.clicks,
                                cost_micros: a.cost_micros,
                                conversions: a.conversions as f64,
                                conversions_value: a.conversion_value_cents as f64 / 100.0,
                            });
                        }
                        let base = Ctx {
                            customer: Some(customer),
                            campaign: Some(c),
                            campaign_first_day: Some(world.campaign_first_day(c)),
                            day: Some(day),
                            ..Ctx::default()
                        };
                        let mut total = Metrics::default();
                        for (gi, m) in by_group.iter().enumerate() {
                            total.add(m);
                            if per_group && !m.is_zero() {
                                push(&Ctx {
                                    ad_group: Some(&groups[ci][gi]),
                                    metrics: Some(*m),
                                    ..base.clone()
                                });
                            }
                        }
                        customer_total.add(&total);
                        if q.resource == "campaign" && !total.is_zero() {
                            push(&Ctx {
                                metrics: Some(total),
                                ..base
                            });
                        }
                    }
                    if q.resource == "customer" && !customer_total.is_zero() {
                        push(&Ctx {
                            customer: Some(customer),
                            day: Some(day),
                            metrics: Some(customer_total),
                            ..Ctx::default()
                        });
                    }
                    day += chrono::Duration::days(1);
                }
                match q.resource.as_str() {
                    "ad_group" => "google_ads.ad_group_daily.search_stream",
                    "customer" => "google_ads.customer.search_stream",
                    _ => "google_ads.campaign_daily.search_stream",
                }
            }
            ("click_view", _) => {
                let (day, _) = range.expect("checked");
                let fresh = day > world.today() - chrono::Duration::days(CLICK_VIEW_DAYS);
                if fresh {
                    for c in &campaigns {
                        for g in world.ad_groups_of(c) {
                            for ad in world.ads_of(&g) {
                                for click in world.ad_clicks(ad.key, day) {
                                    push(&Ctx {
                                        customer: Some(customer),
                                        campaign: Some(c),
                                        ad_group: Some(&g),
                                        day: Some(day),
                                        click: Some((&click.click_id, ad.id)),
                                        ..Ctx::default()
                                    });
                                }
                            }
                        }
                    }
                }
                "google_ads.click_view.search_stream"
            }
            _ => {
                return self.failure(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Invalid resource in the FROM clause: '{}'.", q.resource),
                    serde_json::json!({"queryError": "INVALID_RESOURCE_NAME_IN_FROM_CLAUSE"}),
                    None,
                );
            }
        };
        drop(world);
        let n = rows.len() as u64;
        tagged(
            self.stream_body(&rows, &render::field_mask(&q.fields)),
            kind,
            n,
        )
    }

    /// `[{"results":[…],"fieldMask":…,"requestId":…}, …]`, the last batch with
    /// `queryResourceConsumption`.
    fn stream_body(&self, rows: &[Vec<u8>], mask: &str) -> Response {
        let size: usize = rows.iter().map(Vec::len).sum::<usize>() + 256;
        let mut out = Vec::with_capacity(size);
        out.push(b'[');
        let request_id = self.request_id();
        let chunks: Vec<&[Vec<u8>]> = if rows.is_empty() {
            vec![&[]]
        } else {
            rows.chunks(BATCH_ROWS).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            if !chunk.is_empty() {
                out.extend_from_slice(b"\"results\":[");
                for (j, r) in chunk.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(r);
                }
                out.extend_from_slice(b"],");
            }
            out.extend_from_slice(b"\"fieldMask\":");
            google::push_str(&mut out, mask);
            out.extend_from_slice(b",\"requestId\":");
            google::push_str(&mut out, &request_id);
            if i == last {
                out.extend_from_slice(b",\"queryResourceConsumption\":\"");
                out.extend_from_slice((10 + rows.len() / 50).to_string().as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        out.push(b']');
        google::json_response(StatusCode::OK, out)
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)?.to_str().ok()
}

fn login_customer(h: &HeaderMap) -> Option<String> {
    header(h, "login-customer-id").map(|v| v.replace('-', ""))
}

/// Whether a row passes the non-date `WHERE` conditions.
fn matches(conds: &[gaql::Condition], ctx: &Ctx<'_>) -> bool {
    conds
        .iter()
        .filter(|c| c.field != "segments.date")
        .all(|c| {
            let v = render::value(&c.field, ctx);
            let text = v.as_ref().map(render::V::text).unwrap_or_else(|| {
                if c.field.starts_with("metrics.") {
                    "0".into()
                } else {
                    String::new()
                }
            });
            let num = |s: &str| s.parse::<f64>().ok();
            match &c.op {
                Op::Cmp(op, val) => {
                    let rhs = val.as_text();
                    match *op {
                        "=" => text.eq_ignore_ascii_case(&rhs),
                        "!=" => !text.eq_ignore_ascii_case(&rhs),
                        cmp => match (num(&text), num(&rhs)) {
                            (Some(a), Some(b)) => match cmp {
                                ">" => a > b,
                                "<" => a < b,
                                ">=" => a >= b,
                                _ => a <= b,
                            },
                            _ => false,
                        },
                    }
                }
                Op::In(vals, yes) => {
                    vals.iter().any(|v| v.as_text().eq_ignore_ascii_case(&text)) == *yes
                }
                Op::IsNull(yes) => v.is_none() == *yes,
                Op::Between(a, b) => match (num(&text), num(&a.as_text()), num(&b.as_text())) {
                    (Some(x), Some(lo), Some(hi)) => lo <= x && x <= hi,
                    _ => false,
                },
                Op::Like(..) | Op::During(_) => true,
            }
        })
}
