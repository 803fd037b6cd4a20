//! LinkedIn Marketing API emulator (see `shared/reference/source-apis.md` §6): renders the
//! world's LinkedIn campaigns (utm_source `linkedin`, paid social) under one sponsored ad
//! account. A world campaign is a LinkedIn **campaign group**; its ad groups are LinkedIn
//! **campaigns** (the `pivot=CAMPAIGN` grain of `adAnalytics`).
//!
//! | Route (under `/rest`) | Stats route kind |
//! |---|---|
//! | `GET /adAccounts?q=search` | `linkedin.ad_accounts.list` |
//! | `GET /adAccounts/{id}/adCampaignGroups?q=search` | `linkedin.campaign_groups.list` |
//! | `GET /adAccounts/{id}/adCampaigns?q=search` | `linkedin.campaigns.list` |
//! | `GET /adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY…` | `linkedin.analytics.campaign` |
//! | a throttle answer (429) | `linkedin.throttled` |
//! | `POST /oauth/v2/accessToken` (refresh-token grant; not under `/rest`) | `linkedin.token` |
//!
//! Behaviour: `Authorization: Bearer` (else 401 `INVALID_ACCESS_TOKEN`), `LinkedIn-Version:
//! YYYYMM` (missing: 400 `VERSION_MISSING`; not served: 426 `NONEXISTENT_VERSION`) and
//! `X-Restli-Protocol-Version: 2.0.0` are required. Search finders page with `pageSize` /
//! `pageToken` (`metadata.nextPageToken`). `adAnalytics` has **no paging**: its elements (one
//! per campaign and day with activity, counts as integers, cost fields as strings) are cut
//! **silently** at `row_cap` (15,000); at most `max_fields` (20) `fields` per request. Rest.li
//! 2.0 query syntax: `dateRange=(start:(year:2024,month:5,day:1),end:(…))` and
//! `accounts=List(urn%3Ali%3AsponsoredAccount%3A…)` with the structure literal and the URNs
//! encoded. Emulated limits (off by default): `rate_limit` (429 `TOO_MANY_REQUESTS`, no
//! rate-limit headers, as LinkedIn sends none) and `daily_quota` (429 with the "APPLICATION DAY
//! limit" message, as when the app's daily quota is spent).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Datelike, Duration as Days, NaiveDate};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::hubspot::RateLimitEmulation;
use crate::json::{push_str, push_u64};
use crate::server::RouteInfo;
use crate::world::marketing::AdGroup;
use crate::world::{Campaign, SharedWorld, World};

fn default_token() -> String {
    "AQX-sandbox-linkedin-member-token".into()
}
fn default_account() -> u64 {
    512_345_678
}
fn default_versions() -> Vec<String> {
    ["202505", "202508", "202510"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_row_cap() -> u32 {
    15_000
}
fn default_max_fields() -> u32 {
    20
}

/// Settings of the LinkedIn emulator (`[linkedin]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkedinConfig {
    /// The OAuth access token accepted (scope `r_ads_reporting`).
    pub access_token: String,
    /// The app's client id at the token endpoint.
    pub client_id: String,
    /// The app's client secret at the token endpoint.
    pub client_secret: String,
    /// The refresh token the token endpoint exchanges for `access_token`.
    pub refresh_token: String,
    /// The sponsored ad account id.
    pub ad_account_id: u64,
    /// `LinkedIn-Version` values served (`YYYYMM`); others get 426.
    pub api_versions: Vec<String>,
    /// Most `adAnalytics` elements in one response; the rest are dropped silently. Default
    /// `15000`.
    pub row_cap: u32,
    /// Most `fields` per `adAnalytics` request (400 beyond). Default `20`.
    pub max_fields: u32,
    /// Emulated short-window limit: past it, 429 `TOO_MANY_REQUESTS`. `None` (the default)
    /// never throttles.
    pub rate_limit: Option<RateLimitEmulation>,
    /// Emulated daily application quota of requests: past it, 429 "APPLICATION DAY limit".
    /// `None` (the default): unlimited.
    pub daily_quota: Option<u64>,
}

impl Default for LinkedinConfig {
    fn default() -> Self {
        LinkedinConfig {
            access_token: default_token(),
            client_id: "sandbox-linkedin-app".into(),
            client_secret: "sandbox-linkedin-app-secret".into(),
            refresh_token: "AQW-sandbox-linkedin-refresh-token".into(),
            ad_account_id: default_account(),
            api_versions: default_versions(),
            row_cap: default_row_cap(),
            max_fields: default_max_fields(),
            rate_limit: None,
            daily_quota: None,
        }
    }
}

impl fmt::Debug for LinkedinConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedinConfig")
            .field("access_token", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("ad_account_id", &self.ad_account_id)
            .field("api_versions", &self.api_versions)
            .field("row_cap", &self.row_cap)
            .field("max_fields", &self.max_fields)
            .field("rate_limit", &self.rate_limit)
            .field("daily_quota", &self.daily_quota)
            .finish()
    }
}

