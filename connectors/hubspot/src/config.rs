//! HubSpot's source options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use revline_core::http::{RateLimit, RefreshTokenOptions};
use revline_core::{Result, Secret};
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
    pub oauth: Option<RefreshTokenOptions>,
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
