//! Meta errors and usage. Throttling usually arrives as HTTP **400** with a code in the JSON
//! body (4 app, 17 user, 613 ad account, 80000–80014 business use case), so errors are
//! classified by status *and* body. The usage headers (`x-business-use-case-usage`,
//! `x-ad-account-usage`, `x-fb-ads-insights-throttle`) report percentages of the budgets:
//! past `usage_pause_percent`, every request of the source holds back.

use std::time::Duration;

use revline_core::http::{
    HeaderMap, ResponseClassifier, StatusCode, Verdict, default_verdict, retry_after,
};
use revline_core::{Error, ErrorKind};

/// What a Meta error body says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MetaError {
    /// `error.code`.
    pub code: i64,
    /// `error.error_subcode`.
    pub subcode: Option<i64>,
    /// `error.type`.
    pub kind: String,
    /// `error.message`.
    pub message: String,
    /// `error.is_transient`.
    pub transient: bool,
}

/// Parses `{"error":{…}}`.
pub fn parse_error(body: &[u8]) -> Option<MetaError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    Some(MetaError {
        code: e.get("code")?.as_i64()?,
        subcode: e.get("error_subcode").and_then(|s| s.as_i64()),
        kind: e
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_string(),
        message: e
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string(),
        transient: e
            .get("is_transient")
            .and_then(|t| t.as_bool())
            .unwrap_or(false),
    })
}

/// Whether `code` is one of Meta's throttling codes.
pub fn is_throttle(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80000..=80014)
}

/// `(highest usage percentage, longest estimated_time_to_regain_access in minutes)` of the
/// usage headers, if any is present.
pub fn usage(headers: &HeaderMap) -> Option<(f64, u64)> {
    let json = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(headers.get(name)?.to_str().ok()?).ok()
    };
    let mut pct: Option<f64> = None;
    let mut regain = 0u64;
    let mut see = |v: &serde_json::Value, keys: &[&str]| {
        for k in keys {
            if let Some(p) = v.get(*k).and_then(|x| x.as_f64()) {
                pct = Some(pct.map_or(p, |c: f64| c.max(p)));
            }
        }
        if let Some(r) = v
            .get("estimated_time_to_regain_access")
            .and_then(|x| x.as_u64())
        {
            regain = regain.max(r);
        }
    };
    if let Some(buc) = json("x-business-use-case-usage") {
        for entries in buc.as_object().into_iter().flat_map(|m| m.values()) {
            for e in entries.as_array().into_iter().flatten() {
                see(e, &["call_count", "total_cputime", "total_time"]);
            }
        }
    }
    for name in ["x-ad-account-usage", "x-fb-ads-insights-throttle"] {
        if let Some(v) = json(name) {
            see(&v, &["acc_id_util_pct"]);
        }
    }
    if let Some(app) = json("x-app-usage") {
        see(&app, &["call_count", "total_cputime", "total_time"]);
    }
    pct.map(|p| (p, regain))
}

/// The Meta response classifier.
#[derive(Debug, Clone)]
pub struct MetaClassifier {
    /// Slow down at this usage percentage.
    pub pause_percent: f64,
    /// For this long.
    pub pause: Duration,
}