/// Metrics `adAnalytics` serves (besides `dateRange`, `pivotValues` and `pivot`).
pub const METRICS: &[&str] = &[
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "externalWebsitePostClickConversions",
    "externalWebsitePostViewConversions",
    "conversionValueInLocalCurrency",
    "oneClickLeads",
    "oneClickLeadFormOpens",
    "likes",
    "comments",
    "shares",
    "follows",
    "reactions",
    "totalEngagements",
    "otherEngagements",
    "videoViews",
    "videoCompletions",
    "viralImpressions",
    "viralClicks",
    "sends",
    "opens",
];

struct State {
    world: SharedWorld,
    config: LinkedinConfig,
    window: Mutex<VecDeque<Instant>>,
    used_today: AtomicU64,
}

/// One running LinkedIn emulator.
pub(crate) struct LinkedinApp {
    state: Arc<State>,
}

fn tagged(mut resp: Response, kind: &'static str, records: u64) -> Response {
    resp.extensions_mut().insert(RouteInfo { kind, records });
    resp
}

/// LinkedIn's error envelope `{"status","serviceErrorCode","code","message"}`.
fn error(status: u16, service_code: Option<u32>, code: &str, message: &str) -> Response {
    let mut v = serde_json::json!({"status": status, "code": code, "message": message});
    if let Some(s) = service_code {
        v["serviceErrorCode"] = serde_json::json!(s);
    }
    let mut resp = Response::new(Body::from(v.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn json_ok(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        "x-restli-protocol-version",
        HeaderValue::from_static("2.0.0"),
    );
    resp
}

/// Raw (still percent-encoded) query parameters: Rest.li structure must be read before
/// decoding.
fn raw_params(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (crate::google::percent_decode(k), v.to_string())
        })
        .collect()
}

fn param<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `(year:2024,month:5,day:1)` inside a Rest.li dateRange, after `key:`.
fn restli_date(s: &str, key: &str) -> Option<NaiveDate> {
    let at = s.find(&format!("{key}:("))? + key.len() + 2;
    let inner = &s[at..at + s[at..].find(')')?];
    let mut y = None;
    let mut m = None;
    let mut d = None;
    for part in inner.split(',') {
        let (k, v) = part.split_once(':')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "year" => y = Some(v as i32),
            "month" => m = Some(v),
            "day" => d = Some(v),
            _ => return None,
        }
    }
    NaiveDate::from_ymd_opt(y?, m?, d?)
}

/// `cost_micros` as LinkedIn prints costs: a decimal string with up to 4 places.
fn cost_string(micros: u64) -> String {
    let ten_thousandths = (micros + 50) / 100;
    let (whole, frac) = (ten_thousandths / 10_000, ten_thousandths % 10_000);
    if frac == 0 {
        return whole.to_string();
    }
    let s = format!("{whole}.{frac:04}");
    s.trim_end_matches('0').to_string()
}

