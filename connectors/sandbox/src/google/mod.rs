//! What the Google emulators (Ads, Analytics) share: Google's OAuth2 token endpoint and
//! Google's JSON error envelope.
//!
//! The token endpoint (`POST /token`, form-encoded, like `https://oauth2.googleapis.com/token`)
//! accepts two grants:
//!
//! * `refresh_token` with the configured client id, client secret and refresh token;
//! * `urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256 assertion signed by the
//!   sandbox's service account ([`service_account_json`]): the signature, issuer, audience
//!   (the endpoint's own URL), scope and lifetime are checked as Google does.
//!
//! Issued access tokens (`ya29.…`) expire after `token_lifetime_secs`; the API routes accept
//! only live ones (401 `UNAUTHENTICATED` otherwise).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::json;

/// The sandbox service account's private key. TEST-ONLY: generated for the sandbox, registered
/// nowhere, protects nothing.
pub const SERVICE_ACCOUNT_KEY_PEM: &str = include_str!("test-only-service-account-key.pem");

/// The sandbox service account's email.
pub const SERVICE_ACCOUNT_EMAIL: &str = "revline-sandbox@revline-demo.iam.gserviceaccount.com";

/// A Google service-account JSON key file for the sandbox's account, whose `token_uri` is
/// `token_url` (an emulator's `/token`).
pub fn service_account_json(token_url: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "revline-demo",
        "private_key_id": "5a4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b",
        "private_key": SERVICE_ACCOUNT_KEY_PEM,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "104857600000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_url,
        "universe_domain": "googleapis.com",
    })
    .to_string()
}

fn default_client_id() -> String {
    "1234567890-sandbox.apps.googleusercontent.com".into()
}
fn default_client_secret() -> String {
    "GOCSPX-sandbox-client-secret".into()
}
fn default_refresh_token() -> String {
    "1//sandbox-refresh-token".into()
}
fn default_lifetime() -> u64 {
    3599
}

/// OAuth2 settings of a Google emulator (`[google_ads.oauth]`, `[ga4.oauth]`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleOAuthConfig {
    /// OAuth client id accepted with refresh tokens.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// The refresh token accepted (`1//…`).
    pub refresh_token: String,
    /// Access-token lifetime in seconds (Google: 3599).
    pub token_lifetime_secs: u64,
}

impl Default for GoogleOAuthConfig {
    fn default() -> Self {
        GoogleOAuthConfig {
            client_id: default_client_id(),
            client_secret: default_client_secret(),
            refresh_token: default_refresh_token(),
            token_lifetime_secs: default_lifetime(),
        }
    }
}

impl fmt::Debug for GoogleOAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleOAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .finish()
    }
}

/// Issues and checks access tokens for one emulator.
pub(crate) struct TokenIssuer {
    config: GoogleOAuthConfig,
    scope: &'static str,
    public_key: Vec<u8>,
    issued: Mutex<HashMap<String, Instant>>,
    counter: AtomicU64,
    seed: u64,
}

/// The outcome of a token request.
pub(crate) struct TokenOutcome {
    pub(crate) response: Response,
    /// Which grant was used (`refresh_token`, `jwt_bearer`), if it succeeded.
    pub(crate) granted: Option<&'static str>,
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD
        .decode(body)
        .expect("the sandbox key is valid base64")
}

/// Decodes `application/x-www-form-urlencoded` text.
pub(crate) fn form_decode(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Percent-decoding (`+` is a space).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description}).to_string();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

impl TokenIssuer {
    /// An issuer for `scope` (e.g. `https://www.googleapis.com/auth/adwords`).
    pub(crate) fn new(config: GoogleOAuthConfig, scope: &'static str, seed: u64) -> TokenIssuer {
        let key = RsaKeyPair::from_pkcs8(&pem_der(SERVICE_ACCOUNT_KEY_PEM))
            .expect("the sandbox service-account key is a valid RSA key");
        TokenIssuer {
            config,
            scope,
            public_key: key.public().as_ref().to_vec(),
            issued: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            seed,
        }
    }

