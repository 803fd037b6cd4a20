//! Google Analytics 4 Data API emulator (see `shared/reference/source-apis.md` §7): renders
//! the world's web sessions (by day, traffic source and landing page) as `runReport` results.
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `POST /token` (Google's OAuth2 token endpoint) | `ga4.oauth.refresh_token`, `ga4.oauth.jwt_bearer`, `ga4.oauth.refused` |
//! | `POST /v1beta/properties/{id}:runReport` with `sessionCampaignName` / `landingPage…` / other dimensions | `ga4.run_report.campaign` / `ga4.run_report.landing_page` / `ga4.run_report` |
//! | `GET /v1beta/properties/{id}/metadata` | `ga4.metadata` |
//!
//! Behaviour: metric values are strings typed by `metricHeaders[i].type`; `date` is
//! `YYYYMMDD`; rows are ordered by date, then dimension values; paging is `offset`/`limit`
//! against `rowCount` (the total); an empty report has neither `rows` nor `rowCount`; at most
//! 9 dimensions and 10 metrics; unknown names are 400 `INVALID_ARGUMENT`; another property is
//! 403. Quota is reported in the body (`propertyQuota`, when `returnPropertyQuota` is true):
//! every report costs `tokens_per_request` tokens of the property's daily and hourly budgets,
//! and a request past either answers 429 `RESOURCE_EXHAUSTED`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use http::{HeaderValue, Method, Request, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::google::{self, GoogleOAuthConfig, TokenIssuer};
use crate::json;
use crate::server::RouteInfo;
use crate::world::marketing::SessionCell;
use crate::world::{Channel, SharedWorld, World};

/// The OAuth scope of the Data API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";

/// Largest `limit`.
pub const MAX_LIMIT: u64 = 250_000;

fn default_property() -> String {
    "345678901".into()
}
fn default_tokens_day() -> u64 {
    200_000
}
fn default_tokens_hour() -> u64 {
    40_000
}
fn default_cost() -> u64 {
    10
}

/// Settings of the GA4 emulator (`[ga4]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ga4Config {
    /// OAuth2 client, refresh token and token lifetime.
    pub oauth: GoogleOAuthConfig,
    /// The property the credentials may read.
    pub property_id: String,
    /// Property tokens per day (standard property: 200,000).
    pub tokens_per_day: u64,
    /// Property tokens per hour (standard property: 40,000).
    pub tokens_per_hour: u64,
    /// Tokens one `runReport` costs. Default `10`.
    pub tokens_per_request: u64,
}

impl Default for Ga4Config {
    fn default() -> Self {
        Ga4Config {
            oauth: GoogleOAuthConfig::default(),
            property_id: default_property(),
            tokens_per_day: default_tokens_day(),
            tokens_per_hour: default_tokens_hour(),
            tokens_per_request: default_cost(),
        }
    }
}

impl fmt::Debug for Ga4Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ga4Config")
            .field("oauth", &self.oauth)
            .field("property_id", &self.property_id)
            .field("tokens_per_day", &self.tokens_per_day)
            .field("tokens_per_hour", &self.tokens_per_hour)
            .field("tokens_per_request", &self.tokens_per_request)
            .finish()
    }
}

/// Metric types, as `metricHeaders[i].type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MType {
    Integer,
    Float,
    Currency,
    Seconds,
}

impl MType {
    fn as_str(self) -> &'static str {
        match self {
            MType::Integer => "TYPE_INTEGER",
            MType::Float => "TYPE_FLOAT",
            MType::Currency => "TYPE_CURRENCY",
            MType::Seconds => "TYPE_SECONDS",
        }
    }
}

/// `(apiName, uiName, category)` of every dimension served.
const DIMENSIONS: &[(&str, &str, &str)] = &[
    ("date", "Date", "Time"),
    ("sessionSource", "Session source", "Traffic source"),
    ("sessionMedium", "Session medium", "Traffic source"),
    ("sessionCampaignName", "Session campaign", "Traffic source"),
    ("sessionCampaignId", "Session campaign ID", "Traffic source"),
    (
        "sessionSourceMedium",
        "Session source / medium",
        "Traffic source",
    ),
    (
        "sessionDefaultChannelGroup",
        "Session default channel group",
        "Traffic source",
    ),
    ("landingPage", "Landing page", "Page / screen"),
    (
        "landingPagePlusQueryString",
        "Landing page + query string",
        "Page / screen",
    ),
];

