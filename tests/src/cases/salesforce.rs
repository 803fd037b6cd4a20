//! Salesforce as seen by the conformance suite: the paged stream is `leads` (SOQL pages of
//! 200 through `queryAll`), authenticated with the OAuth2 refresh-token flow.

use revline_core::decode::coerce::parse_timestamp_micros;
use revline_sandbox::salesforce::ids;
use revline_sandbox::world::PERSON_ID_BASE;
use revline_sandbox::{
    FaultPlan, Lifecycle, Person, Sandbox, SandboxConfig, StatsSnapshot, World, WorldConfig,
};

use crate::{ConnectorCase, PagedStream};

/// The Salesforce connector against the sandbox's Salesforce emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SalesforceCase;

/// A lead's `SystemModstamp` in the emulator: its last change or its conversion.
fn stamp(world: &World, p: &Person) -> i64 {
    world
        .converted_ms(p)
        .map_or(p.modified_ms, |c| c.max(p.modified_ms))
}

fn status(world: &World, p: &Person) -> &'static str {
    if world.is_converted(p.index) {
        "Closed - Converted"
    } else if p.lifecycle <= Lifecycle::Lead {
        "Open - Not Contacted"
    } else {
        "Working - Contacted"
    }
}

impl ConnectorCase for SalesforceCase {
    fn connector(&self) -> &'static str {
        "salesforce"
    }

    fn world(&self) -> WorldConfig {
        // 600 leads: three pages of 200.
        WorldConfig {
            people: 600,
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
        let cfg = sandbox.salesforce_config();
        let refresh = if valid {
            cfg.refresh_token.as_str()
        } else {
            "5Aep861revokedRefreshToken"
        };
        format!(
            "base_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
             refresh_token = \"{refresh}\"\nbatch_size = 200\n",
            sandbox.salesforce_url(),
            cfg.client_id,
            cfg.client_secret
        )
    }

    fn expected_rows(&self, world: &World) -> Vec<(&'static str, u64)> {
        let history: u64 = (0..world.deals().len() as u32)
            .map(|d| world.deal_history(d).len() as u64)
            .sum();
        vec![
            ("accounts", world.companies().len() as u64),
            ("contacts", world.converted_count()),
            // Deleted leads stay, marked in `_deleted`.
            ("leads", world.people_total()),
            ("opportunities", world.deals().len() as u64),
            ("opportunity_history", history),
            ("users", world.owners().len() as u64),
            ("campaigns", world.campaigns().len() as u64),
        ]
    }

    fn paged_stream(&self) -> PagedStream {
        PagedStream {
            name: "leads",
            route: "object=Lead",
            key: &["id"],
        }
    }

    fn served_records(&self, stats: &StatsSnapshot) -> u64 {
        stats.records("salesforce.lead.query_all")
    }

    fn mutate(&self, world: &mut World) -> Vec<String> {
        let mut people = world.touch_people(25);
        people.extend(world.add_people(5));
        people.extend(world.archive_people(3));
        people
            .into_iter()
            .map(|id| ids::id("Lead", id - PERSON_ID_BASE))
            .collect()
    }

    fn expected_incremental(&self, world: &World, cursor: &serde_json::Value) -> u64 {
        // `SystemModstamp >= cursor`, at second precision (deleted leads included).
        let cursor_secs = cursor
            .as_str()
            .and_then(parse_timestamp_micros)
            .expect("a timestamp cursor")
            .div_euclid(1_000_000);
        (0..world.people_total())
            .filter_map(|i| world.person(i))
            .filter(|p| stamp(world, p).div_euclid(1000) >= cursor_secs)
            .count() as u64
    }

    fn verify_changed(&self, world: &World, ids: &[String]) -> (String, Vec<String>) {
        let list = ids
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, status, email, _deleted FROM salesforce.leads WHERE id IN ({list}) ORDER BY id"
        );
        let mut sorted = ids.to_vec();
        sorted.sort();
        sorted.dedup();
        let expected = sorted
            .iter()
            .map(|lid| {
                let index = ids::parse("Lead", lid).expect("a lead id");
                let p = world.person(index).expect("person exists");
                format!("{lid}|{}|{}|{}", status(world, &p), p.email, p.archived)
            })
            .collect();
        (sql, expected)
    }

    fn rejected_credentials(&self) -> (&'static str, u64) {
        // A revoked refresh token is refused at the token endpoint: no API request is sent.
        ("OAuth2 token refresh was refused", 0)
    }
}
