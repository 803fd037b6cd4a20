//! Conformance cases (generic) and the per-connector [`crate::ConnectorCase`] implementations.

pub mod freshdesk;
pub mod ga4;
pub mod google_ads;
pub mod hubspot;
pub mod intercom;
pub mod linkedin_ads;
pub mod meta_ads;
pub mod pipedrive;
pub mod salesforce;
pub mod stripe;
pub mod suite;
pub mod zendesk;
