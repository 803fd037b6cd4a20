//! Rate limiting per quota scope: a `governor` limiter shared by every stream and task using
//! the same credential against the same API, plus an adaptive pause driven by the API's
//! rate-limit headers and by throttling responses.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};
use http::HeaderMap;
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// A request budget: `requests` per `per_seconds` seconds, as a burst that refills evenly.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds.
    pub per_seconds: f64,
}

impl RateLimit {
    /// `requests` per `per_seconds`.
    pub const fn new(requests: u32, per_seconds: f64) -> Self {
        RateLimit {
            requests,
            per_seconds,
        }
    }

    /// A budget that never lets more than `max` requests into any sliding window of
    /// `window_secs` seconds, for APIs whose limit is stated per window (Stripe: 100 per
    /// second; Pipedrive: N per 2 seconds). A plain `RateLimit::new(max, window)` is a burst
    /// of `max` that refills evenly, which can admit up to `2 × max` in one window; this one
    /// keeps a small burst (a tenth of `max`) and refills the rest evenly, leaving one request
    /// of margin for network jitter.
    pub fn within_window(max: u32, window_secs: f64) -> Self {
        let burst = (max / 10).max(1);
        let refill = max.saturating_sub(burst + 1);
        if refill == 0 {
            // One request per window (or fewer than three per window): no burst at all.
            return RateLimit::new(1, window_secs / f64::from(max.max(1)));
        }
        RateLimit::new(burst, window_secs * f64::from(burst) / f64::from(refill))
    }

    fn quota(&self) -> Result<Quota> {
        let burst = NonZeroU32::new(self.requests)
            .ok_or_else(|| Error::config("rate_limit.requests must be at least 1"))?;
        if !(self.per_seconds.is_finite() && self.per_seconds > 0.0) {
            return Err(Error::config(
                "rate_limit.per_seconds must be a positive number",
            ));
        }
        let period = Duration::from_secs_f64(self.per_seconds / self.requests as f64);
        let period = period.max(Duration::from_nanos(1));
        Ok(Quota::with_period(period)
            .expect("non-zero period")
            .allow_burst(burst))
    }
}

/// How an API reports its remaining budget in response headers.
#[derive(Debug, Clone)]
pub struct RateLimitHeaders {
    /// Header with the requests left in the current window.
    pub remaining: &'static str,
    /// Header with when the window resets, and how to read it.
    pub reset: Option<(&'static str, ResetFormat)>,
    /// Header with the window length in milliseconds (HubSpot), if any.
    pub window_millis: Option<&'static str>,
    /// Fixed window length when no header gives it.
    pub window: Duration,
    /// Start slowing down when this many requests (or fewer) remain.
    pub low_water: u32,
}

/// Encodings of a rate-limit reset header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetFormat {
    /// Unix time in seconds.
    UnixSeconds,
    /// Seconds from now.
    SecondsFromNow,
    /// Milliseconds from now.
    MillisFromNow,
}