/// `(apiName, uiName, type)` of every metric served.
const METRICS: &[(&str, &str, MType)] = &[
    ("sessions", "Sessions", MType::Integer),
    ("engagedSessions", "Engaged sessions", MType::Integer),
    ("totalUsers", "Total users", MType::Integer),
    ("newUsers", "New users", MType::Integer),
    ("keyEvents", "Key events", MType::Integer),
    ("conversions", "Conversions", MType::Integer),
    ("totalRevenue", "Total revenue", MType::Currency),
    ("purchaseRevenue", "Purchase revenue", MType::Currency),
    ("engagementRate", "Engagement rate", MType::Float),
    (
        "averageSessionDuration",
        "Average session duration",
        MType::Seconds,
    ),
];

/// Summable totals of a group of cells.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    sessions: u64,
    engaged: u64,
    users: u64,
    new_users: u64,
    key_events: u64,
    revenue_cents: u64,
    duration_secs: u64,
}

impl Sums {
    fn add(&mut self, c: &SessionCell, duration: u64) {
        self.sessions += c.sessions;
        self.engaged += c.engaged_sessions;
        self.users += c.total_users;
        self.new_users += c.new_users;
        self.key_events += c.key_events;
        self.revenue_cents += c.revenue_cents;
        self.duration_secs += duration;
    }

    fn metric(&self, name: &str) -> String {
        match name {
            "sessions" => self.sessions.to_string(),
            "engagedSessions" => self.engaged.to_string(),
            "totalUsers" => self.users.to_string(),
            "newUsers" => self.new_users.to_string(),
            "keyEvents" | "conversions" => self.key_events.to_string(),
            "totalRevenue" | "purchaseRevenue" => money(self.revenue_cents),
            "engagementRate" => ratio(self.engaged as f64, self.sessions as f64),
            _ => ratio(self.duration_secs as f64, self.sessions as f64),
        }
    }

    fn is_zero(&self) -> bool {
        self.sessions == 0 && self.key_events == 0 && self.users == 0
    }
}

fn money(cents: u64) -> String {
    if cents.is_multiple_of(100) {
        (cents / 100).to_string()
    } else {
        let s = format!("{}.{:02}", cents / 100, cents % 100);
        s.trim_end_matches('0').to_string()
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "0".into()
    } else {
        let mut out = Vec::new();
        json::push_f64(&mut out, a / b);
        String::from_utf8(out).expect("ascii")
    }
}

struct Quota {
    day_used: u64,
    hour_used: u64,
}

struct State {
    world: SharedWorld,
    config: Ga4Config,
    token_url: String,
    tokens: TokenIssuer,
    quota: Mutex<Quota>,
    requests: AtomicU64,
}

/// One running GA4 emulator.
pub(crate) struct Ga4App {
    state: Arc<State>,
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

/// Google's error envelope (not wrapped) with `status`.
fn error(code: u16, status: &str, message: &str, details: Option<serde_json::Value>) -> Response {
    google::json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        google::error_body(code, status, message, details)
            .to_string()
            .into_bytes(),
    )
}

fn invalid(message: &str) -> Response {
    error(400, "INVALID_ARGUMENT", message, None)
}

/// A parsed `runReport` request.
struct ReportRequest {
    ranges: Vec<(NaiveDate, NaiveDate)>,
    dimensions: Vec<String>,
    metrics: Vec<String>,
    limit: u64,
    offset: u64,
    quota: bool,
}

