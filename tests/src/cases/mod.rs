//! Conformance cases (generic) and the per-connector [`crate::ConnectorCase`] implementations.

pub mod hubspot;
pub mod suite;
