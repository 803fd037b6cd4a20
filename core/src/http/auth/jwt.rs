//! Service-account auth: the OAuth2 JWT-bearer grant (RFC 7523). A short-lived JWT, signed
//! with the account's RSA private key (RS256), is sent to the token endpoint as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>` and exchanged for
//! an access token, which [`super::OAuth2`] caches until shortly before it expires.
//!
//! [`ServiceAccountKey`] reads the JSON key file Google Cloud issues for a service account
//! (`client_email`, `private_key`, `private_key_id`, `token_uri`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;

use super::{OAuth2, OAuth2Grant};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// The `grant_type` of the JWT-bearer grant.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google's token endpoint, the default audience and token URL of Google service accounts.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// How to build the signed assertion of a JWT-bearer grant.
#[derive(Clone)]
pub struct JwtBearer {
    /// `iss`: the service account (`name@project.iam.gserviceaccount.com`).
    pub issuer: String,
    /// `scope`: space-separated OAuth scopes.
    pub scope: String,
    /// `aud`; `None` uses the token endpoint URL (what Google expects).
    pub audience: Option<String>,
    /// `sub`: a user to impersonate (domain-wide delegation), if any.
    pub subject: Option<String>,
    /// `kid` header: the key's id (`private_key_id` of a Google key file).
    pub key_id: Option<String>,
    /// Requested token lifetime (`exp - iat`); Google allows at most one hour.
    pub lifetime: Duration,
    key: Arc<RsaKeyPair>,
    pem: Secret,
}

impl fmt::Debug for JwtBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBearer")
            .field("issuer", &self.issuer)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("subject", &self.subject)
            .field("key_id", &self.key_id)
            .field("private_key", &"***")
            .finish()
    }
}

impl JwtBearer {
    /// A grant for `issuer` signing with the PEM private key `private_key` (PKCS#8
    /// `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`). Fails with a config error,
    /// never echoing the key, if the key cannot be read.
    pub fn new(
        issuer: impl Into<String>,
        private_key: Secret,
        scope: impl Into<String>,
    ) -> Result<Self> {
        let key = parse_rsa_private_key(private_key.expose())?;
        let issuer = issuer.into();
        if issuer.trim().is_empty() {
            return Err(Error::config(
                "the service account's email (`client_email`, the JWT issuer) is empty",
            ));
        }
        Ok(JwtBearer {
            issuer,
            scope: scope.into(),
            audience: None,
            subject: None,
            key_id: None,
            lifetime: Duration::from_secs(3600),
            key: Arc::new(key),
            pem: private_key,
        })
    }

    /// Sets the `kid` header.
    pub fn with_key_id(mut self, key_id: Option<String>) -> Self {
        self.key_id = key_id.filter(|k| !k.is_empty());
        self
    }

    /// Sets the `sub` claim (impersonated user).
    pub fn with_subject(mut self, subject: Option<String>) -> Self {
        self.subject = subject;
        self
    }

    /// The private key, for scrubbing error texts.
    pub fn private_key(&self) -> &Secret {
        &self.pem
    }

    /// A signed assertion for the token endpoint `token_url`, issued at `now`.
    pub fn assertion(&self, token_url: &str, now: SystemTime) -> Result<String> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::internal("the system clock is before 1970"))?
            .as_secs();
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let mut claims = serde_json::json!({
            "iss": self.issuer,
            "scope": self.scope,
            "aud": self.audience.as_deref().unwrap_or(token_url),
            "iat": iat,
            "exp": iat + self.lifetime.as_secs(),
        });
        if let Some(sub) = &self.subject {
            claims["sub"] = serde_json::Value::String(sub.clone());
        }
        let mut signing_input = URL_SAFE_NO_PAD.encode(header.to_string());
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::internal("cannot sign the JWT assertion"))?;
        signing_input.push('.');
        signing_input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(signing_input)
    }

    /// The DER-encoded RSA public key (`RSAPublicKey`) matching the private key, e.g. for a
    /// test token endpoint that verifies assertions.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public().as_ref().to_vec()
    }
}

/// Reads an RSA private key from PEM text (PKCS#8 or PKCS#1). Errors never contain key text.
pub fn parse_rsa_private_key(pem: &str) -> Result<RsaKeyPair> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Config,
            format!("the service account's private key cannot be read: {why}"),
        )
    };
    let text = pem.trim();
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| bad("no `-----BEGIN PRIVATE KEY-----` line"))?;
    let after = &text[begin + "-----BEGIN ".len()..];
    let label_end = after
        .find("-----")
        .ok_or_else(|| bad("malformed BEGIN line"))?;
    let label = &after[..label_end];
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = after
        .find(&end_marker)
        .ok_or_else(|| bad("no matching END line"))?;
    let b64: String = after[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| bad("the PEM body is not base64"))?;
    let key = match label {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        _ => return Err(bad("expected an RSA `PRIVATE KEY` or `RSA PRIVATE KEY`")),
    };
    key.map_err(|e| bad(&format!("not a usable RSA key ({e})")))
}

