//! GA4 Data API errors: Google's envelope (`{"error":{"code","message","status","details"}}`).
//! A 429 `RESOURCE_EXHAUSTED` for spent property tokens (per day, per hour, per project and
//! hour) stops the run gracefully; other 429s (concurrent requests) are retried, after the
//! `google.rpc.RetryInfo` delay when one is given.

use std::time::Duration;

use revline_core::http::{HeaderMap, ResponseClassifier, StatusCode, Verdict, default_verdict};
use revline_core::{Error, ErrorKind};

/// What a GA4 error body says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ga4Error {
    /// `error.status`.
    pub status: String,
    /// `error.message`.
    pub message: String,
    /// `RetryInfo.retryDelay`, parsed.
    pub retry_delay: Option<Duration>,
}

/// Parses an error body.
pub fn parse_error(body: &[u8]) -> Option<Ga4Error> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let retry_delay = e
        .get("details")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter(|d| {
            d.get("@type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| d.get("retryDelay")?.as_str())
        .and_then(|s| {
            let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
            (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
        });
    Some(Ga4Error {
        status: e
            .get("status")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string(),
        message: e
            .get("message")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string(),
        retry_delay,
    })
}

/// The GA4 response classifier.
#[derive(Debug, Default, Clone)]
pub struct Ga4Classifier;

impl ResponseClassifier for Ga4Classifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Accept;
        }
        match (status.as_u16(), parse_error(body)) {
            (429, Some(e)) if e.message.to_lowercase().contains("tokens per") => Verdict::QuotaExhausted(
                format!("GA4 property quota spent ({}): {}; resume later", e.status, e.message),
            ),
            (429, Some(e)) => Verdict::Retry {
                after: e.retry_delay,
                throttled: true,
                reason: format!("429 {}: {}", e.status, e.message),
            },
            (403, Some(e)) => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "GA4 denied access (HTTP 403 {}): {}; check `property_id` and that the account has access to the property",
                        e.status, e.message
                    ),
                )
                .with_context("status", 403),
            ),
            (400, Some(e)) => {
                // Unknown dimension or metric names are configuration mistakes.
                let kind = if e.message.contains("is not a valid") {
                    ErrorKind::Config
                } else {
                    ErrorKind::Api
                };
                Verdict::Fail(
                    Error::new(kind, format!("GA4 rejected the report (HTTP 400 {}): {}", e.status, e.message))
                        .with_context("status", 400),
                )
            }
            _ => default_verdict(status, headers, body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let c = Ga4Classifier;
        let h = HeaderMap::new();
        let day = br#"{"error":{"code":429,"message":"Exhausted property tokens per day for a property.","status":"RESOURCE_EXHAUSTED"}}"#;
        match c.classify(StatusCode::TOO_MANY_REQUESTS, &h, day) {
            Verdict::QuotaExhausted(m) => assert!(m.contains("resume later"), "{m}"),
            v => panic!("{v:?}"),
        }
        let conc = br#"{"error":{"code":429,"message":"Exhausted concurrent requests quota.","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        match c.classify(StatusCode::TOO_MANY_REQUESTS, &h, conc) {
            Verdict::Retry {
                after, throttled, ..
            } => {
                assert_eq!(after, Some(Duration::from_millis(1500)));
                assert!(throttled);
            }
            v => panic!("{v:?}"),
        }
        let bad = br#"{"error":{"code":400,"message":"Field fooBar is not a valid dimension.","status":"INVALID_ARGUMENT"}}"#;
        match c.classify(StatusCode::BAD_REQUEST, &h, bad) {
            Verdict::Fail(e) => assert_eq!(e.kind(), ErrorKind::Config),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(StatusCode::UNAUTHORIZED, &h, b"{}"),
            Verdict::RefreshAuth
        ));
        assert!(matches!(
            c.classify(StatusCode::SERVICE_UNAVAILABLE, &h, b"{}"),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
    }
}