    /// `POST /token` with a form `body`; `token_url` is the endpoint's own URL (the JWT audience).
    pub(crate) fn token(&self, body: &str, token_url: &str) -> TokenOutcome {
        let form = form_decode(body);
        let refused = |status, error: &str, d: &str| TokenOutcome {
            response: oauth_error(status, error, d),
            granted: None,
        };
        match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {
                if form.get("client_id") != Some(&self.config.client_id)
                    || form.get("client_secret") != Some(&self.config.client_secret)
                {
                    return refused(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
                }
                if form.get("refresh_token") != Some(&self.config.refresh_token) {
                    return refused(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Token has been expired or revoked.",
                    );
                }
                self.issue("refresh_token")
            }
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                match self
                    .verify_assertion(form.get("assertion").map_or("", String::as_str), token_url)
                {
                    Ok(()) => self.issue("jwt_bearer"),
                    Err(why) => refused(StatusCode::BAD_REQUEST, "invalid_grant", why),
                }
            }
            _ => refused(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type: ",
            ),
        }
    }

    fn verify_assertion(&self, jwt: &str, token_url: &str) -> Result<(), &'static str> {
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err("Invalid JWT: Not a valid JWT.");
        }
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(parts[0])
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("Invalid JWT: Not a valid JWT.")?;
        if header["alg"] != "RS256" {
            return Err("Invalid JWT: The JWT header's alg is not RS256.");
        }
        let sig = URL_SAFE_NO_PAD
            .decode(parts[2])
            .map_err(|_| "Invalid JWT Signature.")?;
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| "Invalid JWT Signature.")?;
        let claims: serde_json::Value = URL_SAFE_NO_PAD
            .decode(parts[1])
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("Invalid JWT: Not a valid JWT.")?;
        if claims["iss"] != SERVICE_ACCOUNT_EMAIL {
            return Err("Invalid JWT Signature.");
        }
        if claims["aud"] != token_url {
            return Err("Invalid JWT: Failed audience check.");
        }
        let scope_ok = claims["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|x| x == self.scope));
        if !scope_ok {
            return Err("Invalid OAuth scope or ID token audience provided.");
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
            return Err(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            );
        };
        if exp - iat > 3600 || exp <= iat || (iat - now).abs() > 300 {
            return Err(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            );
        }
        Ok(())
    }

    fn issue(&self, grant: &'static str) -> TokenOutcome {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let token = format!(
            "ya29.a0{}",
            crate::world::rng::uuid_like(self.seed ^ 0x006f_6175_7468, n).replace('-', "")
        );
        let lifetime = self.config.token_lifetime_secs;
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                Instant::now() + Duration::from_secs(lifetime),
            );
        let body = serde_json::json!({
            "access_token": token,
            "expires_in": lifetime,
            "scope": self.scope,
            "token_type": "Bearer",
        })
        .to_string();
        let mut resp = Response::new(Body::from(body));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        TokenOutcome {
            response: resp,
            granted: Some(grant),
        }
    }

    /// Whether the request carries a live access token issued here.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }
}

/// Google's JSON content type.
pub(crate) const JSON: &str = "application/json; charset=UTF-8";

/// A JSON response with Google's content type.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

/// Google's error envelope: `{"error":{"code":…,"message":…,"status":…[,"details":[…]]}}`.
pub(crate) fn error_body(
    code: u16,
    status: &str,
    message: &str,
    details: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut e = serde_json::json!({"code": code, "message": message, "status": status});
    if let Some(d) = details {
        e["details"] = d;
    }
    serde_json::json!({ "error": e })
}

/// A non-JSON 5xx page like the ones Google's front ends serve.
pub(crate) fn gateway_page(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or("Error");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error {code} ({reason})!!1</title>\n  \
         <p><b>{code}.</b> <ins>That’s an error.</ins>\n  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n"
    );
    let mut resp = Response::new(Body::from(html));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

/// Appends `s` as a JSON string (re-exported for the Google emulators).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    json::push_str(out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = form_decode("grant_type=urn%3Aietf%3Aparams&a=b+c&x=%2");
        assert_eq!(f["grant_type"], "urn:ietf:params");
        assert_eq!(f["a"], "b c");
        assert_eq!(f["x"], "%2");
    }

    #[test]
    fn refresh_grant_checks_client_and_token() {
        let t = TokenIssuer::new(GoogleOAuthConfig::default(), "s", 1);
        let c = GoogleOAuthConfig::default();
        let ok = t.token(
            &format!(
                "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                c.client_id, c.client_secret, "1%2F%2Fsandbox-refresh-token"
            ),
            "http://x/token",
        );
        assert_eq!(ok.granted, Some("refresh_token"));
        let bad = t.token(
            &format!(
                "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token=revoked",
                c.client_id, c.client_secret
            ),
            "http://x/token",
        );
        assert_eq!(bad.response.status(), StatusCode::BAD_REQUEST);
    }
}
