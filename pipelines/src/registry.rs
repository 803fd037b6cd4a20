//! The connector registry: a plain table mapping connector names to factories. Adding a
//! connector means adding its crate to `pipelines/Cargo.toml` and one line here.

use revline_core::ConnectorFactory;

static CONNECTORS: &[&dyn ConnectorFactory] = &[
    &revline_hubspot::HubspotFactory,
    &revline_zendesk::ZendeskFactory,
    &revline_intercom::IntercomFactory,
    &revline_freshdesk::FreshdeskFactory,
    &revline_stripe::StripeFactory,
    &revline_salesforce::SalesforceFactory,
    &revline_pipedrive::PipedriveFactory,
    &revline_google_ads::GoogleAdsFactory,
    &revline_ga4::Ga4Factory,
    &revline_meta_ads::MetaFactory,
    &revline_linkedin_ads::LinkedinFactory,
];

/// Every registered connector, in listing order.
pub fn factories() -> &'static [&'static dyn ConnectorFactory] {
    CONNECTORS
}

/// The connector registered as `name`.
pub fn find(name: &str) -> Option<&'static dyn ConnectorFactory> {
    CONNECTORS.iter().copied().find(|f| f.name() == name)
}

/// Registered connector names.
pub fn names() -> Vec<&'static str> {
    CONNECTORS.iter().map(|f| f.name()).collect()
}
