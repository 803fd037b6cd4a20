//! Stripe's source options.

use std::path::PathBuf;

use revline_core::{Error, Result, Secret};
use serde::Deserialize;

/// How the secret key is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAuth {
    /// `Authorization: Bearer sk_…` (the default).
    #[default]
    Bearer,
    /// HTTP basic auth with the key as the user name and an empty password.
    Basic,
}

/// Options under `[sources.<name>]` with `connector = "stripe"`.
///
/// ```toml
/// [sources.stripe]
/// connector = "stripe"
/// secret_key = "${STRIPE_SECRET_KEY}"     # or secret_key_file = "/run/secrets/stripe"
/// start_date = "2022-01-01"               # optional: where a first sync starts
/// windows = 8                             # created windows of a first sync
/// concurrency = 4                         # windows read at once
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeOptions {
    /// Secret (`sk_live_…`, `sk_test_…`) or restricted (`rk_…`) key with read access.
    pub secret_key: Option<Secret>,
    /// File holding the key (read at start; surrounding whitespace trimmed).
    pub secret_key_file: Option<PathBuf>,
    /// `bearer` (default) or `basic`.
    #[serde(default)]
    pub auth: KeyAuth,
    /// Connect: read this connected account (`acct_…`, sent as `Stripe-Account`).
    pub account: Option<String>,
    /// API version to pin (default `2024-06-20`, the shapes this connector declares).
    pub api_version: Option<String>,
    /// `created` windows a first sync (or full refresh) is split into (default 8).
    pub windows: Option<u32>,
    /// Windows read at once (default 4).
    pub concurrency: Option<usize>,
}

impl StripeOptions {
    /// The key from `secret_key` or `secret_key_file`.
    pub fn key(&self) -> Result<Secret> {
        Secret::from_value_or_file(&self.secret_key, &self.secret_key_file, "secret_key")?
            .ok_or_else(|| {
                Error::config(
                "missing credentials: set `secret_key = \"${STRIPE_SECRET_KEY}\"` or `secret_key_file`",
            )
            })
    }
}