/// A Google Cloud service-account JSON key file (the fields Revline uses; others are ignored).
///
/// ```json
/// {"type": "service_account", "project_id": "acme", "private_key_id": "3f2a…",
///  "private_key": "-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----\n",
///  "client_email": "revline@acme.iam.gserviceaccount.com",
///  "token_uri": "https://oauth2.googleapis.com/token"}
/// ```
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// `service_account` for service-account keys.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The account's email: the JWT issuer.
    pub client_email: String,
    /// PEM private key.
    pub private_key: Secret,
    /// Key id, sent as the JWT `kid`.
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Token endpoint; default [`GOOGLE_TOKEN_URL`].
    #[serde(default)]
    pub token_uri: Option<String>,
    /// Cloud project.
    #[serde(default)]
    pub project_id: Option<String>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &"***")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Parses the JSON text of a key file. Errors give the position, never the content.
    pub fn from_json(text: &str) -> Result<Self> {
        let key: ServiceAccountKey = serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => {
                    // Missing fields are safe to name; type errors could quote a value.
                    let m = e.to_string();
                    if m.starts_with("missing field") {
                        m.split(" at line").next().unwrap_or("").to_string()
                    } else {
                        "a field has the wrong type".to_string()
                    }
                }
                _ => "not valid JSON".to_string(),
            };
            Error::config(format!(
                "the service-account key is not a valid key file: {what} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if let Some(kind) = &key.kind
            && kind != "service_account"
        {
            return Err(Error::config(format!(
                "the key file has type `{kind}`, expected `service_account` (for user credentials use the refresh-token options)"
            )));
        }
        Ok(key)
    }

    /// Reads and parses a key file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the service-account key file {}",
                path.display()
            ))
            .with_source(e)
        })?;
        Self::from_json(&text)
    }

    /// The JWT-bearer grant for `scope`.
    pub fn grant(&self, scope: &str) -> Result<JwtBearer> {
        Ok(
            JwtBearer::new(&self.client_email, self.private_key.clone(), scope)?
                .with_key_id(self.private_key_id.clone()),
        )
    }

    /// An OAuth2 client for `scope` posting to `token_url` (or the key's `token_uri`, or
    /// [`GOOGLE_TOKEN_URL`]).
    pub fn oauth2(&self, scope: &str, token_url: Option<&str>) -> Result<OAuth2> {
        let url = token_url
            .map(str::to_string)
            .or_else(|| self.token_uri.clone())
            .unwrap_or_else(|| GOOGLE_TOKEN_URL.to_string());
        Ok(OAuth2::new(
            url,
            self.client_email.clone(),
            Secret::new(""),
            OAuth2Grant::JwtBearer(Box::new(self.grant(scope)?)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    const KEY_A: &str = include_str!("testdata/test-only-key-a.pem");
    const KEY_B: &str = include_str!("testdata/test-only-key-b.pem");

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertion_is_a_valid_rs256_jwt_with_the_claims() {
        let g = JwtBearer::new(
            "svc@proj.iam.gserviceaccount.com",
            Secret::new(KEY_A),
            "https://www.googleapis.com/auth/adwords",
        )
        .unwrap()
        .with_key_id(Some("kid-1".into()));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = g.assertion("http://127.0.0.1:1/token", now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode_part(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        assert_eq!(
            decode_part(parts[1]),
            serde_json::json!({
                "iss": "svc@proj.iam.gserviceaccount.com",
                "scope": "https://www.googleapis.com/auth/adwords",
                "aud": "http://127.0.0.1:1/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
            })
        );
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        let public = g.public_key_der();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(signed.as_bytes(), &sig)
            .expect("signature verifies with the key's public half");
        // ... and not with another key's.
        let other = JwtBearer::new("x@y", Secret::new(KEY_B), "s").unwrap();
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, other.public_key_der())
                .verify(signed.as_bytes(), &sig)
                .is_err()
        );
    }

    #[test]
    fn bad_keys_are_config_errors_without_key_text() {
        let truncated = &KEY_A[..KEY_A.len() / 2];
        for bad in [
            "not a key",
            truncated,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            let e = JwtBearer::new("a@b", Secret::new(bad), "s").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            assert!(e.to_string().contains("private key cannot be read"), "{e}");
            assert!(!e.to_string().contains("MII"), "{e}");
        }
        assert!(JwtBearer::new(" ", Secret::new(KEY_A), "s").is_err());
    }

    #[test]
    fn key_files_parse_and_errors_do_not_echo_content() {
        let json = serde_json::json!({
            "type": "service_account",
            "project_id": "acme",
            "private_key_id": "abc123",
            "private_key": KEY_A,
            "client_email": "revline@acme.iam.gserviceaccount.com",
            "client_id": "1234",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string();
        let key = ServiceAccountKey::from_json(&json).unwrap();
        assert_eq!(key.client_email, "revline@acme.iam.gserviceaccount.com");
        assert!(!format!("{key:?}").contains("MII"));
        let o = key
            .oauth2("scope-a", Some("http://127.0.0.1:9/token"))
            .unwrap();
        assert_eq!(o.token_url, "http://127.0.0.1:9/token");
        let OAuth2Grant::JwtBearer(g) = &o.grant else {
            panic!("jwt grant")
        };
        assert_eq!(g.key_id.as_deref(), Some("abc123"));
        assert_eq!(
            key.oauth2("s", None).unwrap().token_url,
            "https://oauth2.googleapis.com/token"
        );

        let missing =
            ServiceAccountKey::from_json(r#"{"private_key": "secret-text"}"#).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Config);
        assert!(
            missing.to_string().contains("missing field `client_email`"),
            "{missing}"
        );
        let wrong =
            ServiceAccountKey::from_json(r#"{"client_email": 5, "private_key": "secret-text"}"#)
                .unwrap_err();
        assert!(!wrong.to_string().contains("secret-text"), "{wrong}");
        let user =
            serde_json::json!({"type": "authorized_user", "client_email": "a", "private_key": "b"});
        assert!(
            ServiceAccountKey::from_json(&user.to_string())
                .unwrap_err()
                .to_string()
                .contains("authorized_user")
        );
        assert!(ServiceAccountKey::from_json("{not json").is_err());
    }

    /// A token endpoint that verifies assertions against the public half of test key A, and
    /// an API that accepts only the tokens it issued (and can revoke one to force a 401).
    mod endpoint {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        use axum::Router;
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response};
        use axum::routing::{get, post};

        use super::*;
        use crate::http::{
            ApiRequest, Auth, HttpClient, HttpClientConfig, HttpSettings, RateLimit,
        };

        #[derive(Default)]
        pub struct Server {
            pub public_key: Vec<u8>,
            pub token_url: Mutex<String>,
            pub token_calls: Mutex<u32>,
            pub expires_in: Mutex<u64>,
            pub revoked: Mutex<Vec<String>>,
            pub seen: Mutex<Vec<String>>,
        }

        fn form(body: &str) -> HashMap<String, String> {
            body.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| {
                    let v = v
                        .replace("%3A", ":")
                        .replace("%2D", "-")
                        .replace("%2E", ".");
                    (k.to_string(), v)
                })
                .collect()
        }

        async fn token(State(s): State<Arc<Server>>, body: String) -> Response {
            let f = form(&body);
            let refuse = |d: &str| {
                (
                    StatusCode::BAD_REQUEST,
                    format!(r#"{{"error":"invalid_grant","error_description":"{d}"}}"#),
                )
                    .into_response()
            };
            if f.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT_TYPE) {
                return refuse("unsupported grant");
            }
            assert!(!f.contains_key("client_secret"), "no client secret is sent");
            let jwt = f.get("assertion").cloned().unwrap_or_default();
            let parts: Vec<&str> = jwt.split('.').collect();
            if parts.len() != 3 {
                return refuse("Invalid JWT.");
            }
            let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
            let signed = format!("{}.{}", parts[0], parts[1]);
            if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &s.public_key)
                .verify(signed.as_bytes(), &sig)
                .is_err()
            {
                return refuse("Invalid JWT Signature.");
            }
            let claims = decode_part(parts[1]);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let iat = claims["iat"].as_u64().unwrap();
            if claims["aud"] != *s.token_url.lock().unwrap()
                || claims["exp"].as_u64().unwrap() - iat != 3600
                || iat.abs_diff(now) > 60
                || claims["iss"] != "svc@proj.iam.gserviceaccount.com"
            {
                return refuse("Invalid JWT: claims");
            }
            let n = {
                let mut c = s.token_calls.lock().unwrap();
                *c += 1;
                *c
            };
            let expires = *s.expires_in.lock().unwrap();
            format!(r#"{{"access_token":"sa-{n}","expires_in":{expires},"token_type":"Bearer"}}"#)
                .into_response()
        }

        async fn api(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            s.seen.lock().unwrap().push(auth.clone());
            let token = auth.strip_prefix("Bearer ").unwrap_or("");
            if !token.starts_with("sa-") || s.revoked.lock().unwrap().iter().any(|r| r == token) {
                return (StatusCode::UNAUTHORIZED, r#"{"error":{"code":401}}"#).into_response();
            }
            r#"{"ok":true}"#.into_response()
        }

        pub async fn start() -> (Arc<Server>, String) {
            let g = JwtBearer::new("svc@proj.iam.gserviceaccount.com", Secret::new(KEY_A), "s")
                .unwrap();
            let server = Arc::new(Server {
                public_key: g.public_key_der(),
                expires_in: Mutex::new(3600),
                ..Server::default()
            });
            let app = Router::new()
                .route("/token", post(token))
                .route("/api", get(api))
                .with_state(server.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            *server.token_url.lock().unwrap() = format!("{base}/token");
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (server, base)
        }

        pub fn client(base: &str, key: &str) -> HttpClient {
            let sa = ServiceAccountKey::from_json(
                &serde_json::json!({
                    "type": "service_account",
                    "client_email": "svc@proj.iam.gserviceaccount.com",
                    "private_key": key,
                    "private_key_id": "k1",
                })
                .to_string(),
            )
            .unwrap();
            let oauth = sa
                .oauth2(
                    "https://www.googleapis.com/auth/analytics.readonly",
                    Some(&format!("{base}/token")),
                )
                .unwrap();
            let mut cfg = HttpClientConfig::new(
                "test",
                "ga",
                base,
                Auth::OAuth2(oauth),
                RateLimit::new(1000, 1.0),
            );
            cfg.settings = HttpSettings {
                max_retries: 2,
                backoff_initial_ms: 1,
                backoff_max_ms: 2,
                ..HttpSettings::default()
            };
            HttpClient::new(cfg).unwrap()
        }

        pub fn get_api(base: &str) -> ApiRequest {
            ApiRequest::get(format!("{base}/api"))
        }
    }

    #[tokio::test]
    async fn service_account_token_is_fetched_once_and_cached() {
        let (server, base) = endpoint::start().await;
        let client = endpoint::client(&base, KEY_A);
        for _ in 0..3 {
            client.execute(&endpoint::get_api(&base)).await.unwrap();
        }
        assert_eq!(
            *server.token_calls.lock().unwrap(),
            1,
            "one token for three calls"
        );
        assert_eq!(*server.seen.lock().unwrap(), vec!["Bearer sa-1"; 3]);
    }

    #[tokio::test]
    async fn service_account_token_is_renewed_near_expiry_and_after_a_401() {
        let (server, base) = endpoint::start().await;
        // Tokens that expire within the refresh margin are renewed before each use.
        *server.expires_in.lock().unwrap() = 30;
        let client = endpoint::client(&base, KEY_A);
        client.execute(&endpoint::get_api(&base)).await.unwrap();
        client.execute(&endpoint::get_api(&base)).await.unwrap();
        assert_eq!(*server.token_calls.lock().unwrap(), 2);

        // A revoked token gets a 401: the client fetches a new token once and retries.
        *server.expires_in.lock().unwrap() = 3600;
        server.revoked.lock().unwrap().push("sa-3".into());
        let client = endpoint::client(&base, KEY_A);
        client.execute(&endpoint::get_api(&base)).await.unwrap();
        assert_eq!(
            server.seen.lock().unwrap()[2..].to_vec(),
            vec!["Bearer sa-3", "Bearer sa-4"]
        );
        assert_eq!(client.stats().snapshot().auth_refreshes, 1);
    }

    #[tokio::test]
    async fn a_key_the_endpoint_does_not_know_is_refused_clearly() {
        let (server, base) = endpoint::start().await;
        let client = endpoint::client(&base, KEY_B);
        let err = client.execute(&endpoint::get_api(&base)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        let msg = err.to_string();
        assert!(
            msg.contains("invalid_grant: Invalid JWT Signature."),
            "{msg}"
        );
        assert!(msg.contains("check the service-account key"), "{msg}");
        assert!(msg.contains("source: ga"), "{msg}");
        assert!(!msg.contains("MII"), "{msg}");
        assert_eq!(*server.token_calls.lock().unwrap(), 0);
        assert!(
            server.seen.lock().unwrap().is_empty(),
            "no API call without a token"
        );
        assert_eq!(
            client.stats().snapshot().retries,
            0,
            "a refused key is not retried"
        );
    }
}
