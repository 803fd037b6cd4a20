//! Freshdesk emulator (see `shared/reference/source-apis.md` §10): renders the world's
//! support model — tickets (with `include=requester,stats`), their conversations, contacts,
//! companies with their domains, agents, groups and satisfaction ratings — with Freshdesk's
//! shapes (bare JSON arrays, integer `status`/`priority`/`source`, ISO timestamps with `Z`),
//! page-number paging with a `Link: <…>; rel="next"` header, the ticket listing's page
//! ceiling, auth (API key as the basic-auth user), `X-RateLimit-*` headers and 429s.
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `GET /api/v2/tickets` without `include` | `freshdesk.tickets.list` |
//! | `GET /api/v2/tickets` with `include=…` | `freshdesk.tickets.list_with_include` |
//! | `GET /api/v2/tickets/{id}/conversations` | `freshdesk.conversations.list` |
//! | `GET /api/v2/contacts` | `freshdesk.contacts.list` |
//! | `GET /api/v2/companies` | `freshdesk.companies.list` |
//! | `GET /api/v2/agents` | `freshdesk.agents.list` |
//! | `GET /api/v2/agents/me` | `freshdesk.agents.me` |
//! | `GET /api/v2/groups` | `freshdesk.groups.list` |
//! | `GET /api/v2/surveys/satisfaction_ratings` | `freshdesk.satisfaction_ratings.list` |
//! | anything else | `freshdesk.not_found` |
//!
//! The ticket listing (without `updated_since`, only tickets created in the world's last 30
//! days) stops at page `max_pages` (300, like Freshdesk): that page has no `Link` and a later
//! page is a 400. A request costs one API credit, a ticket listing one more per `include`;
//! `X-RateLimit-Total`, `X-RateLimit-Remaining` and `X-RateLimit-Used-CurrentRequest` report
//! them. The optional per-minute limit answers 429 with `Retry-After`; without it nothing is
//! counted and `X-RateLimit-Remaining` stays at the advertised total minus this request.

pub mod ids;
mod routes;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
use crate::zendesk::Window;

/// The API key the emulator accepts by default.
pub const DEFAULT_API_KEY: &str = "fd-sandbox-api-key-0000";

/// Credits per minute advertised when no limit is enforced (Pro plan).
const ADVERTISED_LIMIT: u32 = 400;

fn default_max_pages() -> u32 {
    300
}

/// Settings of the Freshdesk emulator (`[freshdesk]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FreshdeskConfig {
    /// The API key (the basic-auth user; any password).
    pub api_key: String,
    /// Rolling credit limit, e.g. `{ max = 200, interval_ms = 60000 }` (Growth); `None`
    /// (default) never throttles.
    pub rate_limit: Option<RateLimitEmulation>,
    /// Last page of the ticket listing (Freshdesk: 300). Tests lower it to reach the
    /// ceiling with small worlds.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

impl Default for FreshdeskConfig {
    fn default() -> Self {
        FreshdeskConfig {
            api_key: DEFAULT_API_KEY.to_string(),
            rate_limit: None,
            max_pages: default_max_pages(),
        }
    }
}

impl fmt::Debug for FreshdeskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshdeskConfig")
            .field("api_key", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// Shared state of one Freshdesk emulator.
pub(crate) struct FreshdeskState {
    pub(crate) world: SharedWorld,
    pub(crate) config: FreshdeskConfig,
    /// Server root, used in `Link` headers.
    pub(crate) base_url: String,
    window: Mutex<Window>,
    requests: AtomicU64,
}

/// A JSON response with Freshdesk's content type.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// `{"code": …, "message": …}` with `status`.
pub(crate) fn coded(status: StatusCode, code: &str, message: &str) -> Response {
    let mut out = Vec::with_capacity(128);
    let mut o = Obj::new(&mut out);
    o.str("code", code).str("message", message);
    o.end();
    json(status, out)
}

/// 400 `{"description":"Validation failed","errors":[{field, message, code}]}`.
pub(crate) fn validation(field: &str, message: &str) -> Response {
    let mut out = Vec::with_capacity(192);
    let mut o = Obj::new(&mut out);
    o.str("description", "Validation failed")
        .with("errors", |b| {
            b.push(b'[');
            let mut e = Obj::new(b);
            e.str("field", field)
                .str("message", message)
                .str("code", "invalid_value");
            e.end();
            b.push(b']');
        });
    o.end();
    json(StatusCode::BAD_REQUEST, out)
}

fn unauthorized() -> Response {
    coded(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "You have to be logged in to perform this action.",
    )
}

fn too_many(retry_after: Option<u64>) -> Response {
    let mut resp = Response::new(Body::from(
        "You have exceeded the limit of requests per minute. Please try again later.",
    ));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(s) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

fn authorized(req: &Request<Body>, key: &str) -> bool {
    let Some(b64) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    crate::zendesk::ids::base64_decode(b64.trim())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.split_once(':').map(|(u, _)| u == key))
        .unwrap_or(false)
}

/// API credits a request costs: one, plus one per `include` of a ticket listing.
fn cost(req: &Request<Body>) -> u32 {
    if req.uri().path().trim_end_matches('/') != "/api/v2/tickets" {
        return 1;
    }
    let includes = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("include="))
        .map_or(0, |v| {
            crate::qs::percent_decode(v)
                .split(',')
                .filter(|s| !s.is_empty())
                .count() as u32
        });
    1 + includes
}