impl RateLimitHeaders {
    /// How long to hold back before the next request, given a response's headers.
    pub fn pause_for(&self, headers: &HeaderMap) -> Option<Duration> {
        let remaining: u32 = header_str(headers, self.remaining)?.trim().parse().ok()?;
        if remaining > self.low_water {
            return None;
        }
        let until_reset = self.reset.and_then(|(name, fmt)| {
            let v: f64 = header_str(headers, name)?.trim().parse().ok()?;
            let secs = match fmt {
                ResetFormat::UnixSeconds => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .ok()?
                        .as_secs_f64();
                    (v - now).max(0.0)
                }
                ResetFormat::SecondsFromNow => v.max(0.0),
                ResetFormat::MillisFromNow => v.max(0.0) / 1000.0,
            };
            Some(Duration::from_secs_f64(secs.min(3600.0)))
        });
        let window = self
            .window_millis
            .and_then(|n| header_str(headers, n)?.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(self.window);
        if remaining == 0 {
            return Some(until_reset.unwrap_or(window));
        }
        // Close to the floor: spread what is left over the rest of the window.
        let left = until_reset.unwrap_or(window);
        Some(left / (remaining + 1))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// One quota scope (a credential against one API, or a sub-budget such as HubSpot search).
#[derive(Debug)]
pub struct QuotaScope {
    name: String,
    limit: RateLimit,
    limiter: DefaultDirectRateLimiter,
    pause_until: Mutex<Option<Instant>>,
}

impl QuotaScope {
    /// A scope with its own limiter.
    pub fn new(name: impl Into<String>, limit: RateLimit) -> Result<Self> {
        Ok(QuotaScope {
            name: name.into(),
            limiter: DefaultDirectRateLimiter::direct(limit.quota()?),
            limit,
            pause_until: Mutex::new(None),
        })
    }

    /// The scope's key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scope's budget.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits until a request may be sent; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        loop {
            let until = *self.pause_until.lock().expect("pause lock");
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        self.limiter.until_ready().await;
        start.elapsed()
    }

    /// Holds every user of the scope back for `d` (extends, never shortens, a pause).
    pub fn pause_for(&self, d: Duration) {
        let target = Instant::now() + d;
        let mut guard = self.pause_until.lock().expect("pause lock");
        if guard.is_none_or(|t| t < target) {
            *guard = Some(target);
        }
    }
}

type Registry = Mutex<HashMap<String, Weak<QuotaScope>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The shared scope for `key`, created with `limit` if no live scope has that key.
/// Every stream and task of a process that uses the same key shares one budget.
pub fn shared_scope(key: &str, limit: RateLimit) -> Result<Arc<QuotaScope>> {
    let mut map = registry().lock().expect("quota registry lock");
    if let Some(existing) = map.get(key).and_then(Weak::upgrade) {
        if existing.limit != limit {
            tracing::debug!(
                scope = key,
                "quota scope already exists with another limit; sharing it"
            );
        }
        return Ok(existing);
    }
    map.retain(|_, w| w.strong_count() > 0);
    let scope = Arc::new(QuotaScope::new(key, limit)?);
    map.insert(key.to_string(), Arc::downgrade(&scope));
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limiter_spaces_requests_after_the_burst() {
        let scope = QuotaScope::new("t", RateLimit::new(2, 0.2)).unwrap();
        let start = Instant::now();
        for _ in 0..4 {
            scope.acquire().await;
        }
        // Burst of 2, then one every 100 ms.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(180), "{waited:?}");
        assert!(waited < Duration::from_millis(1000), "{waited:?}");
    }

    #[tokio::test]
    async fn pause_holds_every_user_back() {
        let scope = QuotaScope::new("t", RateLimit::new(100, 1.0)).unwrap();
        scope.pause_for(Duration::from_millis(300));
        scope.pause_for(Duration::from_millis(10)); // never shortens
        let waited = scope.acquire().await;
        assert!(waited >= Duration::from_millis(290), "{waited:?}");
    }

    #[test]
    fn shared_scopes_are_shared_by_key() {
        let a = shared_scope("k1", RateLimit::new(5, 1.0)).unwrap();
        let b = shared_scope("k1", RateLimit::new(5, 1.0)).unwrap();
        let c = shared_scope("k2", RateLimit::new(5, 1.0)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test]
    async fn within_window_never_exceeds_the_window_limit() {
        for (max, window) in [(20u32, 0.4f64), (5, 0.25), (1, 0.1), (100, 0.5)] {
            let scope = QuotaScope::new("w", RateLimit::within_window(max, window)).unwrap();
            let start = Instant::now();
            let mut times = Vec::new();
            for _ in 0..(max * 3 + 2) {
                scope.acquire().await;
                times.push(start.elapsed());
            }
            let w = Duration::from_secs_f64(window);
            let mut lo = 0;
            for hi in 0..times.len() {
                while times[hi] - times[lo] >= w {
                    lo += 1;
                }
                assert!(
                    hi - lo < max as usize,
                    "{} requests within {window}s (limit {max})",
                    hi - lo + 1
                );
            }
            // And it is not much slower than the limit: three windows' worth in a few windows.
            assert!(
                start.elapsed() < w * 8,
                "{max}/{window}: {:?}",
                start.elapsed()
            );
        }
    }

    #[test]
    fn invalid_limits_are_config_errors() {
        assert!(QuotaScope::new("x", RateLimit::new(0, 1.0)).is_err());
        assert!(QuotaScope::new("x", RateLimit::new(1, 0.0)).is_err());
    }

    #[test]
    fn headers_drive_pauses() {
        let spec = RateLimitHeaders {
            remaining: "x-remaining",
            reset: None,
            window_millis: Some("x-interval"),
            window: Duration::from_secs(1),
            low_water: 5,
        };
        let mut h = HeaderMap::new();
        h.insert("x-remaining", "50".parse().unwrap());
        assert_eq!(spec.pause_for(&h), None);
        h.insert("x-remaining", "0".parse().unwrap());
        h.insert("x-interval", "10000".parse().unwrap());
        assert_eq!(spec.pause_for(&h), Some(Duration::from_secs(10)));
        h.insert("x-remaining", "4".parse().unwrap());
        assert_eq!(spec.pause_for(&h), Some(Duration::from_secs(2)));

        let reset = RateLimitHeaders {
            remaining: "x-remaining",
            reset: Some(("x-reset", ResetFormat::SecondsFromNow)),
            window_millis: None,
            window: Duration::from_secs(60),
            low_water: 0,
        };
        let mut h = HeaderMap::new();
        h.insert("x-remaining", "0".parse().unwrap());
        h.insert("x-reset", "7".parse().unwrap());
        assert_eq!(reset.pause_for(&h), Some(Duration::from_secs(7)));
    }
}