fn cents_string(cents: u64) -> String {
    if cents.is_multiple_of(100) {
        (cents / 100).to_string()
    } else {
        format!("{}.{:02}", cents / 100, cents % 100)
            .trim_end_matches('0')
            .to_string()
    }
}

/// The numbers of one LinkedIn campaign on one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CampaignDay {
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Spend in micros (USD).
    pub cost_micros: u64,
    /// Website conversions (restated late).
    pub conversions: u64,
    /// Value of the conversions in cents.
    pub value_cents: u64,
    /// Leads.
    pub leads: u64,
}

impl CampaignDay {
    /// The value of metric `name` as JSON text (counts as numbers, money as strings).
    fn metric(&self, name: &str) -> Option<String> {
        let i = self.impressions;
        let c = self.clicks;
        let likes = i / 400;
        let comments = i / 3_000;
        let shares = i / 2_500;
        let follows = i / 5_000;
        let other = c / 7;
        let n = match name {
            "impressions" => i,
            "clicks" => c,
            "landingPageClicks" => c - c / 10,
            "costInLocalCurrency" | "costInUsd" => {
                return Some(format!("\"{}\"", cost_string(self.cost_micros)));
            }
            "conversionValueInLocalCurrency" => {
                return Some(format!("\"{}\"", cents_string(self.value_cents)));
            }
            "externalWebsiteConversions" | "externalWebsitePostClickConversions" => {
                self.conversions
            }
            "externalWebsitePostViewConversions" | "sends" | "opens" => 0,
            "oneClickLeads" => self.leads,
            "oneClickLeadFormOpens" => self.leads + c / 20,
            "likes" | "reactions" => likes,
            "comments" => comments,
            "shares" => shares,
            "follows" => follows,
            "otherEngagements" => other,
            "totalEngagements" => c + likes + comments + shares + follows + other,
            "videoViews" => i / 8,
            "videoCompletions" => i / 40,
            "viralImpressions" => i / 50,
            "viralClicks" => c / 50,
            _ => return None,
        };
        Some(n.to_string())
    }
}

/// The world's LinkedIn campaigns (ad groups of `linkedin` campaigns) with activity on `day`,
/// in id order: `(campaign, numbers)`.
pub fn campaign_days(w: &World, day: NaiveDate) -> Vec<(AdGroup, CampaignDay)> {
    let groups: Vec<AdGroup> = w
        .paid_campaigns("linkedin")
        .flat_map(|c| w.ad_groups_of(c))
        .collect();
    if groups.is_empty() {
        return Vec::new();
    }
    let md = w.marketing_day(day);
    let mut sums: std::collections::HashMap<(u32, u32), CampaignDay> =
        std::collections::HashMap::with_capacity(groups.len());
    for a in &md.ads {
        if w.campaigns()[a.key.campaign as usize].utm_source != "linkedin" {
            continue;
        }
        let s = sums.entry((a.key.campaign, a.key.ad_group)).or_default();
        s.impressions += a.impressions;
        s.clicks += a.clicks;
        s.cost_micros += a.cost_micros;
        s.conversions += a.conversions;
        s.value_cents += a.conversion_value_cents;
        s.leads += a.leads;
    }
    let mut out: Vec<(AdGroup, CampaignDay)> = groups
        .into_iter()
        .filter_map(|g| {
            let s = sums.get(&(g.campaign, g.index)).copied()?;
            (s.impressions > 0).then_some((g, s))
        })
        .collect();
    out.sort_by_key(|(g, _)| g.id);
    out
}

/// Rows of `adAnalytics` (`pivot=CAMPAIGN`, daily) from `from` to `to`, before any cap.
pub fn analytics_rows(w: &World, from: NaiveDate, to: NaiveDate) -> u64 {
    let mut n = 0;
    let mut day = from.max(w.first_day());
    while day <= to.min(w.today()) {
        n += campaign_days(w, day).len() as u64;
        day += Days::days(1);
    }
    n
}