fn relative_date(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    match s {
        "today" => Some(today),
        "yesterday" => Some(today - Duration::days(1)),
        _ => {
            if let Some(n) = s.strip_suffix("daysAgo") {
                return n.parse::<i64>().ok().map(|n| today - Duration::days(n));
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
        }
    }
}

/// `limit` and `offset` are int64: strings or numbers.
fn int64(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

fn parse_request(body: &[u8], today: NaiveDate) -> Result<ReportRequest, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str().map(String::from))
            .collect()
    };
    let dimensions = names("dimensions");
    let metrics = names("metrics");
    if metrics.is_empty() {
        return Err("At least one metric is required.".into());
    }
    if dimensions.len() > 9 {
        return Err(format!(
            "Requests are limited to 9 dimensions; this request has {}.",
            dimensions.len()
        ));
    }
    if metrics.len() > 10 {
        return Err(format!(
            "Requests are limited to 10 metrics; this request has {}.",
            metrics.len()
        ));
    }
    for d in &dimensions {
        if !DIMENSIONS.iter().any(|(n, ..)| n == d) {
            return Err(format!(
                "Field {d} is not a valid dimension. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema "
            ));
        }
    }
    for m in &metrics {
        if !METRICS.iter().any(|(n, ..)| n == m) {
            return Err(format!(
                "Field {m} is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema "
            ));
        }
    }
    let mut ranges = Vec::new();
    for r in v["dateRanges"].as_array().into_iter().flatten() {
        let start = r["startDate"]
            .as_str()
            .and_then(|s| relative_date(s, today));
        let end = r["endDate"].as_str().and_then(|s| relative_date(s, today));
        match (start, end) {
            (Some(a), Some(b)) if a <= b => ranges.push((a, b)),
            _ => {
                return Err(format!(
                    "Invalid date range: startDate {} / endDate {}; dates are YYYY-MM-DD, NdaysAgo, yesterday or today, with startDate not after endDate.",
                    r["startDate"], r["endDate"]
                ));
            }
        }
    }
    if ranges.is_empty() {
        return Err("dateRanges is required.".into());
    }
    let limit = match v.get("limit") {
        None => 10_000,
        Some(l) => int64(l).ok_or("limit must be an int64")?,
    };
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!(
            "limit must be between 1 and {MAX_LIMIT}; got {limit}."
        ));
    }
    let offset = match v.get("offset") {
        None => 0,
        Some(o) => int64(o).ok_or("offset must be an int64")?,
    };
    Ok(ReportRequest {
        ranges,
        dimensions,
        metrics,
        limit,
        offset,
        quota: v["returnPropertyQuota"].as_bool().unwrap_or(false),
    })
}

fn channel_group(c: Channel) -> &'static str {
    match c {
        Channel::PaidSearch => "Paid Search",
        Channel::PaidSocial => "Paid Social",
        Channel::Organic => "Organic Search",
        Channel::Email => "Email",
        Channel::Referral => "Referral",
        Channel::Direct => "Direct",
    }
}

fn dimension(w: &World, name: &str, day: NaiveDate, cell: &SessionCell) -> String {
    let c = cell.campaign.map(|i| &w.campaigns()[i as usize]);
    match name {
        "date" => day.format("%Y%m%d").to_string(),
        "sessionSource" => c.map_or("(direct)", |c| c.utm_source).to_string(),
        "sessionMedium" => c.map_or("(none)", |c| c.utm_medium).to_string(),
        "sessionCampaignName" => c.map_or("(not set)".to_string(), |c| c.utm_campaign.clone()),
        "sessionCampaignId" => c.map_or("(not set)".to_string(), |c| c.id.to_string()),
        "sessionSourceMedium" => c.map_or("(direct) / (none)".to_string(), |c| {
            format!("{} / {}", c.utm_source, c.utm_medium)
        }),
        "sessionDefaultChannelGroup" => {
            channel_group(c.map_or(Channel::Direct, |c| c.channel)).to_string()
        }
        "landingPage" => w.landing_page_path(cell.page),
        _ => {
            let path = w.landing_page_path(cell.page);
            match c {
                Some(c) => format!(
                    "{path}?utm_source={}&utm_medium={}&utm_campaign={}",
                    c.utm_source, c.utm_medium, c.utm_campaign
                ),
                None => path,
            }
        }
    }
}

