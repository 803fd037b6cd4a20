//! HubSpot CRM v3 emulator: renders the world as contacts, companies, deals, owners,
//! properties and the default deal pipeline, with HubSpot's paging, errors, auth and
//! rate-limit headers (see `shared/reference/source-apis.md` §1).
//!
//! Routes (relative to [`crate::Sandbox::hubspot_url`]):
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `GET /crm/v3/objects/{contacts,companies,deals}` | `hubspot.<type>.list` |
//! | `GET /crm/v3/objects/{type}/{id}` | `hubspot.<type>.get` |
//! | `POST /crm/v3/objects/{type}/search` | `hubspot.<type>.search` |
//! | `GET /crm/v3/properties/{type}` | `hubspot.properties` |
//! | `GET /crm/v3/pipelines/deals` | `hubspot.pipelines` |
//! | `GET /crm/v3/owners` (and `/crm/v3/owners/`) | `hubspot.owners` |
//! | anything else | `hubspot.not_found` |

mod errors;
pub(crate) mod props;
pub(crate) mod render;
mod routes;
mod search;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, header};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::faults::Fault;
use crate::world::SharedWorld;

/// The default private-app token the emulator accepts.
pub const DEFAULT_TOKEN: &str = "pat-sandbox-token";

fn default_token() -> String {
    DEFAULT_TOKEN.to_string()
}

fn default_daily_limit() -> u64 {
    500_000
}

fn default_interval_ms() -> u64 {
    10_000
}

/// Settings of the HubSpot emulator (`[hubspot]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubspotConfig {
    /// The bearer token every request must present, e.g. `"pat-sandbox-token"` (the default).
    pub token: String,
    /// Enforce a rolling request limit (429 when exceeded). `None` (the default) never
    /// throttles, but the rate-limit headers are still sent with a large `Max`.
    pub rate_limit: Option<RateLimitEmulation>,
    /// `Retry-After` seconds to send with emulated-limit 429s; `None` (default) sends none,
    /// like HubSpot usually does.
    pub retry_after_secs: Option<u64>,
    /// Value of `X-HubSpot-RateLimit-Daily`. Default `500000` (not enforced).
    pub daily_limit: u64,
}

impl Default for HubspotConfig {
    fn default() -> Self {
        HubspotConfig {
            token: default_token(),
            rate_limit: None,
            retry_after_secs: None,
            daily_limit: default_daily_limit(),
        }
    }
}

impl fmt::Debug for HubspotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubspotConfig")
            .field("token", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("daily_limit", &self.daily_limit)
            .finish()
    }
}

/// An emulated rolling-window rate limit, e.g. `{ max = 100, interval_ms = 10000 }` for
/// HubSpot's free tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitEmulation {
    /// Requests allowed per window (`X-HubSpot-RateLimit-Max`).
    pub max: u32,
    /// Window length in milliseconds. Default `10000`.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
}

/// `Max` advertised when no limit is enforced.
const UNENFORCED_MAX: u32 = 100_000;

struct Limiter {
    window: VecDeque<Instant>,
    daily_used: u64,
}

struct Admission {
    allowed: bool,
    max: u32,
    remaining: u32,
    daily_remaining: u64,
}

/// Shared state of one HubSpot emulator.
pub(crate) struct HubspotState {
    world: SharedWorld,
    config: HubspotConfig,
    base_url: String,
    seed: u64,
    correlation: AtomicU64,
    limiter: Mutex<Limiter>,
}

impl HubspotState {
    /// Creates the emulator state; `base_url` is the server root, used in paging links.
    fn new(world: SharedWorld, config: HubspotConfig, base_url: String) -> Arc<Self> {
        let seed = world.read().config().seed;
        Arc::new(HubspotState {
            world,
            config,
            base_url,
            seed,
            correlation: AtomicU64::new(0),
            limiter: Mutex::new(Limiter {
                window: VecDeque::new(),
                daily_used: 0,
            }),
        })
    }

