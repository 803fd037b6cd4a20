//! HubSpot as seen by the conformance suite.

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::{FaultPlan, Sandbox, SandboxConfig, StatsSnapshot, World, WorldConfig};

use crate::{ConnectorCase, PagedStream};

/// The HubSpot connector against the sandbox's HubSpot emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct HubspotCase;

impl ConnectorCase for HubspotCase {
    fn connector(&self) -> &'static str {
        "hubspot"
    }

    fn world(&self) -> WorldConfig {
        // 250 contacts: three list pages of 100; 120 deals: two pages.
        WorldConfig {
            people: 250,
            companies: 40,
            deals: 120,
            ..WorldConfig::default()
        }
    }

    fn empty_world(&self) -> WorldConfig {
        WorldConfig {
            people: 0,
            deals: 0,
            ..WorldConfig::default()
        }
    }

    fn sandbox_config(&self, world: WorldConfig, faults: FaultPlan) -> SandboxConfig {
        SandboxConfig {
            world,
            faults,
            ..SandboxConfig::default()
        }
    }

    fn credentials(&self, sandbox: &Sandbox, valid: bool) -> String {
        let token = if valid {
            sandbox.hubspot_token()
        } else {
            "pat-na1-revoked-token"
        };
        format!(
            "base_url = \"{}\"\ntoken = \"{token}\"\n",
            sandbox.hubspot_url()
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        vec![
            ("contacts", world.people_count()),
            ("companies", world.companies().len() as u64),
            ("deals", world.deals().len() as u64),
            ("deal_pipelines", 7),
            ("owners", world.owners().len() as u64),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "contacts",
            route: "/crm/v3/objects/contacts",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("hubspot.contacts.list") + stats.records("hubspot.contacts.search")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut ids = world.touch_people(25);
        ids.extend(world.add_people(5));
        ids.into_iter().map(|i| i.to_string()).collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        let cursor_ms = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1000);
        // The search filters `lastmodifieddate >= cursor` (inclusive, at millisecond precision).
        world
            .people()
            .filter(|p| !p.archived && p.modified_ms >= cursor_ms)
            .count() as u64
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, lifecyclestage, email FROM hubspot.contacts WHERE id IN ({list}) ORDER BY id"
        );
        let mut sorted = ids.to_vec();
        sorted.sort();
        let expected = sorted
            .iter()
            .map(|id| {
                let p = world
                    .person_by_id(id.parse().expect("numeric id"))
                    .expect("person exists");
                format!("{id}|{}|{}", p.lifecycle.as_str(), p.email)
            })
            .collect();
        (sql, expected)
    }
}