/// One running Freshdesk emulator.
pub(crate) struct FreshdeskApp {
    state: Arc<FreshdeskState>,
    router: Router,
}

impl FreshdeskApp {
    /// Creates the emulator over `world`; `base_url` is the server root.
    pub(crate) fn new(world: SharedWorld, config: FreshdeskConfig, base_url: String) -> Self {
        let state = Arc::new(FreshdeskState {
            world,
            config,
            base_url,
            window: Mutex::new(Window::default()),
            requests: AtomicU64::new(0),
        });
        FreshdeskApp {
            router: routes::router(state.clone()),
            state,
        }
    }

    fn finish(&self, mut resp: Response) -> Response {
        let n = self.state.requests.fetch_add(1, Ordering::Relaxed);
        let id = crate::world::rng::uuid_like(0xf5e5, n);
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp.headers_mut().insert(
            "x-freshdesk-api-version",
            HeaderValue::from_static("latest=v2; requested=v2"),
        );
        resp
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let resp = match fault {
            Fault::TooManyRequests { retry_after } => too_many(*retry_after),
            Fault::Status { code: 500 } => coded(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "We're sorry, but something went wrong.",
            ),
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => unauthorized(),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        };
        Some(self.finish(resp))
    }

    /// Handles one request: auth, credits, routing, rate-limit headers.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let kind = routes::kind_of(req.uri().path(), req.uri().query());
        if !authorized(&req, &self.state.config.api_key) {
            let mut resp = unauthorized();
            resp.extensions_mut().insert(RouteInfo { kind, records: 0 });
            return self.finish(resp);
        }
        let credits = cost(&req);
        let limit = self.state.config.rate_limit;
        let total = limit.map_or(ADVERTISED_LIMIT, |l| l.max);
        let now = Instant::now();
        let mut remaining = total.saturating_sub(credits);
        if limit.is_some() {
            let mut w = self.state.window.lock().unwrap_or_else(|e| e.into_inner());
            for _ in 0..credits {
                match w.admit(limit, ADVERTISED_LIMIT, now) {
                    Ok(r) => remaining = r,
                    Err(wait) => {
                        let mut resp = too_many(Some(wait));
                        add_headers(&mut resp, total, 0, credits);
                        resp.extensions_mut().insert(RouteInfo { kind, records: 0 });
                        return self.finish(resp);
                    }
                }
            }
        }
        let mut resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        add_headers(&mut resp, total, remaining, credits);
        self.finish(resp)
    }
}

fn add_headers(resp: &mut Response, total: u32, remaining: u32, used: u32) {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-total", HeaderValue::from(total));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-used-currentrequest", HeaderValue::from(used));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_as_basic_user_and_include_credits() {
        let req = |auth: &str, uri: &str| {
            Request::builder()
                .uri(uri)
                .header(header::AUTHORIZATION, auth)
                .body(Body::empty())
                .unwrap()
        };
        let ok = format!(
            "Basic {}",
            crate::zendesk::ids::base64_encode(format!("{DEFAULT_API_KEY}:X").as_bytes())
        );
        assert!(authorized(&req(&ok, "/"), DEFAULT_API_KEY));
        assert!(!authorized(&req("Basic Og==", "/"), DEFAULT_API_KEY));
        assert!(!authorized(&req("Bearer x", "/"), DEFAULT_API_KEY));
        assert_eq!(
            cost(&req(&ok, "/api/v2/tickets?include=requester%2Cstats")),
            3
        );
        assert_eq!(cost(&req(&ok, "/api/v2/tickets?page=2")), 1);
        assert_eq!(cost(&req(&ok, "/api/v2/contacts?include=x")), 1);
    }
}
