//! Stripe API emulator: renders the world's billing (customers, the product catalog, prices,
//! subscriptions, invoices with their lines, charges, refunds and the event log) with
//! Stripe's list envelope, `starting_after`/`ending_before` paging, `created` filters, auth
//! (secret key as bearer token or basic-auth user), error bodies, rate limiting and
//! `lock_timeout` responses (see `shared/reference/source-apis.md` §11).
//!
//! Routes (relative to [`crate::Sandbox::base_url`]`(Vendor::Stripe)`), each counted under its
//! stats route kind:
//!
//! | Route | Stats route kind |
//! |---|---|
//! | `GET /v1/customers` | `stripe.customers.list` |
//! | `GET /v1/products` | `stripe.products.list` |
//! | `GET /v1/prices` | `stripe.prices.list` |
//! | `GET /v1/subscriptions` | `stripe.subscriptions.list` |
//! | `GET /v1/subscription_items?subscription=…` | `stripe.subscription_items.list` |
//! | `GET /v1/invoices` | `stripe.invoices.list` |
//! | `GET /v1/invoices/{id}/lines` | `stripe.invoice_lines.list` |
//! | `GET /v1/charges` | `stripe.charges.list` |
//! | `GET /v1/refunds` | `stripe.refunds.list` |
//! | `GET /v1/events` | `stripe.events.<family>.list` when every `types[]` is of one object family (`invoice`, `customer`, `subscription`, `charge`, `refund`, `product`, `price`), else `stripe.events.list` |
//! | anything else | `stripe.not_found` |

pub mod ids;
mod render;
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
use crate::jw::Obj;
use crate::world::SharedWorld;

/// The secret key the emulator accepts by default.
pub const DEFAULT_SECRET_KEY: &str = "sk_test_51RevlineSandbox00000000000000000000";

/// The API version the emulator answers with (the one Revline pins).
pub const API_VERSION: &str = "2024-06-20";

fn default_key() -> String {
    DEFAULT_SECRET_KEY.to_string()
}

fn default_embedded() -> usize {
    10
}

/// Settings of the Stripe emulator (`[stripe]` in a sandbox TOML file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeConfig {
    /// The secret key every request must present (bearer token or basic-auth user).
    pub secret_key: String,
    /// Requests admitted per rolling second; more get Stripe's 429 `rate_limit` answer.
    /// `None` (the default) never throttles. Stripe's live mode allows 100, test mode 25.
    pub rate_limit: Option<u32>,
    /// Answer every n-th API request with a 429 `lock_timeout` (another request holds the
    /// object's lock). `None` (default): never.
    pub lock_timeout_every: Option<u64>,
    /// Items of nested lists embedded in a parent (invoice `lines`, subscription `items`)
    /// before `has_more` is set and the rest must be paged through their own endpoint.
    /// Default 10.
    #[serde(default = "default_embedded")]
    pub embedded_list_limit: usize,
}

impl Default for StripeConfig {
    fn default() -> Self {
        StripeConfig {
            secret_key: default_key(),
            rate_limit: None,
            lock_timeout_every: None,
            embedded_list_limit: default_embedded(),
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("lock_timeout_every", &self.lock_timeout_every)
            .field("embedded_list_limit", &self.embedded_list_limit)
            .finish()
    }
}

/// Shared state of one Stripe emulator.
pub(crate) struct StripeState {
    pub(crate) world: SharedWorld,
    pub(crate) config: StripeConfig,
    requests: AtomicU64,
    api_requests: AtomicU64,
    window: Mutex<VecDeque<Instant>>,
}

impl StripeState {
    fn request_id(&self, n: u64) -> String {
        let mut id = String::from("req_");
        let mut x = crate::world::rng::mix64(n ^ 0x5712_1be5);
        for _ in 0..14 {
            id.push(
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[(x % 62) as usize]
                    as char,
            );
            x /= 62;
        }
        id
    }

    /// Admits a request under the emulated rolling one-second limit.
    fn admit(&self) -> bool {
        let Some(max) = self.config.rate_limit else {
            return true;
        };
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        while w
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            w.pop_front();
        }
        if w.len() as u64 >= u64::from(max) {
            return false;
        }
        w.push_back(now);
        true
    }
}

/// Stripe's error body: `{"error":{"code","doc_url","message","param","type"}}`.
pub(crate) fn error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> Response {
    let mut out = Vec::with_capacity(256 + message.len());
    let mut root = Obj::new(&mut out);
    root.with("error", |b| {
        let mut e = Obj::new(b);
        if let Some(c) = code {
            e.str("code", c).str(
                "doc_url",
                &format!(
                    "https://stripe.com/docs/error-codes/{}",
                    c.replace('_', "-")
                ),
            );
        }
        e.str("message", message);
        if let Some(p) = param {
            e.str("param", p);
        }
        e.str("type", kind);
        e.end();
    });
    root.end();
    json(status, out)
}

