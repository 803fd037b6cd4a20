//! Zendesk Support emulator (see `shared/reference/source-apis.md` §8): renders the world's
//! support model — tickets, their metrics and satisfaction ratings, requesters and agents as
//! users, companies as organizations with their domain, groups — with Zendesk's shapes
//! (ISO timestamps with `Z`, `generated_timestamp` in unix seconds, integer ids), the
//! cursor-based incremental exports (`after_cursor`, `end_of_stream`), cursor pagination
//! (`page[size]`, `page[after]`, `meta.has_more`), auth (`{email}/token:{api_token}` basic
//! or an OAuth bearer token), rate-limit headers and throttling.
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `GET /api/v2/incremental/tickets/cursor.json` | `zendesk.tickets.export` |
//! | `GET /api/v2/incremental/users/cursor.json` | `zendesk.users.export` |
//! | `GET /api/v2/ticket_metrics[.json]` | `zendesk.ticket_metrics.list` |
//! | `GET /api/v2/satisfaction_ratings[.json]` | `zendesk.satisfaction_ratings.list` |
//! | `GET /api/v2/organizations[.json]` | `zendesk.organizations.list` |
//! | `GET /api/v2/groups[.json]` | `zendesk.groups.list` |
//! | `GET /api/v2/users/me[.json]` | `zendesk.users.me` |
//! | anything else | `zendesk.not_found` |
//!
//! Limits (off by default): an account-wide limit per rolling window (Zendesk plans allow
//! 200–2,500 per minute) and the incremental-export limit (10 per minute; 30 with the High
//! Volume add-on), each answered with 429 and `Retry-After`. Every response carries
//! `X-Rate-Limit` / `X-Rate-Limit-Remaining`; list endpoints also `ratelimit-limit`,
//! `ratelimit-remaining` and `ratelimit-reset` (seconds).

pub mod ids;
mod routes;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Request, StatusCode, header};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::faults::Fault;
use crate::hubspot::RateLimitEmulation;
use crate::jw::Obj;
use crate::server::RouteInfo;
use crate::world::SharedWorld;

/// The agent email the emulator accepts with the API token by default.
pub const DEFAULT_EMAIL: &str = "admin@revline-demo.io";
/// The API token the emulator accepts by default.
pub const DEFAULT_API_TOKEN: &str = "zd-sandbox-api-token-0000000000000000";
/// The OAuth access token the emulator accepts by default.
pub const DEFAULT_OAUTH_TOKEN: &str = "zd-sandbox-oauth-token";

/// `X-Rate-Limit` advertised when no account limit is enforced (Enterprise).
const ADVERTISED_LIMIT: u32 = 700;

/// Settings of the Zendesk emulator (`[zendesk]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZendeskConfig {
    /// Agent email of API-token auth (`{email}/token` is the basic-auth user).
    pub email: String,
    /// API token (the basic-auth password).
    pub api_token: String,
    /// OAuth access token accepted as `Authorization: Bearer`.
    pub oauth_token: String,
    /// Account-wide limit, e.g. `{ max = 700, interval_ms = 60000 }`; `None` (default) never
    /// throttles (headers still advertise 700 per minute).
    pub rate_limit: Option<RateLimitEmulation>,
    /// Incremental-export limit, e.g. `{ max = 10, interval_ms = 60000 }` (Zendesk's);
    /// `None` (default) never throttles.
    pub export_rate_limit: Option<RateLimitEmulation>,
}

impl Default for ZendeskConfig {
    fn default() -> Self {
        ZendeskConfig {
            email: DEFAULT_EMAIL.to_string(),
            api_token: DEFAULT_API_TOKEN.to_string(),
            oauth_token: DEFAULT_OAUTH_TOKEN.to_string(),
            rate_limit: None,
            export_rate_limit: None,
        }
    }
}

impl fmt::Debug for ZendeskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZendeskConfig")
            .field("email", &self.email)
            .field("api_token", &"<redacted>")
            .field("oauth_token", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("export_rate_limit", &self.export_rate_limit)
            .finish()
    }
}

/// A rolling window of admitted requests (shared by the per-minute emulations).
#[derive(Default)]
pub(crate) struct Window(VecDeque<Instant>);

