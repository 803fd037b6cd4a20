//! LinkedIn errors. Every error body is `{"status","serviceErrorCode","code","message"}`.
//! LinkedIn sends **no rate-limit headers**: a 429 is the only signal. Its daily quotas (per
//! application and per member, reset at midnight UTC) answer 429 with a message naming the
//! `DAY` limit: retrying is pointless until the reset, so such a run stops gracefully
//! (committed, "resume later"); any other 429 is retried (honouring `Retry-After` if sent).

use revline_core::http::{
    HeaderMap, ResponseClassifier, StatusCode, Verdict, default_verdict, retry_after,
};
use revline_core::{Error, ErrorKind};

/// What a LinkedIn error body says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LinkedinError {
    /// `status`.
    pub status: Option<u16>,
    /// `serviceErrorCode`.
    pub service_code: Option<i64>,
    /// `code`, e.g. `TOO_MANY_REQUESTS`.
    pub code: String,
    /// `message`.
    pub message: String,
}

/// Parses LinkedIn's error envelope.
pub fn parse_error(body: &[u8]) -> Option<LinkedinError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = v.get("message")?.as_str()?.to_string();
    Some(LinkedinError {
        status: v
            .get("status")
            .and_then(|s| s.as_u64())
            .and_then(|s| u16::try_from(s).ok()),
        service_code: v.get("serviceErrorCode").and_then(|s| s.as_i64()),
        code: v
            .get("code")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string(),
        message,
    })
}

/// Whether a 429 message is a daily quota (`APPLICATION DAY limit`, `MEMBER DAY limit`).
pub fn is_daily_quota(message: &str) -> bool {
    message.contains(" DAY limit")
}

/// The LinkedIn response classifier.
#[derive(Debug, Clone, Default)]
pub struct LinkedinClassifier {
    /// The `LinkedIn-Version` sent (named in version errors).
    pub version: String,
}

impl ResponseClassifier for LinkedinClassifier {
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Accept;
        }
        let Some(e) = parse_error(body) else {
            return default_verdict(status, headers, body);
        };
        let code = status.as_u16();
        let describe = || {
            let service = e
                .service_code
                .map(|s| format!(" serviceErrorCode {s}"))
                .unwrap_or_default();
            format!("HTTP {code} {}{service}: {}", e.code, e.message)
        };
        match code {
            429 if is_daily_quota(&e.message) => Verdict::QuotaExhausted(format!(
                "LinkedIn's daily quota is spent ({}); it resets at midnight UTC, resume then",
                describe()
            )),
            429 => Verdict::Retry {
                after: retry_after(headers),
                throttled: true,
                reason: format!("LinkedIn throttled the request ({})", describe()),
            },
            401 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "LinkedIn rejected the access token ({}); tokens last about 60 days: renew it (scope r_ads_reporting)",
                        describe()
                    ),
                )
                .with_context("status", code),
            ),
            403 => Verdict::Fail(
                Error::new(
                    ErrorKind::Auth,
                    format!(
                        "LinkedIn denied access ({}): the member needs a role on the ad account and the token r_ads_reporting / r_ads",
                        describe()
                    ),
                )
                .with_context("status", code),
            ),
            426 => Verdict::Fail(
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "LinkedIn does not serve LinkedIn-Version {} ({}); set `api_version` to an active YYYYMM",
                        self.version,
                        describe()
                    ),
                )
                .with_context("status", code),
            ),
            400 if e.code == "VERSION_MISSING" => Verdict::Fail(
                Error::new(ErrorKind::Config, format!("LinkedIn: {}", describe()))
                    .with_context("status", code),
            ),
            500..=599 => default_verdict(status, headers, body),
            _ => Verdict::Fail(
                Error::new(ErrorKind::Api, format!("LinkedIn API error ({})", describe()))
                    .with_context("status", code),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> LinkedinClassifier {
        LinkedinClassifier {
            version: "202510".into(),
        }
    }

    #[test]
    fn daily_quota_stops_and_other_429s_retry() {
        let day = br#"{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle APPLICATION DAY limit for calls to this resource is reached."}"#;
        match c().classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), day) {
            Verdict::QuotaExhausted(m) => {
                assert!(
                    m.contains("daily quota") && m.contains("APPLICATION DAY"),
                    "{m}"
                )
            }
            v => panic!("{v:?}"),
        }
        let burst = br#"{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Too many requests."}"#;
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        match c().classify(StatusCode::TOO_MANY_REQUESTS, &h, burst) {
            Verdict::Retry {
                after, throttled, ..
            } => {
                assert!(throttled);
                assert_eq!(after, Some(std::time::Duration::from_secs(3)));
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn auth_version_and_bad_requests_fail_with_the_message() {
        let body = br#"{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}"#;
        match c().classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Auth);
                assert!(e.message().contains("INVALID_ACCESS_TOKEN"), "{e}");
            }
            v => panic!("{v:?}"),
        }
        let body = br#"{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 202301 is not active"}"#;
        match c().classify(StatusCode::UPGRADE_REQUIRED, &HeaderMap::new(), body) {
            Verdict::Fail(e) => {
                assert_eq!(e.kind(), ErrorKind::Config);
                assert!(e.message().contains("api_version"), "{e}");
            }
            v => panic!("{v:?}"),
        }
        let body = br#"{"status":400,"code":"ILLEGAL_ARGUMENT","message":"Invalid field: nope"}"#;
        match c().classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body) {
            Verdict::Fail(e) => assert!(e.message().contains("Invalid field: nope"), "{e}"),
            v => panic!("{v:?}"),
        }
        let html = b"<html>bad gateway</html>";
        assert!(matches!(
            c().classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), html),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
    }
}
