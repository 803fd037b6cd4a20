//! Google Ads errors: Google's envelope, wrapped in an array by `searchStream`
//! (`[{"error":{…}}]`), with `GoogleAdsFailure` details naming the error code.
//! `RESOURCE_EXHAUSTED` carries its wait as `quotaErrorDetails.retryDelay` (`"30s"`); a wait of
//! hours means the daily operations quota is spent, which the HTTP client turns into a graceful
//! stop (`max_retry_after_secs`).

use std::time::Duration;

use revline_core::http::{HeaderMap, ResponseClassifier, StatusCode, Verdict, default_verdict};
use revline_core::{Error, ErrorKind};

/// What a Google Ads error body says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GoogleAdsError {
    /// `error.status`, e.g. `RESOURCE_EXHAUSTED`.
    pub status: String,
    /// The first detailed error's message (or `error.message`).
    pub message: String,
    /// The first error code, as `family: CODE` (e.g. `quotaError: RESOURCE_EXHAUSTED`).
    pub code: Option<String>,
    /// `quotaErrorDetails.retryDelay`, parsed.
    pub retry_delay: Option<Duration>,
}

/// Parses `"30s"` / `"1.5s"` (protobuf `Duration` JSON).
pub fn parse_delay(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Reads an error body, wrapped in an array or not.
pub fn parse_error(body: &[u8]) -> Option<GoogleAdsError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = match &v {
        serde_json::Value::Array(a) => a.iter().find_map(|b| b.get("error"))?,
        other => other.get("error")?,
    };
    let mut out = GoogleAdsError {
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
        ..GoogleAdsError::default()
    };
    let first = e
        .get("details")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("errors").and_then(|x| x.as_array()))
        .flatten()
        .next();
    if let Some(first) = first {
        if let Some(m) = first.get("message").and_then(|m| m.as_str()) {
            out.message = m.to_string();
        }
        if let Some(code) = first.get("errorCode").and_then(|c| c.as_object())
            && let Some((family, value)) = code.iter().next()
        {
            out.code = Some(format!("{family}: {}", value.as_str().unwrap_or("?")));
        }
        out.retry_delay = first
            .pointer("/details/quotaErrorDetails/retryDelay")
            .and_then(|d| d.as_str())
            .and_then(parse_delay);
    }
    Some(out)
}

/// The Google Ads response classifier.
#[derive(Debug, Default, Clone)]
pub struct GoogleAdsClassifier;

fn describe(e: &GoogleAdsError) -> String {
    match &e.code {
        Some(c) => format!("{} ({c}): {}", e.status, e.message),
        None => format!("{}: {}", e.status, e.message),
    }
}

impl ResponseClassifier for GoogleAdsClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        let code = status.as_u16();
        if status.is_success() {
            return Verdict::Accept;
        }
        let parsed = parse_error(body);
        match (code, parsed) {
            (429, Some(e)) => Verdict::Retry {
                after: e.retry_delay,
                throttled: true,
                reason: format!("429 {}", describe(&e)),
            },
            (403, Some(e)) => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "Google Ads denied access (HTTP 403 {}); check `login_customer_id` (the manager through which \
                         the account is reached), the customer ids and the developer token",
                        describe(&e)
                    ),
                )
                .with_context("status", 403),
            ),
            (404, e) => Verdict::Fail(
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "Google Ads answered 404{}; the API version may be sunset: set `api_version` to a live one",
                        e.map(|e| format!(" ({})", e.message)).unwrap_or_default()
                    ),
                )
                .with_context("status", 404),
            ),
            (400, Some(e)) => Verdict::Fail(
                Error::new(ErrorKind::Api, format!("Google Ads rejected the query (HTTP 400 {})", describe(&e)))
                    .with_context("status", 400),
            ),
            _ => default_verdict(status, headers, body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXHAUSTED: &str = r#"[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED",
 "details":[{"@type":"type.googleapis.com/google.ads.googleads.v17.errors.GoogleAdsFailure",
  "errors":[{"errorCode":{"quotaError":"RESOURCE_EXHAUSTED"},"message":"Too many requests. Retry in 30 seconds.",
   "details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","rateName":"Requests per service per method","retryDelay":"30s"}}}],
  "requestId":"Qm3vT8sLpW2yRk5aZc1dHg"}]}}]"#;

    #[test]
    fn wrapped_and_unwrapped_errors_parse() {
        let e = parse_error(EXHAUSTED.as_bytes()).unwrap();
        assert_eq!(e.status, "RESOURCE_EXHAUSTED");
        assert_eq!(e.code.as_deref(), Some("quotaError: RESOURCE_EXHAUSTED"));
        assert_eq!(e.retry_delay, Some(Duration::from_secs(30)));
        assert_eq!(e.message, "Too many requests. Retry in 30 seconds.");
        let unwrapped = &EXHAUSTED[1..EXHAUSTED.len() - 1];
        assert_eq!(parse_error(unwrapped.as_bytes()).unwrap(), e);
        assert!(parse_error(b"<html>502</html>").is_none());
        assert_eq!(parse_delay("40591s"), Some(Duration::from_secs(40_591)));
        assert_eq!(parse_delay("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_delay("5m"), None);
    }

    #[test]
    fn verdicts() {
        let c = GoogleAdsClassifier;
        let h = HeaderMap::new();
        match c.classify(StatusCode::TOO_MANY_REQUESTS, &h, EXHAUSTED.as_bytes()) {
            Verdict::Retry {
                after,
                throttled,
                reason,
            } => {
                assert_eq!(after, Some(Duration::from_secs(30)));
                assert!(throttled);
                assert!(
                    reason.contains("quotaError: RESOURCE_EXHAUSTED"),
                    "{reason}"
                );
            }
            v => panic!("{v:?}"),
        }
        let denied = br#"[{"error":{"code":403,"message":"m","status":"PERMISSION_DENIED","details":[{"errors":[{"errorCode":{"authorizationError":"USER_PERMISSION_DENIED"},"message":"User doesn't have permission to access customer."}]}]}}]"#;
        match c.classify(StatusCode::FORBIDDEN, &h, denied) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Auth);
                assert!(
                    e.to_string()
                        .contains("authorizationError: USER_PERMISSION_DENIED"),
                    "{e}"
                );
                assert!(e.to_string().contains("login_customer_id"), "{e}");
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            c.classify(StatusCode::UNAUTHORIZED, &h, b"[]"),
            Verdict::RefreshAuth
        ));
        assert!(matches!(
            c.classify(StatusCode::BAD_GATEWAY, &h, b"<html>"),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
        assert!(matches!(
            c.classify(StatusCode::OK, &h, b"[]"),
            Verdict::Accept
        ));
    }
}
