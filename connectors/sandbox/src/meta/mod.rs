//! Meta Marketing API emulator (see `shared/reference/source-apis.md` §5): renders the world's
//! Meta campaigns (utm_source `facebook`, paid social), their ad sets and ads, and their daily
//! insights, under one ad account.
//!
//! | Route (under `/v{NN}.0`) | Stats route kind |
//! |---|---|
//! | `GET /act_{id}/campaigns`, `/adsets`, `/ads` | `meta.campaigns.list`, `meta.adsets.list`, `meta.ads.list` |
//! | `GET /act_{id}/insights?level=campaign|adset|ad` | `meta.insights.campaign`, `meta.insights.adset`, `meta.insights.ad` |
//! | `POST /act_{id}/insights` (async report job) | `meta.insights.async_create` |
//! | `GET /{report_run_id}` | `meta.insights.async_status` |
//! | `GET /{report_run_id}/insights` | `meta.insights.async_results.campaign` (`.adset`, `.ad`) |
//! | a BUC throttle answer (code 80000) | `meta.throttled` |
//!
//! Behaviour: every metric is a string; `actions` / `action_values` are arrays of
//! `{action_type, value}`; ids are strings; dates `YYYY-MM-DD`; timestamps `…+0000`. Paging
//! follows `paging.next` (the request's own query with `after`); with `empty_page_every`, every
//! n-th insights page is empty but still has `next`. The access token comes as
//! `access_token=` or `Authorization: Bearer`; a bad one is HTTP 400 code 190. Usage headers
//! (`x-business-use-case-usage`, `x-ad-account-usage`, `x-fb-ads-insights-throttle`) report the
//! share of the emulated budget used; past it, HTTP **400** with code 80000.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{Duration as Days, NaiveDate};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::hubspot::RateLimitEmulation;
use crate::json;
use crate::server::RouteInfo;
use crate::world::marketing::{AdDay, AdGroup, AdKey};
use crate::world::{Campaign, SharedWorld, World};

/// Offset of Meta campaign ids over the world's campaign ids.
pub const CAMPAIGN_ID_BASE: u64 = 120_200_000_000_000_000;
/// Offset of Meta ad set ids over the world's ad group ids.
pub const ADSET_ID_BASE: u64 = 120_210_000_000_000_000;
/// Offset of Meta ad ids over the world's ad ids.
pub const AD_ID_BASE: u64 = 120_220_000_000_000_000;
/// Offset of Meta creative ids over the world's ad ids.
pub const CREATIVE_ID_BASE: u64 = 120_230_000_000_000_000;

fn default_token() -> String {
    "EAAB-sandbox-system-user-token".into()
}
fn default_account() -> String {
    "1020304050".into()
}
fn default_versions() -> Vec<String> {
    ["v22.0", "v23.0", "v24.0"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_polls() -> u32 {
    2
}

/// Settings of the Meta emulator (`[meta]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// The access token accepted (system-user token with `ads_read`).
    pub access_token: String,
    /// The ad account (without `act_`).
    pub ad_account_id: String,
    /// Graph API versions served (`v24.0`, …); others are told to upgrade (code 2635).
    pub api_versions: Vec<String>,
    /// Emulated `ads_insights` budget: calls per window. The usage headers report the share
    /// used; past it, HTTP 400 code 80000. `None` (the default) never throttles.
    pub rate_limit: Option<RateLimitEmulation>,
    /// Status polls an async report job takes to complete. Default `2`.
    pub async_polls: u32,
    /// Every n-th insights page is empty (with `next`), as Meta sometimes answers.
    pub empty_page_every: Option<u32>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            access_token: default_token(),
            ad_account_id: default_account(),
            api_versions: default_versions(),
            rate_limit: None,
            async_polls: default_polls(),
            empty_page_every: None,
        }
    }
}

impl fmt::Debug for MetaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaConfig")
            .field("access_token", &"<redacted>")
            .field("ad_account_id", &self.ad_account_id)
            .field("api_versions", &self.api_versions)
            .field("rate_limit", &self.rate_limit)
            .field("async_polls", &self.async_polls)
            .field("empty_page_every", &self.empty_page_every)
            .finish()
    }
}