impl Window {
    /// Admits a request costing one slot under `limit` (always when `None`, counting against
    /// `advertised` per minute); on refusal returns the seconds until a slot frees up.
    /// Returns the requests left in the window after this one.
    pub(crate) fn admit(
        &mut self,
        limit: Option<RateLimitEmulation>,
        advertised: u32,
        now: Instant,
    ) -> Result<u32, u64> {
        let (max, interval) = match limit {
            Some(l) => (l.max, Duration::from_millis(l.interval_ms)),
            None => (advertised, Duration::from_secs(60)),
        };
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            self.0.pop_front();
        }
        if limit.is_some() && self.0.len() as u64 >= u64::from(max) {
            let oldest = *self.0.front().expect("a full window");
            let wait = interval.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        if self.0.len() as u64 >= u64::from(max) {
            self.0.pop_front();
        }
        self.0.push_back(now);
        Ok(max.saturating_sub(self.0.len() as u32))
    }

    /// Seconds until the oldest request leaves the window.
    pub(crate) fn reset_secs(&self, interval: Duration, now: Instant) -> u64 {
        match self.0.front() {
            Some(t) => interval
                .saturating_sub(now.duration_since(*t))
                .as_secs_f64()
                .ceil() as u64,
            None => interval.as_secs(),
        }
    }
}

/// Shared state of one Zendesk emulator.
pub(crate) struct ZendeskState {
    pub(crate) world: SharedWorld,
    pub(crate) config: ZendeskConfig,
    /// Server root, used in `url`, `after_url` and `links.next`.
    pub(crate) base_url: String,
    account: Mutex<Window>,
    export: Mutex<Window>,
    requests: AtomicU64,
}

/// Zendesk's JSON content type.
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    resp
}

/// `{"error": …, "description": …}` with `status`.
pub(crate) fn error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let mut out = Vec::with_capacity(96);
    let mut o = Obj::new(&mut out);
    o.str("error", error);
    if let Some(d) = description {
        o.str("description", d);
    }
    o.end();
    json(status, out)
}

fn unauthorized() -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "Couldn't authenticate you", None);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Web Password\""),
    );
    r
}

fn too_many(retry_after: Option<u64>, description: Option<&str>) -> Response {
    // Zendesk's 429 bodies vary: JSON for the export limit, plain text otherwise.
    let mut resp = match description {
        Some(d) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "APIRateLimitExceeded",
            Some(d),
        ),
        None => {
            let mut r = Response::new(Body::from("Too Many Requests"));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
    };
    if let Some(s) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

/// Which credentials a request presents.
fn authorized(req: &Request<Body>, config: &ZendeskConfig) -> bool {
    let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if let Some(t) = v.strip_prefix("Bearer ") {
        return t.trim() == config.oauth_token;
    }
    let Some(b64) = v.strip_prefix("Basic ") else {
        return false;
    };
    let Some(text) = ids::base64_decode(b64.trim()).and_then(|b| String::from_utf8(b).ok()) else {
        return false;
    };
    let Some((user, password)) = text.split_once(':') else {
        return false;
    };
    user == format!("{}/token", config.email) && password == config.api_token
}

/// The route kind of a path (for throttled answers, which never reach a handler).
fn kind_of(path: &str) -> &'static str {
    let p = path.trim_end_matches(".json");
    match p {
        "/api/v2/incremental/tickets/cursor" => "zendesk.tickets.export",
        "/api/v2/incremental/users/cursor" => "zendesk.users.export",
        "/api/v2/ticket_metrics" => "zendesk.ticket_metrics.list",
        "/api/v2/satisfaction_ratings" => "zendesk.satisfaction_ratings.list",
        "/api/v2/organizations" => "zendesk.organizations.list",
        "/api/v2/groups" => "zendesk.groups.list",
        "/api/v2/users/me" => "zendesk.users.me",
        _ => "zendesk.not_found",
    }
}

fn is_export(path: &str) -> bool {
    path.starts_with("/api/v2/incremental/")
}

fn is_list(kind: &str) -> bool {
    kind.ends_with(".list")
}

/// One running Zendesk emulator.
pub(crate) struct ZendeskApp {
    state: Arc<ZendeskState>,
    router: Router,
}

impl ZendeskApp {
    /// Creates the emulator over `world`; `base_url` is the server root.
    pub(crate) fn new(world: SharedWorld, config: ZendeskConfig, base_url: String) -> ZendeskApp {
        let state = Arc::new(ZendeskState {
            world,
            config,
            base_url,
            account: Mutex::new(Window::default()),
            export: Mutex::new(Window::default()),
            requests: AtomicU64::new(0),
        });
        ZendeskApp {
            router: routes::router(state.clone()),
            state,
        }
    }