    fn correlation_id(&self) -> String {
        let n = self.correlation.fetch_add(1, Ordering::Relaxed);
        crate::world::rng::uuid_like(self.seed, n)
    }

    fn admit(&self) -> Admission {
        let (max, interval, enforced) = match self.config.rate_limit {
            Some(r) => (r.max, Duration::from_millis(r.interval_ms), true),
            None => (UNENFORCED_MAX, Duration::from_millis(10_000), false),
        };
        let now = Instant::now();
        let mut l = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
        while l
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            l.window.pop_front();
        }
        let allowed = !enforced || (l.window.len() as u64) < u64::from(max);
        if allowed {
            if l.window.len() as u64 >= u64::from(max) {
                l.window.pop_front();
            }
            l.window.push_back(now);
            l.daily_used += 1;
        }
        Admission {
            allowed,
            max,
            remaining: max.saturating_sub(l.window.len() as u32),
            daily_remaining: self.config.daily_limit.saturating_sub(l.daily_used),
        }
    }

    fn add_rate_headers(&self, resp: &mut Response, a: &Admission) {
        let h = resp.headers_mut();
        h.insert("x-hubspot-ratelimit-max", HeaderValue::from(a.max));
        h.insert(
            "x-hubspot-ratelimit-remaining",
            HeaderValue::from(a.remaining),
        );
        let interval = self.config.rate_limit.map_or(10_000, |r| r.interval_ms);
        h.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            HeaderValue::from(interval),
        );
        h.insert(
            "x-hubspot-ratelimit-daily",
            HeaderValue::from(self.config.daily_limit),
        );
        h.insert(
            "x-hubspot-ratelimit-daily-remaining",
            HeaderValue::from(a.daily_remaining),
        );
    }

    /// The response an injected fault produces (for faults that answer with a response).
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let cid = self.correlation_id();
        match fault {
            Fault::TooManyRequests { retry_after } => {
                let rid = self.correlation_id();
                let mut resp = errors::rate_limited(*retry_after, &cid, &rid);
                let a = Admission {
                    allowed: false,
                    max: self.config.rate_limit.map_or(UNENFORCED_MAX, |r| r.max),
                    remaining: 0,
                    daily_remaining: self.config.daily_limit,
                };
                self.add_rate_headers(&mut resp, &a);
                Some(resp)
            }
            Fault::Status { code } => Some(errors::server_error(*code, &cid)),
            Fault::Unauthorized => Some(errors::unauthorized(&cid)),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => None,
        }
    }
}

/// One running HubSpot emulator: its state and its route table.
pub(crate) struct HubspotApp {
    state: Arc<HubspotState>,
    router: Router,
}

impl HubspotApp {
    /// Creates the emulator over `world`; `base_url` is the server root used in paging links.
    pub(crate) fn new(world: SharedWorld, config: HubspotConfig, base_url: String) -> HubspotApp {
        let state = HubspotState::new(world, config, base_url);
        HubspotApp {
            router: routes::router(state.clone()),
            state,
        }
    }

    /// The response an injected fault produces (for faults that answer with a response).
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        self.state.fault_response(fault)
    }

    /// Handles one request: auth, emulated rate limit, routing, rate-limit headers.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let authorized = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t == self.state.config.token);
        if !authorized {
            return errors::unauthorized(&self.state.correlation_id());
        }
        let is_search = req.method() == Method::POST && req.uri().path().ends_with("/search");
        let admission = self.state.admit();
        if !admission.allowed {
            let cid = self.state.correlation_id();
            let rid = self.state.correlation_id();
            let mut resp = errors::rate_limited(self.state.config.retry_after_secs, &cid, &rid);
            if !is_search {
                self.state.add_rate_headers(&mut resp, &admission);
            }
            return resp;
        }
        let mut resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        if !is_search {
            self.state.add_rate_headers(&mut resp, &admission);
        }
        resp
    }
}