/// A JSON response with Stripe's content type.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 429 `rate_limit` (with `Stripe-Rate-Limited-Reason`), or `lock_timeout` (without it).
fn too_many(lock: bool, retry_after: Option<u64>) -> Response {
    let mut resp = if lock {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("lock_timeout"),
            "This object cannot be accessed right now because another API request or Stripe \
             process is currently accessing it. If you see this error intermittently, retry the \
             request. If you see this error frequently and are making multiple concurrent \
             requests to a single object, make your requests serially or at a lower rate.",
            None,
        )
    } else {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. You can learn more about rate limits here \
             https://stripe.com/docs/rate-limits.",
            None,
        );
        r.headers_mut().insert(
            "stripe-rate-limited-reason",
            HeaderValue::from_static("global-rate"),
        );
        r
    };
    resp.headers_mut()
        .insert("stripe-should-retry", HeaderValue::from_static("true"));
    if let Some(s) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

fn masked(key: &str) -> String {
    let prefix: String = key.chars().take(8).collect();
    let last4: String = {
        let chars: Vec<char> = key.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("{prefix}********{last4}")
}

fn unauthorized(presented: Option<&str>) -> Response {
    let message = match presented {
        None | Some("") => "You did not provide an API key. You need to provide your API key in \
                            the Authorization header, using Bearer auth (e.g. 'Authorization: \
                            Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
                            for details, or we can help at https://support.stripe.com/."
            .to_string(),
        Some(k) => format!("Invalid API Key provided: {}", masked(k)),
    };
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        None,
        &message,
        None,
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Stripe\""),
    );
    r
}

/// The key a request presents: a bearer token, or the user of basic auth.
fn presented_key(req: &Request<Body>) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(t) = v.strip_prefix("Bearer ") {
        return Some(t.trim().to_string());
    }
    let b64 = v.strip_prefix("Basic ")?;
    let decoded = base64_decode(b64.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or("").to_string())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = TABLE.iter().position(|&t| t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// One running Stripe emulator.
pub(crate) struct StripeApp {
    state: Arc<StripeState>,
    router: Router,
}

impl StripeApp {
    /// Creates the emulator over `world`.
    pub(crate) fn new(world: SharedWorld, config: StripeConfig) -> StripeApp {
        let state = Arc::new(StripeState {
            world,
            config,
            requests: AtomicU64::new(0),
            api_requests: AtomicU64::new(0),
            window: Mutex::new(VecDeque::new()),
        });
        StripeApp {
            router: routes::router(state.clone()),
            state,
        }
    }

    fn finish(&self, mut resp: Response, version: Option<HeaderValue>) -> Response {
        let n = self.state.requests.fetch_add(1, Ordering::Relaxed);
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.state.request_id(n)) {
            h.insert("request-id", v);
        }
        h.insert(
            "stripe-version",
            version.unwrap_or(HeaderValue::from_static(API_VERSION)),
        );
        resp
    }

    /// The response an injected fault produces.
    pub(crate) fn fault_response(&self, fault: &Fault) -> Option<Response> {
        let resp = match fault {
            Fault::TooManyRequests { retry_after } => too_many(false, *retry_after),
            Fault::Status { code: 500 } => {
                let mut r = error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    None,
                    "An unknown error occurred",
                    None,
                );
                r.headers_mut()
                    .insert("stripe-should-retry", HeaderValue::from_static("true"));
                r
            }
            Fault::Status { code } => crate::gateway::gateway_page(*code),
            Fault::Unauthorized => unauthorized(Some("sk_test_revoked0000000000000000")),
            Fault::Latency { .. } | Fault::ConnectionReset | Fault::TruncatedBody => return None,
        };
        Some(self.finish(resp, None))
    }

    /// Handles one request: auth, emulated limits, routing, Stripe's headers.
    pub(crate) async fn handle(&self, req: Request<Body>) -> Response {
        let version = req.headers().get("stripe-version").cloned();
        let key = presented_key(&req);
        if key.as_deref() != Some(self.state.config.secret_key.as_str()) {
            return self.finish(unauthorized(key.as_deref()), version);
        }
        let n = self.state.api_requests.fetch_add(1, Ordering::Relaxed) + 1;
        if self
            .state
            .config
            .lock_timeout_every
            .is_some_and(|k| k > 0 && n.is_multiple_of(k))
        {
            return self.finish(too_many(true, None), version);
        }
        if !self.state.admit() {
            return self.finish(too_many(false, None), version);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        self.finish(resp, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_bearer_and_basic_auth() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            presented_key(&req("Bearer sk_test_x")).as_deref(),
            Some("sk_test_x")
        );
        // base64("sk_test_x:") = c2tfdGVzdF94Og==
        assert_eq!(
            presented_key(&req("Basic c2tfdGVzdF94Og==")).as_deref(),
            Some("sk_test_x")
        );
        assert_eq!(masked("sk_test_51Abcdef1234"), "sk_test_********1234");
    }
}
