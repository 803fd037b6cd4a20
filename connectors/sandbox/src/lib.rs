//! Fake vendor APIs for Revline's tests and `revline demo`.
//!
//! The sandbox has two layers:
//!
//! * a vendor-neutral, seeded **world model** ([`World`]): companies with unique domains,
//!   people with emails at those domains, campaigns with utm tags, deals in a pipeline and
//!   their owners. People are generated lazily from `(seed, index)`, so a world of a million
//!   people is cheap; a small overlay records edits made through the mutation API
//!   ([`World::touch_people`], [`World::add_people`], …) so incremental syncs can be tested;
//! * HTTP **emulators** that render that world in each vendor's exact shapes, paging,
//!   headers and errors. Today: HubSpot CRM v3 ([`Vendor::Hubspot`]).
//!
//! A [`Sandbox`] runs the emulators on `127.0.0.1` (a free port each), checks auth, counts
//! requests ([`Sandbox::stats`]) and injects deterministic faults ([`FaultPlan`]): latency,
//! 429s, 5xx gateway pages, connection resets, truncated bodies and 401s.
//!
//! ```
//! use revline_sandbox::{Sandbox, SandboxConfig, WorldConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig {
//!     world: WorldConfig { people: 1_000, ..WorldConfig::default() },
//!     ..SandboxConfig::default()
//! })?;
//! // Point a HubSpot client at `sandbox.hubspot_url()` with `sandbox.hubspot_token()`.
//! assert!(sandbox.hubspot_url().starts_with("http://127.0.0.1:"));
//!
//! // Mutate the world the server renders, e.g. to test an incremental sync.
//! let since = sandbox.world().read().now();
//! let touched = sandbox.world().write().touch_people(25);
//! assert_eq!(touched.len(), 25);
//! assert!(sandbox.world().read().person_by_id(touched[0]).unwrap().modified() > since);
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

pub mod demo;
mod faults;
pub mod freshdesk;
pub mod ga4;
mod gateway;
pub mod google;
pub mod google_ads;
pub mod hubspot;
pub mod intercom;
mod json;
mod jw;
pub mod linkedin;
pub mod meta;
pub mod pipedrive;
mod qs;
pub mod salesforce;
mod server;
mod stats;
pub mod stripe;
pub mod world;
pub mod zendesk;

pub use faults::{Fault, FaultPlan, FaultRule, Schedule};
pub use freshdesk::FreshdeskConfig;
pub use ga4::Ga4Config;
pub use google::GoogleOAuthConfig;
pub use google_ads::GoogleAdsConfig;
pub use hubspot::{HubspotConfig, RateLimitEmulation};
pub use intercom::IntercomConfig;
pub use linkedin::LinkedinConfig;
pub use meta::MetaConfig;
pub use pipedrive::PipedriveConfig;
pub use salesforce::{SalesforceConfig, SalesforceControl};
pub use server::{Sandbox, SandboxConfig, Vendor};
pub use stats::StatsSnapshot;
pub use stripe::StripeConfig;
pub use world::{
    Campaign, Channel, Company, Deal, DealStage, Industry, Lifecycle, Owner, Person, SharedWorld,
    World, WorldConfig,
};
pub use zendesk::ZendeskConfig;