/// The level of an insights report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Account,
    Campaign,
    Adset,
    Ad,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "account" => Level::Account,
            "campaign" => Level::Campaign,
            "adset" => Level::Adset,
            "ad" => Level::Ad,
            _ => return None,
        })
    }
}

/// The parameters of an insights report.
#[derive(Clone, Debug)]
struct InsightsQuery {
    level: Level,
    fields: Vec<String>,
    since: NaiveDate,
    until: NaiveDate,
    daily: bool,
}

struct Job {
    query: InsightsQuery,
    polls: u32,
}

struct Usage {
    window: std::collections::VecDeque<Instant>,
}

struct State {
    world: SharedWorld,
    config: MetaConfig,
    base_url: String,
    usage: Mutex<Usage>,
    jobs: Mutex<HashMap<String, Job>>,
    counter: AtomicU64,
    seed: u64,
}

/// One running Meta emulator.
pub(crate) struct MetaApp {
    state: Arc<State>,
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

const INSIGHT_FIELDS: &[&str] = &[
    "account_id",
    "account_name",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "impressions",
    "clicks",
    "spend",
    "reach",
    "ctr",
    "cpc",
    "cpm",
    "actions",
    "action_values",
    "date_start",
    "date_stop",
];

/// Splits a `fields` value at top-level commas (`creative{id,url_tags}` stays whole).
fn split_fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c)
            }
            '}' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Decoded query parameters.
fn params(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                crate::google::percent_decode(k),
                crate::google::percent_decode(v),
            )
        })
        .collect()
}

fn param<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn money(micros: u64) -> String {
    let cents = (micros + 5_000) / 10_000;
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn meta_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S+0000").to_string())
        .unwrap_or_default()
}

/// One insights row before rendering.
struct Row<'a> {
    day_from: NaiveDate,
    day_to: NaiveDate,
    campaign: Option<&'a Campaign>,
    group: Option<AdGroup>,
    ad: Option<(u64, String)>,
    m: Sums,
}

#[derive(Clone, Copy, Default)]
struct Sums {
    impressions: u64,
    clicks: u64,
    cost_micros: u64,
    leads: u64,
    purchases: u64,
    value_cents: u64,
}

impl Sums {
    fn add(&mut self, a: &AdDay) {
        self.impressions += a.impressions;
        self.clicks += a.clicks;
        self.cost_micros += a.cost_micros;
        self.leads += a.leads;
        self.purchases += a.purchases;
        self.value_cents += a.conversion_value_cents;
    }
}

impl MetaApp {
    /// Creates the emulator over `world`; `base_url` is its root (used in `paging.next`).
    pub(crate) fn new(world: SharedWorld, config: MetaConfig, base_url: String) -> MetaApp {
        let seed = world.read().config().seed;
        MetaApp {
            state: Arc::new(State {
                world,
                config,
                base_url,
                usage: Mutex::new(Usage {
                    window: std::collections::VecDeque::new(),
                }),
                jobs: Mutex::new(HashMap::new()),
                counter: AtomicU64::new(0),
                seed,
            }),
        }
    }

    fn trace_id(&self) -> String {
        let n = self.state.counter.fetch_add(1, Ordering::Relaxed);
        crate::world::rng::uuid_like(self.state.seed ^ 0x6d65_7461, n)
            .replace('-', "")
            .chars()
            .take(11)
            .collect()
    }