    fn finish(&self, mut resp: Response) -> Response {
        let n = self.state.requests.fetch_add(1, Ordering::Relaxed);
        let id = format!("8a{:014x}-ZD", crate::world::rng::mix64(n ^ 0x2e2d) >> 8);
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp.headers_mut()
            .insert("x-zendesk-api-version", HeaderValue::from_static("v2"));
        resp
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let resp = match fault {
            Fault::TooManyRequests { retry_after } => too_many(*retry_after, None),
            Fault::Status { code: 500 } => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                Some("Something went wrong on our end"),
            ),
            Fault::Status { code: 503 } => {
                // Zendesk's maintenance answer carries Retry-After.
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    Some("The service is temporarily unavailable for maintenance"),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
                r
            }
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => unauthorized(),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        };
        Some(self.finish(resp))
    }

    /// Handles one request: auth, emulated limits, routing, rate-limit headers.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        if !authorized(&req, &self.state.config) {
            return self.finish(unauthorized());
        }
        let path = req.uri().path().to_string();
        let kind = kind_of(&path);
        let now = Instant::now();
        let account_limit = self.state.config.rate_limit;
        let remaining = {
            let mut w = self.state.account.lock().unwrap_or_else(|e| e.into_inner());
            match w.admit(account_limit, ADVERTISED_LIMIT, now) {
                Ok(r) => r,
                Err(wait) => {
                    let mut resp = too_many(Some(wait), None);
                    add_account_headers(&mut resp, account_limit, 0);
                    resp.extensions_mut().insert(RouteInfo { kind, records: 0 });
                    return self.finish(resp);
                }
            }
        };
        if is_export(&path) {
            let mut w = self.state.export.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(wait) = w.admit(self.state.config.export_rate_limit, ADVERTISED_LIMIT, now) {
                let mut resp = too_many(
                    Some(wait),
                    Some("Number of allowed incremental export API requests per minute exceeded"),
                );
                add_account_headers(&mut resp, account_limit, remaining);
                resp.extensions_mut().insert(RouteInfo { kind, records: 0 });
                return self.finish(resp);
            }
        }
        let mut resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        add_account_headers(&mut resp, account_limit, remaining);
        if is_list(kind) {
            let interval = account_limit.map_or(Duration::from_secs(60), |l| {
                Duration::from_millis(l.interval_ms)
            });
            let reset = self
                .state
                .account
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .reset_secs(interval, Instant::now());
            let h = resp.headers_mut();
            h.insert(
                "ratelimit-limit",
                HeaderValue::from(account_limit.map_or(ADVERTISED_LIMIT, |l| l.max)),
            );
            h.insert("ratelimit-remaining", HeaderValue::from(remaining));
            h.insert("ratelimit-reset", HeaderValue::from(reset));
        }
        self.finish(resp)
    }
}

fn add_account_headers(resp: &mut Response, limit: Option<RateLimitEmulation>, remaining: u32) {
    let h = resp.headers_mut();
    h.insert(
        "x-rate-limit",
        HeaderValue::from(limit.map_or(ADVERTISED_LIMIT, |l| l.max)),
    );
    h.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_refuse_with_the_wait_until_a_slot_frees() {
        let mut w = Window::default();
        let limit = Some(RateLimitEmulation {
            max: 2,
            interval_ms: 60_000,
        });
        let t0 = Instant::now();
        assert_eq!(w.admit(limit, 700, t0), Ok(1));
        assert_eq!(w.admit(limit, 700, t0 + Duration::from_secs(10)), Ok(0));
        assert_eq!(w.admit(limit, 700, t0 + Duration::from_secs(20)), Err(40));
        assert_eq!(w.admit(limit, 700, t0 + Duration::from_secs(60)), Ok(0));
        // Unenforced: always admitted, remaining counts down from the advertised limit.
        let mut u = Window::default();
        assert_eq!(
            u.admit(None, ADVERTISED_LIMIT, t0),
            Ok(ADVERTISED_LIMIT - 1)
        );
    }

    #[test]
    fn basic_and_bearer_auth() {
        let c = ZendeskConfig::default();
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(Body::empty())
                .unwrap()
        };
        let basic = format!(
            "Basic {}",
            ids::base64_encode(format!("{}/token:{}", c.email, c.api_token).as_bytes())
        );
        assert!(authorized(&req(&basic), &c));
        assert!(authorized(&req(&format!("Bearer {}", c.oauth_token)), &c));
        let wrong = format!(
            "Basic {}",
            ids::base64_encode(format!("{}:{}", c.email, c.api_token).as_bytes())
        );
        assert!(!authorized(&req(&wrong), &c), "the user must end in /token");
        assert!(!authorized(&req("Bearer nope"), &c));
        assert_eq!(kind_of("/api/v2/groups.json"), "zendesk.groups.list");
        assert_eq!(
            kind_of("/api/v2/incremental/tickets/cursor.json"),
            "zendesk.tickets.export"
        );
    }
}
