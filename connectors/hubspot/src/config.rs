//! HubSpot's source options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use revline_core::http::RateLimit;
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "hubspot"`.
///
/// ```toml
/// [sources.hubspot]
/// connector = "hubspot"
/// token = "${HUBSPOT_TOKEN}"          # or token_file = "/run/secrets/hubspot"
/// [sources.hubspot.properties]        # optional: narrow the properties per object
/// contacts = ["email", "lifecyclestage", "hs_analytics_source"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotOptions {
    /// Private-app token (`pat-…`).
    pub token: Option<Secret>,
    /// File holding the token (read at start; surrounding whitespace trimmed).
    pub token_file: Option<PathBuf>,
    /// OAuth2 refresh-token credentials, instead of a token.
    pub oauth: Option<OAuthOptions>,
    /// Properties to request per object (`contacts`, `companies`, `deals`); default: all that
    /// `GET /crm/v3/properties/{object}` lists.
    #[serde(default)]
    pub properties: BTreeMap<String, Vec<String>>,
    /// Search endpoint budget (default 4 per second).
    pub search_rate_limit: Option<RateLimit>,
    /// Records per search page (default 200, HubSpot's maximum).
    pub search_page_size: Option<u32>,
    /// Longest URL for list requests before properties are split across requests (default 14,000).
    pub max_url_length: Option<usize>,
    /// Incremental syncs search from this many seconds before the stored cursor (default 30):
    /// HubSpot's search index lags writes by a few seconds, and re-read rows merge away.
    pub search_lookback_secs: Option<u64>,
}

impl HubspotOptions {
    /// The token from `token` or `token_file`.
    pub fn token(&self) -> Result<Option<Secret>> {
        Secret::from_value_or_file(&self.token, &self.token_file, "token")
    }
}

/// OAuth2 refresh-token credentials for a public HubSpot app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthOptions {
    /// App client id.
    pub client_id: String,
    /// App client secret.
    pub client_secret: Option<Secret>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// Refresh token.
    pub refresh_token: Option<Secret>,
    /// File holding the refresh token.
    pub refresh_token_file: Option<PathBuf>,
    /// Token endpoint; default `<base_url>/oauth/v1/token`.
    pub token_url: Option<String>,
}

fn secret_or_file(v: &Option<Secret>, f: &Option<PathBuf>, name: &str) -> Result<Secret> {
    match (v, f) {
        (Some(s), None) => Ok(s.clone()),
        (None, Some(p)) => Secret::from_file(p),
        (Some(_), Some(_)) => Err(Error::config(format!(
            "oauth: set `{name}` or `{name}_file`, not both"
        ))),
        (None, None) => Err(Error::config(format!(
            "oauth: `{name}` (or `{name}_file`) is required"
        ))),
    }
}

impl OAuthOptions {
    /// The client secret.
    pub fn client_secret(&self) -> Result<Secret> {
        secret_or_file(
            &self.client_secret,
            &self.client_secret_file,
            "client_secret",
        )
    }
    /// The refresh token.
    pub fn refresh_token(&self) -> Result<Secret> {
        secret_or_file(
            &self.refresh_token,
            &self.refresh_token_file,
            "refresh_token",
        )
    }
}