    /// Meta's error envelope with HTTP `status`.
    fn error(
        &self,
        status: u16,
        code: u32,
        subcode: Option<u32>,
        kind: &str,
        message: &str,
        transient: bool,
    ) -> Response {
        let mut e = serde_json::json!({
            "message": message,
            "type": kind,
            "code": code,
            "fbtrace_id": self.trace_id(),
        });
        if let Some(s) = subcode {
            e["error_subcode"] = serde_json::json!(s);
        }
        if transient {
            e["is_transient"] = serde_json::json!(true);
        }
        let body = serde_json::json!({ "error": e }).to_string();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if code == 190 {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token - Cannot parse access token\"",
                ),
            );
        }
        resp
    }

    fn bad_token(&self) -> Response {
        self.error(
            400,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
            false,
        )
    }

    /// The `ads_insights` throttle: HTTP 400, code 80000.
    fn throttle(&self, retry_after: Option<u64>, regain_minutes: u64) -> Response {
        let mut resp = self.error(
            400,
            80000,
            Some(2_446_079),
            "OAuthException",
            "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. \
             For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            true,
        );
        self.usage_headers(resp.headers_mut(), 100, regain_minutes, true);
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        match fault {
            Fault::TooManyRequests { retry_after } => {
                Some(tagged(self.throttle(*retry_after, 0), "meta.throttled", 0))
            }
            Fault::Status { code: 500 } => Some(self.error(
                500,
                1,
                None,
                "OAuthException",
                "An unknown error occurred",
                true,
            )),
            Fault::Status { code: 503 } => Some(self.error(
                503,
                2,
                None,
                "OAuthException",
                "Service temporarily unavailable",
                true,
            )),
            Fault::Status { code } => Some(crate::google::gateway_page(*code)),
            Fault::Unauthorized => {
                let mut r = self.bad_token();
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                Some(r)
            }
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => None,
        }
    }

    /// Counts a call in the usage window; `Err(regain minutes)` past the emulated budget.
    fn admit(&self) -> Result<u64, u64> {
        let mut u = self.state.usage.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (max, window) = match self.state.config.rate_limit {
            Some(r) => (
                u64::from(r.max.max(1)),
                Duration::from_millis(r.interval_ms),
            ),
            None => (100_000, Duration::from_secs(3_600)),
        };
        while u
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            u.window.pop_front();
        }
        let used = u.window.len() as u64;
        if self.state.config.rate_limit.is_some() && used >= max {
            let regain = u
                .window
                .front()
                .map(|t| window.saturating_sub(now.duration_since(*t)))
                .unwrap_or(window);
            return Err(regain.as_secs().div_ceil(60));
        }
        u.window.push_back(now);
        Ok(((used + 1) * 100 / max).min(100))
    }

    fn usage_headers(&self, h: &mut HeaderMap, pct: u64, regain_minutes: u64, insights: bool) {
        let acct = &self.state.config.ad_account_id;
        let buc = format!(
            "{{\"{acct}\":[{{\"type\":\"ads_insights\",\"call_count\":{pct},\"total_cputime\":{},\"total_time\":{},\
             \"estimated_time_to_regain_access\":{regain_minutes},\"ads_api_access_tier\":\"standard_access\"}}]}}",
            pct / 2,
            pct / 2
        );
        if let Ok(v) = HeaderValue::from_str(&buc) {
            h.insert("x-business-use-case-usage", v);
        }
        let acc = format!(
            "{{\"acc_id_util_pct\":{pct},\"reset_time_duration\":0,\"ads_api_access_tier\":\"standard_access\"}}"
        );
        if let Ok(v) = HeaderValue::from_str(&acc) {
            h.insert("x-ad-account-usage", v);
        }
        if insights
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{{\"app_id_util_pct\":0,\"acc_id_util_pct\":{pct},\"ads_api_access_tier\":\"standard_access\"}}"
            ))
        {
            h.insert("x-fb-ads-insights-throttle", v);
        }
    }

    fn json(&self, body: Vec<u8>, pct: u64, insights: bool) -> Response {
        let mut resp = Response::new(Body::from(body));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        self.usage_headers(resp.headers_mut(), pct, 0, insights);
        resp
    }

    /// Handles one request.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let (parts, body) = req.into_parts();
        let _ = axum::body::to_bytes(body, 1 << 20).await;
        let p = params(&parts.uri);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        let token = bearer.or_else(|| param(&p, "access_token").map(String::from));
        if token.as_deref() != Some(self.state.config.access_token.as_str()) {
            return self.bad_token();
        }
        let path = parts.uri.path().trim_start_matches('/');
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if !self.state.config.api_versions.iter().any(|v| v == version) {
            let latest = self
                .state
                .config
                .api_versions
                .last()
                .cloned()
                .unwrap_or_default();
            return self.error(
                400,
                2635,
                None,
                "OAuthException",
                &format!("(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: {latest}."),
                false,
            );
        }
        let pct = match self.admit() {
            Ok(p) => p,
            Err(regain) => return tagged(self.throttle(None, regain), "meta.throttled", 0),
        };
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let account = format!("act_{}", self.state.config.ad_account_id);
        match (parts.method.clone(), segs.as_slice()) {
            (Method::GET, [a, what @ ("campaigns" | "adsets" | "ads")]) if *a == account => {
                self.list(what, &p, &parts.uri, pct)
            }
            (Method::GET, [a, "insights"]) if *a == account => match self.insights_query(&p) {
                Ok(q) => {
                    let kind = match q.level {
                        Level::Ad => "meta.insights.ad",
                        Level::Adset => "meta.insights.adset",
                        _ => "meta.insights.campaign",
                    };
                    self.insights_page(&q, &p, &parts.uri, pct, kind)
                }
                Err(r) => *r,
            },
            (Method::POST, [a, "insights"]) if *a == account => match self.insights_query(&p) {
                Ok(q) => {
                    let id = format!(
                        "{}",
                        6_120_000_000_000_000u64 + self.state.counter.fetch_add(1, Ordering::Relaxed)
                    );
                    self.state
                        .jobs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id.clone(), Job { query: q, polls: 0 });
                    let body = serde_json::json!({ "report_run_id": id }).to_string().into_bytes();
                    tagged(self.json(body, pct, true), "meta.insights.async_create", 0)
                }
                Err(r) => *r,
            },
            (Method::GET, [id]) if self.has_job(id) => self.job_status(id, pct),
            (Method::GET, [id, "insights"]) if self.has_job(id) => {
                let ready = {
                    let jobs = self.state.jobs.lock().unwrap_or_else(|e| e.into_inner());
                    let job = jobs.get(*id).expect("checked");
                    (job.polls >= self.state.config.async_polls).then(|| job.query.clone())
                };
                let Some(q) = ready else {
                    return self.error(
                        400,
                        100,
                        None,
                        "OAuthException",
                        "(#100) The report is not ready yet: poll the report run until async_status is Job Completed",
                        false,
                    );
                };
                let kind = match q.level {
                    Level::Ad => "meta.insights.async_results.ad",
                    Level::Adset => "meta.insights.async_results.adset",
                    _ => "meta.insights.async_results.campaign",
                };
                self.insights_page(&q, &p, &parts.uri, pct, kind)
            }
            _ => self.error(
                400,
                100,
                Some(33),
                "GraphMethodException",
                &format!(
                    "Unsupported {} request. Object with ID '{}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                    parts.method,
                    segs.first().unwrap_or(&"")
                ),
                false,
            ),
        }
    }

    fn has_job(&self, id: &str) -> bool {
        self.state
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    fn job_status(&self, id: &str, pct: u64) -> Response {
        let mut jobs = self.state.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let job = jobs.get_mut(id).expect("checked");
        job.polls += 1;
        let need = self.state.config.async_polls.max(1);
        let done = job.polls >= need;
        let body = serde_json::json!({
            "id": id,
            "account_id": self.state.config.ad_account_id,
            "time_ref": 1_714_658_591,
            "time_completed": if done { 1_714_658_599 } else { 0 },
            "async_status": if done { "Job Completed" } else if job.polls == 1 { "Job Started" } else { "Job Running" },
            "async_percent_completion": if done { 100 } else { job.polls * 100 / need },
            "date_start": job.query.since.to_string(),
            "date_stop": job.query.until.to_string(),
        })
        .to_string()
        .into_bytes();
        tagged(self.json(body, pct, true), "meta.insights.async_status", 0)
    }

    fn insights_query(&self, p: &[(String, String)]) -> Result<InsightsQuery, Box<Response>> {
        let bad = |m: &str| Box::new(self.error(400, 100, None, "OAuthException", m, false));
        let level = match param(p, "level") {
            None => Level::Account,
            Some(l) => Level::parse(l).ok_or_else(|| bad(&format!("(#100) level must be one of the following values: account, campaign, adset, ad; got {l}")))?,
        };
        let fields = param(p, "fields").map(split_fields).unwrap_or_default();
        for f in &fields {
            if !INSIGHT_FIELDS.contains(&f.as_str()) {
                return Err(bad(&format!(
                    "(#100) {f} is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values"
                )));
            }
        }
        let today = self.state.world.read().today();
        let (since, until) = match (param(p, "time_range"), param(p, "date_preset")) {
            (Some(tr), _) => {
                let v: serde_json::Value = serde_json::from_str(tr).map_err(|_| {
                    bad("(#100) time_range must be a JSON object with since and until")
                })?;
                let d = |k: &str| {
                    v[k].as_str()
                        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                };
                match (d("since"), d("until")) {
                    (Some(a), Some(b)) if a <= b => (a, b),
                    _ => {
                        return Err(bad(
                            "(#100) time_range must have since <= until as YYYY-MM-DD",
                        ));
                    }
                }
            }
            (None, Some("last_7d")) => (today - Days::days(7), today - Days::days(1)),
            (None, Some("yesterday")) => (today - Days::days(1), today - Days::days(1)),
            (None, Some("today")) => (today, today),
            (None, Some("maximum")) => (self.state.world.read().first_day(), today),
            _ => (today - Days::days(30), today - Days::days(1)),
        };
        let daily = match param(p, "time_increment") {
            None | Some("all_days") => false,
            Some("1") => true,
            Some(other) => {
                return Err(bad(&format!(
                    "(#100) time_increment {other} is not supported by this emulator (use 1 or all_days)"
                )));
            }
        };
        Ok(InsightsQuery {
            level,
            fields,
            since,
            until,
            daily,
        })
    }

    fn rows<'a>(&self, w: &'a World, q: &InsightsQuery) -> Vec<Row<'a>> {
        let campaigns: Vec<&Campaign> = w.paid_campaigns("facebook").collect();
        let groups: Vec<(u32, Vec<AdGroup>)> = campaigns
            .iter()
            .map(|c| (c.index, w.ad_groups_of(c)))
            .collect();
        let mut out: Vec<Row<'a>> = Vec::new();
        let mut spans: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        if q.daily {
            let mut d = q.since;
            while d <= q.until {
                spans.push((d, d));
                d += Days::days(1);
            }
        } else {
            spans.push((q.since, q.until));
        }
        for (from, to) in spans {
            // Sums per entity of the level over the span.
            let mut sums: std::collections::BTreeMap<(u32, u32, u32), Sums> =
                std::collections::BTreeMap::new();
            let mut day = from.max(w.first_day());
            while day <= to.min(w.today()) {
                for a in w.marketing_day(day).ads {
                    if !campaigns.iter().any(|c| c.index == a.key.campaign) {
                        continue;
                    }
                    let k = match q.level {
                        Level::Account => (0, 0, 0),
                        Level::Campaign => (a.key.campaign, 0, 0),
                        Level::Adset => (a.key.campaign, a.key.ad_group, 0),
                        Level::Ad => (a.key.campaign, a.key.ad_group, a.key.ad),
                    };
                    sums.entry(k).or_default().add(&a);
                }
                day += Days::days(1);
            }
            for ((c, g, ad), m) in sums {
                if m.impressions == 0 {
                    continue;
                }
                let campaign = (q.level != Level::Account)
                    .then(|| campaigns.iter().find(|x| x.index == c).copied())
                    .flatten();
                let group = matches!(q.level, Level::Adset | Level::Ad)
                    .then(|| {
                        groups
                            .iter()
                            .find(|(i, _)| *i == c)
                            .and_then(|(_, gs)| gs.get(g as usize))
                            .cloned()
                    })
                    .flatten();
                let ad = (q.level == Level::Ad)
                    .then(|| {
                        w.ad(AdKey {
                            campaign: c,
                            ad_group: g,
                            ad,
                        })
                    })
                    .flatten()
                    .map(|a| (a.id, a.name));
                out.push(Row {
                    day_from: from,
                    day_to: to,
                    campaign,
                    group,
                    ad,
                    m,
                });
            }
        }
        out
    }

    fn write_row(&self, out: &mut Vec<u8>, r: &Row<'_>, fields: &[String]) {
        let acct = &self.state.config.ad_account_id;
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, k: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            json::push_str(out, k);
            out.push(b':');
        };
        let s = |v: String| v;
        for f in fields {
            let value: Option<String> = match f.as_str() {
                "account_id" => Some(acct.clone()),
                "account_name" => Some("Revline Demo".into()),
                "account_currency" => Some("USD".into()),
                "campaign_id" => r.campaign.map(|c| (CAMPAIGN_ID_BASE + c.id).to_string()),
                "campaign_name" => r.campaign.map(|c| c.name.clone()),
                "adset_id" => r.group.as_ref().map(|g| (ADSET_ID_BASE + g.id).to_string()),
                "adset_name" => r.group.as_ref().map(|g| g.name.clone()),
                "ad_id" => r.ad.as_ref().map(|(id, _)| (AD_ID_BASE + id).to_string()),
                "ad_name" => r.ad.as_ref().map(|(_, n)| n.clone()),
                "impressions" => Some(r.m.impressions.to_string()),
                "clicks" => Some(r.m.clicks.to_string()),
                "spend" => Some(money(r.m.cost_micros)),
                "reach" => Some((r.m.impressions * 4 / 5).max(1).to_string()),
                "ctr" => Some(s(format!(
                    "{:.6}",
                    r.m.clicks as f64 * 100.0 / r.m.impressions as f64
                ))),
                "cpc" if r.m.clicks > 0 => Some(format!(
                    "{:.6}",
                    r.m.cost_micros as f64 / 1e6 / r.m.clicks as f64
                )),
                "cpm" => Some(format!(
                    "{:.6}",
                    r.m.cost_micros as f64 / 1e3 / r.m.impressions as f64
                )),
                _ => None,
            };
            match f.as_str() {
                "actions" => {
                    let mut acts: Vec<(&str, String)> =
                        vec![("link_click", r.m.clicks.to_string())];
                    if r.m.leads > 0 {
                        acts.push(("lead", r.m.leads.to_string()));
                        acts.push(("offsite_conversion.fb_pixel_lead", r.m.leads.to_string()));
                    }
                    if r.m.purchases > 0 {
                        acts.push((
                            "offsite_conversion.fb_pixel_purchase",
                            r.m.purchases.to_string(),
                        ));
                        acts.push(("purchase", r.m.purchases.to_string()));
                    }
                    if r.m.clicks > 0 {
                        key(out, "actions");
                        write_actions(out, &acts);
                    }
                }
                "action_values" => {
                    if r.m.value_cents > 0 {
                        let v = cents(r.m.value_cents);
                        key(out, "action_values");
                        write_actions(
                            out,
                            &[
                                ("offsite_conversion.fb_pixel_purchase", v.clone()),
                                ("purchase", v),
                            ],
                        );
                    }
                }
                "date_start" | "date_stop" => {}
                _ => {
                    if let Some(v) = value {
                        key(out, f);
                        json::push_str(out, &v);
                    }
                }
            }
        }
        key(out, "date_start");
        json::push_str(out, &r.day_from.to_string());
        key(out, "date_stop");
        json::push_str(out, &r.day_to.to_string());
        out.push(b'}');
    }

    /// A page of insights rows with Meta's cursors and `next`.
    fn insights_page(
        &self,
        q: &InsightsQuery,
        p: &[(String, String)],
        uri: &http::Uri,
        pct: u64,
        kind: &'static str,
    ) -> Response {
        let limit = param(p, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(25)
            .clamp(1, 5_000);
        let (offset, page_no) = param(p, "after").and_then(decode_cursor).unwrap_or((0, 1));
        let world = self.state.world.read();
        let rows = self.rows(&world, q);
        let empty = self
            .state
            .config
            .empty_page_every
            .is_some_and(|n| n > 0 && page_no % u64::from(n) == 0);
        let (slice, next_offset): (&[Row<'_>], usize) = if empty {
            (&[], offset)
        } else {
            let end = (offset + limit).min(rows.len());
            (&rows[offset.min(rows.len())..end], end)
        };
        let mut out = Vec::with_capacity(slice.len() * 400 + 512);
        out.extend_from_slice(b"{\"data\":[");
        for (i, r) in slice.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_row(&mut out, r, &q.fields);
        }
        out.extend_from_slice(b"]");
        let more = next_offset < rows.len();
        self.paging(&mut out, uri, p, offset, page_no, next_offset, more);
        out.push(b'}');
        let n = slice.len() as u64;
        drop(world);
        tagged(self.json(out, pct, true), kind, n)
    }

    #[allow(clippy::too_many_arguments)]
    fn paging(
        &self,
        out: &mut Vec<u8>,
        uri: &http::Uri,
        p: &[(String, String)],
        offset: usize,
        page_no: u64,
        next_offset: usize,
        more: bool,
    ) {
        out.extend_from_slice(b",\"paging\":{\"cursors\":{\"before\":");
        json::push_str(out, &encode_cursor(offset, page_no));
        out.extend_from_slice(b",\"after\":");
        let after = encode_cursor(next_offset, page_no + 1);
        json::push_str(out, &after);
        out.push(b'}');
        if more {
            let query: Vec<String> = p
                .iter()
                .filter(|(k, _)| k != "after")
                .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
                .chain(std::iter::once(format!("after={}", url_encode(&after))))
                .collect();
            out.extend_from_slice(b",\"next\":");
            json::push_str(
                out,
                &format!("{}{}?{}", self.state.base_url, uri.path(), query.join("&")),
            );
        }
        out.push(b'}');
    }

    fn list(&self, what: &str, p: &[(String, String)], uri: &http::Uri, pct: u64) -> Response {
        let limit = param(p, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(25)
            .clamp(1, 500);
        let (offset, page_no) = param(p, "after").and_then(decode_cursor).unwrap_or((0, 1));
        let fields = param(p, "fields")
            .map(split_fields)
            .unwrap_or_else(|| vec!["id".into()]);
        let world = self.state.world.read();
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let acct = &self.state.config.ad_account_id;
        for c in world.paid_campaigns("facebook") {
            let start = world
                .campaign_first_day(c)
                .and_hms_opt(9, 12, 44)
                .expect("time")
                .and_utc()
                .timestamp_millis();
            let obj = |out: &mut Vec<u8>,
                       pairs: &[(&str, Option<String>)],
                       creative: Option<(u64, String)>| {
                out.push(b'{');
                let mut first = true;
                for f in &fields {
                    let name = f.split('{').next().unwrap_or(f);
                    if name == "creative" {
                        if let Some((id, tags)) = &creative {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            out.extend_from_slice(b"\"creative\":{\"id\":");
                            json::push_str(out, &id.to_string());
                            out.extend_from_slice(b",\"url_tags\":");
                            json::push_str(out, tags);
                            out.push(b'}');
                        }
                        continue;
                    }
                    if let Some((_, Some(v))) = pairs.iter().find(|(k, _)| *k == name) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        json::push_str(out, name);
                        out.push(b':');
                        json::push_str(out, v);
                    }
                }
                if !fields.iter().any(|f| f == "id")
                    && let Some((_, Some(id))) = pairs.iter().find(|(k, _)| *k == "id")
                {
                    if !first {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"\"id\":");
                    json::push_str(out, id);
                }
                out.push(b'}');
            };
            let cid = (CAMPAIGN_ID_BASE + c.id).to_string();
            if what == "campaigns" {
                let mut o = Vec::new();
                obj(
                    &mut o,
                    &[
                        ("id", Some(cid.clone())),
                        ("account_id", Some(acct.clone())),
                        ("name", Some(c.name.clone())),
                        ("status", Some("ACTIVE".into())),
                        ("effective_status", Some("ACTIVE".into())),
                        ("objective", Some("OUTCOME_LEADS".into())),
                        ("buying_type", Some("AUCTION".into())),
                        ("created_time", Some(meta_time(start))),
                        ("updated_time", Some(meta_time(start + 3_600_000))),
                        ("start_time", Some(meta_time(start))),
                    ],
                    None,
                );
                objects.push(o);
                continue;
            }
            for g in world.ad_groups_of(c) {
                let gid = (ADSET_ID_BASE + g.id).to_string();
                if what == "adsets" {
                    let mut o = Vec::new();
                    obj(
                        &mut o,
                        &[
                            ("id", Some(gid.clone())),
                            ("account_id", Some(acct.clone())),
                            ("campaign_id", Some(cid.clone())),
                            ("name", Some(g.name.clone())),
                            ("status", Some("ACTIVE".into())),
                            ("effective_status", Some("ACTIVE".into())),
                            ("daily_budget", Some(g.daily_budget_cents.to_string())),
                            ("billing_event", Some("IMPRESSIONS".into())),
                            ("optimization_goal", Some("LEAD_GENERATION".into())),
                            ("created_time", Some(meta_time(start))),
                            ("updated_time", Some(meta_time(start + 7_200_000))),
                        ],
                        None,
                    );
                    objects.push(o);
                    continue;
                }
                for ad in world.ads_of(&g) {
                    let mut o = Vec::new();
                    obj(
                        &mut o,
                        &[
                            ("id", Some((AD_ID_BASE + ad.id).to_string())),
                            ("account_id", Some(acct.clone())),
                            ("campaign_id", Some(cid.clone())),
                            ("adset_id", Some(gid.clone())),
                            ("name", Some(ad.name.clone())),
                            ("status", Some("ACTIVE".into())),
                            ("effective_status", Some("ACTIVE".into())),
                            ("created_time", Some(meta_time(start))),
                            ("updated_time", Some(meta_time(start + 10_800_000))),
                        ],
                        Some((CREATIVE_ID_BASE + ad.id, ad.url_tags().to_string())),
                    );
                    objects.push(o);
                }
            }
        }
        drop(world);
        let end = (offset + limit).min(objects.len());
        let slice = &objects[offset.min(objects.len())..end];
        let mut out = Vec::with_capacity(slice.iter().map(Vec::len).sum::<usize>() + 512);
        out.extend_from_slice(b"{\"data\":[");
        for (i, o) in slice.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(o);
        }
        out.push(b']');
        self.paging(&mut out, uri, p, offset, page_no, end, end < objects.len());
        out.push(b'}');
        let kind = match what {
            "campaigns" => "meta.campaigns.list",
            "adsets" => "meta.adsets.list",
            _ => "meta.ads.list",
        };
        tagged(self.json(out, pct, false), kind, slice.len() as u64)
    }
}

fn write_actions(out: &mut Vec<u8>, acts: &[(&str, String)]) {
    out.push(b'[');
    for (i, (t, v)) in acts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"action_type\":");
        json::push_str(out, t);
        out.extend_from_slice(b",\"value\":");
        json::push_str(out, v);
        out.push(b'}');
    }
    out.push(b']');
}

fn encode_cursor(offset: usize, page: u64) -> String {
    STANDARD_NO_PAD.encode(format!("{offset}:{page}"))
}

fn decode_cursor(s: &str) -> Option<(usize, u64)> {
    let text = String::from_utf8(STANDARD_NO_PAD.decode(s).ok()?).ok()?;
    let (o, p) = text.split_once(':')?;
    Some((o.parse().ok()?, p.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cursors_and_money() {
        assert_eq!(
            split_fields("id,name,creative{id,url_tags},status"),
            ["id", "name", "creative{id,url_tags}", "status"]
        );
        assert_eq!(decode_cursor(&encode_cursor(500, 3)), Some((500, 3)));
        assert_eq!(money(412_370_000), "412.37");
        assert_eq!(money(0), "0.00");
        assert_eq!(cents(98_000), "980.00");
    }
}
