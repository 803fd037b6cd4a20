//! Conformance cases (generic) and the per-connector [`crate::ConnectorCase`] implementations.

pub mod google_ads;
pub mod hubspot;
pub mod stripe;
pub mod suite;