impl Ga4App {
    /// Creates the emulator over `world`; `base_url` is its root (the token URL is `/token`).
    pub(crate) fn new(world: SharedWorld, config: Ga4Config, base_url: String) -> Ga4App {
        let seed = world.read().config().seed;
        Ga4App {
            state: Arc::new(State {
                tokens: TokenIssuer::new(config.oauth.clone(), SCOPE, seed ^ 0x6761_3400),
                token_url: format!("{base_url}/token"),
                world,
                config,
                quota: Mutex::new(Quota {
                    day_used: 0,
                    hour_used: 0,
                }),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        match fault {
            Fault::TooManyRequests { retry_after } => {
                let details = retry_after.map(|s| {
                    serde_json::json!([{
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": format!("{s}s"),
                    }])
                });
                Some(error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Exhausted concurrent requests quota for a property. Please retry shortly.",
                    details,
                ))
            }
            Fault::Status { code: 500 } => {
                Some(error(500, "INTERNAL", "Internal error encountered.", None))
            }
            Fault::Status { code: 503 } => Some(error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                None,
            )),
            Fault::Status { code } => Some(google::gateway_page(*code)),
            Fault::Unauthorized => Some(error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                None,
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
        if path == "/token" && parts.method == Method::POST {
            let outcome = self
                .state
                .tokens
                .token(&String::from_utf8_lossy(&body), &self.state.token_url);
            let kind = match outcome.granted {
                Some("jwt_bearer") => "ga4.oauth.jwt_bearer",
                Some(_) => "ga4.oauth.refresh_token",
                None => "ga4.oauth.refused",
            };
            return tagged(outcome.response, kind, 0);
        }
        if !self.state.tokens.authorized(&parts.headers) {
            return error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                None,
            );
        }
        let Some(rest) = path.strip_prefix("/v1beta/properties/") else {
            return tagged(
                error(404, "NOT_FOUND", "Method not found.", None),
                "ga4.not_found",
                0,
            );
        };
        let (property, method) = match rest.split_once(':') {
            Some((p, m)) => (p, m),
            None => match rest.split_once('/') {
                Some((p, m)) => (p, m),
                None => (rest, ""),
            },
        };
        if property != self.state.config.property_id {
            return error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.",
                None,
            );
        }
        match (parts.method.clone(), method) {
            (Method::POST, "runReport") => self.run_report(&body),
            (Method::GET, "metadata") => tagged(self.metadata(), "ga4.metadata", 0),
            _ => tagged(
                error(404, "NOT_FOUND", "Method not found.", None),
                "ga4.not_found",
                0,
            ),
        }
    }

    fn metadata(&self) -> Response {
        let property = &self.state.config.property_id;
        let body = serde_json::json!({
            "name": format!("properties/{property}/metadata"),
            "dimensions": DIMENSIONS.iter().map(|(n, ui, cat)| serde_json::json!({
                "apiName": n, "uiName": ui, "description": ui, "category": cat})).collect::<Vec<_>>(),
            "metrics": METRICS.iter().map(|(n, ui, t)| serde_json::json!({
                "apiName": n, "uiName": ui, "description": ui, "type": t.as_str(), "category": "Session"})).collect::<Vec<_>>(),
        });
        google::json_response(StatusCode::OK, body.to_string().into_bytes())
    }

    /// Spends a report's tokens, or says which budget is exhausted.
    fn spend(&self) -> Result<(u64, u64, u64), &'static str> {
        let c = &self.state.config;
        let mut q = self.state.quota.lock().unwrap_or_else(|e| e.into_inner());
        let cost = c.tokens_per_request;
        if q.day_used + cost > c.tokens_per_day {
            return Err(
                "Exhausted property tokens per day for a property. This quota will refresh at the start of the next day (Pacific time).",
            );
        }
        if q.hour_used + cost > c.tokens_per_hour {
            return Err(
                "Exhausted property tokens per hour for a property. This quota will refresh within the hour.",
            );
        }
        q.day_used += cost;
        q.hour_used += cost;
        Ok((
            cost,
            c.tokens_per_day - q.day_used,
            c.tokens_per_hour - q.hour_used,
        ))
    }

