//! Authentication schemes: bearer token, API key in a header or the query, basic auth,
//! and OAuth2 (refresh-token, client-credentials and JWT-bearer / service-account grants)
//! with a cached access token.

pub mod jwt;

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

pub use jwt::{JwtBearer, ServiceAccountKey};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A header carrying the key (`x-api-token: <key>`).
    Header {
        /// Header name.
        name: String,
        /// Key.
        value: Secret,
    },
    /// A query parameter carrying the key (`?api_token=<key>`); never written to logs or state.
    Query {
        /// Parameter name.
        name: String,
        /// Key.
        value: Secret,
    },
    /// HTTP basic auth.
    Basic {
        /// User name (for some vendors, the API key itself).
        user: Secret,
        /// Password, if any.
        password: Option<Secret>,
    },
    /// OAuth2 access tokens obtained (and refreshed) from a token endpoint.
    OAuth2(OAuth2),
}

impl Auth {
    /// The secrets this scheme holds, so error texts can be scrubbed of them.
    pub fn secrets(&self) -> Vec<Secret> {
        match self {
            Auth::None => vec![],
            Auth::Bearer(s) => vec![s.clone()],
            Auth::Header { value, .. } | Auth::Query { value, .. } => vec![value.clone()],
            Auth::Basic { user, password } => {
                let mut v = vec![user.clone()];
                v.extend(password.clone());
                v
            }
            Auth::OAuth2(o) => {
                let mut v = vec![o.client_secret.clone()];
                match &o.grant {
                    OAuth2Grant::RefreshToken { refresh_token } => v.push(refresh_token.clone()),
                    OAuth2Grant::JwtBearer(j) => v.push(j.private_key().clone()),
                    OAuth2Grant::ClientCredentials => {}
                }
                v
            }
        }
    }

    /// A fingerprint of the credential, to key shared rate limiters.
    pub fn fingerprint(&self) -> String {
        match self {
            Auth::None => "anonymous".into(),
            Auth::Bearer(s) => s.fingerprint(),
            Auth::Header { value, .. } | Auth::Query { value, .. } => value.fingerprint(),
            Auth::Basic { user, .. } => user.fingerprint(),
            Auth::OAuth2(o) => {
                Secret::new(format!("{}:{}", o.token_url, o.client_id)).fingerprint()
            }
        }
    }
}

/// The OAuth2 grant used to obtain access tokens.
#[derive(Debug, Clone)]
pub enum OAuth2Grant {
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// Long-lived refresh token.
        refresh_token: Secret,
    },
    /// `grant_type=client_credentials`.
    ClientCredentials,
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523): a JWT signed with
    /// a service account's RSA key is exchanged for an access token (Google service accounts;
    /// see [`ServiceAccountKey`]). No client secret is sent.
    JwtBearer(Box<JwtBearer>),
}

/// `[sources.<name>.oauth]`: refresh-token credentials of an OAuth app, as HubSpot, Google
/// (Ads and GA4) and LinkedIn take them. Secrets may be inline or in files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenOptions {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Option<Secret>,
    /// File holding the client secret.
    pub client_secret_file: Option<std::path::PathBuf>,
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// File holding the refresh token.
    pub refresh_token_file: Option<std::path::PathBuf>,
    /// Token endpoint (each connector documents its default).
    pub token_url: Option<String>,
}

impl RefreshTokenOptions {
    /// The OAuth2 client of these credentials, fetching tokens from `token_url` or else
    /// `default_token_url`. Errors name the `oauth` key that is missing, empty or doubled.
    pub fn oauth2(&self, default_token_url: &str) -> Result<OAuth2> {
        let required = |value: &Option<Secret>, file: &Option<std::path::PathBuf>, name: &str| {
            Secret::from_value_or_file(value, file, name)
                .map_err(|e| Error::config(format!("oauth: {}", e.message())))?
                .ok_or_else(|| {
                    Error::config(format!("oauth: `{name}` (or `{name}_file`) is required"))
                })
        };
        let client_id = self.client_id.trim();
        if client_id.is_empty() {
            return Err(Error::config("oauth: `client_id` is empty"));
        }
        Ok(OAuth2::new(
            self.token_url
                .clone()
                .unwrap_or_else(|| default_token_url.to_string()),
            client_id,
            required(
                &self.client_secret,
                &self.client_secret_file,
                "client_secret",
            )?,
            OAuth2Grant::RefreshToken {
                refresh_token: required(
                    &self.refresh_token,
                    &self.refresh_token_file,
                    "refresh_token",
                )?,
            },
        ))
    }
}

/// An OAuth2 client: token endpoint, client credentials, grant, and the cached access token.
#[derive(Debug)]
pub struct OAuth2 {
    /// Token endpoint (`https://api.hubapi.com/oauth/v1/token`).
    pub token_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Grant.
    pub grant: OAuth2Grant,
    /// Refresh this long before the token's stated expiry.
    pub refresh_margin: Duration,
    cached: Mutex<Option<CachedToken>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    expires_at: Instant,
    /// Extra fields of the token response (Salesforce's `instance_url`).
    extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl OAuth2 {
    /// An OAuth2 client; tokens are fetched on first use.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        grant: OAuth2Grant,
    ) -> Self {
        OAuth2 {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            grant,
            refresh_margin: Duration::from_secs(60),
            cached: Mutex::new(None),
        }
    }

