//! Intercom emulator (see `shared/reference/source-apis.md` §9): renders the world's support
//! model — tickets as conversations (with their statistics and rating), requesters as
//! contacts, companies, agents as admins and groups as teams — with Intercom's shapes
//! (string ids, unix-second timestamps, `type` on every object), the conversation search
//! (`updated_at` filters, `starting_after` cursors), cursor and page paging, bearer auth with
//! the `Intercom-Version` header, and rate limits in fixed 10-second windows reported by
//! `X-RateLimit-Limit` / `-Remaining` / `-Reset` (unix seconds).
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `POST /conversations/search` | `intercom.conversations.search` |
//! | `GET /contacts` | `intercom.contacts.list` |
//! | `GET /companies` | `intercom.companies.list` |
//! | `GET /admins` | `intercom.admins.list` |
//! | `GET /teams` | `intercom.teams.list` |
//! | `GET /me` | `intercom.me` |
//! | a 429 of the window limit (any route) | `intercom.rate_limited` |
//! | anything else | `intercom.not_found` |

pub mod ids;
mod routes;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// The access token the emulator accepts by default.
pub const DEFAULT_TOKEN: &str = "ic-sandbox-access-token";

/// Requests per 10-second window advertised when no limit is enforced (10,000 per minute
/// per app, a sixth of it per window).
const ADVERTISED_LIMIT: u32 = 1666;
/// Intercom's window.
const WINDOW_MS: u64 = 10_000;

/// Settings of the Intercom emulator (`[intercom]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntercomConfig {
    /// The access token (`Authorization: Bearer`).
    pub token: String,
    /// Requests per fixed window, e.g. `{ max = 1666, interval_ms = 10000 }`; `None`
    /// (default) never throttles (and counts nothing: `X-RateLimit-Remaining` stays high).
    pub rate_limit: Option<RateLimitEmulation>,
}

impl Default for IntercomConfig {
    fn default() -> Self {
        IntercomConfig {
            token: DEFAULT_TOKEN.to_string(),
            rate_limit: None,
        }
    }
}

impl fmt::Debug for IntercomConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntercomConfig")
            .field("token", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A fixed window: its index and the requests admitted in it.
#[derive(Default)]
struct FixedWindow {
    index: u64,
    count: u32,
}

/// Shared state of one Intercom emulator.
pub(crate) struct IntercomState {
    pub(crate) world: SharedWorld,
    pub(crate) config: IntercomConfig,
    /// Server root, used in `pages.next` URLs.
    pub(crate) base_url: String,
    window: Mutex<FixedWindow>,
    requests: AtomicU64,
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// `{"type":"error.list","request_id":…,"errors":[{"code":…,"message":…}]}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut out = Vec::with_capacity(192);
    let mut o = Obj::new(&mut out);
    o.str("type", "error.list")
        .str("request_id", "0004lq1hq8c2g0se3n1g")
        .with("errors", |b| {
            b.push(b'[');
            let mut e = Obj::new(b);
            e.str("code", code).str("message", message);
            e.end();
            b.push(b']');
        });
    o.end();
    json(status, out)
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Access Token Invalid",
    )
}

fn too_many() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "You have exceeded the rate limit. Please try again later.",
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One running Intercom emulator.
pub(crate) struct IntercomApp {
    state: Arc<IntercomState>,
    router: Router,
}

impl IntercomApp {
    /// Creates the emulator over `world`; `base_url` is the server root.
    pub(crate) fn new(world: SharedWorld, config: IntercomConfig, base_url: String) -> Self {
        let state = Arc::new(IntercomState {
            world,
            config,
            base_url,
            window: Mutex::new(FixedWindow::default()),
            requests: AtomicU64::new(0),
        });
        IntercomApp {
            router: routes::router(state.clone()),
            state,
        }
    }

    fn finish(&self, mut resp: Response) -> Response {
        let n = self.state.requests.fetch_add(1, Ordering::Relaxed);
        let id = format!("000{:017x}", crate::world::rng::mix64(n ^ 0x1c) >> 4);
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let resp = match fault {
            Fault::TooManyRequests { retry_after } => {
                let mut r = too_many();
                if let Some(s) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(*s));
                }
                r
            }
            Fault::Status { code: 500 } => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Server Error",
            ),
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => unauthorized(),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        };
        Some(self.finish(resp))
    }

    /// Handles one request: auth, version, the window limit, routing, rate-limit headers.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let kind = routes::kind_of(req.method(), req.uri().path());
        let token_ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == self.state.config.token);
        if !token_ok {
            let mut r = unauthorized();
            r.extensions_mut().insert(RouteInfo { kind, records: 0 });
            return self.finish(r);
        }
        if let Some(v) = req.headers().get("intercom-version") {
            let ok = v.to_str().ok().is_some_and(routes::valid_version);
            if !ok {
                let mut r = error(
                    StatusCode::BAD_REQUEST,
                    "intercom_version_invalid",
                    "The requested version could not be found",
                );
                r.extensions_mut().insert(RouteInfo { kind, records: 0 });
                return self.finish(r);
            }
        }
        let limit = self.state.config.rate_limit;
        let max = limit.map_or(ADVERTISED_LIMIT, |l| l.max);
        let interval = limit.map_or(WINDOW_MS, |l| l.interval_ms.max(1));
        let now = now_ms();
        let index = now / interval;
        let reset = (index + 1) * interval / 1000;
        let remaining = match limit {
            None => max.saturating_sub(1),
            Some(_) => {
                let mut w = self.state.window.lock().unwrap_or_else(|e| e.into_inner());
                if w.index != index {
                    *w = FixedWindow { index, count: 0 };
                }
                if w.count >= max {
                    drop(w);
                    let mut r = too_many();
                    add_headers(&mut r, max, 0, reset);
                    r.extensions_mut().insert(RouteInfo {
                        kind: "intercom.rate_limited",
                        records: 0,
                    });
                    return self.finish(r);
                }
                w.count += 1;
                max - w.count
            }
        };
        let mut resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        add_headers(&mut resp, max, remaining, reset);
        self.finish(resp)
    }
}

fn add_headers(resp: &mut Response, limit: u32, remaining: u32, reset: u64) {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
}
