//! Zendesk's source options.

use std::path::PathBuf;

use revline_core::http::RateLimit;
use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "zendesk"`.
///
/// ```toml
/// [sources.zendesk]
/// connector = "zendesk"
/// subdomain = "acme"                    # https://acme.zendesk.com (or set base_url)
/// email = "ops@acme.com"                # API-token auth: {email}/token + the token
/// api_token = "${ZENDESK_API_TOKEN}"    # or api_token_file; or oauth_token / oauth_token_file
/// export_rate_limit = { requests = 10, per_seconds = 60 }   # 30 with the High Volume add-on
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskOptions {
    /// Account subdomain: the API is `https://{subdomain}.zendesk.com` unless `base_url` is set.
    pub subdomain: Option<String>,
    /// Email of the agent that owns the API token (basic-auth user `{email}/token`).
    pub email: Option<String>,
    /// API token (Admin Center → Apps and integrations → Zendesk API).
    pub api_token: Option<Secret>,
    /// File holding the API token.
    pub api_token_file: Option<PathBuf>,
    /// OAuth access token, sent as a bearer token, instead of an API token.
    pub oauth_token: Option<Secret>,
    /// File holding the OAuth access token.
    pub oauth_token_file: Option<PathBuf>,
    /// Budget of the incremental exports (`tickets`, `users`): Zendesk allows 10 requests per
    /// minute (30 with the High Volume add-on), separately from the account limit. Requests
    /// are paced so that no 60-second window holds more than `requests - 1`.
    pub export_rate_limit: Option<RateLimit>,
    /// Tickets or users per export page (default and maximum 1000).
    pub export_page_size: Option<u32>,
    /// Records per page of list endpoints (default and maximum 100).
    pub page_size: Option<u32>,
    /// Leave deleted tickets out of the export (default `false`: they are kept, with
    /// status `deleted` and `_deleted = true`).
    #[serde(default)]
    pub exclude_deleted: bool,
}

/// The credential a source uses.
#[derive(Debug)]
pub enum Credential {
    /// `{email}/token` + API token, as basic auth.
    ApiToken {
        /// Agent email.
        email: String,
        /// The token.
        token: Secret,
    },
    /// OAuth access token.
    OAuth(Secret),
}

impl ZendeskOptions {
    /// The configured credential (exactly one kind).
    pub fn credential(&self) -> Result<Credential> {
        let token = Secret::from_value_or_file(&self.api_token, &self.api_token_file, "api_token")?;
        let oauth =
            Secret::from_value_or_file(&self.oauth_token, &self.oauth_token_file, "oauth_token")?;
        match (token, oauth, &self.email) {
            (Some(token), None, Some(email)) if !email.trim().is_empty() => {
                Ok(Credential::ApiToken {
                    email: email.trim().to_string(),
                    token,
                })
            }
            (Some(_), None, _) => Err(Error::config(
                "`api_token` needs `email`: the agent the token belongs to",
            )),
            (None, Some(t), _) => Ok(Credential::OAuth(t)),
            (Some(_), Some(_), _) => Err(Error::config(
                "set either `api_token` (with `email`) or `oauth_token`, not both",
            )),
            (None, None, _) => Err(Error::config(
                "missing credentials: set `email` and `api_token = \"${ZENDESK_API_TOKEN}\"` \
                 (or `api_token_file`), or `oauth_token`",
            )),
        }
    }
}