    fn run_report(&self, body: &[u8]) -> Response {
        let world = self.state.world.read();
        let req = match parse_request(body, world.today()) {
            Ok(r) => r,
            Err(m) => return tagged(invalid(&m), "ga4.invalid", 0),
        };
        let kind: &'static str = if req.dimensions.iter().any(|d| d == "sessionCampaignName") {
            "ga4.run_report.campaign"
        } else if req.dimensions.iter().any(|d| d.starts_with("landingPage")) {
            "ga4.run_report.landing_page"
        } else {
            "ga4.run_report"
        };
        let (cost, day_left, hour_left) = match self.spend() {
            Ok(q) => q,
            Err(m) => return tagged(error(429, "RESOURCE_EXHAUSTED", m, None), kind, 0),
        };
        // Group the session cells of every requested day by the requested dimensions.
        let mut groups: BTreeMap<Vec<String>, Sums> = BTreeMap::new();
        for (from, to) in &req.ranges {
            let mut day = (*from).max(world.first_day());
            let last = (*to).min(world.today());
            while day <= last {
                let md = world.marketing_day(day);
                for (i, cell) in md.cells.iter().enumerate() {
                    let key: Vec<String> = req
                        .dimensions
                        .iter()
                        .map(|d| dimension(&world, d, day, cell))
                        .collect();
                    let mut r = crate::world::rng::Rng::for_entity(
                        world.config().seed,
                        0x6761_3401,
                        crate::world::rng::mix64(
                            (crate::world::marketing::day_index(day) as u64) << 20 | i as u64,
                        ),
                    );
                    let duration = cell.sessions * (40 + r.below(260));
                    groups.entry(key).or_default().add(cell, duration);
                }
                day += Duration::days(1);
            }
        }
        drop(world);
        let rows: Vec<(Vec<String>, Sums)> =
            groups.into_iter().filter(|(_, s)| !s.is_zero()).collect();
        let total = rows.len() as u64;
        let page: Vec<&(Vec<String>, Sums)> = rows
            .iter()
            .skip(req.offset as usize)
            .take(req.limit as usize)
            .collect();
        let mut out = Vec::with_capacity(page.len() * 160 + 1024);
        out.extend_from_slice(b"{\"dimensionHeaders\":[");
        for (i, d) in req.dimensions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            json::push_str(&mut out, d);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"metricHeaders\":[");
        for (i, m) in req.metrics.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let ty = METRICS
                .iter()
                .find(|(n, ..)| n == m)
                .map_or(MType::Integer, |t| t.2);
            out.extend_from_slice(b"{\"name\":");
            json::push_str(&mut out, m);
            out.extend_from_slice(b",\"type\":");
            json::push_str(&mut out, ty.as_str());
            out.push(b'}');
        }
        out.push(b']');
        if !page.is_empty() {
            out.extend_from_slice(b",\"rows\":[");
            for (i, (dims, sums)) in page.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"dimensionValues\":[");
                for (j, v) in dims.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"value\":");
                    json::push_str(&mut out, v);
                    out.push(b'}');
                }
                out.extend_from_slice(b"],\"metricValues\":[");
                for (j, m) in req.metrics.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"value\":");
                    json::push_str(&mut out, &sums.metric(m));
                    out.push(b'}');
                }
                out.extend_from_slice(b"]}");
            }
            out.push(b']');
        }
        // proto3: an empty report leaves `rowCount` out as well.
        if total > 0 {
            out.extend_from_slice(b",\"rowCount\":");
            json::push_u64(&mut out, total);
        }
        out.extend_from_slice(
            b",\"metadata\":{\"currencyCode\":\"USD\",\"timeZone\":\"America/Los_Angeles\"}",
        );
        if req.quota {
            let per_project_hour =
                14_000u64.saturating_sub(self.state.config.tokens_per_hour - hour_left);
            let q = serde_json::json!({
                "tokensPerDay": {"consumed": cost, "remaining": day_left},
                "tokensPerHour": {"consumed": cost, "remaining": hour_left},
                "concurrentRequests": {"consumed": 0, "remaining": 10},
                "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
                "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
                "tokensPerProjectPerHour": {"consumed": cost, "remaining": per_project_hour},
            });
            out.extend_from_slice(b",\"propertyQuota\":");
            out.extend_from_slice(q.to_string().as_bytes());
        }
        out.extend_from_slice(b",\"kind\":\"analyticsData#runReport\"}");
        self.state.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = google::json_response(StatusCode::OK, out);
        resp.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("Origin, X-Origin, Referer"),
        );
        tagged(resp, kind, page.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_ratio_strings() {
        assert_eq!(money(0), "0");
        assert_eq!(money(482_150), "4821.5");
        assert_eq!(money(482_155), "4821.55");
        assert_eq!(money(1_200), "12");
        assert_eq!(ratio(1.0, 4.0), "0.25");
        assert_eq!(ratio(1.0, 0.0), "0");
        let today = NaiveDate::from_ymd_opt(2024, 5, 10).unwrap();
        assert_eq!(
            relative_date("7daysAgo", today),
            NaiveDate::from_ymd_opt(2024, 5, 3)
        );
        assert_eq!(
            relative_date("yesterday", today),
            NaiveDate::from_ymd_opt(2024, 5, 9)
        );
        assert!(relative_date("soon", today).is_none());
    }
}