    /// A valid access token: the cached one unless it expires within the margin or
    /// `force` is set (after a 401), in which case a new one is fetched.
    pub async fn access_token(&self, http: &reqwest::Client, force: bool) -> Result<Secret> {
        let mut cached = self.cached.lock().await;
        if !force
            && let Some(c) = cached.as_ref()
            && c.expires_at > Instant::now() + self.refresh_margin
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch(http).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// A field of the last token response other than the token (e.g. `instance_url`).
    pub async fn token_extra(&self, key: &str) -> Option<serde_json::Value> {
        self.cached
            .lock()
            .await
            .as_ref()
            .and_then(|c| c.extra.get(key).cloned())
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<CachedToken> {
        let assertion;
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(4);
        match &self.grant {
            OAuth2Grant::RefreshToken { refresh_token } => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", self.client_secret.expose()));
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", refresh_token.expose()));
            }
            OAuth2Grant::ClientCredentials => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", self.client_secret.expose()));
                form.push(("grant_type", "client_credentials"));
            }
            OAuth2Grant::JwtBearer(j) => {
                assertion = j.assertion(&self.token_url, std::time::SystemTime::now())?;
                form.push(("grant_type", jwt::JWT_BEARER_GRANT_TYPE));
                form.push(("assertion", &assertion));
            }
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = http
            .post(&self.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Network, "cannot reach the OAuth2 token endpoint")
                    .with_retryable(true)
                    .with_context("url", redact_url(&self.token_url))
                    .with_source(strip_url(e))
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            Error::new(ErrorKind::Network, "token endpoint response was cut off")
                .with_retryable(true)
                .with_source(strip_url(e))
        })?;
        if !status.is_success() {
            // Token endpoints answer {"error":"invalid_grant","error_description":"..."}.
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| {
                    let e = v.get("error")?.as_str()?.to_string();
                    let d = v
                        .get("error_description")
                        .and_then(|d| d.as_str())
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default();
                    Some(format!("{e}{d}"))
                })
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            let check = match &self.grant {
                OAuth2Grant::JwtBearer(_) => {
                    "check the service-account key (client_email, private_key) and that the account is enabled"
                }
                OAuth2Grant::ClientCredentials => "check the client id and secret",
                OAuth2Grant::RefreshToken { .. } => "check the client id, secret and refresh token",
            };
            return Err(Error::new(
                ErrorKind::Auth,
                format!("OAuth2 token refresh was refused ({detail}); {check}"),
            )
            .with_context("status", status.as_u16()));
        }
        let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Auth, "OAuth2 token response has no access_token").with_source(e)
        })?;
        Ok(CachedToken {
            token: Secret::new(parsed.access_token),
            expires_at: Instant::now() + Duration::from_secs(parsed.expires_in.unwrap_or(3600)),
            extra: parsed.extra,
        })
    }
}

/// Percent-encodes a form or query component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A URL without its query string (which may carry an API key).
pub fn redact_url(url: &str) -> String {
    match url.find('?') {
        Some(i) => format!("{}?…", &url[..i]),
        None => url.to_string(),
    }
}

/// Removes the URL from a reqwest error (it may carry a key in its query).
pub fn strip_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_options_build_a_client_or_name_the_key() {
        let opts: RefreshTokenOptions = serde_json::from_value(serde_json::json!({
            "client_id": " app ",
            "client_secret": "s3cret",
            "refresh_token": "r1",
        }))
        .unwrap();
        let o = opts.oauth2("https://example.test/token").unwrap();
        assert_eq!(o.token_url, "https://example.test/token");
        assert_eq!(o.client_id, "app");
        assert_eq!(o.client_secret.expose(), "s3cret");
        assert!(
            matches!(&o.grant, OAuth2Grant::RefreshToken { refresh_token } if refresh_token.expose() == "r1")
        );
        let with_url = RefreshTokenOptions {
            token_url: Some("https://other.test/t".into()),
            ..opts.clone()
        };
        assert_eq!(
            with_url.oauth2("unused").unwrap().token_url,
            "https://other.test/t"
        );

        let err = |o: RefreshTokenOptions| o.oauth2("u").unwrap_err().message().to_string();
        assert_eq!(
            err(RefreshTokenOptions {
                refresh_token: None,
                ..opts.clone()
            }),
            "oauth: `refresh_token` (or `refresh_token_file`) is required"
        );
        assert_eq!(
            err(RefreshTokenOptions {
                client_secret_file: Some("/x".into()),
                ..opts.clone()
            }),
            "oauth: set `client_secret` or `client_secret_file`, not both"
        );
        assert_eq!(
            err(RefreshTokenOptions {
                client_id: " ".into(),
                ..opts
            }),
            "oauth: `client_id` is empty"
        );
    }
}
