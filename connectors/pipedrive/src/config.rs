//! Pipedrive's source options.

use std::path::PathBuf;

use revline_core::http::Auth;
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "pipedrive"`.
///
/// ```toml
/// [sources.pipedrive]
/// connector = "pipedrive"
/// base_url = "https://acme.pipedrive.com"          # optional; default https://api.pipedrive.com
/// api_token_file = "/run/secrets/pipedrive.token"   # or api_token = "${PIPEDRIVE_TOKEN}"
/// # access_token = "${PIPEDRIVE_OAUTH_TOKEN}"       # an OAuth access token instead
/// rate_limit = { requests = 40, per_seconds = 2 }   # your plan's burst limit (default 80 per 2 s)
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveOptions {
    /// A personal API token (sent in the `x-api-token` header).
    pub api_token: Option<Secret>,
    /// File holding the API token.
    pub api_token_file: Option<PathBuf>,
    /// An OAuth access token (sent as `Authorization: Bearer`), instead of an API token.
    pub access_token: Option<Secret>,
    /// File holding the OAuth access token.
    pub access_token_file: Option<PathBuf>,
    /// Records per page, 1–500 (default 500).
    pub page_size: Option<u32>,
}

impl PipedriveOptions {
    /// The credential: an API token in `x-api-token`, or an OAuth bearer token.
    pub fn auth(&self) -> Result<Auth> {
        let token = Secret::from_value_or_file(&self.api_token, &self.api_token_file, "api_token")?;
        let oauth = Secret::from_value_or_file(
            &self.access_token,
            &self.access_token_file,
            "access_token",
        )?;
        match (token, oauth) {
            (Some(_), Some(_)) => Err(Error::config(
                "set `api_token` or `access_token` (OAuth), not both",
            )),
            (Some(value), None) => Ok(Auth::Header {
                name: "x-api-token".to_string(),
                value,
            }),
            (None, Some(t)) => Ok(Auth::Bearer(t)),
            (None, None) => Err(Error::config(
                "missing credentials: set `api_token` (or `api_token_file`), or an OAuth \
                 `access_token`",
            )),
        }
    }
}