impl ResponseClassifier for MetaClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Accept;
        }
        let Some(e) = parse_error(body) else {
            return default_verdict(status, headers, body);
        };
        let describe = || {
            format!(
                "code {}{} {}: {}",
                e.code,
                e.subcode.map(|s| format!("/{s}")).unwrap_or_default(),
                e.kind,
                e.message
            )
        };
        if is_throttle(e.code) {
            // Wait what the API says: a Retry-After, or the time to regain access.
            let after = retry_after(headers).or_else(|| {
                usage(headers)
                    .map(|(_, m)| m)
                    .filter(|m| *m > 0)
                    .map(|m| Duration::from_secs(m * 60))
            });
            return Verdict::Retry {
                after,
                throttled: true,
                reason: format!(
                    "Meta throttled the request (HTTP {} {})",
                    status.as_u16(),
                    describe()
                ),
            };
        }
        match e.code {
            190 | 102 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!("Meta rejected the access token (HTTP {} {}); check `access_token`", status.as_u16(), describe()),
                )
                .with_context("status", status.as_u16()),
            ),
            10 | 200..=299 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!("Meta denied access (HTTP {} {}): the token needs ads_read on the ad account", status.as_u16(), describe()),
                )
                .with_context("status", status.as_u16()),
            ),
            2635 => Verdict::Fail(
                Error::new(ErrorKind::Config, format!("{}; set `api_version`", describe()))
                    .with_context("status", status.as_u16()),
            ),
            1 | 2 if e.transient || status.is_server_error() => Verdict::Retry {
                after: retry_after(headers),
                throttled: false,
                reason: format!("Meta transient error (HTTP {} {})", status.as_u16(), describe()),
            },
            _ if status.is_server_error() => default_verdict(status, headers, body),
            _ => Verdict::Fail(
                Error::new(ErrorKind::Api, format!("Meta API error (HTTP {} {})", status.as_u16(), describe()))
                    .with_context("status", status.as_u16()),
            ),
        }
    }

    fn pause(&self, headers: &HeaderMap) -> Option<Duration> {
        // An explicit Retry-After governs the wait of this response.
        if retry_after(headers).is_some() {
            return None;
        }
        let (pct, regain) = usage(headers)?;
        if regain > 0 {
            return Some(Duration::from_secs(regain * 60));
        }
        (pct >= self.pause_percent).then_some(self.pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn classifier() -> MetaClassifier {
        MetaClassifier {
            pause_percent: 75.0,
            pause: Duration::from_secs(60),
        }
    }

    #[test]
    fn throttles_are_400s_with_codes() {
        let body = br#"{"error":{"message":"(#80000) There have been too many calls from this ad-account.","type":"OAuthException","code":80000,"error_subcode":2446079,"is_transient":true,"fbtrace_id":"x"}}"#;
        match classifier().classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body) {
            Verdict::Retry {
                after,
                throttled,
                reason,
            } => {
                assert!(throttled);
                assert_eq!(after, None);
                assert!(reason.contains("code 80000/2446079"), "{reason}");
            }
            v => panic!("{v:?}"),
        }
        for code in [4, 17, 613, 80004, 80014] {
            let b =
                format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}}}}}"#);
            assert!(matches!(
                classifier().classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), b.as_bytes()),
                Verdict::Retry {
                    throttled: true,
                    ..
                }
            ));
        }
        // The time to regain access (minutes) is the wait.
        let h = headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"ads_insights","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":2}]}"#,
        )]);
        match classifier().classify(StatusCode::BAD_REQUEST, &h, body) {
            Verdict::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(120))),
            v => panic!("{v:?}"),
        }
        let h = headers(&[("retry-after", "1")]);
        match classifier().classify(StatusCode::BAD_REQUEST, &h, body) {
            Verdict::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(1))),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn other_codes() {
        let token = br#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190}}"#;
        match classifier().classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), token) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Auth);
                assert!(
                    e.to_string().contains("Meta rejected the access token"),
                    "{e}"
                );
            }
            v => panic!("{v:?}"),
        }
        let bad = br#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#;
        assert!(matches!(
            classifier().classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), bad),
            Verdict::Fail(e) if e.kind() == ErrorKind::Api
        ));
        let transient = br#"{"error":{"message":"An unknown error occurred","type":"OAuthException","code":1,"is_transient":true}}"#;
        assert!(matches!(
            classifier().classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                &HeaderMap::new(),
                transient
            ),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
        assert!(matches!(
            classifier().classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn usage_headers_pause_before_the_limit() {
        let c = classifier();
        let low = headers(&[(
            "x-ad-account-usage",
            r#"{"acc_id_util_pct":9.67,"reset_time_duration":0}"#,
        )]);
        assert_eq!(usage(&low), Some((9.67, 0)));
        assert_eq!(c.pause(&low), None);
        let high = headers(&[
            ("x-ad-account-usage", r#"{"acc_id_util_pct":12}"#),
            (
                "x-business-use-case-usage",
                r#"{"1020304050":[{"type":"ads_insights","call_count":82,"total_cputime":12,"total_time":15,"estimated_time_to_regain_access":0}]}"#,
            ),
        ]);
        assert_eq!(usage(&high), Some((82.0, 0)));
        assert_eq!(c.pause(&high), Some(Duration::from_secs(60)));
        assert_eq!(c.pause(&HeaderMap::new()), None);
    }
}
