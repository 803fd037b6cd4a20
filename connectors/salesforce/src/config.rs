//! Salesforce's source options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// Options under `[sources.<name>]` with `connector = "salesforce"`.
///
/// ```toml
/// [sources.salesforce]
/// connector = "salesforce"
/// base_url = "https://login.salesforce.com"    # the login host; test.salesforce.com for sandboxes
/// client_id = "3MVG9…"
/// client_secret = "${SF_CLIENT_SECRET}"
/// refresh_token = "${SF_REFRESH_TOKEN}"        # leave out to use the client-credentials flow
/// [sources.salesforce.fields]                  # optional: the fields per stream
/// leads = ["Id", "Email", "Status", "LeadSource", "UTM_Source__c"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceOptions {
    /// The connected app's consumer key.
    pub client_id: Option<String>,
    /// The connected app's consumer secret.
    pub client_secret: Option<Secret>,
    /// File holding the consumer secret.
    pub client_secret_file: Option<PathBuf>,
    /// A refresh token (OAuth2 refresh-token flow). Without one, the client-credentials flow
    /// is used (the connected app's run-as user).
    pub refresh_token: Option<Secret>,
    /// File holding the refresh token.
    pub refresh_token_file: Option<PathBuf>,
    /// Token endpoint; default `<base_url>/services/oauth2/token`.
    pub token_url: Option<String>,
    /// REST API version (default `60.0`).
    pub api_version: Option<String>,
    /// Records per query page, 200–2000 (`Sforce-Query-Options: batchSize`, default 2000).
    pub batch_size: Option<u32>,
    /// Fields to load per stream (`accounts`, `leads`, …), by API name; relationship fields
    /// as `Account.Name`. Default: the stream's standard fields plus every custom (`__c`)
    /// field the object has. `Id`, `SystemModstamp` and `IsDeleted` are always added.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
}

impl SalesforceOptions {
    /// The consumer secret.
    pub fn client_secret(&self) -> Result<Secret> {
        Secret::from_value_or_file(
            &self.client_secret,
            &self.client_secret_file,
            "client_secret",
        )?
        .ok_or_else(|| Error::config("`client_secret` (or `client_secret_file`) is required"))
    }

    /// The refresh token, if the refresh-token flow is used.
    pub fn refresh_token(&self) -> Result<Option<Secret>> {
        Secret::from_value_or_file(
            &self.refresh_token,
            &self.refresh_token_file,
            "refresh_token",
        )
    }
}