impl LinkedinApp {
    /// Creates the emulator over `world`.
    pub(crate) fn new(world: SharedWorld, config: LinkedinConfig) -> LinkedinApp {
        LinkedinApp {
            state: Arc::new(State {
                world,
                config,
                window: Mutex::new(VecDeque::new()),
                used_today: AtomicU64::new(0),
            }),
        }
    }

    fn throttle(retry_after: Option<u64>) -> Response {
        let mut r = error(
            429,
            Some(101),
            "TOO_MANY_REQUESTS",
            "Too many requests. Please retry after some time.",
        );
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }

    fn unauthorized() -> Response {
        error(
            401,
            Some(65600),
            "INVALID_ACCESS_TOKEN",
            "Invalid access token",
        )
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        match fault {
            Fault::TooManyRequests { retry_after } => Some(tagged(
                Self::throttle(*retry_after),
                "linkedin.throttled",
                0,
            )),
            Fault::Status { code: 500 } => Some(error(
                500,
                None,
                "INTERNAL_SERVER_ERROR",
                "Internal Server Error",
            )),
            Fault::Status { code } => Some(crate::google::gateway_page(*code)),
            Fault::Unauthorized => Some(Self::unauthorized()),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => None,
        }
    }

    /// Counts a request against the emulated limits.
    fn admit(&self) -> Option<Response> {
        if let Some(q) = self.state.config.daily_quota {
            let used = self.state.used_today.fetch_add(1, Ordering::Relaxed);
            if used >= q {
                return Some(tagged(
                    error(
                        429,
                        Some(101),
                        "TOO_MANY_REQUESTS",
                        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                    ),
                    "linkedin.throttled",
                    0,
                ));
            }
        }
        if let Some(r) = self.state.config.rate_limit {
            let mut win = self.state.window.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let window = Duration::from_millis(r.interval_ms);
            while win
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                win.pop_front();
            }
            if win.len() as u64 >= u64::from(r.max.max(1)) {
                return Some(tagged(Self::throttle(None), "linkedin.throttled", 0));
            }
            win.push_back(now);
        }
        None
    }

    /// Checks auth and the protocol headers.
    fn check_headers(&self, h: &HeaderMap) -> Option<Response> {
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(self.state.config.access_token.as_str()) {
            return Some(Self::unauthorized());
        }
        let version = h.get("linkedin-version").and_then(|v| v.to_str().ok());
        match version {
            None => {
                return Some(error(
                    400,
                    None,
                    "VERSION_MISSING",
                    "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                ));
            }
            Some(v) if !self.state.config.api_versions.iter().any(|s| s == v) => {
                return Some(error(
                    426,
                    None,
                    "NONEXISTENT_VERSION",
                    &format!("Requested version {v} is not active"),
                ));
            }
            Some(_) => {}
        }
        if h.get("x-restli-protocol-version")
            .and_then(|v| v.to_str().ok())
            != Some("2.0.0")
        {
            return Some(error(
                400,
                None,
                "ILLEGAL_ARGUMENT",
                "This request uses Rest.li 2.0 syntax: send X-Restli-Protocol-Version: 2.0.0",
            ));
        }
        None
    }

    /// Handles one request.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        if parts.method == Method::POST && parts.uri.path() == "/oauth/v2/accessToken" {
            return tagged(
                self.token(&String::from_utf8_lossy(&body)),
                "linkedin.token",
                0,
            );
        }
        if let Some(r) = self.check_headers(&parts.headers) {
            return r;
        }
        if let Some(r) = self.admit() {
            return r;
        }
        let p = raw_params(&parts.uri);
        let path = parts.uri.path().trim_start_matches('/');
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let account = self.state.config.ad_account_id.to_string();
        match (parts.method.clone(), segs.as_slice()) {
            (Method::GET, ["rest", "adAccounts"]) if param(&p, "q") == Some("search") => self
                .search(&p, "linkedin.ad_accounts.list", |w| {
                    vec![self.account_element(w)]
                }),
            (
                Method::GET,
                [
                    "rest",
                    "adAccounts",
                    a,
                    what @ ("adCampaignGroups" | "adCampaigns"),
                ],
            ) if param(&p, "q") == Some("search") => {
                if *a != account {
                    return error(
                        403,
                        Some(100),
                        "ACCESS_DENIED",
                        &format!("Not enough permissions to access: GET /adAccounts/{a}/{what}"),
                    );
                }
                if *what == "adCampaignGroups" {
                    self.search(&p, "linkedin.campaign_groups.list", |w| {
                        w.paid_campaigns("linkedin")
                            .map(|c| self.group_element(c))
                            .collect()
                    })
                } else {
                    self.search(&p, "linkedin.campaigns.list", |w| {
                        w.paid_campaigns("linkedin")
                            .flat_map(|c| w.ad_groups_of(c).into_iter().map(move |g| (c, g)))
                            .map(|(c, g)| self.campaign_element(w, c, &g))
                            .collect()
                    })
                }
            }
            (Method::GET, ["rest", "adAnalytics"]) => self.analytics(&p),
            _ => error(
                404,
                None,
                "NOT_FOUND",
                &format!("No virtual resource found for {} /{path}", parts.method),
            ),
        }
    }

    /// `POST /oauth/v2/accessToken` (form-encoded, as on `www.linkedin.com`): the
    /// refresh-token grant. Answers OAuth errors (`{"error","error_description"}`) for a wrong
    /// grant type (400), wrong client credentials (401) or an unknown refresh token (400).
    fn token(&self, body: &str) -> Response {
        let form = crate::qs::Params::parse(Some(body));
        let c = &self.state.config;
        let oauth_error = |status: u16, code: &str, description: &str| {
            let mut resp = Response::new(Body::from(
                serde_json::json!({"error": code, "error_description": description}).to_string(),
            ));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        };
        if form.get("grant_type") != Some("refresh_token") {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "The passed in grant_type is not supported",
            );
        }
        if form.get("client_id") != Some(c.client_id.as_str())
            || form.get("client_secret") != Some(c.client_secret.as_str())
        {
            return oauth_error(401, "invalid_client", "Client authentication failed");
        }
        if form.get("refresh_token") != Some(c.refresh_token.as_str()) {
            return oauth_error(
                400,
                "invalid_request",
                "The provided authorization grant or refresh token is invalid, expired or revoked",
            );
        }
        let v = serde_json::json!({
            "access_token": c.access_token,
            "expires_in": 5_183_999,
            "refresh_token": c.refresh_token,
            "refresh_token_expires_in": 31_535_999,
            "scope": "r_ads,r_ads_reporting",
        });
        let mut resp = Response::new(Body::from(v.to_string()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }

    /// A search finder: `pageSize` (default 100, at most 1000) and `pageToken`.
    fn search(
        &self,
        p: &[(String, String)],
        kind: &'static str,
        elements: impl FnOnce(&World) -> Vec<serde_json::Value>,
    ) -> Response {
        let size = match param(p, "pageSize").map(|s| s.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            _ => {
                return error(
                    400,
                    None,
                    "PARAM_INVALID",
                    "pageSize must be between 1 and 1000",
                );
            }
        };
        let start = match param(p, "pageToken") {
            None => 0,
            Some(t) => match URL_SAFE_NO_PAD
                .decode(crate::google::percent_decode(t))
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
            {
                Some(n) => n,
                None => return error(400, None, "PARAM_INVALID", "Invalid pageToken"),
            },
        };
        let all = elements(&self.state.world.read());
        let page: Vec<serde_json::Value> = all.iter().skip(start).take(size).cloned().collect();
        let mut body = serde_json::json!({
            "paging": {"start": start, "count": size, "links": []},
            "elements": page,
            "metadata": {},
        });
        if start + size < all.len() {
            body["metadata"]["nextPageToken"] =
                serde_json::json!(URL_SAFE_NO_PAD.encode(format!("o:{}", start + size)));
        }
        let n = body["elements"].as_array().map_or(0, |a| a.len()) as u64;
        tagged(json_ok(body.to_string().into_bytes()), kind, n)
    }

    fn account_element(&self, w: &World) -> serde_json::Value {
        serde_json::json!({
            "test": false,
            "notifiedOnCreativeApproval": false,
            "notifiedOnCreativeRejection": true,
            "notifiedOnEndOfCampaign": true,
            "servingStatuses": ["RUNNABLE"],
            "reference": "urn:li:organization:2414183",
            "id": self.state.config.ad_account_id,
            "name": "Revline Demo – Ads",
            "currency": "USD",
            "status": "ACTIVE",
            "type": "BUSINESS",
            "version": {"versionTag": "4"},
            "changeAuditStamps": {
                "created": {"time": w.first_day().and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()},
                "lastModified": {"time": w.first_day().and_hms_opt(9, 30, 0).expect("time").and_utc().timestamp_millis()},
            },
        })
    }

    fn group_element(&self, c: &Campaign) -> serde_json::Value {
        serde_json::json!({
            "account": format!("urn:li:sponsoredAccount:{}", self.state.config.ad_account_id),
            "id": c.id,
            "name": c.name,
            "status": "ACTIVE",
            "servingStatuses": ["RUNNABLE"],
            "runSchedule": {"start": c.start_ms},
            "test": false,
            "backfilled": false,
            "changeAuditStamps": {
                "created": {"time": c.start_ms - 86_400_000},
                "lastModified": {"time": c.start_ms},
            },
        })
    }

    fn campaign_element(&self, w: &World, c: &Campaign, g: &AdGroup) -> serde_json::Value {
        let first = w.campaign_first_day(c);
        let start = first
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        serde_json::json!({
            "account": format!("urn:li:sponsoredAccount:{}", self.state.config.ad_account_id),
            "campaignGroup": format!("urn:li:sponsoredCampaignGroup:{}", c.id),
            "id": g.id,
            "name": g.name,
            "status": "ACTIVE",
            "type": "SPONSORED_UPDATES",
            "costType": "CPC",
            "objectiveType": if g.index.is_multiple_of(2) { "LEAD_GENERATION" } else { "WEBSITE_VISIT" },
            "format": "SINGLE_IMAGE",
            "locale": {"country": "US", "language": "en"},
            "dailyBudget": {"amount": cents_string(g.daily_budget_cents), "currencyCode": "USD"},
            "unitCost": {"amount": "8.5", "currencyCode": "USD"},
            "runSchedule": {"start": start},
            "servingStatuses": ["RUNNABLE"],
            "test": false,
            "offsiteDeliveryEnabled": false,
            "changeAuditStamps": {
                "created": {"time": start - 3_600_000},
                "lastModified": {"time": start + 7_200_000},
            },
        })
    }

    fn analytics(&self, p: &[(String, String)]) -> Response {
        let bad = |m: &str| error(400, None, "ILLEGAL_ARGUMENT", m);
        if param(p, "q") != Some("analytics") {
            return bad("This emulator serves the analytics finder only (q=analytics)");
        }
        if param(p, "pivot") != Some("CAMPAIGN") {
            return bad("This emulator serves pivot=CAMPAIGN only");
        }
        if param(p, "timeGranularity") != Some("DAILY") {
            return bad("This emulator serves timeGranularity=DAILY only");
        }
        let Some(range) = param(p, "dateRange") else {
            return bad("dateRange is required");
        };
        if !range.starts_with("(start:(") {
            // Encoded Rest.li structure (`%28start%3A…`) is a malformed parameter.
            return bad(&format!(
                "Invalid value for param dateRange: {range} (Rest.li 2.0 structure must not be URL-encoded)"
            ));
        }
        let today = self.state.world.read().today();
        let Some(start) = restli_date(range, "start") else {
            return bad("Invalid dateRange start");
        };
        let end = if range.contains("end:(") {
            match restli_date(range, "end") {
                Some(e) => e,
                None => return bad("Invalid dateRange end"),
            }
        } else {
            today
        };
        if end < start {
            return bad("dateRange end must not be before start");
        }
        let want = format!(
            "List(urn%3Ali%3AsponsoredAccount%3A{})",
            self.state.config.ad_account_id
        );
        match param(p, "accounts") {
            Some(a) if a == want => {}
            Some(a) if a.starts_with("List(") => {
                return error(
                    403,
                    Some(100),
                    "ACCESS_DENIED",
                    &format!(
                        "Not enough permissions to access: GET /adAnalytics for accounts {}",
                        crate::google::percent_decode(a)
                    ),
                );
            }
            Some(a) => {
                return bad(&format!(
                    "Invalid value for param accounts: {a} (expected List(urn%3Ali%3AsponsoredAccount%3A…))"
                ));
            }
            None => return bad("accounts is required"),
        }
        let fields: Vec<&str> = match param(p, "fields") {
            Some(f) => f.split(',').filter(|s| !s.is_empty()).collect(),
            None => vec!["dateRange", "pivotValues", "impressions", "clicks"],
        };
        if fields.len() > self.state.config.max_fields as usize {
            return bad(&format!(
                "Too many fields requested: {} (a request may ask for at most {})",
                fields.len(),
                self.state.config.max_fields
            ));
        }
        for f in &fields {
            if !matches!(*f, "dateRange" | "pivotValues" | "pivot") && !METRICS.contains(f) {
                return bad(&format!("Invalid field: {f}"));
            }
        }
        let w = self.state.world.read();
        let cap = self.state.config.row_cap as usize;
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(
            b"{\"paging\":{\"start\":0,\"count\":10,\"links\":[]},\"elements\":[",
        );
        let mut n = 0usize;
        let mut day = start.max(w.first_day());
        'days: while day <= end.min(w.today()) {
            for (g, s) in campaign_days(&w, day) {
                if n == cap {
                    break 'days;
                }
                if n > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                let mut first = true;
                for f in &fields {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    push_str(&mut out, f);
                    out.push(b':');
                    match *f {
                        "dateRange" => {
                            let (y, m, d) = (day.year(), day.month(), day.day());
                            out.extend_from_slice(
                                format!(
                                    "{{\"start\":{{\"year\":{y},\"month\":{m},\"day\":{d}}},\"end\":{{\"year\":{y},\"month\":{m},\"day\":{d}}}}}"
                                )
                                .as_bytes(),
                            );
                        }
                        "pivotValues" => {
                            out.extend_from_slice(b"[\"urn:li:sponsoredCampaign:");
                            push_u64(&mut out, g.id);
                            out.extend_from_slice(b"\"]");
                        }
                        "pivot" => out.extend_from_slice(b"\"CAMPAIGN\""),
                        m => out.extend_from_slice(
                            s.metric(m).unwrap_or_else(|| "0".into()).as_bytes(),
                        ),
                    }
                }
                out.push(b'}');
                n += 1;
            }
            day += Days::days(1);
        }
        out.extend_from_slice(b"]}");
        tagged(json_ok(out), "linkedin.analytics.campaign", n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_print_like_linkedin() {
        assert_eq!(cost_string(184_532_100), "184.5321");
        assert_eq!(cost_string(151_020_000), "151.02");
        assert_eq!(cost_string(7_000_000), "7");
        assert_eq!(cents_string(98_000), "980");
        assert_eq!(cents_string(98_050), "980.5");
    }

    #[test]
    fn restli_dates_parse() {
        let r = "(start:(year:2024,month:5,day:1),end:(year:2024,month:5,day:7))";
        assert_eq!(restli_date(r, "start"), NaiveDate::from_ymd_opt(2024, 5, 1));
        assert_eq!(restli_date(r, "end"), NaiveDate::from_ymd_opt(2024, 5, 7));
        assert_eq!(restli_date("(start:(year:2024))", "start"), None);
    }
}
